using LLaDA.Tensors;

namespace LLaDA.Diffusion.Sampling.Policies;

/// <summary>Margin (Dream's topk_margin, llama.cpp MARGIN): score = p(x0) − max_{v ≠ x0} p(v), the lead of the prediction over the runner-up.</summary>
/// <remarks>
/// At temperature 0, x0 is the top-1 token and the score is p1 − p2 ∈ [0, 1]; when a sampled or suppressed x0 is not
/// the top-1 the score is negative, so it commits late. Thresholds compare with the margin itself: threshold 0.9 commits
/// every position whose prediction leads the runner-up by at least 0.9 in probability (the factor rule likewise).
/// </remarks>
public sealed class MarginPolicy : IUnmaskingPolicy
{
    public static readonly MarginPolicy Instance = new();

    public string Name => "margin";

    public double Score(ReadOnlySpan<double> logits, int token, in ScoreSite site) => TokenSampler.Margin(logits, token);

    public TokenScore BackendScore => TokenScore.Margin;
}
