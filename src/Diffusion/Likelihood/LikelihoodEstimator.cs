using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors;
using LLaDA.Tensors.Random;

namespace LLaDA.Diffusion.Likelihood;

/// <summary>Settings of the Monte-Carlo likelihood; defaults are get_log_likelihood.py's (SPEC §7).</summary>
public sealed record LikelihoodConfig
{
    /// <summary>Total masked samples; a multiple of <see cref="BatchSize"/>.</summary>
    public int McNum { get; init; } = 128;

    public int BatchSize { get; init; } = 16;

    /// <summary>Classifier-free guidance weight (unconditional = prompt fully masked).</summary>
    public double CfgScale { get; init; }

    public ulong Seed { get; init; }
}

/// <summary>The estimate and its Monte-Carlo standard error (nats).</summary>
public readonly record struct LogLikelihood(double Value, double StdError, int Samples);

/// <summary>LLaDA's conditional log-likelihood bound log p(answer | prompt) ≥ −E[Σ_masked CE / p_mask] with stratified mask counts (SPEC §7).</summary>
/// <remarks>
/// Each batch draws k ~ U{1..T}, spreads the b mask counts evenly over [1, T] (n_r = ((round(k + r·T/b) − 1) mod T) + 1,
/// round half to even as torch.round), masks exactly n_r answer positions of row r by a random permutation (prompt never
/// masked), weights by T/n_r and averages over rows. Randomness is Philox, keyed by (seed, batch index).
/// </remarks>
public sealed class LikelihoodEstimator(ILogitsModel model, SpecialTokens specials)
{
    public LogLikelihood Estimate(int[] prompt, int[] answer, LikelihoodConfig? config = null)
    {
        var cfg = config ?? new LikelihoodConfig();
        if (cfg.McNum <= 0 || cfg.BatchSize <= 0 || cfg.McNum % cfg.BatchSize != 0)
            throw new ArgumentException($"likelihood: mc_num {cfg.McNum} must be a positive multiple of batch_size {cfg.BatchSize}");
        if (answer.Length == 0) throw new ArgumentException("likelihood: empty answer");
        int p = prompt.Length, t = answer.Length, b = cfg.BatchSize;
        var seq = prompt.Concat(answer).ToArray();
        var losses = new List<double>();
        for (int it = 0; it < cfg.McNum / b; it++)
        {
            ulong offset = (ulong)it << 32;
            int k = 1 + (int)(Philox.Word(cfg.Seed, offset, 0) % (uint)t);
            var counts = MaskCounts(k, t, b);
            var positions = new int[b][];
            for (int r = 0; r < b; r++)
            {
                // Exactly n answer positions by a Fisher–Yates permutation drawn from Philox.
                var perm = Enumerable.Range(0, t).ToArray();
                for (int i = t - 1; i > 0; i--)
                {
                    int j = (int)(Philox.Word(cfg.Seed, offset, 1 + (long)r * t + i) % (uint)(i + 1));
                    (perm[i], perm[j]) = (perm[j], perm[i]);
                }
                positions[r] = perm[..counts[r]];
            }
            losses.Add(BatchLoss(seq, p, positions, cfg.CfgScale));
        }
        double mean = losses.Average();
        double sd = losses.Count > 1 ? Math.Sqrt(losses.Sum(x => (x - mean) * (x - mean)) / (losses.Count - 1)) : double.NaN;
        return new LogLikelihood(-mean, sd / Math.Sqrt(losses.Count), losses.Count);
    }

    /// <summary>Stratified mask counts n_r of the b rows of one batch for the draw k ∈ [1, T]: ((round(k + r·T/b) − 1) mod T) + 1, round half to even.</summary>
    internal static int[] MaskCounts(int k, int t, int b)
    {
        var nr = new int[b];
        for (int r = 0; r < b; r++)
        {
            double lin = b == 1 ? k : k + r * (double)t / b;
            int n = (int)Math.Round(lin, MidpointRounding.ToEven);
            nr[r] = ((n - 1) % t + t) % t + 1;
        }
        return nr;
    }

    /// <summary>One Monte-Carlo batch: row r masks the answer positions <paramref name="answerPositions"/>[r] (indices into the answer) of seq = prompt ++ answer; returns Σ_r Σ_masked CE / p_mask / b with p_mask = n_r / T.</summary>
    /// <remarks>With a model that exposes its hidden states (<see cref="IHiddenStatesModel"/>) only the masked positions' rows go
    /// through the LM head (<see cref="MaskedCrossEntropy"/>); otherwise the full logits (<see cref="BatchLossFullLogits"/>, the reference).</remarks>
    internal double BatchLoss(int[] seq, int promptLength, int[][] answerPositions, double cfgScale)
    {
        if (model is not IHiddenStatesModel hm) return BatchLossFullLogits(seq, promptLength, answerPositions, cfgScale);
        int p = promptLength, l = seq.Length, t = l - p, b = answerPositions.Length;
        var ids = MaskedIds(seq, p, answerPositions);
        var at = new List<int>();
        var targets = new List<int>();
        var scale = new List<double>();
        for (int r = 0; r < b; r++)
            foreach (int j in answerPositions[r])
            {
                at.Add(r * l + p + j);
                targets.Add(seq[p + j]);
                scale.Add((double)t / answerPositions[r].Length); // 1 / p_mask with p_mask = n/T
            }
        var ce = MaskedCrossEntropy(hm, ids, b, l, p, cfgScale, at, targets);
        double loss = 0;
        for (int k = 0; k < ce.Length; k++) loss += ce[k] * scale[k];
        return loss / b;
    }

    /// <summary>Sequences (b, L) of prompt ++ answer with the given answer positions masked.</summary>
    private int[] MaskedIds(int[] seq, int p, int[][] answerPositions)
    {
        int l = seq.Length, b = answerPositions.Length;
        var ids = new int[b * l];
        for (int r = 0; r < b; r++)
        {
            seq.CopyTo(ids, r * l);
            foreach (int j in answerPositions[r]) ids[r * l + p + j] = specials.Mask;
        }
        return ids;
    }

    /// <summary>Sites scored per LM-head call: bounds the (R·sites, V) logits of one chunk (32 × 126,464 × 4 B ≈ 16 MB per half).</summary>
    private const int HeadChunk = 32;

    /// <summary>Cross-entropy in float64 of the tokens <paramref name="targets"/> at the flattened positions <paramref name="at"/> of ids (b, L): one forward for the hidden states, then the LM head on the gathered rows of those positions only (CFG: u + (w + 1)(c − u) per site).</summary>
    private double[] MaskedCrossEntropy(IHiddenStatesModel hm, int[] ids, int b, int l, int p, double cfg, List<int> at, List<int> targets)
    {
        using var scope = new TensorScope();
        int v = model.VocabSize, halves = cfg > 0 ? 2 : 1, n = at.Count;
        var input = ids;
        if (cfg > 0)
        {
            input = new int[2 * b * l];
            ids.CopyTo(input, 0);
            for (int r = 0; r < b; r++)
                for (int j = 0; j < l; j++) input[(b + r) * l + j] = j < p ? specials.Mask : ids[r * l + j];
        }
        var hidden = hm.Hidden(Tensor.FromArray(input, [halves * b, l], model.Backend), 0, null, LLaDA.Nn.CacheMode.None, null, null); // (R·b, L, C)
        int c = hidden.Dim(2);
        var table = hidden.View(halves * b * l, c);
        var head = hm.HeadWeight.Narrow(0, 0, v).MT;                                                      // (C, V)
        var ce = new double[n];
        for (int q0 = 0; q0 < n; q0 += HeadChunk)
        {
            using var chunkScope = new TensorScope();
            int m = Math.Min(HeadChunk, n - q0);
            var rows = new int[halves * m];
            for (int q = 0; q < m; q++)
                for (int h = 0; h < halves; h++) rows[h * m + q] = h * b * l + at[q0 + q];
            var logits = Tensor.Embedding(table, Tensor.FromArray(rows, [halves * m], model.Backend)).MatMul(head).ToArray(); // (R·m, V)
            FiniteLogits.Ensure(logits, v, "likelihood");
            for (int q = 0; q < m; q++)
            {
                var cond = new ReadOnlySpan<float>(logits, q * v, v);
                var uncond = cfg > 0 ? new ReadOnlySpan<float>(logits, (m + q) * v, v) : default;
                double max = double.NegativeInfinity;
                for (int k = 0; k < v; k++) max = Math.Max(max, Guided(cond, uncond, cfg, k));
                double sum = 0;
                for (int k = 0; k < v; k++) sum += Math.Exp(Guided(cond, uncond, cfg, k) - max);
                ce[q0 + q] = max + Math.Log(sum) - Guided(cond, uncond, cfg, targets[q0 + q]);
            }
        }
        return ce;
    }

    /// <summary>Logit k in double: c, or u + (w + 1)(c − u) (the difference in float, as <see cref="Logits"/>).</summary>
    private static double Guided(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, double cfg, int k)
        => cfg > 0 ? uncond[k] + (cfg + 1) * (cond[k] - uncond[k]) : cond[k];

    /// <summary><see cref="BatchLoss"/> from the full (b, L, V) logits of every position: the slow obvious reference of the masked-only path, and the path for models without hidden-state access.</summary>
    internal double BatchLossFullLogits(int[] seq, int promptLength, int[][] answerPositions, double cfgScale)
    {
        int p = promptLength, l = seq.Length, t = l - p, b = answerPositions.Length, v = model.VocabSize;
        var ids = new int[b * l];
        for (int r = 0; r < b; r++)
        {
            seq.CopyTo(ids, r * l);
            foreach (int j in answerPositions[r]) ids[r * l + p + j] = specials.Mask;
        }
        var logits = Logits(ids, b, l, p, cfgScale);
        double loss = 0;
        for (int r = 0; r < b; r++)
            foreach (int j in answerPositions[r])
            {
                var row = logits.AsSpan(((r * l) + p + j) * v, v);
                double max = double.NegativeInfinity;
                foreach (double z in row) max = Math.Max(max, z);
                double sum = 0;
                foreach (double z in row) sum += Math.Exp(z - max);
                double ce = max + Math.Log(sum) - row[seq[p + j]];
                loss += ce * t / answerPositions[r].Length; // CE / p_mask with p_mask = n/T
            }
        return loss / b;
    }

    /// <summary>Scores each option as the answer to the prompt and returns the index of the most likely one with all scores.</summary>
    public (int Best, LogLikelihood[] Scores) MultipleChoice(int[] prompt, IReadOnlyList<int[]> options, LikelihoodConfig? config = null)
    {
        var scores = options.Select(o => Estimate(prompt, o, config)).ToArray();
        int best = 0;
        for (int i = 1; i < scores.Length; i++)
            if (scores[i].Value > scores[best].Value) best = i;
        return (best, scores);
    }

    /// <summary>Logits (B, L, V) in double, with CFG when cfg &gt; 0 (unconditional rows: prompt positions masked).</summary>
    private double[] Logits(int[] ids, int b, int l, int p, double cfg)
    {
        using var scope = new TensorScope();
        if (cfg <= 0)
        {
            var f = model.Logits(Tensor.FromArray(ids, [b, l], model.Backend), null).ToArray();
            FiniteLogits.Ensure(f, model.VocabSize, "likelihood");
            return Array.ConvertAll(f, z => (double)z);
        }
        var both = new int[2 * b * l];
        ids.CopyTo(both, 0);
        for (int r = 0; r < b; r++)
            for (int j = 0; j < l; j++) both[(b + r) * l + j] = j < p ? specials.Mask : ids[r * l + j];
        var all = model.Logits(Tensor.FromArray(both, [2 * b, l], model.Backend), null).ToArray();
        FiniteLogits.Ensure(all, model.VocabSize, "likelihood");
        int half = b * l * model.VocabSize;
        var res = new double[half];
        for (int k = 0; k < half; k++) res[k] = all[half + k] + (cfg + 1) * (all[k] - all[half + k]);
        return res;
    }
}
