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
        int p = prompt.Length, t = answer.Length, l = p + t, b = cfg.BatchSize, v = model.VocabSize;
        var seq = prompt.Concat(answer).ToArray();
        var losses = new List<double>();
        for (int it = 0; it < cfg.McNum / b; it++)
        {
            ulong offset = (ulong)it << 32;
            int k = 1 + (int)(Philox.Word(cfg.Seed, offset, 0) % (uint)t);
            var ids = new int[b * l];
            var masked = new List<(int Row, int Pos)>();
            var nr = new int[b];
            for (int r = 0; r < b; r++)
            {
                double lin = b == 1 ? k : k + r * (double)t / b;
                int n = (int)Math.Round(lin, MidpointRounding.ToEven);
                n = ((n - 1) % t + t) % t + 1;
                nr[r] = n;
                // Exactly n answer positions by a Fisher–Yates permutation drawn from Philox.
                var perm = Enumerable.Range(0, t).ToArray();
                for (int i = t - 1; i > 0; i--)
                {
                    int j = (int)(Philox.Word(cfg.Seed, offset, 1 + (long)r * t + i) % (uint)(i + 1));
                    (perm[i], perm[j]) = (perm[j], perm[i]);
                }
                seq.CopyTo(ids, r * l);
                for (int m = 0; m < n; m++)
                {
                    ids[r * l + p + perm[m]] = specials.Mask;
                    masked.Add((r, p + perm[m]));
                }
            }
            var logits = Logits(ids, b, l, p, cfg.CfgScale);
            double loss = 0;
            foreach (var (r, pos) in masked)
            {
                var row = logits.AsSpan(((r * l) + pos) * v, v);
                double max = double.NegativeInfinity;
                foreach (double z in row) max = Math.Max(max, z);
                double sum = 0;
                foreach (double z in row) sum += Math.Exp(z - max);
                double ce = max + Math.Log(sum) - row[seq[pos]];
                loss += ce * t / nr[r]; // CE / p_mask with p_mask = n/T
            }
            losses.Add(loss / b);
        }
        double mean = losses.Average();
        double sd = losses.Count > 1 ? Math.Sqrt(losses.Sum(x => (x - mean) * (x - mean)) / (losses.Count - 1)) : double.NaN;
        return new LogLikelihood(-mean, sd / Math.Sqrt(losses.Count), losses.Count);
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
