using LLaDA.Tensors;

namespace LLaDA.Diffusion.Sampling.Policies;

/// <summary>Where a score is asked for: the sampler's seed, the global step, the batch row and the absolute position.</summary>
public readonly record struct ScoreSite(ulong Seed, int Step, int Row, int Pos);

/// <summary>Scores a masked position whose prediction x0 is known; each step commits the highest scores first.</summary>
/// <remarks>
/// The sampler calls a policy once per masked, committable position with the clean (un-noised, CFG-combined) logits of
/// that position as double, after EOS/EoT suppression (<see cref="SamplerConfig.ConfidenceEosEotInf"/>) — so a
/// suppressed x0 has probability 0 and every probability-based policy scores it lowest. The same scores drive the step
/// quota (top-k), Fast-dLLM's threshold and factor rules (through <see cref="ThresholdValue"/>), blocks, caches, CFG,
/// batching and infilling: a fork adds a policy by writing one class like these and setting
/// <see cref="SamplerConfig.Policy"/>.
/// </remarks>
public interface IUnmaskingPolicy
{
    /// <summary>The CLI name (--remasking NAME).</summary>
    string Name { get; }

    /// <summary>The score of committing <paramref name="token"/> at the site; higher commits earlier. Ties break towards the lower position.</summary>
    /// <param name="logits">(V) clean logits of the position; may contain −∞.</param>
    double Score(ReadOnlySpan<double> logits, int token, in ScoreSite site);

    /// <summary>The backend computation equal to <see cref="Score"/> (bit for bit), run where the logits are so only ids and scores reach the host; None (the default, for a policy of one's own) makes the sampler copy the block's logits to the host and call <see cref="Score"/>.</summary>
    TokenScore BackendScore => TokenScore.None;

    /// <summary>False when <see cref="Score"/> ignores the logits (random, origin): the sampler then scores on the host from the site and x0 alone, with no logits copied.</summary>
    bool UsesLogits => true;

    /// <summary>The score on the scale Fast-dLLM's threshold and factor rules compare with (a probability-like value, at most 1); must be non-decreasing in the score.</summary>
    double ThresholdValue(double score) => score;
}
