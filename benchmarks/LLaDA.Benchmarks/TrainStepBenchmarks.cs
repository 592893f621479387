using BenchmarkDotNet.Attributes;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;

namespace LLaDA.Benchmarks;

/// <summary>One optimizer step of the masked-diffusion objective (forward, backward, clip, AdamW) on synthetic tokens; `llada bench train` reports tokens/s for the same step.</summary>
[MemoryDiagnoser]
public class TrainStepBenchmarks
{
    private MaskPredictor _model = null!;
    private Trainer _trainer = null!;

    [Params("bench-preset", "poems-preset")]
    public string Model { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var (cfg, t) = Model == "bench-preset" ? (Presets.Bench(4096), 256) : (Presets.Poems(3000, 2, 0), 66);
        var rows = Enumerable.Range(0, 64).Select(r => Enumerable.Range(0, t).Select(j => (r * 31 + j * 7) % (cfg.VocabSize - 3)).ToArray()).ToList();
        _model = new MaskPredictor(cfg, 1);
        _trainer = new Trainer(_model, new TrainConfig { Steps = int.MaxValue, BatchSize = 16, Warmup = 0 }, new SequenceDataset(rows, t), null);
        for (int i = 0; i < 3; i++) _trainer.Step();
    }

    [Benchmark]
    public StepReport Step() => _trainer.Step();

    [GlobalCleanup]
    public void Cleanup()
    {
        _trainer.Dispose();
        _model.Dispose();
    }
}
