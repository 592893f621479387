using LLaDA.Diffusion;
using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Random;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>MaskingKernels (through Tensor.MaskTokens) against LLaDA.Diffusion.ForwardProcess (same Philox draws) and SamplingKernels against the float64 reference the CPU sampler runs (TokenSampler, TransferRules).</summary>
[Collection(IlgpuCollection.Name)]
public class DiffusionKernelsTests(IlgpuFixture fx)
{
    private const int Mask = 99;

    private IlgpuBackend Gpu => fx.Gpu;

    /// <summary>Runs the masking op on the device with uniform row times p = (1 − ε)t + ε, t = u(word 2 + i), and returns (noisy, weights, pMask) on the host.</summary>
    private (int[] Noisy, float[] Weights, float[] PMask) DeviceMask(int[] ids, int b, int l, int cut, int[]? prompts, ulong seed, ulong step)
    {
        using var scope = new TensorScope();
        var pm = new float[b];
        for (int i = 0; i < b; i++) pm[i] = (1 - 1e-3f) * Philox.ToUniform(Philox.Word(seed, step << 32, 2 + i)) + 1e-3f;
        var tIds = Tensor.FromArray(ids, [b, l], Gpu);
        var tPrompt = prompts is null ? null : Tensor.FromArray(prompts, Gpu);
        var (noisy, weights) = Tensor.MaskTokens(tIds, Tensor.FromArray(pm, Gpu), tPrompt, cut, Mask, seed, step);
        return (noisy.ToIntArray(), weights.ToArray(), pm);
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
        int cut = TokenMasking.CutLength(77, step, l, cutProb);
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
        using var p = Tensor.Zeros([1], DType.F32, Gpu);
        Assert.Throws<ArgumentOutOfRangeException>(() => MaskingKernels.MaskTokens(Gpu.Kernels, Gpu.View<int>(t), Gpu.View<float>(p), ILGPU.ArrayView<int>.Empty,
            Gpu.View<int>(t), ILGPU.ArrayView<float>.Empty, 1, 4, 5, Mask, 1, 1));
        Assert.Throws<TensorException>(() => Tensor.MaskTokens(t, p, null, 5, Mask, 1, 1));
    }

    // ---------------------------------------------------------------- sampling

    /// <summary>The test's own words → u map from the documented spec (not Philox.ToUniformOpen53): 27 high bits of a and 26 of c
    /// form k, u = (2k + 1)·2⁻⁵⁴, built here by scaling an exact double.</summary>
    /// <summary>The odd multiple (2·bits + 1)·2⁻⁵⁴ rounded to a double (exact below ½), and never 1: the top draw gets the largest double below 1.</summary>
    private static double NoiseUniform(uint a, uint c) => Math.Min(Math.ScaleB(2.0 * (((ulong)(a >> 5) << 26) | (c >> 6)) + 1.0, -54), Math.BitDecrement(1.0));

    [Fact]
    public void OpenUniform_ExtremeAndRandomWords_AreTheOddMultiplesOfTwoToMinus54RoundedInsideZeroOne()
    {
        // The extremes first: all-ones words must not round to u = 1, whose Gumbel noise would be +∞.
        var words = new List<uint> { 0, 1, 31, 32, 63, 64, 0x7FFFFFFF, 0x80000000, 0xFFFFFFC0, uint.MaxValue - 1, uint.MaxValue };
        var r = new System.Random(5);
        for (int i = 0; i < 20_000; i++) words.Add((uint)r.NextInt64(0, 1L << 32));
        for (int k = 0; k + 1 < words.Count; k++)
            foreach (var (a, c) in new[] { (words[k], words[k + 1]), (words[k], words[k]) })
            {
                double u = Philox.ToUniformOpen53(a, c);
                Assert.True(u > 0 && u < 1, $"words 0x{a:X8} 0x{c:X8}: u = {u:R}");
                Assert.Equal(NoiseUniform(a, c), u);
            }
    }

    /// <summary>TokenSampler.Sample (the float64 reference the CPU sampler runs) at every position of logits (R, W, V).</summary>
    private static (int[] Tokens, double[] Scores) ReferenceSample(float[] logits, int b, int w, int v, in TokenSampling s)
    {
        var tokens = new int[b * w];
        var scores = new double[b * w];
        var scratch = new double[v];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < w; j++)
            {
                var cond = new ReadOnlySpan<float>(logits, (i * w + j) * v, v);
                var uncond = s.CfgScale > 0 ? new ReadOnlySpan<float>(logits, ((b + i) * w + j) * v, v) : default;
                (tokens[i * w + j], scores[i * w + j]) = TokenSampler.Sample(cond, uncond, s, i, (long)s.Start + j, scratch);
            }
        return (tokens, scores);
    }

    private (int[] Tokens, double[] Scores) DeviceSample(float[] logits, int b, int w, int v, in TokenSampling s)
    {
        using var scope = new TensorScope();
        var l = Tensor.FromArray(logits, [s.CfgScale > 0 ? 2 * b : b, w, v], Gpu);
        var (tok, sc) = Tensor.SampleTokens(l, b, s);
        var scores = new double[b * w];
        Gpu.Download<double>(sc, scores);
        return (tok.ToIntArray(), scores);
    }

    [Theory]
    [InlineData(0.0, 0.0, 3, 33, TokenScore.Probability)]
    [InlineData(1.0, 0.0, 4, 33, TokenScore.Margin)]
    [InlineData(0.5, 0.0, 2, 130, TokenScore.NegEntropy)]
    [InlineData(0.7, 1.5, 3, 40, TokenScore.Probability)]
    [InlineData(0.0, 2.0, 2, 40, TokenScore.None)]
    public void SampleTokens_EqualsFloat64Reference_BitForBit(double temperature, double cfg, int w, int v, TokenScore kind)
    {
        const int b = 2;
        var logits = Rng.Floats((cfg > 0 ? 2 : 1) * b * w * v, 72, -4f, 4f);
        logits[3] = float.NegativeInfinity; // a banned token
        var s = new TokenSampling(temperature, cfg, 5, 3, 11, kind, BanId: 2, SuppressId: 4, SuppressId2: 5);
        var (et, es) = ReferenceSample(logits, b, w, v, s);
        var (at, ac) = DeviceSample(logits, b, w, v, s);
        Assert.Equal(et, at);
        Assert.Equal(es, ac);
        Assert.All(at, t => Assert.NotEqual(2, t));
        if (temperature == 0 && cfg == 0)
        {
            logits[2 * v + 2] = -100f; // no ban in the plain argmax: make token 2 lose anyway at position 2
            using var t = Tensor.FromArray(logits, [b * w, v]);
            var s0 = s with { BanId = -1 };
            Assert.Equal(t.ArgMax(-1).ToIntArray(), DeviceSample(logits, b, w, v, s0).Tokens);
        }
    }

    [Fact]
    public void SampleTokens_SuppressedOnlyToken_ScoresZero_AndAllMinusInfinityIsAStatus()
    {
        var logits = Enumerable.Repeat(float.NegativeInfinity, 5).ToArray();
        logits[2] = 1f;
        var (t, c) = DeviceSample(logits, 1, 1, 5, new TokenSampling(1, 0, 1, 0, 0, TokenScore.Probability, SuppressId: 2));
        Assert.Equal(2, t[0]);
        Assert.Equal(0.0, c[0]);
        logits[2] = float.NegativeInfinity;
        (t, _) = DeviceSample(logits, 1, 1, 5, new TokenSampling(1, 0, 1, 0, 0, TokenScore.Probability));
        Assert.Equal(-1 - 2 * 5, t[0]);
        logits[3] = float.NaN;
        (t, _) = DeviceSample(logits, 1, 1, 5, new TokenSampling(1, 0, 1, 0, 0, TokenScore.Probability));
        Assert.Equal(-1 - 3, t[0]);
    }

    [Fact]
    public void SampleTokens_SampleFrequencies_FollowSoftmaxOfLogitsOverT()
    {
        // 1,000 rows of the same logits: count_k ~ Binomial(1000, p_k) with p = softmax(l/T); 4.5 σ bounds (σ ≤ 15.9).
        const int rows = 1000, v = 4;
        const double temperature = 0.7;
        float[] l = [0f, 0.5f, -1f, 0.2f];
        var logits = new float[rows * v];
        for (int r = 0; r < rows; r++) l.CopyTo(logits, r * v);
        var (tokens, _) = DeviceSample(logits, rows, 1, v, new TokenSampling(temperature, 0, 123, 0, 0, TokenScore.None));
        var p = l.Select(z => Math.Exp(z / temperature)).ToArray();
        double s = p.Sum();
        for (int k = 0; k < v; k++)
        {
            double expect = rows * p[k] / s, sd = Math.Sqrt(rows * (p[k] / s) * (1 - p[k] / s));
            int count = tokens.Count(t => t == k);
            Assert.InRange(count, expect - 4.5 * sd, expect + 4.5 * sd);
        }
    }

    [Theory]
    [InlineData(TransferKind.Quota, 0.0, false)]
    [InlineData(TransferKind.Threshold, 0.3, false)]
    [InlineData(TransferKind.Factor, 1.0, false)]
    [InlineData(TransferKind.Threshold, 0.4, true)]
    public void SelectTransfer_EqualsCpuBackend(TransferKind kind, double value, bool exp)
    {
        const int b = 3, w = 9;
        var r = new System.Random(8);
        var sc = new double[b * w];
        var cand = new int[b * w];
        for (int k = 0; k < sc.Length; k++)
        {
            sc[k] = exp ? -r.NextDouble() * 2 : Math.Round(r.NextDouble(), 1); // rounding makes ties
            cand[k] = r.Next(4) == 0 ? 0 : 1;
        }
        int[] quota = [2, 0, 9];
        var rule = new TransferRule(kind, value, exp);
        int[] Run(IBackend be)
        {
            using var scope = new TensorScope();
            return Tensor.SelectTransfer(Tensor.FromSpan<double>(sc, [b, w], DType.F64, be), null, Tensor.FromArray(cand, [b, w], be), Tensor.FromArray(quota, [b], be), rule).ToIntArray();
        }
        var cpu = Run(LLaDA.Tensors.Cpu.CpuBackend.Default);
        Assert.Equal(cpu, Run(Gpu));
        for (int k = 0; k < cpu.Length; k++) Assert.True(cpu[k] == 0 || cand[k] == 1, "only candidates commit");
        if (kind == TransferKind.Quota) Assert.Equal(2, cpu.Take(w).Sum());
    }
}
