using LLaDA.Autograd;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Diffusion.Sampling;

public class ParallelDecodingTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2);

    private static List<(double, int, int)> Sorted(params double[] conf) => conf.Select((c, i) => (c, i, 5)).ToList();

    /// <summary>How many candidates (scores at columns 0..m−1) IBackend.SelectTransfer commits on the CPU under the config's rule.</summary>
    private static int Select(List<(double Conf, int Pos, int Token)> cand, SamplerConfig cfg, int quota)
    {
        using var scope = new TensorScope();
        int m = Math.Max(cand.Count, 1);
        var sc = new double[m];
        var c = new int[m];
        foreach (var (conf, pos, _) in cand)
        {
            sc[pos] = conf;
            c[pos] = 1;
        }
        var rule = cfg.Threshold is double t ? new TransferRule(TransferKind.Threshold, t) : cfg.Factor is double f ? new TransferRule(TransferKind.Factor, f) : new TransferRule(TransferKind.Quota);
        var take = Tensor.SelectTransfer(Tensor.FromSpan<double>(sc, [1, m], DType.F64), null, Tensor.FromArray(c, [1, m]), Tensor.FromArray(new[] { quota }, [1]), rule);
        return take.ToIntArray().Sum();
    }

    [Fact]
    public void Threshold_AlwaysCommitsTheBest_PlusThoseAboveThreshold()
    {
        var cfg = new SamplerConfig { Threshold = 0.9 };
        Assert.Equal(1, Select(Sorted(0.5, 0.4, 0.1), cfg, 0));      // nothing above: still one
        Assert.Equal(3, Select(Sorted(0.99, 0.95, 0.9, 0.3), cfg, 0));
        Assert.Equal(0, Select(Sorted(), cfg, 0));
    }

    [Fact]
    public void Factor_FollowsFastDllmRule_IncludingLastIndexQuirk()
    {
        // thr[i] = 1 − f/(i + 2): f = 1 → thr = [−1, 0.667, 0.75, 0.8, …]
        var cfg = new SamplerConfig { Factor = 1.0 };
        Assert.Equal(2, Select(Sorted(0.9, 0.7, 0.5, 0.1), cfg, 0));  // stops at i* = 2 → accept 2
        Assert.Equal(1, Select(Sorted(0.9, 0.5, 0.5), cfg, 0));       // stops at i* = 1 (neither first nor last) → accept 1
        Assert.Equal(3, Select(Sorted(0.9, 0.8, 0.1), cfg, 0));       // fails exactly at the last index → all 3
        Assert.Equal(3, Select(Sorted(0.9, 0.8, 0.9), cfg, 0));       // never fails → all 3
        Assert.Equal(1, Select(Sorted(0.3), cfg, 0));
    }

    [Fact]
    public void ThresholdDecoding_OnOracle_CommitsEverythingConfidentInOnePass()
    {
        // Margins of 12 nats give confidence ≈ 1: every token passes 0.9, so each block takes one step.
        var oracle = new OracleModel(20, j => 4 + j % 16, _ => 12.0);
        var sampler = new ReverseSampler(oracle, Sp);
        var r = sampler.Generate([[2, 5]], new SamplerConfig { GenLength = 16, BlockLength = 8, Threshold = 0.9 });
        Assert.Equal(2, r.ForwardPasses);
        Assert.Equal(Enumerable.Range(2, 16).Select(j => 4 + j % 16), r.Generated[0]);
        // Weak margins: one token per pass.
        var weak = new ReverseSampler(new OracleModel(20, j => 4 + j % 16, j => 0.1 * j), Sp);
        var w = weak.Generate([[2, 5]], new SamplerConfig { GenLength = 8, BlockLength = 8, Threshold = 0.9 });
        Assert.Equal(8, w.ForwardPasses);
        Assert.All(w.FixedAtStep[0], s => Assert.InRange(s, 0, 7));
        Assert.Equal(8, w.FixedAtStep[0].Distinct().Count());
    }

    private static MaskPredictor Model(int layers, ulong seed)
    {
        var cfg = Presets.Tiny(24, Sp.Mask, Sp.Eos) with { NLayers = layers, BosTokenId = 2, InitStd = 0.5f };
        return new MaskPredictor(cfg, seed);
    }

    [Fact]
    public void InferenceForward_EqualsTrainingForward()
    {
        using var m = Model(2, 3);
        using var ids = Tensor.FromArray(Rng.Ints(2 * 9, 1, 3, 24), [2, 9]);
        using var tape = new Tape();
        using var viaTape = m.Forward(ids).Data;
        Assert.True(tape.Count > 0);
        using var viaInfer = Tape.NoGrad(() => m.Forward(ids)).Data;
        TensorAssert.Close(viaTape, viaInfer, 1e-5, 1e-4);
    }

    [Theory]
    [InlineData(CacheMode.Prefix)]
    [InlineData(CacheMode.Dual)]
    public void CachedSampling_OneLayerModel_EqualsUncached(CacheMode mode)
    {
        // With one layer, a position's keys and values depend only on its own token and position, so both caches
        // are exact and cached sampling must give the uncached answer (batch of 2, different prompt lengths).
        using var m = Model(1, 7);
        var sampler = new ReverseSampler(new MaskPredictorLogits(m), Sp);
        int[][] prompts = [[2, 5, 6, 7], [2, 9]];
        foreach (var baseCfg in new[] { new SamplerConfig { GenLength = 12, BlockLength = 4, Steps = 12 }, new SamplerConfig { GenLength = 12, BlockLength = 4, Threshold = 0.3 } })
        {
            var plain = sampler.Generate(prompts, baseCfg);
            var cached = sampler.Generate(prompts, baseCfg with { Cache = mode });
            Assert.Equal(plain.Generated, cached.Generated);
            Assert.Equal(plain.FixedAtStep, cached.FixedAtStep);
            Assert.Equal(plain.ForwardPasses, cached.ForwardPasses);
        }
    }

    [Fact]
    public void DualCache_BatchOfThree_EqualsRowByRow()
    {
        // The reference's dual cache breaks for B > 1 (Fast-dLLM #7); ours must equal one-row runs.
        using var m = Model(2, 11);
        var sampler = new ReverseSampler(new MaskPredictorLogits(m), Sp);
        int[][] prompts = [[2, 5, 6], [2, 7, 8], [2, 9, 3]];
        var cfg = new SamplerConfig { GenLength = 8, BlockLength = 4, Steps = 8, Cache = CacheMode.Dual };
        var batch = sampler.Generate(prompts, cfg);
        for (int i = 0; i < 3; i++) Assert.Equal(sampler.Generate([prompts[i]], cfg).Generated[0], batch.Generated[i]);
    }

    [Fact]
    public void CacheWithOracle_ThatCannotCache_Throws()
    {
        var sampler = new ReverseSampler(new OracleModel(20, _ => 4, _ => 1), Sp);
        Assert.Throws<ArgumentException>(() => sampler.Generate([[2]], new SamplerConfig { GenLength = 4, BlockLength = 4, Steps = 4, Cache = CacheMode.Prefix }));
    }
}
