namespace LLaDA.Diffusion.Sampling.Policies;

/// <summary>Origin (Dream's alg='origin', llama.cpp ORIGIN): a fixed random order of the positions per sequence, drawn once from the seed; each step commits the masked positions earliest in that order.</summary>
/// <remarks>
/// The score is a uniform draw in (0, 1) keyed by (seed, row, position) only — not by the step — so ranking by it is one
/// random permutation that the whole decoding follows. Thresholds compare with the draw, as for random remasking.
/// </remarks>
public sealed class OriginPolicy : IUnmaskingPolicy
{
    public static readonly OriginPolicy Instance = new();

    public string Name => "origin";

    public double Score(ReadOnlySpan<double> logits, int token, in ScoreSite site)
        => SamplerNoise.UniformOpen(site.Seed ^ 0x0516_1A00, (ulong)site.Row << 24, site.Pos);

    public bool UsesLogits => false;
}
