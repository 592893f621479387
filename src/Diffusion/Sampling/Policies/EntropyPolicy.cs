namespace LLaDA.Diffusion.Sampling.Policies;

/// <summary>Entropy (Dream's entropy, llama.cpp ENTROPY): score = −H(p) = Σ_v p_v log p_v of the predictive distribution; sharp distributions commit first.</summary>
/// <remarks>
/// The score is in [−log V, 0] and does not look at x0, except that an x0 with probability 0 (suppressed EOS/EoT) scores
/// −∞ so it commits last, as with the confidence policy. Thresholds compare with exp(−H) ∈ [1/V, 1] (the inverse
/// perplexity: 1 for a one-hot prediction, 1/V for a uniform one; a distribution spread evenly over k tokens gives 1/k),
/// so threshold 0.9 asks for an effective choice among at most ~1.1 tokens.
/// </remarks>
public sealed class EntropyPolicy : IUnmaskingPolicy
{
    public static readonly EntropyPolicy Instance = new();

    public string Name => "entropy";

    public double Score(ReadOnlySpan<double> logits, int token, in ScoreSite site)
    {
        var (max, sum) = Softmax.Partition(logits);
        if (double.IsNegativeInfinity(max) || double.IsNegativeInfinity(logits[token])) return double.NegativeInfinity;
        // Σ p log p with p = e^(z − max)/sum, log p = z − max − log sum; p = 0 terms contribute 0.
        double logSum = Math.Log(sum), negH = 0;
        foreach (double z in logits)
        {
            if (double.IsNegativeInfinity(z)) continue;
            double lp = z - max - logSum;
            negH += Math.Exp(lp) * lp;
        }
        return negH;
    }

    public double ThresholdValue(double score) => Math.Exp(score);
}
