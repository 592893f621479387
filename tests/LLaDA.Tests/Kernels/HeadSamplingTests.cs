using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Kernels;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>IBackend.SampleTokensHead (the LM head fused with SampleTokens over vocabulary tiles) on the CPU backend and on ILGPU's CPU
/// accelerator against the unfused reference: the full logits hidden·Wᵀ (+ bias) of the same backend, then TokenSampler.Sample per site.</summary>
[Collection(IlgpuCollection.Name)]
public class HeadSamplingTests(IlgpuFixture fx)
{
    private const int C = 24;

    private IBackend Backend(bool gpu) => gpu ? fx.Gpu : CpuBackend.Default;

    /// <summary>The unfused reference: logits (R·N, V) by one MatMul of the same backend, the bias added in float, then the float64 reference per site.</summary>
    private static (int[] Tokens, double[] Scores) Reference(Tensor hidden, Tensor weight, float[]? bias, int[] sites, int v, in TokenSampling s)
    {
        using var scope = new TensorScope();
        var logits = hidden.MatMul(weight.Narrow(0, 0, v).MT).ToArray();
        if (bias is not null)
            for (int k = 0; k < logits.Length; k++) logits[k] += bias[k % v];
        int n = sites.Length / 2;
        var tokens = new int[n];
        var scores = new double[n];
        var scratch = new double[v];
        for (int q = 0; q < n; q++)
        {
            var cond = new ReadOnlySpan<float>(logits, q * v, v);
            var uncond = s.CfgScale > 0 ? new ReadOnlySpan<float>(logits, (n + q) * v, v) : default;
            (tokens[q], scores[q]) = TokenSampler.Sample(cond, uncond, s, sites[2 * q], (long)s.Start + sites[2 * q + 1], scratch);
        }
        return (tokens, scores);
    }

    private static (int[] Tokens, double[] Scores) Fused(Tensor hidden, Tensor weight, float[]? bias, int[] sites, int v, in TokenSampling s, int tile)
    {
        using var scope = new TensorScope();
        var be = hidden.Backend;
        var b = bias is null ? null : Tensor.FromArray(bias, [v], be);
        var (tok, sc) = Tensor.SampleTokensHead(hidden, weight, b, Tensor.FromArray(sites, [sites.Length / 2, 2], be), v, s, tile);
        var scores = new double[sites.Length / 2];
        be.Download<double>(sc, scores);
        return (tok.ToIntArray(), scores);
    }

    private static void AssertSame((int[] Tokens, double[] Scores) expected, (int[] Tokens, double[] Scores) actual)
    {
        Assert.Equal(expected.Tokens, actual.Tokens);
        for (int k = 0; k < expected.Scores.Length; k++)
        {
            double e = expected.Scores[k], a = actual.Scores[k];
            if (double.IsInfinity(e) || double.IsNaN(e) || expected.Tokens[k] < 0) Assert.Equal(e, a);
            else Assert.True(Math.Abs(e - a) <= 1e-12 * Math.Max(1, Math.Abs(e)), $"site {k}: score {a:R}, reference {e:R}");
        }
    }

    [Theory]
    [InlineData(false, 0.0, 0.0, TokenScore.Probability, 7, DType.F32)]
    [InlineData(false, 0.8, 0.0, TokenScore.Margin, 16, DType.F32)]
    [InlineData(false, 0.5, 1.5, TokenScore.NegEntropy, 50, DType.BF16)]
    [InlineData(false, 1.0, 2.0, TokenScore.None, 4096, DType.F32)]
    [InlineData(false, 0.0, 1.5, TokenScore.Margin, 13, DType.F16)]
    [InlineData(true, 0.0, 0.0, TokenScore.Probability, 7, DType.F32)]
    [InlineData(true, 0.8, 1.5, TokenScore.Margin, 16, DType.BF16)]
    [InlineData(true, 0.5, 0.0, TokenScore.NegEntropy, 4096, DType.F32)]
    public void SampleTokensHead_EqualsFullLogitsThenSampleTokens(bool gpu, double temperature, double cfg, TokenScore kind, int tile, DType wtype)
    {
        using var scope = new TensorScope();
        var be = Backend(gpu);
        const int v = 150, rowsW = 160; // the head has padded rows beyond the vocabulary: never read
        int[] sites = [0, 3, 1, 0, 0, 7, 2, 5, 1, 1];
        int n = sites.Length / 2, rows = cfg > 0 ? 2 * n : n;
        var hidden = Tensor.FromArray(Rng.Floats(rows * C, 81, -1f, 1f), [rows, C], be);
        var weight = Tensor.FromArray(Rng.Floats(rowsW * C, 82, -1f, 1f), [rowsW, C], be).Cast(wtype);
        var bias = new float[v];
        bias[9] = -1e30f; // a banned id, as the sampler's ban row
        var s = new TokenSampling(temperature, cfg, 5, 3, 11, kind, BanId: 2, SuppressId: 4, SuppressId2: 5);
        var expected = Reference(hidden, weight, bias, sites, v, s);
        AssertSame(expected, Fused(hidden, weight, bias, sites, v, s, tile));
        Assert.DoesNotContain(2, expected.Tokens);
        Assert.DoesNotContain(9, expected.Tokens);
        // Without a bias row, and the distribution is not degenerate: several distinct tokens.
        var s2 = s with { BanId = -1 };
        AssertSame(Reference(hidden, weight, null, sites, v, s2), Fused(hidden, weight, null, sites, v, s2, tile));
        Assert.True(expected.Tokens.Distinct().Count() > 1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SampleTokensHead_BrokenRows_GiveTheReferenceStatusCodes(bool gpu)
    {
        using var scope = new TensorScope();
        var be = Backend(gpu);
        const int v = 40;
        int[] sites = [0, 0, 0, 1, 0, 2];
        var h = Rng.Floats(6 * C, 83, -1f, 1f);
        h[1 * C + 3] = float.NaN;                    // site 1 conditional: NaN everywhere → status of token 0
        h[(3 + 2) * C + 5] = float.PositiveInfinity; // site 2 unconditional: ±Inf logits
        var w = Rng.Floats(v * C, 84, -1f, 1f);
        var hidden = Tensor.FromArray(h, [6, C], be);
        var weight = Tensor.FromArray(w, [v, C], be);
        var s = new TokenSampling(0.7, 1.0, 9, 1, 0, TokenScore.Probability);
        var expected = Reference(hidden, weight, null, sites, v, s);
        Assert.Equal(-1, expected.Tokens[1]);
        Assert.True(expected.Tokens[2] < -v);
        AssertSame(expected, Fused(hidden, weight, null, sites, v, s, 9));
    }

    // ---------------------------------------------------------------- the sampler on ILGPU: fused = unfused

    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2, EndOfTurn: 3);

    [Fact]
    public void Sampler_OnIlgpu_FusedHead_GivesTheUnfusedTokens()
    {
        var cfg = Presets.Tiny(24, Sp.Mask, Sp.Eos) with { NLayers = 1, BosTokenId = 2, InitStd = 0.5f };
        using var m = new MaskPredictor(cfg, 5, fx.Gpu);
        var sampler = new ReverseSampler(new MaskPredictorLogits(m), Sp);
        int[][] prompts = [[2, 5, 6, 7], [2, 9]];
        // Two short runs (the CPU accelerator is slow; every mode runs on the CPU backend in FusedHeadTests): quota with CFG, entropy
        // and Gumbel noise; dual cache with threshold decoding.
        var modes = new[]
        {
            new SamplerConfig { GenLength = 4, BlockLength = 4, Steps = 2, CfgScale = 1.5, Temperature = 0.6, Seed = 4, Remasking = Remasking.Entropy },
            new SamplerConfig { GenLength = 4, BlockLength = 4, Threshold = 0.3, Temperature = 0.5, Seed = 7, Cache = CacheMode.Dual },
        };
        foreach (var c in modes)
        {
            var fused = sampler.Generate(prompts, c);
            var plain = sampler.Generate(prompts, c with { FusedHead = false });
            Assert.Equal(plain.Generated, fused.Generated);
            Assert.Equal(plain.FixedAtStep, fused.FixedAtStep);
            Assert.Equal(plain.ForwardPasses, fused.ForwardPasses);
        }
    }
}
