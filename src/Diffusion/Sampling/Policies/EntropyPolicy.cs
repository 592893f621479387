using LLaDA.Tensors;

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

    public double Score(ReadOnlySpan<double> logits, int token, in ScoreSite site) => TokenSampler.NegEntropy(logits, token);

    public TokenScore BackendScore => TokenScore.NegEntropy;

    public double ThresholdValue(double score) => Math.Exp(score);
}
