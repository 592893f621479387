using BenchmarkDotNet.Attributes;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;

namespace LLaDA.Benchmarks;

/// <summary>The reverse process at gen length 128, block 32: one token per step against Fast-dLLM threshold decoding with and without key/value caches.</summary>
[MemoryDiagnoser]
public class SamplerBenchmarks
{
    private MaskPredictor _model = null!;
    private ReverseSampler _sampler = null!;
    private int[] _prompt = [];

    [Params("one-per-step", "threshold", "threshold+prefix", "threshold+dual")]
    public string Mode { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var cfg = Presets.Bench(4096);
        _model = new MaskPredictor(cfg, 1);
        _sampler = new ReverseSampler(new MaskPredictorLogits(_model), new SpecialTokens(cfg.EosTokenId, cfg.MaskTokenId, cfg.BosTokenId));
        _prompt = [cfg.BosTokenId!.Value, 5, 6, 7, 8];
    }

    [Benchmark]
    public SampleResult Generate()
    {
        var c = new SamplerConfig { GenLength = 128, BlockLength = 32, Steps = 128 };
        c = Mode switch
        {
            "threshold" => c with { Threshold = 0.9 },
            "threshold+prefix" => c with { Threshold = 0.9, Cache = CacheMode.Prefix },
            "threshold+dual" => c with { Threshold = 0.9, Cache = CacheMode.Dual },
            _ => c,
        };
        return _sampler.Generate([_prompt], c);
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();
}
