using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Diffusion.Training;

/// <summary>Resuming from a damaged training checkpoint fails with a message that names the file and the problem.</summary>
public sealed class TrainingCheckpointTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "llada-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, true);
    }

    private static readonly string[] Lines = ["白日依山尽，黄河入海流。", "床前明月光，疑是地上霜。"];

    private static SequenceDataset Data()
    {
        var tok = CharTokenizer.Build(Lines);
        return SequenceDataset.PerDocument(Lines.Select(tok.Encode), 14, tok.Specials);
    }

    /// <summary>A checkpoint after two steps of a tiny run; returns its directory.</summary>
    private string SaveTwoSteps(SequenceDataset data)
    {
        var cfg = Presets.Tiny(CharTokenizer.Build(Lines).VocabSize, 2, 0);
        using var trainer = new Trainer(new MaskPredictor(cfg, seed: 1), new TrainConfig { Steps = 4, BatchSize = 2, Lr = 1e-3f, Seed = 3 }, data, null);
        trainer.Step();
        trainer.Step();
        string dir = TrainingCheckpoint.Save(_root, trainer);
        trainer.Model.Dispose();
        return dir;
    }

    private static string ResumeError(string dir, SequenceDataset data)
        => Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Resume(dir, data, null).Dispose()).Message;

    [Fact]
    public void Resume_Intact_RestoresStepOptimizerStepAndDataPosition()
    {
        var data = Data();
        string dir = SaveTwoSteps(data);
        using var t = TrainingCheckpoint.Resume(dir, data, null);
        Assert.Equal(2, t.StepIndex);
        Assert.Equal(2, t.Optimizer.Step);
        Assert.Equal(new DataPosition(1, 2), t.DataPosition); // 2 steps × batch 2 over 2 rows: all of epoch 0, then both rows of epoch 1
        t.Model.Dispose();
    }

    [Fact]
    public void Resume_MissingState_SaysNotATrainingCheckpoint()
    {
        var data = Data();
        string dir = SaveTwoSteps(data);
        File.Delete(Path.Combine(dir, TrainingCheckpoint.StateFile));
        Assert.Contains("missing trainer_state.json", ResumeError(dir, data));
    }

    [Theory]
    [InlineData("{\"step\": 2, ", "malformed JSON")]
    [InlineData("{\"step\": \"two\"}", "malformed JSON")]
    [InlineData("null", "empty")]
    [InlineData("{\"format\": 1, \"step\": -1, \"optimizer_step\": 2, \"data_epoch\": 0, \"data_index\": 0}", "negative")]
    [InlineData("{\"format\": 1, \"step\": 2, \"optimizer_step\": 2, \"data_epoch\": 0, \"data_index\": -4}", "negative")]
    [InlineData("{\"format\": 7, \"step\": 2, \"optimizer_step\": 2, \"data_epoch\": 0, \"data_index\": 0}", "format 7")]
    public void Resume_MalformedState_NamesTheFileAndTheProblem(string json, string message)
    {
        var data = Data();
        string dir = SaveTwoSteps(data);
        File.WriteAllText(Path.Combine(dir, TrainingCheckpoint.StateFile), json);
        string error = ResumeError(dir, data);
        Assert.Contains(TrainingCheckpoint.StateFile, error);
        Assert.Contains(message, error);
    }

    [Fact]
    public void Resume_WrongShapedMoment_NamesTheMomentAndBothShapes()
    {
        var data = Data();
        string dir = SaveTwoSteps(data);
        string path = Path.Combine(dir, TrainingCheckpoint.OptimizerFile);
        var file = SafeTensorsFile.Open(path);
        var tensors = file.Entries.Select(e => e.Name).Select(n => (n, n == "v.model.transformer.ln_f.weight" ? Tensor.Zeros([31]) : file.Read(n, LLaDA.Tensors.Cpu.CpuBackend.Default))).ToList();
        SafeTensorsWriter.Write(path, tensors);
        string error = ResumeError(dir, data);
        Assert.Contains("moment 'v.model.transformer.ln_f.weight' has shape [31], expected [32]", error);
    }

    [Fact]
    public void Resume_MissingMoment_NamesIt()
    {
        var data = Data();
        string dir = SaveTwoSteps(data);
        string path = Path.Combine(dir, TrainingCheckpoint.OptimizerFile);
        var file = SafeTensorsFile.Open(path);
        var tensors = file.Entries.Select(e => e.Name).Where(n => n != "m.model.transformer.wte.weight").Select(n => (n, file.Read(n, LLaDA.Tensors.Cpu.CpuBackend.Default))).ToList();
        SafeTensorsWriter.Write(path, tensors);
        Assert.Contains("no tensor 'm.model.transformer.wte.weight'", ResumeError(dir, data));
    }

    [Fact]
    public void Latest_NamingAMissingDirectory_SaysWhichAndWhere()
    {
        SaveTwoSteps(Data());
        File.WriteAllText(Path.Combine(_root, TrainingCheckpoint.LatestFile), "step-000099");
        var e = Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Latest(_root));
        Assert.Contains("step-000099", e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Null(TrainingCheckpoint.Latest(Path.Combine(_root, "nothing-here"))); // no pointer: no checkpoint, not an error
    }
}
