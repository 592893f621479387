using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors;
using LLaDA.Tensors.Random;

namespace LLaDA.Diffusion.Eval;

/// <summary>Settings of the held-out ELBO: a fixed grid of t and a fixed number of mask draws per grid point.</summary>
public sealed record ElboConfig
{
    /// <summary>Grid points N: t_k = (k + ½)/N, k = 0 … N − 1 (midpoints of N equal strata of (0, 1)).</summary>
    public int TGrid { get; init; } = 16;

    /// <summary>Independent masks M drawn at every grid point.</summary>
    public int MaskDraws { get; init; } = 4;

    /// <summary>Seed of the Philox mask draws (fixed, so two checkpoints are scored on the same masks).</summary>
    public ulong Seed { get; init; }

    /// <summary>Rows per forward pass.</summary>
    public int MaxRows { get; init; } = 64;

    public void Validate()
    {
        if (TGrid <= 0 || MaskDraws <= 0 || MaxRows <= 0) throw new ArgumentException($"elbo: t-grid {TGrid}, mask-draws {MaskDraws} and rows per pass {MaxRows} must be positive");
    }
}

/// <summary>A held-out sequence: its ids (context included) and the scored span [Start, Start + Length), whose tokens are masked and predicted.</summary>
public sealed record ElboSequence(int[] Ids, int Start, int Length);

/// <summary>Negative ELBO per scored token (nats) with its standard error, over the sequences.</summary>
/// <param name="Characters">Characters of text the scored tokens spell (for bits per character); equal to Tokens for the char tokenizer.</param>
public sealed record ElboResult(double NelboPerToken, double StdError, int Sequences, long Tokens, long Characters, int ForwardPasses)
{
    /// <summary>Bits per character: total nats / (characters · ln 2).</summary>
    public double BitsPerChar => NelboPerToken * Tokens / (Characters * Math.Log(2));

    /// <summary>Standard error of <see cref="BitsPerChar"/>.</summary>
    public double BitsPerCharStdError => StdError * Tokens / (Characters * Math.Log(2));
}

/// <summary>The masked-diffusion negative ELBO of held-out text, −log p(x) ≤ ∫₀¹ (1/t) E_mask[Σ_(masked i) −log p_θ(x_i | x_t)] dt (SPEC §5.1), on a fixed stratified t grid.</summary>
/// <remarks>
/// For sequence s, grid point t_k and draw m, every scored token is masked independently with probability t_k (Philox,
/// keyed by seed, s and (k, m)) and the masked tokens' cross-entropies are summed and divided by t_k; A_s is the mean over
/// the N·M (k, m) pairs (the midpoint rule over t, Monte Carlo over masks). Result: Σ A_s / Σ n_s per token. Standard
/// error: the ratio estimator's over the S sequences, SE² = Σ_s (A_s − r·n_s)² / (S(S − 1) n̄²), which carries both the
/// text's and the masks' variability — so the difference of two checkpoints on the same file is significant when it
/// exceeds about 2·√(SE₁² + SE₂²) (conservative: the shared text and masks make the pair positively correlated).
/// The estimate is unbiased for the grid's quadrature of the integral; the midpoint rule's error is O(1/N²).
/// </remarks>
public sealed class ElboEvaluator(ILogitsModel model, int maskId)
{
    public ElboResult Evaluate(IReadOnlyList<ElboSequence> sequences, ElboConfig? config = null, IReadOnlyList<int>? characters = null)
    {
        var cfg = config ?? new ElboConfig();
        cfg.Validate();
        if (sequences.Count == 0) throw new ArgumentException("elbo: no sequences");
        if (characters is not null && characters.Count != sequences.Count) throw new ArgumentException($"elbo: {characters.Count} character counts for {sequences.Count} sequences");
        int n = cfg.TGrid, m = cfg.MaskDraws, v = model.VocabSize, passes = 0;
        var a = new double[sequences.Count];
        long tokens = 0, chars = 0;
        for (int s = 0; s < sequences.Count; s++)
        {
            var (ids, start, len) = sequences[s];
            if (len <= 0 || start < 0 || start + len > ids.Length) throw new ArgumentException($"elbo: sequence {s} has scored span [{start}, {start + len}) outside its {ids.Length} ids");
            tokens += len;
            chars += characters?[s] ?? len;
            int l = ids.Length;
            // One row per (k, m): masked positions of the scored span drawn with probability t_k.
            var rows = new List<(double T, int[] Noisy, List<int> Masked)>();
            for (int k = 0; k < n; k++)
            {
                double t = (k + 0.5) / n;
                for (int d = 0; d < m; d++)
                {
                    var noisy = (int[])ids.Clone();
                    var masked = new List<int>();
                    for (int j = start; j < start + len; j++)
                    {
                        double u = Philox.ToUniform(Philox.Word(cfg.Seed, (ulong)s << 32, ((long)k * m + d) * l + j));
                        if (u < t)
                        {
                            noisy[j] = maskId;
                            masked.Add(j);
                        }
                    }
                    rows.Add((t, noisy, masked));
                }
            }
            double sum = 0;
            var work = rows.Where(r => r.Masked.Count > 0).ToList(); // rows with nothing masked contribute 0
            for (int lo = 0; lo < work.Count; lo += cfg.MaxRows)
            {
                int b = Math.Min(cfg.MaxRows, work.Count - lo);
                var flat = new int[b * l];
                for (int r = 0; r < b; r++) work[lo + r].Noisy.CopyTo(flat, r * l);
                float[] logits;
                using (new TensorScope())
                {
                    passes++;
                    logits = model.Logits(Tensor.FromArray(flat, [b, l], model.Backend), null).ToArray(); // (b, L, V)
                }
                for (int r = 0; r < b; r++)
                {
                    var (t, _, masked) = work[lo + r];
                    double ce = 0;
                    foreach (int j in masked) ce += CrossEntropy(logits.AsSpan((r * l + j) * v, v), ids[j]);
                    sum += ce / t;
                }
            }
            a[s] = sum / (n * m);
        }
        double total = a.Sum(), ratio = total / tokens;
        double se = double.NaN;
        int count = sequences.Count;
        if (count > 1)
        {
            double meanLen = (double)tokens / count, ss = 0;
            for (int s = 0; s < count; s++)
            {
                double e = a[s] - ratio * sequences[s].Length;
                ss += e * e;
            }
            se = Math.Sqrt(ss / ((double)count * (count - 1))) / meanLen;
        }
        return new ElboResult(ratio, se, count, tokens, chars, passes);
    }

    /// <summary>−log softmax(logits)[target] in double.</summary>
    private static double CrossEntropy(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (float z in logits) max = Math.Max(max, z);
        double sum = 0;
        foreach (float z in logits) sum += Math.Exp(z - max);
        return max + Math.Log(sum) - logits[target];
    }
}
