using LLaDA.Diffusion;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using Xunit;

namespace LLaDA.Tests.Diffusion.Training;

public sealed class VarianceReductionTrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-vr-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private const string Poem = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。";

    private static (CharTokenizer Tok, SequenceDataset Data) Data(int copies)
    {
        var tok = CharTokenizer.Build([Poem]);
        return (tok, SequenceDataset.PerDocument(Enumerable.Repeat(tok.Encode(Poem), copies), 26, tok.Specials));
    }

    private static MaskPredictorConfig Config(CharTokenizer tok) => Presets.Tiny(tok.VocabSize, tok.Specials.Mask, tok.Specials.Eos);

    [Fact]
    public void LossVariance_IsTheSampleVarianceOfTheRowsLossEstimates()
    {
        // Every row is the same poem, so the batch is known whatever the loader's order; the rows' estimates are
        // recomputed one row at a time (B · that row's weighted CE) on an identical model before the step.
        var (tok, data) = Data(8);
        const int B = 4;
        var noise = new NoiseConfig { RandomLengthProb = 0, Time = TimeSampling.LowDiscrepancy };
        var cfg = new TrainConfig { Steps = 1, BatchSize = B, Seed = 5, Noise = noise };
        using var reference = new MaskPredictor(Config(tok), seed: 3);
        var ids = Enumerable.Range(0, B).SelectMany(_ => data[0]).ToArray();
        using var batch = ForwardProcess.Pretrain(ids, B, data.Length, tok.Specials.Mask, cfg.Seed, 0, noise);
        var rows = batch.MaskedRows.ToIntArray();
        var est = new double[B];
        for (int i = 0; i < B; i++)
        {
            var pick = Enumerable.Range(0, rows.Length).Where(k => rows[k] / data.Length == i).ToArray();
            var sub = new MaskedBatch
            {
                Batch = B, Length = data.Length, Noisy = batch.Noisy, PMask = batch.PMask,
                MaskedRows = LLaDA.Tensors.Tensor.FromArray(pick.Select(k => rows[k]).ToArray()),
                Targets = LLaDA.Tensors.Tensor.FromArray(pick.Select(k => batch.Targets.ToIntArray()[k]).ToArray()),
                Weights = LLaDA.Tensors.Tensor.FromArray(pick.Select(k => batch.Weights.ToArray()[k]).ToArray()),
            };
            est[i] = pick.Length == 0 ? 0 : B * Losses.Masked(reference, sub)!.Data.Item(); // sub shares Noisy with batch: not disposed here
        }
        double mean = est.Average(), variance = est.Sum(e => (e - mean) * (e - mean)) / (B - 1);

        using var model = new MaskPredictor(Config(tok), seed: 3);
        using var trainer = new Trainer(model, cfg, data, null);
        var r = trainer.Step();
        Assert.Equal(mean, r.Loss, 1e-4 * Math.Abs(mean));         // the estimates average to the loss
        Assert.Equal(variance, r.LossVariance, 1e-3 * variance);
        using var one = new Trainer(new MaskPredictor(Config(tok), seed: 3), cfg with { BatchSize = 1 }, data, null);
        Assert.True(double.IsNaN(one.Step().LossVariance));          // no spread from a single row
        one.Model.Dispose();
    }

    [Fact]
    public void Ema_SavedBesideTheWeights_ResumeContinuesItBitExactly()
    {
        var (tok, data) = Data(4);
        var cfg = new TrainConfig { Steps = 6, BatchSize = 2, Lr = 5e-3f, Warmup = 1, Seed = 11, EmaDecay = 0.8f, Noise = new NoiseConfig { Time = TimeSampling.Antithetic, MinT = 0.1f } };
        using var full = new Trainer(new MaskPredictor(Config(tok), seed: 3), cfg, data, null);
        for (int i = 0; i < 6; i++) full.Step();

        using var first = new Trainer(new MaskPredictor(Config(tok), seed: 3), cfg, data, null);
        for (int i = 0; i < 2; i++) first.Step();
        string dir = TrainingCheckpoint.Save(_dir, first);
        first.Model.Dispose();
        Assert.True(Ema.Exists(dir));
        using var resumed = TrainingCheckpoint.Resume(dir, data, null);
        for (int i = 0; i < 4; i++) resumed.Step();
        foreach (var ((_, a), (_, b)) in full.Ema!.Weights().Zip(resumed.Ema!.Weights())) Assert.Equal(a.ToArray(), b.ToArray());
        // The average differs from the raw weights (it lags them).
        Assert.NotEqual(full.Model.NamedParameters().First().Parameter.Data.ToArray(), full.Ema.Weights().First().Weight.ToArray());
        full.Model.Dispose();
        resumed.Model.Dispose();
    }
}
