using LLaDA.Tensors.Random;

namespace LLaDA.Diffusion.Sampling;

/// <summary>The sampler's Philox draws: uniform doubles in (0, 1) keyed by (seed, offset, index), the same on every backend.</summary>
public static class SamplerNoise
{
    /// <summary>The stream offset of a (step, row) pair: step·2⁴⁰ ⊕ row·2²⁴.</summary>
    public static ulong StepOffset(int step, int row) => ((ulong)step << 40) ^ ((ulong)row << 24);

    /// <summary>A double in (0, 1) from two Philox words (53 random bits).</summary>
    public static double UniformOpen(ulong seed, ulong offset, long index)
    {
        uint a = Philox.Word(seed, offset, 2 * index), c = Philox.Word(seed, offset, 2 * index + 1);
        ulong bits = ((ulong)(a >> 5) << 26) | (c >> 6);
        return (bits + 0.5) / 9007199254740992.0;
    }
}
