using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using Xunit;

namespace LLaDA.Tests.Diffusion.Sampling;

/// <summary>A model that emits NaN/Inf logits is an error in every consumer of logits, never a silent EOS-only answer.</summary>
public sealed class NonFiniteLogitsTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2);
    private const int V = 12;

    // Finite everywhere except position 5, whose favoured token gets the bad value.
    private static OracleModel Broken(double bad) => new(V, j => 4 + j % 8, j => j == 5 ? bad : 1.0 + j);

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Generate_NonFiniteLogit_ThrowsNamingPosition(double bad)
    {
        var sampler = new ReverseSampler(Broken(bad), Sp);
        var e = Assert.Throws<InvalidDataException>(() => sampler.Generate([[2, 5, 6]], new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8 }));
        Assert.StartsWith("sampler: the model produced a non-finite logit", e.Message);
        Assert.Contains("token 9", e.Message); // 4 + 5 % 8
    }

    [Fact]
    public void Infill_And_Likelihood_NonFiniteLogit_Throw()
    {
        var sampler = new ReverseSampler(Broken(double.NaN), Sp);
        Assert.Throws<InvalidDataException>(() => sampler.Infill([[2, 1, 1, 1, 1, 1, 1, 1]], new SamplerConfig { Steps = 7 }));
        var est = new LikelihoodEstimator(Broken(double.NaN), Sp);
        Assert.Throws<InvalidDataException>(() => est.Estimate([2, 5, 6], [7, 8, 9, 10], new LikelihoodConfig { McNum = 2, BatchSize = 1 }));
        Assert.Throws<InvalidDataException>(() => est.Estimate([2, 5, 6], [7, 8, 9, 10], new LikelihoodConfig { McNum = 2, BatchSize = 1, CfgScale = 1 }));
    }

    [Fact]
    public void Generate_FiniteLogits_StillSucceed()
    {
        var r = new ReverseSampler(Broken(3.0), Sp).Generate([[2, 5, 6]], new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8 });
        Assert.Equal(8, r.Generated[0].Length);
    }

    [Fact]
    public void Generate_NegativeInfinity_IsProbabilityZero_ButARowOfOnlyNegativeInfinity_Throws()
    {
        // −∞ at position 5's favoured token: that token gets probability 0, every other position is unaffected.
        var r = new ReverseSampler(Broken(double.NegativeInfinity), Sp).Generate([[2, 5, 6]], new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8 });
        Assert.Equal(8, r.Generated[0].Length);
        Assert.NotEqual(9, r.Generated[0][2]); // prompt of 3, so generated index 2 is position 5
        var e = Assert.Throws<InvalidDataException>(() => new ReverseSampler(new AllNegativeInfinityAt(V, 4), Sp)
            .Generate([[2, 5, 6]], new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8 }));
        Assert.StartsWith("sampler: the model produced no finite logit at position", e.Message);
    }

    /// <summary>Logits 0 everywhere except position <paramref name="pos"/>, which is −∞ for every token.</summary>
    private sealed class AllNegativeInfinityAt(int vocab, int pos) : ILogitsModel
    {
        public int VocabSize => vocab;
        public LLaDA.Tensors.IBackend Backend => LLaDA.Tensors.Cpu.CpuBackend.Default;

        public LLaDA.Tensors.Tensor Logits(LLaDA.Tensors.Tensor ids, LLaDA.Tensors.Tensor? keyPadding)
        {
            int b = ids.Dim(0), l = ids.Dim(1);
            var logits = new float[b * l * vocab];
            for (int i = 0; i < b; i++)
                for (int t = 0; t < vocab; t++) logits[(i * l + pos) * vocab + t] = float.NegativeInfinity;
            return LLaDA.Tensors.Tensor.FromArray(logits, [b, l, vocab]);
        }
    }

    [Theory]
    [InlineData(double.NaN, 0)]
    [InlineData(0, double.NaN)]
    [InlineData(double.PositiveInfinity, 0)]
    public void SamplerConfig_NaNTemperatureOrCfg_Rejected(double temperature, double cfg) =>
        Assert.Throws<ArgumentException>(() => new SamplerConfig { Temperature = temperature, CfgScale = cfg }.Validate());
}
