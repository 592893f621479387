using LLaDA.Diffusion.Data;
using LLaDA.Tensors;
using LLaDA.Tensors.Random;

namespace LLaDA.Diffusion.Sampling;

/// <summary>The state after one denoising step, for streaming and live views.</summary>
public sealed record SamplerStep(int Step, int Block, int[][] Tokens, int[][] FixedAtStep, int PromptLength);

/// <summary>Generated sequences and how they were made.</summary>
public sealed record SampleResult(int[][] Generated, int[][] FixedAtStep, int ForwardPasses, int Steps);

/// <summary>LLaDA's reverse process (generate.py, SPEC §6): start from an all-[MASK] answer and commit the quota of most confident predictions per step, block by block.</summary>
/// <remarks>
/// Deliberate fixes of the reference's quirks (SPEC §6.5): Q1 — EOS/EoT confidence suppression applies to the clean
/// logits after x0 is chosen, at every temperature; Q2 — CFG works with or without padding; Q3 — confidences are
/// softmax probabilities in float64; Q4 — top-k ties break towards the lower position; Q6 — prompts of different
/// lengths are left-padded with the pad id and masked out of attention; RoPE positions are not shifted.
/// </remarks>
public sealed class ReverseSampler(ILogitsModel model, SpecialTokens specials)
{
    /// <summary>Generates GenLength tokens after each prompt.</summary>
    public SampleResult Generate(IReadOnlyList<int[]> prompts, SamplerConfig cfg, Action<SamplerStep>? onStep = null)
    {
        cfg.Validate();
        int b = prompts.Count;
        if (b == 0) throw new ArgumentException("sampler: no prompts");
        int mask = specials.Mask, pad = specials.PadId;
        if (pad == mask) throw new ArgumentException("sampler: the pad id must differ from the mask id");
        int p = prompts.Max(x => x.Length), g = cfg.GenLength, l = p + g, v = model.VocabSize;
        var x = new int[b * l];
        var keep = new int[b * l];
        bool padded = false;
        for (int i = 0; i < b; i++)
        {
            int off = p - prompts[i].Length;
            padded |= off > 0;
            for (int j = 0; j < l; j++)
            {
                x[i * l + j] = j < off ? pad : j < p ? prompts[i][j - off] : mask;
                keep[i * l + j] = j < off ? 0 : 1;
                if (j >= off && j < p && prompts[i][j - off] == mask) throw new ArgumentException($"sampler: prompt {i} contains the mask id");
            }
        }
        var isPrompt = new bool[b * l];
        for (int k = 0; k < x.Length; k++) isPrompt[k] = x[k] != mask;
        var fixedAt = new int[b][];
        for (int i = 0; i < b; i++) fixedAt[i] = Enumerable.Repeat(-1, g).ToArray();

        int blocks = g / cfg.BlockLength, perBlock = cfg.Steps / blocks, step = 0, passes = 0;
        using var keyPad = padded ? Tensor.FromArray(keep, [b, l], model.Backend).Detach() : null;
        using var keyPad2 = padded && cfg.CfgScale > 0 ? Tensor.FromArray([.. keep, .. keep], [2 * b, l], model.Backend).Detach() : null;
        for (int blk = 0; blk < blocks; blk++)
        {
            int lo = p + blk * cfg.BlockLength, hi = lo + cfg.BlockLength, w = hi - lo;
            var quota = new int[b][];
            for (int i = 0; i < b; i++)
            {
                int m = 0;
                for (int j = lo; j < hi; j++) m += x[i * l + j] == mask ? 1 : 0;
                quota[i] = TransferSchedule.Quota(m, perBlock);
            }
            for (int s = 0; s < perBlock; s++, step++)
            {
                var logits = BlockLogits(x, isPrompt, b, l, lo, w, cfg, keyPad, keyPad2, ref passes); // (B, w, V) as double
                for (int i = 0; i < b; i++)
                {
                    var cand = new List<(double Conf, int Pos, int Token)>();
                    for (int j = lo; j < hi; j++)
                    {
                        if (x[i * l + j] != mask) continue;
                        var row = new Span<double>(logits, ((i * w) + (j - lo)) * v, v);
                        var (token, conf) = Predict(row, cfg, step, i, j);
                        cand.Add((conf, j, token));
                    }
                    // Commit the quota of highest confidences; ties go to the lower position (Q4).
                    cand.Sort((a, c) => c.Conf != a.Conf ? c.Conf.CompareTo(a.Conf) : a.Pos.CompareTo(c.Pos));
                    for (int k = 0; k < Math.Min(quota[i][s], cand.Count); k++)
                    {
                        x[i * l + cand[k].Pos] = cand[k].Token;
                        fixedAt[i][cand[k].Pos - p] = step;
                    }
                }
                onStep?.Invoke(new SamplerStep(step, blk, Rows(x, b, l, p, prompts), fixedAt.Select(r => (int[])r.Clone()).ToArray(), p));
            }
        }
        var gen = new int[b][];
        for (int i = 0; i < b; i++) gen[i] = x.AsSpan(i * l + p, g).ToArray();
        return new SampleResult(gen, fixedAt, passes, step);
    }

    private static int[][] Rows(int[] x, int b, int l, int p, IReadOnlyList<int[]> prompts)
    {
        var r = new int[b][];
        for (int i = 0; i < b; i++) r[i] = x.AsSpan(i * l + p - prompts[i].Length, prompts[i].Length + l - p).ToArray();
        return r;
    }

    /// <summary>Logits of block positions [lo, lo + w) for every row, in double, with classifier-free guidance applied.</summary>
    private double[] BlockLogits(int[] x, bool[] isPrompt, int b, int l, int lo, int w, SamplerConfig cfg, Tensor? keyPad, Tensor? keyPad2, ref int passes)
    {
        int v = model.VocabSize;
        using var scope = new TensorScope();
        passes++;
        if (cfg.CfgScale <= 0)
        {
            var ids = Tensor.FromArray(x, [b, l], model.Backend);
            var full = model.Logits(ids, keyPad);                    // (B, L, V)
            var f = full.Narrow(1, lo, w).ToArray();
            return Array.ConvertAll(f, z => (double)z);
        }
        // Unconditional branch: every prompt position (padding included) replaced by the mask (SPEC §6.2).
        var both = new int[2 * b * l];
        x.CopyTo(both, 0);
        for (int k = 0; k < b * l; k++) both[b * l + k] = isPrompt[k] ? specials.Mask : x[k];
        var ids2 = Tensor.FromArray(both, [2 * b, l], model.Backend);
        var all = model.Logits(ids2, keyPad2).Narrow(1, lo, w).ToArray(); // (2B, w, V)
        var res = new double[b * w * v];
        double s = cfg.CfgScale + 1;
        for (int k = 0; k < res.Length; k++)
        {
            double cond = all[k], uncond = all[b * w * v + k];
            res[k] = uncond + s * (cond - uncond);
        }
        return res;
    }

    /// <summary>x0 (argmax of the Gumbel-perturbed logits) and its confidence for one masked position.</summary>
    private (int Token, double Confidence) Predict(Span<double> logits, SamplerConfig cfg, int step, int row, int pos)
    {
        int v = logits.Length;
        if (cfg.LogitsEosInf) logits[specials.Eos] = double.NegativeInfinity;
        int best = 0;
        double bestScore = double.NegativeInfinity;
        ulong offset = ((ulong)step << 40) ^ ((ulong)row << 24);
        for (int t = 0; t < v; t++)
        {
            double score = logits[t];
            if (cfg.Temperature > 0 && !double.IsNegativeInfinity(score))
            {
                // Gumbel-max in double: argmax(l/T + g), g = −log(−log u), an exact sample of softmax(l/T) (SPEC §6.4).
                double u = UniformOpen(cfg.Seed, offset, (long)pos * v + t);
                score = score / cfg.Temperature - Math.Log(-Math.Log(u));
            }
            if (score > bestScore || (best == 0 && t == 0))
            {
                bestScore = score;
                best = t;
            }
        }
        if (cfg.Remasking == Remasking.Random)
            return (best, UniformOpen(cfg.Seed ^ 0x5EED, offset, pos));
        if (cfg.ConfidenceEosEotInf)
        {
            // Q1 fixed: suppress EOS and EoT in the clean logits after x0 was chosen.
            logits[specials.Eos] = double.NegativeInfinity;
            if (specials.EndOfTurn is int eot) logits[eot] = double.NegativeInfinity;
        }
        double max = double.NegativeInfinity;
        foreach (double z in logits) max = Math.Max(max, z);
        if (double.IsNegativeInfinity(max)) return (best, 0);
        double sum = 0;
        foreach (double z in logits) sum += Math.Exp(z - max);
        return (best, Math.Exp(logits[best] - max) / sum);
    }

    /// <summary>A double in (0, 1) from two Philox words (53 random bits).</summary>
    private static double UniformOpen(ulong seed, ulong offset, long index)
    {
        uint a = Philox.Word(seed, offset, 2 * index), c = Philox.Word(seed, offset, 2 * index + 1);
        ulong bits = ((ulong)(a >> 5) << 26) | (c >> 6);
        return (bits + 0.5) / 9007199254740992.0;
    }
}
