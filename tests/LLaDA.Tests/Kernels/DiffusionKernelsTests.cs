using LLaDA.Diffusion;
using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Random;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>MaskingKernels against LLaDA.Diffusion.ForwardProcess (same Philox draws) and SamplingKernels against a scalar fp32 reference.</summary>
[Collection(IlgpuCollection.Name)]
public class DiffusionKernelsTests(IlgpuFixture fx)
{
    private const int Mask = 99;

    private IlgpuBackend Gpu => fx.Gpu;

    /// <summary>Runs the masking kernel and returns (noisy, weights, pMask) on the host.</summary>
    private (int[] Noisy, float[] Weights, float[] PMask) DeviceMask(int[] ids, int b, int l, int cut, int[]? prompts, ulong seed, ulong step)
    {
        using var scope = new TensorScope();
        var tIds = Tensor.FromArray(ids, [b, l], Gpu);
        var tPrompt = prompts is null ? null : Tensor.FromArray(prompts, Gpu);
        var noisy = Tensor.Empty([b, cut], DType.I32, Gpu);
        var weights = Tensor.Empty([b, cut], DType.F32, Gpu);
        var pmask = Tensor.Empty([b], DType.F32, Gpu);
        MaskingKernels.ForwardProcess(Gpu.Kernels, Gpu.View<int>(tIds), tPrompt is null ? ILGPU.ArrayView<int>.Empty : Gpu.View<int>(tPrompt),
            Gpu.View<int>(noisy), Gpu.View<float>(weights), Gpu.View<float>(pmask), b, l, cut, Mask, 1e-3f, seed, step);
        return (noisy.ToIntArray(), weights.ToArray(), pmask.ToArray());
    }

    /// <summary>ForwardProcess's compacted lists spread back over (B, L').</summary>
    private static float[] DenseWeights(MaskedBatch m)
    {
        var w = new float[m.Batch * m.Length];
        var rows = m.MaskedRows.ToIntArray();
        var ws = m.Weights.ToArray();
        for (int k = 0; k < rows.Length; k++) w[rows[k]] = ws[k];
        return w;
    }

    [Theory]
    [InlineData(3, 37, 0f, 5UL)]
    [InlineData(2, 33, 1f, 9UL)]   // every batch cut to a random length: draws still indexed by the uncut L
    public void ForwardProcess_Pretrain_EqualsDiffusionForwardProcess(int b, int l, float cutProb, ulong step)
    {
        var ids = Rng.Ints(b * l, 70, 0, 50);
        var config = new NoiseConfig { RandomLengthProb = cutProb };
        using var cpu = ForwardProcess.Pretrain(ids, b, l, Mask, seed: 77, step, config);
        int cut = MaskingKernels.CutLength(77, step, l, cutProb);
        Assert.Equal(cpu.Length, cut);
        var (noisy, weights, pmask) = DeviceMask(ids, b, l, cut, null, 77, step);
        Assert.Equal(cpu.Noisy.ToIntArray(), noisy);
        Assert.Equal(cpu.PMask, pmask);
        Assert.Equal(DenseWeights(cpu), weights);
        Assert.Contains(noisy, t => t == Mask);
    }

    [Fact]
    public void ForwardProcess_Sft_NeverMasksPrompt_AndEqualsDiffusion()
    {
        const int b = 3, l = 21;
        var ids = Rng.Ints(b * l, 71, 0, 50);
        int[] prompts = [0, 5, 20];
        using var cpu = ForwardProcess.Sft(ids, b, l, prompts, Mask, seed: 78, step: 4);
        var (noisy, weights, pmask) = DeviceMask(ids, b, l, l, prompts, 78, 4);
        Assert.Equal(cpu.Noisy.ToIntArray(), noisy);
        Assert.Equal(cpu.PMask, pmask);
        Assert.Equal(DenseWeights(cpu), weights);
        for (int i = 0; i < b; i++)
            for (int j = 0; j < prompts[i]; j++) Assert.Equal(ids[i * l + j], noisy[i * l + j]);
    }

    [Fact]
    public void ForwardProcess_BadCut_Throws()
    {
        using var t = Tensor.Zeros([1, 4], DType.I32, Gpu);
        Assert.Throws<ArgumentOutOfRangeException>(() => MaskingKernels.ForwardProcess(Gpu.Kernels, Gpu.View<int>(t), ILGPU.ArrayView<int>.Empty,
            Gpu.View<int>(t), ILGPU.ArrayView<float>.Empty, ILGPU.ArrayView<float>.Empty, 1, 4, 5, Mask, 1e-3f, 1, 1));
    }

    // ---------------------------------------------------------------- sampling

    /// <summary>Scalar fp32 reference of SamplingKernels.GumbelArgmaxConfidence (same noise words and formulas).</summary>
    /// <summary>The test's own word → u map from the kernel's documented spec (not SamplingKernels.OpenUniform): the top 23
    /// bits k give u = (2k + 1)·2⁻²⁴, built here by scaling an exact double.</summary>
    private static float NoiseUniform(uint w) => (float)Math.ScaleB(2.0 * (w >> 9) + 1.0, -24);

    [Fact]
    public void OpenUniform_ExtremeAndRandomWords_AreTheOddMultiplesOfTwoToMinus24InsideZeroOne()
    {
        // The extremes first: the all-ones word once rounded to u = 1, whose Gumbel noise is +∞.
        var words = new List<uint> { 0, 1, 511, 512, 0x7FFFFFFF, 0x80000000, 0xFFFFFE00, uint.MaxValue - 1, uint.MaxValue };
        var r = new System.Random(5);
        for (int i = 0; i < 100_000; i++) words.Add((uint)r.NextInt64(0, 1L << 32));
        foreach (uint w in words)
        {
            float u = SamplingKernels.OpenUniform(w);
            Assert.True(u > 0f && u < 1f, $"word 0x{w:X8}: u = {u:R}");
            Assert.Equal(NoiseUniform(w), u);
        }
    }

    private static (int[] Tokens, float[] Confidence) ReferenceSample(float[] logits, int rows, int v, float temperature, ulong seed, ulong offset)
    {
        var tokens = new int[rows];
        var conf = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            int best = 0;
            float bestScore = float.NaN, m = float.NegativeInfinity;
            for (int j = 0; j < v; j++)
            {
                float l = logits[r * v + j];
                m = Math.Max(m, l);
                float score = l;
                if (temperature > 0 && l != float.NegativeInfinity)
                {
                    float u = NoiseUniform(Philox.Word(seed, offset, (long)r * v + j));
                    score = l / temperature - MathF.Log(-MathF.Log(u));
                }
                if (j == 0 || score > bestScore)
                {
                    bestScore = score;
                    best = j;
                }
            }
            float sum = 0;
            if (m != float.NegativeInfinity)
                for (int j = 0; j < v; j++) sum += MathF.Exp(logits[r * v + j] - m);
            tokens[r] = best;
            conf[r] = m == float.NegativeInfinity ? 0f : MathF.Exp(logits[r * v + best] - m) / sum;
        }
        return (tokens, conf);
    }

    private (int[] Tokens, float[] Confidence) DeviceSample(float[] logits, int rows, int v, float temperature, ulong seed, ulong offset)
    {
        using var scope = new TensorScope();
        var l = Tensor.FromArray(logits, [rows, v], Gpu);
        var tok = Tensor.Empty([rows], DType.I32, Gpu);
        var conf = Tensor.Empty([rows], DType.F32, Gpu);
        SamplingKernels.GumbelArgmaxConfidence(Gpu.Kernels, Gpu.View<float>(l), Gpu.View<int>(tok), Gpu.View<float>(conf), rows, v, temperature, seed, offset);
        return (tok.ToIntArray(), conf.ToArray());
    }

    [Theory]
    [InlineData(0f, 3, 33)]
    [InlineData(1f, 4, 33)]
    [InlineData(0.5f, 2, 130)]
    public void GumbelArgmax_MatchesScalarReference(float temperature, int rows, int v)
    {
        var logits = Rng.Floats(rows * v, 72, -4f, 4f);
        logits[3] = float.NegativeInfinity; // a banned token
        var (et, ec) = ReferenceSample(logits, rows, v, temperature, 5, 17);
        var (at, ac) = DeviceSample(logits, rows, v, temperature, 5, 17);
        Assert.Equal(et, at);
        TensorAssert.Close(ec, ac, 1e-7, 1e-5, "confidence");
        if (temperature == 0)
        {
            using var t = Tensor.FromArray(logits, [rows, v]);
            Assert.Equal(t.ArgMax(-1).ToIntArray(), at);
        }
    }

    [Fact]
    public void GumbelArgmax_AllMinusInfinity_GivesConfidenceZero()
    {
        var logits = Enumerable.Repeat(float.NegativeInfinity, 5).ToArray();
        var (t, c) = DeviceSample(logits, 1, 5, 1f, 1, 1);
        Assert.Equal(0, t[0]);
        Assert.Equal(0f, c[0]);
    }

    [Fact]
    public void GumbelArgmax_SampleFrequencies_FollowSoftmaxOfLogitsOverT()
    {
        // 1,000 rows of the same logits: count_k ~ Binomial(1000, p_k) with p = softmax(l/T); 4.5 σ bounds (σ ≤ 15.9).
        const int rows = 1000, v = 4;
        const float temperature = 0.7f;
        float[] l = [0f, 0.5f, -1f, 0.2f];
        var logits = new float[rows * v];
        for (int r = 0; r < rows; r++) l.CopyTo(logits, r * v);
        var (tokens, _) = DeviceSample(logits, rows, v, temperature, 123, 0);
        var p = l.Select(z => Math.Exp(z / temperature)).ToArray();
        double s = p.Sum();
        for (int k = 0; k < v; k++)
        {
            double expect = rows * p[k] / s, sd = Math.Sqrt(rows * (p[k] / s) * (1 - p[k] / s));
            int count = tokens.Count(t => t == k);
            Assert.InRange(count, expect - 4.5 * sd, expect + 4.5 * sd);
        }
    }
}
