using LLaDA.Tensors;

namespace LLaDA.Diffusion.Sampling.Policies;

/// <summary>LLaDA's low-confidence remasking: score = p(x0) = softmax(logits)[x0] (generate.py, SPEC §6.2); LLaDA's default.</summary>
/// <remarks>Thresholds compare with p(x0) itself (Fast-dLLM, SPEC §8.2–8.3).</remarks>
public sealed class ConfidencePolicy : IUnmaskingPolicy
{
    public static readonly ConfidencePolicy Instance = new();

    public string Name => "confidence";

    public double Score(ReadOnlySpan<double> logits, int token, in ScoreSite site) => TokenSampler.Probability(logits, token);

    public TokenScore BackendScore => TokenScore.Probability;
}
