using System.Text.Json;
using System.Text.Json.Serialization;
using LLaDA.Diffusion.Data;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;

namespace LLaDA.Diffusion.Training;

/// <summary>Everything besides weights and moments that a resumed run needs to continue bit-exactly.</summary>
public sealed record TrainerState
{
    [JsonPropertyName("format")] public int Format { get; init; } = 1;
    [JsonPropertyName("step")] public int Step { get; init; }
    [JsonPropertyName("optimizer_step")] public int OptimizerStep { get; init; }
    [JsonPropertyName("data_epoch")] public int DataEpoch { get; init; }
    [JsonPropertyName("data_index")] public int DataIndex { get; init; }
    [JsonPropertyName("train_config")] public TrainConfig Train { get; init; } = new();
}

/// <summary>Training checkpoints: root/step-NNNNNN/ holding config.json, model.safetensors, optimizer.safetensors, trainer_state.json, ema.safetensors when an average is kept, and extra files (tokenizer); root/latest names the newest complete one.</summary>
/// <remarks>A checkpoint is written into a temporary directory and renamed into place, then `latest` is replaced atomically, so an interrupted save never leaves a half-written checkpoint behind a valid pointer.</remarks>
public static class TrainingCheckpoint
{
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "trainer_state.json";
    public const string LatestFile = "latest";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Saves the trainer's model, optimizer and state under root/step-NNNNNN and points root/latest at it; returns the directory.</summary>
    public static string Save(string root, Trainer trainer, IReadOnlyDictionary<string, string>? extraFiles = null)
    {
        Directory.CreateDirectory(root);
        string name = $"step-{trainer.StepIndex:D6}";
        string final = Path.Combine(root, name);
        string tmp = Path.Combine(root, $".tmp-{name}-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Checkpoint.SaveModel(tmp, trainer.Model);
        var moments = new List<(string, Tensor)>();
        foreach (var (n, m, v) in trainer.Optimizer.Moments())
        {
            moments.Add(("m." + n, m));
            moments.Add(("v." + n, v));
        }
        SafeTensorsWriter.Write(Path.Combine(tmp, OptimizerFile), moments);
        trainer.Ema?.Save(tmp);
        var state = new TrainerState
        {
            Step = trainer.StepIndex,
            OptimizerStep = trainer.Optimizer.Step,
            DataEpoch = trainer.DataPosition.Epoch,
            DataIndex = trainer.DataPosition.Index,
            Train = trainer.Config,
        };
        File.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, Json));
        if (extraFiles is not null)
            foreach (var (file, text) in extraFiles) File.WriteAllText(Path.Combine(tmp, file), text);
        if (Directory.Exists(final)) Directory.Delete(final, true);
        Directory.Move(tmp, final);
        Checkpoint.AtomicWriteText(Path.Combine(root, LatestFile), name);
        return final;
    }

    /// <summary>The newest complete checkpoint directory under root, or null.</summary>
    public static string? Latest(string root)
    {
        string pointer = Path.Combine(root, LatestFile);
        if (!File.Exists(pointer)) return null;
        string dir = Path.Combine(root, File.ReadAllText(pointer).Trim());
        return Directory.Exists(dir) ? dir : throw new CheckpointException($"{pointer} names {dir}, which does not exist");
    }

    /// <summary>Reads trainer_state.json of a checkpoint.</summary>
    public static TrainerState ReadState(string dir)
    {
        string path = Path.Combine(dir, StateFile);
        if (!File.Exists(path)) throw new CheckpointException($"{dir}: missing {StateFile} (not a training checkpoint)");
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Json) ?? throw new CheckpointException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: malformed JSON ({e.Message})");
        }
    }

    /// <summary>Rebuilds a trainer from a checkpoint: weights, optimizer moments and step, data position.</summary>
    public static Trainer Resume(string dir, SequenceDataset train, SequenceDataset? heldOut, IBackend? backend = null, TrainConfig? overrideConfig = null)
    {
        var state = ReadState(dir);
        var model = Checkpoint.LoadModel(dir, backend);
        var config = overrideConfig ?? state.Train;
        var trainer = new Trainer(model, config, train, heldOut, state.Step, new DataPosition(state.DataEpoch, state.DataIndex));
        var opt = SafeTensorsFile.Open(Path.Combine(dir, OptimizerFile));
        foreach (var (n, m, v) in trainer.Optimizer.Moments())
        {
            foreach (var (key, dst) in new[] { ("m." + n, m), ("v." + n, v) })
            {
                var info = opt[key];
                if (!info.Shape.SequenceEqual(dst.Shape.ToArray()))
                    throw new CheckpointException($"{opt.Path}: moment '{key}' has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", dst.ShapeArray())}]");
                using var t = opt.Read(key, dst.Backend);
                dst.CopyFrom(t);
            }
        }
        trainer.Optimizer.Step = state.OptimizerStep;
        // A run that kept an average continues it; one that starts keeping it now starts from the resumed weights.
        if (trainer.Ema is not null && Ema.Exists(dir)) trainer.Ema.Load(dir);
        return trainer;
    }
}
