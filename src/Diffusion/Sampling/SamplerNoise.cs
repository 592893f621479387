using LLaDA.Tensors.Random;

namespace LLaDA.Diffusion.Sampling;

/// <summary>The sampler's Philox draws: uniform doubles in (0, 1) keyed by (seed, offset, index), the same on every backend.</summary>
/// <remarks>The Gumbel noise of <see cref="LLaDA.Tensors.IBackend.SampleTokens"/> reads the same draws (<see cref="LLaDA.Tensors.TokenSampler.Noise"/>).</remarks>
public static class SamplerNoise
{
    /// <summary>The stream offset of a (step, row) pair: step·2⁴⁰ ⊕ row·2²⁴.</summary>
    public static ulong StepOffset(int step, int row) => LLaDA.Tensors.TokenSampler.StepOffset(step, row);

    /// <summary>A double in (0, 1) from two Philox words (53 random bits).</summary>
    public static double UniformOpen(ulong seed, ulong offset, long index) => LLaDA.Tensors.TokenSampler.Noise(seed, offset, index);
}
