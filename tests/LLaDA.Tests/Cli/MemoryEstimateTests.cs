using LLaDA.Cli;
using LLaDA.Nn;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>The memory estimator against numbers computed by hand from its documented formulas and against LLaDA-8B's published size.</summary>
public sealed class MemoryEstimateTests
{
    // Tiny(30, 2, 0): C 32, 2 layers, 2 heads (HS 16, KV 32), M 64, V 30, untied head.
    // Parameters: wte 30·32 = 960; per layer q, k, v, o 4·32·32 = 4,096 + MLP 3·32·64 = 6,144 + norms 2·32 = 64 → 10,304, ×2 = 20,608;
    // ln_f 32; head 960 → 22,560.
    private static readonly MaskPredictorConfig Tiny = Presets.Tiny(30, 2, 0);

    [Fact]
    public void PerTokenFormulas_TinyShape_MatchHandComputed()
    {
        Assert.Equal(22_560, Tiny.ParameterCount());
        Assert.Equal(90_240, MemoryEstimate.WeightBytes(Tiny));
        // 4·(8·32 + 2·32 + 3·64) = 2,048; + 4·30 + 12·30 = 480 → 2,528
        Assert.Equal(2_528, MemoryEstimate.InferencePerToken(Tiny));
        // 4·2·(12·32 + 2·32 + 4·64) = 5,632; + 12·30 = 360; + 4·(8·32 + 3·64) = 1,792 → 7,784
        Assert.Equal(7_784, MemoryEstimate.TrainingPerToken(Tiny));
    }

    [Fact]
    public void Training_TinyBatch4Length16_MatchesHandComputed()
    {
        var e = MemoryEstimate.Training(Tiny, batch: 4, seqLen: 16);
        Assert.Equal(90_240, e.Weights);
        Assert.Equal(270_720, e.State);          // 12 B × 22,560 (gradient + two AdamW moments)
        Assert.Equal(498_176, e.Activations);    // 64 tokens × 7,784
        Assert.Equal(859_136, e.Total);
    }

    [Fact]
    public void Generate_TinyWithCfgAndCache_MatchesHandComputed()
    {
        // rows 2 (CFG) × (5 + 11) = 32 tokens; activations 32 × 2,528 = 80,896; KV cache 2 · 2 layers · 32 tokens · 32 · 4 B = 16,384
        var e = MemoryEstimate.Generate(Tiny, promptLength: 5, genLength: 11, cfg: true, kvCache: true);
        Assert.Equal(97_280, e.Activations);
        Assert.Equal(187_520, e.Total);
        Assert.Equal(80_896, MemoryEstimate.Generate(Tiny, 5, 11, cfg: true, kvCache: false).Activations);
        Assert.Equal(40_448, MemoryEstimate.Generate(Tiny, 5, 11, cfg: false, kvCache: false).Activations);
    }

    [Fact]
    public void Likelihood_TinyBatch3Length10_MatchesHandComputed()
    {
        Assert.Equal(75_840, MemoryEstimate.Likelihood(Tiny, batch: 3, length: 10, cfg: false).Activations);     // 30 tokens × 2,528
        Assert.Equal(151_680, MemoryEstimate.Likelihood(Tiny, batch: 3, length: 10, cfg: true).Activations);     // 60 tokens
    }

    [Fact]
    public void Weights_Llada8B_AreItsPublished8Point02BillionParametersInF32()
    {
        // SPEC §4.1: LLaDA-8B has 8.02 B parameters → ≈ 32.1 GB as F32.
        long bytes = MemoryEstimate.WeightBytes(Presets.Llada8B());
        Assert.InRange(bytes / 4, 8.00e9, 8.04e9);
    }

    [Fact]
    public void AbsurdSizes_Saturate_NeverWrapToSmall()
    {
        var e = MemoryEstimate.Likelihood(Presets.Llada8B(), int.MaxValue, int.MaxValue, cfg: true);
        Assert.Equal(long.MaxValue, e.Total);
    }

    [Theory]
    [InlineData("1000", 1000L)]
    [InlineData("64K", 65_536L)]
    [InlineData("512m", 536_870_912L)]
    [InlineData("8G", 8_589_934_592L)]
    [InlineData("abc", null)]
    [InlineData("-5", null)]
    [InlineData("0", null)]
    [InlineData("99999999999T", null)]
    public void ParseBytes_SuffixesAndGarbage(string s, long? expected) => Assert.Equal(expected, MemoryEstimate.ParseBytes(s));

    [Fact]
    public void AvailableBytes_PositiveAndAtMostTheRuntimeLimit()
    {
        var (bytes, _) = MemoryEstimate.AvailableBytes();
        Assert.InRange(bytes, 1, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
    }
}
