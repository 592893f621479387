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
        bool fused = UsesFusedHead(cfg);
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
                        using (new TensorScope())
                        {
                            // Predict: with a cache, the block's first step is a full pass that (re)builds it.
                            // Fused: the block's final hidden states (rows, w, C); the LM head runs only on its masked positions.
                            var block = Predict(st, lo, hi, ref cache, full: cfg.Cache == CacheMode.None || s == 0, fused);
                            var stepQuota = new int[st.B];
                            for (int i = 0; i < st.B; i++) stepQuota[i] = cfg.Dynamic ? 0 : quota[i][s];
                            var (x0, take) = Decide(block, fused, st.B, lo, st.Step, (i, j) => st.IsMasked(i, j), stepQuota, cfg, "sampler");
                            int w = hi - lo;
                            for (int k = 0; k < take.Length; k++)
                                if (take[k] != 0) st.Commit(k / w, lo + k % w, x0[k]);
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
        int b = sequences.Count, l = sequences.Max(x => x.Length);
        if (sequences.Any(x => x.Length != l)) throw new ArgumentException("infill: sequences must have equal lengths");
        var x = sequences.SelectMany(r => r).ToArray();
        var masked = sequences.Select(r => Enumerable.Range(0, l).Where(j => r[j] == specials.Mask).ToArray()).ToArray();
        int maxMasks = masked.Max(m => m.Length);
        int steps = Math.Min(cfg.Steps, Math.Max(1, maxMasks));
        var quota = masked.Select(m => TransferSchedule.Quota(m.Length, steps)).ToArray();
        var fixedAt = masked.Select(m => Enumerable.Repeat(-1, m.Length).ToArray()).ToArray();
        int passes = 0, s = 0;
        bool fused = UsesFusedHead(cfg);
        // Fixed quota: Steps steps; threshold/factor decoding: until nothing is masked.
        for (; cfg.Dynamic ? x.Contains(specials.Mask) : s < steps; s++)
        {
            using var scope = new TensorScope();
            passes++;
            using var ids = Tensor.FromArray(x, [b, l], model.Backend);
            var pred = fused ? ((IHiddenStatesModel)model).Hidden(ids, 0, null, CacheMode.None, null, null) // (B, L, C)
                             : model.Logits(ids, null);                                                     // (B, L, V)
            var stepQuota = new int[b];
            for (int i = 0; i < b; i++) stepQuota[i] = cfg.Dynamic ? 0 : quota[i][s];
            var (x0, take) = Decide(pred, fused, b, 0, s, (i, j) => x[i * l + j] == specials.Mask, stepQuota, cfg, "infill");
            for (int k = 0; k < take.Length; k++)
            {
                if (take[k] == 0) continue;
                int i = k / l, j = k % l;
                x[k] = x0[k];
                fixedAt[i][Array.IndexOf(masked[i], j)] = s;
            }
        }
        var filled = new int[b][];
        for (int i = 0; i < b; i++) filled[i] = masked[i].Select(j => x[i * l + j]).ToArray();
        return new SampleResult(filled, fixedAt, passes, s);
    }

    /// <summary>Whether this run samples through the fused LM head (see <see cref="SamplerConfig.FusedHead"/>).</summary>
    /// <remarks>Not for a policy of one's own that scores on the host from the logits (no backend score, <see cref="IUnmaskingPolicy.UsesLogits"/>).</remarks>
    private bool UsesFusedHead(SamplerConfig cfg)
        => cfg.FusedHead && model is IHiddenStatesModel && !(cfg.UnmaskingPolicy.BackendScore == TokenScore.None && cfg.UnmaskingPolicy.UsesLogits);

    /// <summary>Logits (ModelRows, w, V) — or with <paramref name="hidden"/> the final hidden states (ModelRows, w, C) — of block positions [lo, hi) on the model's backend (conditional rows, then the unconditional ones under CFG); they belong to the caller's TensorScope.</summary>
    private Tensor Predict(State st, int lo, int hi, ref KvCache? cache, bool full, bool hidden)
    {
        var hm = model as IHiddenStatesModel;
        Tensor Run(ICachedLogitsModel cm, Tensor ids, int start, KvCache? c, CacheMode mode, Action<KvCache>? record)
            => hidden ? hm!.Hidden(ids, start, c, mode, record, st.KeyPad) : cm.Logits(ids, start, c, mode, record, st.KeyPad);
        int w = hi - lo, rows = st.ModelRows, l = st.L;
        st.Passes++;
        var ids = st.ModelInput();                                   // (rows, L): [x; x with the prompt masked] under CFG
        Tensor block;
        if (model is ICachedLogitsModel cm && st.Cfg.Cache != CacheMode.None)
        {
            if (full)
            {
                cache?.Dispose();
                KvCache? built = null;
                var all = Run(cm, Tensor.FromArray(ids, [rows, l], model.Backend), 0, null, CacheMode.None, c => built = c);
                cache = built;
                block = all.Narrow(1, lo, w);
            }
            else if (st.Cfg.Cache == CacheMode.Prefix)
            {
                // Queries: the current block and every later position; keys: cached prefix + those.
                var win = Window(ids, rows, l, lo, l - lo);
                var logits = Run(cm, Tensor.FromArray(win, [rows, l - lo], model.Backend), lo, cache, CacheMode.Prefix, null);
                block = logits.Narrow(1, 0, w);
            }
            else
            {
                // Queries: the current block only; its keys are refreshed in the full-length cache.
                var win = Window(ids, rows, l, lo, w);
                block = Run(cm, Tensor.FromArray(win, [rows, w], model.Backend), lo, cache, CacheMode.Dual, null);
            }
        }
        else
        {
            using var t = Tensor.FromArray(ids, [rows, l], model.Backend);
            var all = hidden ? hm!.Hidden(t, 0, null, CacheMode.None, null, st.KeyPad) // (rows, L, C)
                             : model.Logits(t, st.KeyPad);                            // (rows, L, V)
            block = all.Narrow(1, lo, w);
        }
        return block;
    }

    private static int[] Window(int[] ids, int rows, int l, int start, int len)
    {
        var w = new int[rows * len];
        for (int r = 0; r < rows; r++) Array.Copy(ids, r * l + start, w, r * len, len);
        return w;
    }

    /// <summary>One step's decision for a block of w positions of b rows: x0 of every position and which masked ones to commit (1 in take), both (b·w).</summary>
    /// <remarks>
    /// Fused (<paramref name="hidden"/>: <paramref name="pred"/> holds the block's final hidden states (b or 2b under CFG, w, C)):
    /// the hidden rows of the block's masked positions are gathered and <see cref="Tensor.SampleTokensHead"/> streams their logits
    /// over vocabulary tiles into x0 and the policy's score — no logits tensor exists; the other positions get x0 = 0 (never
    /// committed). Unfused (the slow obvious reference): <paramref name="pred"/> holds the block's logits (b or 2b, w, V) and
    /// <see cref="Tensor.SampleTokens"/> draws x0 for every position (Gumbel-max in float64). Both give the same tokens.
    /// <see cref="Tensor.SelectTransfer"/> then applies the quota, threshold or factor rule; only x0 and take (b·w ints) are
    /// read back. Policies without a backend score are scored here on the host: random and origin from the site alone; a policy
    /// of one's own (<see cref="IUnmaskingPolicy.UsesLogits"/>, always unfused) from the block's logits, copied to the host.
    /// </remarks>
    private (int[] X0, int[] Take) Decide(Tensor pred, bool hidden, int b, int lo, int step, Func<int, int, bool> isMasked, int[] quota, SamplerConfig cfg, string where)
    {
        // Banned ids (the mask id, and e.g. the poem sampler's given punctuation) get a logit of −1e30 on the backend: never drawn, probability
        // exactly 0 in float64 (as −∞ would give), and under CFG the combine stays −1e30 where −∞ − (−∞) would be NaN.
        // In the threshold/factor modes, which run until no mask is left in the block, the mask id itself is banned too: a
        // committed [MASK] decides nothing and the loop would never end (Fast-dLLM's reference hangs there). The step-quota modes
        // keep the reference's behaviour (LLaDA's generate may commit the mask id; the reference-model test replays it).
        int[] ban = [.. cfg.Dynamic ? [specials.Mask] : Array.Empty<int>(), .. cfg.BannedTokens ?? []];
        int w = pred.Dim(1), v = model.VocabSize;
        var backend = pred.Backend;
        var policy = cfg.UnmaskingPolicy;
        var kind = policy.BackendScore;
        var ts = new TokenSampling(cfg.Temperature, cfg.CfgScale, cfg.Seed, step, lo, kind,
                                   BanId: cfg.LogitsEosInf ? specials.Eos : -1,
                                   SuppressId: cfg.ConfidenceEosEotInf ? specials.Eos : -1,
                                   SuppressId2: cfg.ConfidenceEosEotInf ? specials.EndOfTurn ?? -1 : -1);
        var cand = new int[b * w];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < w; j++) cand[i * w + j] = isMasked(i, lo + j) ? 1 : 0;
        int[] x0;
        Tensor scores;
        Tensor? logits = null;
        if (hidden)
        {
            (x0, scores) = FusedSample(pred, b, w, cand, ban, ts);
        }
        else
        {
            var banned = ban.Length > 0 ? pred + BanBias(ban, pred.Dim(-1), backend) : null;
            logits = banned ?? pred;
            Tensor tokens;
            (tokens, scores) = Tensor.SampleTokens(logits, b, ts);
            x0 = tokens.ToIntArray();
        }
        FiniteLogits.EnsureStatus(x0, scores, b, w, v, where);
        Tensor? thresholdValues = null;
        if (kind == TokenScore.None)
        {
            // Host scoring: the site (random, origin) or the block's logits (a policy of one's own; B·w·V values copied).
            var host = policy.UsesLogits ? logits!.ToArray() : null;
            var sc = new double[b * w];
            var tv = new double[b * w];
            var row = new double[policy.UsesLogits ? v : 0];
            for (int k = 0; k < sc.Length; k++)
            {
                if (cand[k] == 0) continue;
                int i = k / w, j = k % w;
                if (host is not null)
                {
                    var cond = new ReadOnlySpan<float>(host, k * v, v);
                    var uncond = cfg.CfgScale > 0 ? new ReadOnlySpan<float>(host, (b * w + k) * v, v) : default;
                    TokenSampler.ScoringRow(cond, uncond, ts, row);
                }
                sc[k] = policy.Score(row, x0[k], new ScoreSite(cfg.Seed, step, i, lo + j));
                tv[k] = policy.ThresholdValue(sc[k]);
            }
            scores = Tensor.FromSpan<double>(sc, [b, w], DType.F64, backend);
            thresholdValues = Tensor.FromSpan<double>(tv, [b, w], DType.F64, backend);
        }
        bool exp = kind == TokenScore.NegEntropy; // the entropy policy's thresholds compare exp(−H)
        var rule = cfg.Threshold is double thr ? new TransferRule(TransferKind.Threshold, thr, exp)
                 : cfg.Factor is double f ? new TransferRule(TransferKind.Factor, f, exp)
                 : new TransferRule(TransferKind.Quota);
        var take = Tensor.SelectTransfer(scores, thresholdValues, Tensor.FromArray(cand, [b, w], backend), Tensor.FromArray(quota, [b], backend), rule);
        return (x0, take.ToIntArray());
    }

    /// <summary>x0 (b·w, 0 where not a candidate) and scores (b, w) F64 of the candidates from the block's hidden states (R·b, w, C): their rows gathered, then the fused head.</summary>
    private (int[] X0, Tensor Scores) FusedSample(Tensor hidden, int b, int w, int[] cand, int[] ban, in TokenSampling ts)
    {
        var backend = hidden.Backend;
        int v = model.VocabSize, halves = ts.CfgScale > 0 ? 2 : 1, c = hidden.Dim(2);
        var at = new List<int>();
        for (int k = 0; k < cand.Length; k++)
            if (cand[k] != 0) at.Add(k);
        int n = at.Count;
        var x0 = new int[b * w];
        var sc = new double[b * w];
        if (n > 0)
        {
            var sites = new int[2 * n];
            var rowsOf = new int[halves * n];                              // rows of the flattened (R·b·w, C) block
            for (int q = 0; q < n; q++)
            {
                sites[2 * q] = at[q] / w;
                sites[2 * q + 1] = at[q] % w;
                for (int h = 0; h < halves; h++) rowsOf[h * n + q] = h * b * w + at[q];
            }
            using var flat = hidden.Contiguous();
            using var table = flat.View(halves * b * w, c);
            using var ids = Tensor.FromArray(rowsOf, [halves * n], backend);
            using var gathered = Tensor.Embedding(table, ids);             // (R·n, C)
            using var bias = ban.Length > 0 ? BanBias(ban, v, backend) : null;
            using var siteT = Tensor.FromArray(sites, [n, 2], backend);
            var (tok, score) = Tensor.SampleTokensHead(gathered, ((IHiddenStatesModel)model).HeadWeight, bias, siteT, v, ts);
            var tk = tok.ToIntArray();
            var sn = new double[n];
            backend.Download<double>(score, sn);
            tok.Dispose();
            score.Dispose();
            for (int q = 0; q < n; q++)
            {
                x0[at[q]] = tk[q];
                sc[at[q]] = sn[q];
            }
        }
        return (x0, Tensor.FromSpan<double>(sc, [b, w], DType.F64, backend));
    }

    /// <summary>A (V) row of 0 with −1e30 at the banned ids, added to every logits row.</summary>
    private static Tensor BanBias(IReadOnlyList<int> ids, int v, IBackend backend) // v: the logits' row width
    {
        var bias = new float[v];
        foreach (int t in ids)
        {
            if ((uint)t >= (uint)v) throw new ArgumentException($"banned token {t} is outside the vocabulary (0..{v - 1})");
            bias[t] = BannedLogit;
        }
        return Tensor.FromArray(bias, [v], backend);
    }

    /// <summary>The logit a banned id gets (finite, so the CFG combine of two banned logits stays finite).</summary>
    private const float BannedLogit = -1e30f;

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
