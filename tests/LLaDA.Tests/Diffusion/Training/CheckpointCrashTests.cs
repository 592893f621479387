using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using Xunit;

namespace LLaDA.Tests.Diffusion.Training;

/// <summary>A save interrupted at each of its phases (an exception thrown from the phase hook stands in for kill -9: nothing after
/// it runs) must leave `latest` naming a complete checkpoint, for a new step and for a re-save of the step `latest` names.</summary>
[Collection("Console")] // PhaseHook is process-wide: run beside the CLI tests that set it, never concurrently with them
public sealed class CheckpointCrashTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-crash-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        TrainingCheckpoint.PhaseHook = null;
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private sealed class Crash : Exception;

    private static readonly string[] Lines = ["白日依山尽，黄河入海流。", "床前明月光，疑是地上霜。", "春眠不觉晓，处处闻啼鸟。", "红豆生南国，春来发几枝。"];

    public static TheoryData<string, bool> Cases()
    {
        var d = new TheoryData<string, bool>();
        foreach (var phase in TrainingCheckpoint.SavePhases)
        {
            d.Add(phase, false);
            d.Add(phase, true);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SaveInterruptedAtPhase_LatestNamesCompleteCheckpoint(string phase, bool resaveLatestStep)
    {
        var tok = CharTokenizer.Build(Lines);
        var data = SequenceDataset.PerDocument(Lines.Select(tok.Encode), 14, tok.Specials);
        var cfg = new TrainConfig { Steps = 8, BatchSize = 2, Seed = 5 };
        using var model = new MaskPredictor(Presets.Tiny(tok.VocabSize, tok.Specials.Mask, tok.Specials.Eos), seed: 1);
        using var trainer = new Trainer(model, cfg, data, null);
        trainer.Step();
        trainer.Step();
        TrainingCheckpoint.Save(_dir, trainer);
        var saved = new Dictionary<int, float[][]> { [2] = Weights(trainer.Model) };
        if (!resaveLatestStep)
        {
            trainer.Step();
            saved[3] = Weights(trainer.Model);
        }

        TrainingCheckpoint.PhaseHook = (root, p) =>
        {
            if (root == _dir && p == phase) throw new Crash();
        };
        Assert.Throws<Crash>(() => TrainingCheckpoint.Save(_dir, trainer));
        TrainingCheckpoint.PhaseHook = null;

        // latest names a checkpoint that loads completely (state, config, weights, optimizer moments) and holds one of the saved states.
        AssertComplete(TrainingCheckpoint.Latest(_dir)!, data, saved);

        // The next start cleans what the crash left; then only checkpoint slots and latest remain, and saving again works.
        TrainingCheckpoint.CleanStale(_dir);
        var left = Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName).ToList();
        Assert.DoesNotContain(left, f => f!.Contains(TrainingCheckpoint.TempMarker));
        Assert.Single(left, f => f == "step-000002" || f == "step-000002" + TrainingCheckpoint.ResaveSuffix);
        AssertComplete(TrainingCheckpoint.Latest(_dir)!, data, saved);
        string again = TrainingCheckpoint.Save(_dir, trainer);
        Assert.Equal(again, TrainingCheckpoint.Latest(_dir));
        AssertComplete(again, data, saved);
    }

    private static void AssertComplete(string dir, SequenceDataset data, Dictionary<int, float[][]> saved)
    {
        var state = TrainingCheckpoint.ReadState(dir);
        using var t = TrainingCheckpoint.Resume(dir, data, null);
        Assert.Equal(state.Step, t.StepIndex);
        Assert.True(saved.ContainsKey(state.Step), $"{dir} holds step {state.Step}, which was never saved");
        var w = Weights(t.Model);
        for (int i = 0; i < w.Length; i++) Assert.Equal(saved[state.Step][i], w[i]);
        t.Model.Dispose();
    }

    private static float[][] Weights(MaskPredictor m) => m.NamedParameters().Select(p => p.Parameter.Data.ToArray()).ToArray();
}
