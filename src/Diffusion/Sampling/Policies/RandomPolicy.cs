namespace LLaDA.Diffusion.Sampling.Policies;

/// <summary>LLaDA's random remasking: score = a fresh uniform draw in (0, 1) per (step, row, position) (generate.py remasking='random').</summary>
/// <remarks>Thresholds compare with the draw, so threshold τ commits about a (1 − τ) share of the masks per step besides the first.</remarks>
public sealed class RandomPolicy : IUnmaskingPolicy
{
    public static readonly RandomPolicy Instance = new();

    public string Name => "random";

    public double Score(ReadOnlySpan<double> logits, int token, in ScoreSite site)
        => SamplerNoise.UniformOpen(site.Seed ^ 0x5EED, SamplerNoise.StepOffset(site.Step, site.Row), site.Pos);

    public bool UsesLogits => false;
}
