using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>The sampler's per-position step on the device: x0 = argmax(l/T + Gumbel noise) and its softmax confidence, in fp32.</summary>
/// <remarks>
/// Gumbel-max (SPEC §6.4): argmax_j(l_j/T + g_j) with g = −log(−log u) is an exact sample of softmax(l/T); T = 0 is
/// greedy. Noise of (row r, token j) comes from word r·V + j of the Philox stream (seed, offset) mapped to
/// u = ((w ≫ 9) + ½)·2⁻²³ ∈ (0, 1) (<see cref="OpenUniform"/>), so neither log sees 0 or 1. Logits at −∞ stay −∞ (banned tokens). The confidence is
/// softmax(l)[x0] of the clean logits (LLaDA low_confidence remasking); a row of only −∞ gets confidence 0. Ties go to
/// the lower token id.
/// </remarks>
public static class SamplingKernels
{
    /// <summary>u ∈ (0, 1) from 32 random bits: ((w ≫ 9) + ½)·2⁻²³, one of the 2²³ odd multiples of 2⁻²⁴ in (0, 1).</summary>
    /// <remarks>Exact in fp32 (24 significant bits), so strictly inside (0, 1). The former ((w ≫ 8) + ½)·2⁻²⁴ needs 25 bits:
    /// for w ≫ 8 ≥ 2²³ the ½ rounded away, and the top word gave u = 1 exactly, whose noise −log(−log 1) = +∞ won the
    /// argmax whatever the logits.</remarks>
    public static float OpenUniform(uint w) => ((w >> 9) + 0.5f) * (1f / 8388608f);

    /// <summary>One group per row of logits (rows, V): tokens[r] = x0, confidence[r] = p(x0).</summary>
    [Kernel]
    internal static void GumbelArgmaxKernel(ArrayView<float> logits, ArrayView<int> tokens, ArrayView<float> confidence, long rows, int v, float temperature, ulong seed, ulong offset)
    {
        var keys = SharedMemory.Allocate<ulong>(GroupReduce.MaxWarps);
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long s0 = row * v;
            ulong best = ulong.MaxValue;
            float m = float.NegativeInfinity;
            for (int j = Group.IdxX; j < v; j += Group.DimX)
            {
                float l = logits[s0 + j];
                m = GroupReduce.MaxNaN(m, l);
                float score = l;
                if (temperature > 0f && l != float.NegativeInfinity)
                {
                    float u = OpenUniform(DevicePhilox.Word(seed, offset, s0 + j));
                    score = l / temperature - MathF.Log(-MathF.Log(u));
                }
                ulong key = SortKey.Of(score, j);
                if (key < best) best = key;
            }
            best = GroupReduce.MinKey(best, keys);
            m = GroupReduce.Max(m, scratch);
            int x0 = SortKey.Index(best);
            float sum = 0f;
            if (m != float.NegativeInfinity)
                for (int j = Group.IdxX; j < v; j += Group.DimX) sum += MathF.Exp(logits[s0 + j] - m);
            sum = GroupReduce.Sum(sum, scratch);
            if (Group.IsFirstThread)
            {
                tokens[row] = x0;
                confidence[row] = m == float.NegativeInfinity ? 0f : MathF.Exp(logits[s0 + x0] - m) / sum;
            }
        }
    }

    /// <summary>tokens (rows) I32 and confidence (rows) F32 from logits (rows, V); temperature 0 = greedy.</summary>
    public static void GumbelArgmaxConfidence(KernelContext k, ArrayView<float> logits, ArrayView<int> tokens, ArrayView<float> confidence, long rows, int v,
                                              float temperature, ulong seed, ulong offset)
    {
        if (v < 1) throw new ArgumentOutOfRangeException(nameof(v), "vocabulary must not be empty");
        if (!(temperature >= 0)) throw new ArgumentOutOfRangeException(nameof(temperature), $"temperature {temperature} must be ≥ 0");
        if (rows == 0) return;
        k.Kernel("Sampling.GumbelArgmax", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, long, int, float, ulong, ulong>>(a, GumbelArgmaxKernel))
            (k.Stream, Launch.Rows(k, rows, v), logits, tokens, confidence, rows, v, temperature, seed, offset);
    }
}
