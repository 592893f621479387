using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Diffusion.Sampling;

/// <summary>The sampler's modes, each run fused (hidden rows of the masked positions → SampleTokensHead) and unfused (full logits → SampleTokens).</summary>
public static class FusedHeadModes
{
    public static IEnumerable<SamplerConfig> Configs(bool dense)
    {
        var semi = new SamplerConfig { GenLength = 8, BlockLength = 4, Steps = 8 };
        yield return semi;
        yield return semi with { Temperature = 0.8, Seed = 3, Remasking = Remasking.Margin };
        yield return semi with { Temperature = 0.6, Seed = 4, Remasking = Remasking.Entropy, CfgScale = 1.5 };
        yield return semi with { Temperature = 1.0, Seed = 5, Remasking = Remasking.Random, Cache = CacheMode.Prefix };
        yield return semi with { Remasking = Remasking.Origin, Seed = 6, Cache = CacheMode.Dual, CfgScale = 0.5 };
        yield return semi with { Threshold = 0.3, Temperature = 0.5, Seed = 7, Cache = CacheMode.Dual };
        yield return semi with { Factor = 1.0, LogitsEosInf = true, ConfidenceEosEotInf = true, BannedTokens = [5] };
        if (!dense) yield break;
        yield return semi with { Threshold = 0.4, Remasking = Remasking.Margin, Cache = CacheMode.Prefix, CfgScale = 1.0 };
        yield return semi with { Factor = 0.8, Remasking = Remasking.Entropy, Temperature = 0.9, Seed = 8 };
        yield return new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 4, Temperature = 0.7, Seed = 9, PadTo = 16 };
        yield return semi with { Steps = 4, Temperature = 0.7, Seed = 10, Cache = CacheMode.Dual, Remasking = Remasking.Margin, LogitsEosInf = true };
    }
}

/// <summary>The fused LM head in the sampler (every mode gives the unfused tokens), its memory (no (B, L, V) logits), and the likelihood's masked-only scoring.</summary>
public sealed class FusedHeadTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2, EndOfTurn: 3);

    private static MaskPredictor Model(int vocab, ulong seed, IBackend? backend = null, bool tied = false)
    {
        var cfg = Presets.Tiny(vocab, Sp.Mask, Sp.Eos) with { NLayers = 2, BosTokenId = 2, InitStd = 0.5f, WeightTying = tied };
        return new MaskPredictor(cfg, seed, backend);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EverySamplerMode_FusedHead_GivesTheUnfusedTokens(bool tied)
    {
        using var m = Model(24, tied ? 13UL : 5UL, tied: tied);
        var sampler = new ReverseSampler(new MaskPredictorLogits(m), Sp);
        int[][] prompts = [[2, 5, 6, 7], [2, 9]]; // different lengths: left padding
        int n = 0;
        foreach (var c in FusedHeadModes.Configs(dense: true))
        {
            var fused = sampler.Generate(prompts, c);
            var plain = sampler.Generate(prompts, c with { FusedHead = false });
            Assert.Equal(plain.Generated, fused.Generated);
            Assert.Equal(plain.FixedAtStep, fused.FixedAtStep);
            Assert.Equal(plain.ForwardPasses, fused.ForwardPasses);
            n++;
        }
        Assert.True(n >= 10);
        // Infill (masks anywhere, one block over the sequence).
        int[][] seqs = [[2, 1, 6, 1, 1, 9], [2, 5, 1, 1, 8, 1]];
        foreach (var c in new[] { new SamplerConfig { Steps = 3 }, new SamplerConfig { Threshold = 0.5, Temperature = 0.5, Seed = 2, Remasking = Remasking.Margin } })
        {
            var fused = sampler.Infill(seqs, c);
            var plain = sampler.Infill(seqs, c with { FusedHead = false });
            Assert.Equal(plain.Generated, fused.Generated);
            Assert.Equal(plain.FixedAtStep, fused.FixedAtStep);
        }
    }

    [Fact]
    public void FusedHead_PeakPoolBytes_DoNotScaleWithLengthTimesVocabulary()
    {
        // A wide vocabulary and a narrow model: one (B, L, V) logits tensor dwarfs every activation.
        const int v = 32768, b = 2, gen = 128;
        using var be = new CpuBackend();
        using var m = Model(v, 9, be);
        var sampler = new ReverseSampler(new MaskPredictorLogits(m), Sp);
        int[][] prompts = [[2, 5, 6, 7], [2, 9, 4, 4]];
        int l = prompts[0].Length + gen;
        long logitsBytes = 4L * b * l * v;
        var cfg = new SamplerConfig { GenLength = gen, BlockLength = gen, Steps = 4 };
        long Peak(SamplerConfig c)
        {
            long before = be.Pool.BytesInUse;
            be.Pool.ResetPeak();
            sampler.Generate(prompts, c);
            return be.Pool.PeakBytesInUse - before;
        }
        long fused = Peak(cfg), plain = Peak(cfg with { FusedHead = false });
        Assert.True(plain >= logitsBytes, $"unfused peak {plain} B should hold the {logitsBytes} B logits");
        // Fused: one (masked rows, tile) scratch, the gathered hidden rows and the activations — bounded by rows·tile, not L·V.
        long tileBytes = 4L * b * gen * Tensor.DefaultHeadTile;
        Assert.True(fused <= tileBytes + (2L << 20), $"fused peak {fused} B exceeds rows·tile {tileBytes} B + 2 MiB");
        Assert.True(fused < logitsBytes / 4, $"fused peak {fused} B vs logits {logitsBytes} B");
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(1.5, false)]
    [InlineData(0.0, true)]
    public void Likelihood_MaskedRowsOnly_EqualsFullLogits(double cfgScale, bool tied)
    {
        using var m = Model(40, 21, tied: tied);
        var est = new LikelihoodEstimator(new MaskPredictorLogits(m), Sp);
        int[] seq = [2, 5, 6, 7, 8, 9, 10, 11, 12];
        int[][] positions = [[0, 2], [1, 3, 4, 5], [5]];
        double masked = est.BatchLoss(seq, 3, positions, cfgScale);
        double full = est.BatchLossFullLogits(seq, 3, positions, cfgScale);
        Assert.True(masked > 0 && double.IsFinite(masked));
        Assert.True(Math.Abs(masked - full) <= 1e-5 * Math.Abs(full), $"masked {masked:R}, full {full:R}");
    }
}
