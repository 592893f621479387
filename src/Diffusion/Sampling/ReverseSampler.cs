using LLaDA.Diffusion.Data;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Diffusion.Sampling.Policies;

namespace LLaDA.Diffusion.Sampling;

/// <summary>The state after one denoising step, for streaming and live views.</summary>
public sealed record SamplerStep(int Step, int Block, int[][] Tokens, int[][] FixedAtStep, int PromptLength, int ForwardPasses);

/// <summary>Generated sequences and how they were made: FixedAtStep[row][i] is the step at which answer token i was committed.</summary>
public sealed record SampleResult(int[][] Generated, int[][] FixedAtStep, int ForwardPasses, int Steps);

/// <summary>LLaDA's reverse process (generate.py, SPEC §6) with Fast-dLLM's parallel decoding and key/value caches (SPEC §8).</summary>
/// <remarks>
/// Loop of named steps: blocks → steps → predict (logits, CFG) → Gumbel-max x0 → confidence → select (quota, threshold or
/// factor) → commit. Deliberate fixes of the reference's quirks (SPEC §6.5, §8.7): Q1 — EOS/EoT confidence suppression
/// applies to the clean logits after x0 is chosen, at every temperature; Q2 — CFG works with or without padding and with
/// caches; Q3 — confidences are softmax probabilities in float64; Q4 — ties break towards the lower position; Q6 — prompts
/// of different lengths are left-padded with the pad id and masked out of attention (also with caches, which the
/// reference ignores); dual cache works for batches &gt; 1 (NVlabs/Fast-dLLM issue #7).
/// </remarks>
public sealed class ReverseSampler(ILogitsModel model, SpecialTokens specials)
{
    /// <summary>Generates GenLength tokens after each prompt.</summary>
    public SampleResult Generate(IReadOnlyList<int[]> prompts, SamplerConfig cfg, Action<SamplerStep>? onStep = null)
    {
        cfg.Validate();
        if (cfg.Cache != CacheMode.None && model is not ICachedLogitsModel)
            throw new ArgumentException($"sampler: cache mode {cfg.Cache} needs a model that supports key/value caching");
        var st = new State(prompts, cfg, specials, model.Backend);
        try
        {
            int blocks = cfg.GenLength / cfg.BlockLength, perBlock = cfg.Dynamic ? 0 : cfg.Steps / blocks;
            for (int blk = 0; blk < blocks; blk++)
            {
                int lo = st.P + blk * cfg.BlockLength, hi = lo + cfg.BlockLength;
                var quota = new int[st.B][];
                for (int i = 0; i < st.B; i++) quota[i] = cfg.Dynamic ? [] : TransferSchedule.Quota(st.MasksIn(i, lo, hi), perBlock);
                KvCache? cache = null;
                try
                {
                    for (int s = 0; cfg.Dynamic ? st.AnyMaskIn(lo, hi) : s < perBlock; s++)
                    {
                        // Predict: with a cache, the block's first step is a full pass that (re)builds it.
                        double[] logits = cfg.Cache == CacheMode.None || s == 0
                            ? Predict(st, lo, hi, ref cache, full: true)
                            : Predict(st, lo, hi, ref cache, full: false);
                        for (int i = 0; i < st.B; i++)
                        {
                            var cand = Candidates(st, logits, i, lo, hi, cfg);
                            int take = Select(cand, cfg, cfg.Dynamic ? 0 : quota[i][s]);
                            for (int k = 0; k < take; k++) st.Commit(i, cand[k].Pos, cand[k].Token);
                        }
                        onStep?.Invoke(new SamplerStep(st.Step, blk, st.Rows(), st.FixedCopy(), st.P, st.Passes));
                        st.Step++;
                    }
                }
                finally
                {
                    cache?.Dispose();
                }
            }
            return new SampleResult(st.Generated(), st.FixedAt, st.Passes, st.Step);
        }
        finally
        {
            st.Dispose();
        }
    }

    /// <summary>Infilling: every mask id anywhere in the sequences is a position to generate; the quota of most confident positions is committed per step (one block spanning the sequence, Steps = number of masks by default).</summary>
    /// <remarks>The reverse process needs no left-to-right order: a masked span before known text (a poem's first line given its second) is as natural as one after it.</remarks>
    public SampleResult Infill(IReadOnlyList<int[]> sequences, SamplerConfig cfg)
    {
        if (cfg.CfgScale > 0 || cfg.Cache != CacheMode.None) throw new ArgumentException("infill: CFG and caches are not supported");
        int b = sequences.Count, l = sequences.Max(x => x.Length), v = model.VocabSize;
        if (sequences.Any(x => x.Length != l)) throw new ArgumentException("infill: sequences must have equal lengths");
        var x = sequences.SelectMany(r => r).ToArray();
        var masked = sequences.Select(r => Enumerable.Range(0, l).Where(j => r[j] == specials.Mask).ToArray()).ToArray();
        int maxMasks = masked.Max(m => m.Length);
        int steps = Math.Min(cfg.Steps, Math.Max(1, maxMasks));
        var quota = masked.Select(m => TransferSchedule.Quota(m.Length, steps)).ToArray();
        var fixedAt = masked.Select(m => Enumerable.Repeat(-1, m.Length).ToArray()).ToArray();
        int passes = 0, s = 0;
        // Fixed quota: Steps steps; threshold/factor decoding: until nothing is masked.
        for (; cfg.Dynamic ? x.Contains(specials.Mask) : s < steps; s++)
        {
            double[] logits;
            using (new TensorScope())
            {
                passes++;
                var f = model.Logits(Tensor.FromArray(x, [b, l], model.Backend), null).ToArray();
                FiniteLogits.Ensure(f, v, "infill");
                logits = Array.ConvertAll(f, z => (double)z);
            }
            for (int i = 0; i < b; i++)
            {
                var cand = new List<(double Conf, int Pos, int Token)>();
                foreach (int j in masked[i])
                {
                    if (x[i * l + j] != specials.Mask) continue;
                    var (token, conf) = Confidence(new Span<double>(logits, (i * l + j) * v, v), cfg, s, i, j);
                    cand.Add((conf, j, token));
                }
                cand.Sort((a, c) => c.Conf != a.Conf ? c.Conf.CompareTo(a.Conf) : a.Pos.CompareTo(c.Pos));
                int take = Select(cand, cfg, cfg.Dynamic ? 0 : quota[i][s]);
                for (int k = 0; k < take; k++)
                {
                    x[i * l + cand[k].Pos] = cand[k].Token;
                    fixedAt[i][Array.IndexOf(masked[i], cand[k].Pos)] = s;
                }
            }
        }
        var filled = new int[b][];
        for (int i = 0; i < b; i++) filled[i] = masked[i].Select(j => x[i * l + j]).ToArray();
        return new SampleResult(filled, fixedAt, passes, s);
    }

    /// <summary>Logits of block positions [lo, hi) for every row as double (B, w, V), with classifier-free guidance applied.</summary>
    private double[] Predict(State st, int lo, int hi, ref KvCache? cache, bool full)
    {
        int w = hi - lo, v = model.VocabSize, rows = st.ModelRows, l = st.L;
        using var scope = new TensorScope();
        st.Passes++;
        var ids = st.ModelInput();                                   // (rows, L): [x; x with the prompt masked] under CFG
        Tensor block;
        if (model is ICachedLogitsModel cm && st.Cfg.Cache != CacheMode.None)
        {
            if (full)
            {
                cache?.Dispose();
                KvCache? built = null;
                var all = cm.Logits(Tensor.FromArray(ids, [rows, l], model.Backend), 0, null, CacheMode.None, c => built = c, st.KeyPad);
                cache = built;
                block = all.Narrow(1, lo, w);
            }
            else if (st.Cfg.Cache == CacheMode.Prefix)
            {
                // Queries: the current block and every later position; keys: cached prefix + those.
                var win = Window(ids, rows, l, lo, l - lo);
                var logits = cm.Logits(Tensor.FromArray(win, [rows, l - lo], model.Backend), lo, cache, CacheMode.Prefix, null, st.KeyPad);
                block = logits.Narrow(1, 0, w);
            }
            else
            {
                // Queries: the current block only; its keys are refreshed in the full-length cache.
                var win = Window(ids, rows, l, lo, w);
                block = cm.Logits(Tensor.FromArray(win, [rows, w], model.Backend), lo, cache, CacheMode.Dual, null, st.KeyPad);
            }
        }
        else
        {
            var all = model.Logits(Tensor.FromArray(ids, [rows, l], model.Backend), st.KeyPad); // (rows, L, V)
            block = all.Narrow(1, lo, w);
        }
        var f = block.ToArray();
        FiniteLogits.Ensure(f, v, "sampler");
        int b = st.B;
        var res = new double[b * w * v];
        if (st.Cfg.CfgScale <= 0)
        {
            for (int k = 0; k < res.Length; k++) res[k] = f[k];
            return res;
        }
        // logits = uncond + (w + 1)(cond − uncond)   (SPEC §6.2)
        double sc = st.Cfg.CfgScale + 1;
        for (int k = 0; k < res.Length; k++) res[k] = f[b * w * v + k] + sc * (f[k] - f[b * w * v + k]);
        return res;
    }

    private static int[] Window(int[] ids, int rows, int l, int start, int len)
    {
        var w = new int[rows * len];
        for (int r = 0; r < rows; r++) Array.Copy(ids, r * l + start, w, r * len, len);
        return w;
    }

    /// <summary>(confidence, position, x0) of every masked position of row i in [lo, hi), most confident first (ties: lower position).</summary>
    private List<(double Conf, int Pos, int Token)> Candidates(State st, double[] logits, int i, int lo, int hi, SamplerConfig cfg)
    {
        int w = hi - lo, v = model.VocabSize;
        var cand = new List<(double, int, int)>();
        for (int j = lo; j < hi; j++)
        {
            if (!st.IsMasked(i, j)) continue;
            var row = new Span<double>(logits, (i * w + (j - lo)) * v, v);
            var (token, conf) = Confidence(row, cfg, st.Step, i, j);
            cand.Add((conf, j, token));
        }
        cand.Sort((a, c) => c.Item1 != a.Item1 ? c.Item1.CompareTo(a.Item1) : a.Item2.CompareTo(c.Item2));
        return cand;
    }

    /// <summary>How many of the sorted candidates to commit: the quota, or Fast-dLLM's threshold / factor rule applied to the policy's <see cref="IUnmaskingPolicy.ThresholdValue"/> of each score.</summary>
    internal static int Select(List<(double Conf, int Pos, int Token)> sorted, SamplerConfig cfg, int quota)
    {
        int m = sorted.Count;
        if (m == 0) return 0;
        if (cfg.Threshold is double thr)
        {
            // SPEC §8.2: the most confident always commits, the others iff conf ≥ threshold.
            var policy = cfg.UnmaskingPolicy;
            int n = 1;
            while (n < m && policy.ThresholdValue(sorted[n].Conf) >= thr) n++;
            return n;
        }
        if (cfg.Factor is double factor)
        {
            // SPEC §8.3: thr[i] = 1 − factor/(i + 2), thr[0] = −1; stop at the first c[i] < thr[i]; accept i*, or i* + 1
            // when i* is 0 or the last index (the reference's quirk: a failure exactly at the last index accepts all).
            var policy = cfg.UnmaskingPolicy;
            int stop = m - 1;
            for (int idx = 1; idx < m; idx++)
                if (policy.ThresholdValue(sorted[idx].Conf) < 1 - factor / (idx + 2))
                {
                    stop = idx;
                    break;
                }
            return stop == 0 || stop == m - 1 ? stop + 1 : stop;
        }
        return Math.Min(quota, m);
    }

    /// <summary>x0 (argmax of the Gumbel-perturbed logits) and the unmasking policy's score of it for one masked position.</summary>
    private (int Token, double Confidence) Confidence(Span<double> logits, SamplerConfig cfg, int step, int row, int pos)
    {
        int v = logits.Length;
        if (cfg.LogitsEosInf) logits[specials.Eos] = double.NegativeInfinity;
        if (cfg.BannedTokens is { } banned)
            foreach (int t in banned) logits[t] = double.NegativeInfinity;
        int best = -1;
        double bestScore = double.NegativeInfinity;
        ulong offset = SamplerNoise.StepOffset(step, row);
        for (int t = 0; t < v; t++)
        {
            double score = logits[t];
            if (cfg.Temperature > 0 && !double.IsNegativeInfinity(score))
            {
                // Gumbel-max in double: argmax(l/T + g), g = −log(−log u), an exact sample of softmax(l/T) (SPEC §6.4).
                double u = SamplerNoise.UniformOpen(cfg.Seed, offset, (long)pos * v + t);
                score = score / cfg.Temperature - Math.Log(-Math.Log(u));
            }
            if (best < 0 || score > bestScore)
            {
                bestScore = score;
                best = t;
            }
        }
        if (cfg.ConfidenceEosEotInf)
        {
            // Q1 fixed: suppress EOS and EoT in the clean logits after x0 was chosen.
            logits[specials.Eos] = double.NegativeInfinity;
            if (specials.EndOfTurn is int eot) logits[eot] = double.NegativeInfinity;
        }
        return (best, cfg.UnmaskingPolicy.Score(logits, best, new ScoreSite(cfg.Seed, step, row, pos)));
    }

    /// <summary>The sequences being denoised: left-padded prompts followed by the answer region.</summary>
    private sealed class State : IDisposable
    {
        private readonly int[] _x;
        private readonly bool[] _isPrompt;
        private readonly IReadOnlyList<int[]> _prompts;
        private readonly SpecialTokens _sp;

        public State(IReadOnlyList<int[]> prompts, SamplerConfig cfg, SpecialTokens sp, IBackend backend)
        {
            if (prompts.Count == 0) throw new ArgumentException("sampler: no prompts");
            if (sp.PadId == sp.Mask) throw new ArgumentException("sampler: the pad id must differ from the mask id");
            _prompts = prompts;
            _sp = sp;
            Cfg = cfg;
            B = prompts.Count;
            P = prompts.Max(p => p.Length);
            Answer = cfg.GenLength;
            L = Math.Max(P + cfg.GenLength, cfg.PadTo); // EOS padding after the answer up to PadTo (context, never committed)
            _x = new int[B * L];
            var keep = new int[B * L];
            bool padded = false;
            for (int i = 0; i < B; i++)
            {
                int off = P - prompts[i].Length;
                padded |= off > 0;
                for (int j = 0; j < L; j++)
                {
                    if (j >= off && j < P && prompts[i][j - off] == sp.Mask) throw new ArgumentException($"sampler: prompt {i} contains the mask id");
                    _x[i * L + j] = j < off ? sp.PadId : j < P ? prompts[i][j - off] : j < P + Answer ? sp.Mask : sp.Eos;
                    keep[i * L + j] = j < off ? 0 : 1;
                }
            }
            _isPrompt = new bool[B * L];
            for (int k = 0; k < _x.Length; k++) _isPrompt[k] = _x[k] != sp.Mask && k % L < P; // not the EOS padding after the answer
            FixedAt = new int[B][];
            for (int i = 0; i < B; i++) FixedAt[i] = Enumerable.Repeat(-1, cfg.GenLength).ToArray();
            if (padded)
            {
                // Key padding for every model row (duplicated for the unconditional half under CFG).
                var kp = cfg.CfgScale > 0 ? [.. keep, .. keep] : keep;
                KeyPad = Tensor.FromArray(kp, [ModelRows, L], backend).Detach();
            }
        }

        public SamplerConfig Cfg { get; }
        public int B { get; }
        public int P { get; }
        public int L { get; }

        /// <summary>Tokens generated per sequence (GenLength); any positions after them up to L are EOS padding.</summary>
        public int Answer { get; }

        public int Step { get; set; }
        public int Passes { get; set; }
        public int[][] FixedAt { get; }
        public Tensor? KeyPad { get; }

        /// <summary>Rows the model sees: B, or 2B with the unconditional copies under CFG.</summary>
        public int ModelRows => Cfg.CfgScale > 0 ? 2 * B : B;

        public bool IsMasked(int i, int j) => _x[i * L + j] == _sp.Mask;

        public int MasksIn(int i, int lo, int hi)
        {
            int m = 0;
            for (int j = lo; j < hi; j++) m += IsMasked(i, j) ? 1 : 0;
            return m;
        }

        public bool AnyMaskIn(int lo, int hi)
        {
            for (int i = 0; i < B; i++)
                if (MasksIn(i, lo, hi) > 0) return true;
            return false;
        }

        public void Commit(int i, int pos, int token)
        {
            _x[i * L + pos] = token;
            FixedAt[i][pos - P] = Step;
        }

        /// <summary>Model input ids (ModelRows, L); the unconditional rows have every prompt position (padding included) masked.</summary>
        public int[] ModelInput()
        {
            if (Cfg.CfgScale <= 0) return (int[])_x.Clone();
            var both = new int[2 * _x.Length];
            _x.CopyTo(both, 0);
            for (int k = 0; k < _x.Length; k++) both[_x.Length + k] = _isPrompt[k] ? _sp.Mask : _x[k];
            return both;
        }

        public int[][] Rows()
        {
            var r = new int[B][];
            for (int i = 0; i < B; i++) r[i] = _x.AsSpan(i * L + P - _prompts[i].Length, _prompts[i].Length + Answer).ToArray();
            return r;
        }

        public int[][] FixedCopy() => FixedAt.Select(r => (int[])r.Clone()).ToArray();

        public int[][] Generated()
        {
            var g = new int[B][];
            for (int i = 0; i < B; i++) g[i] = _x.AsSpan(i * L + P, Answer).ToArray();
            return g;
        }

        public void Dispose() => KeyPad?.Dispose();
    }
}
