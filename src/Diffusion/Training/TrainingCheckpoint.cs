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
/// <remarks>
/// A kill at any instant leaves `latest` naming a complete checkpoint: a save writes and fsyncs every file in
/// root/.tmp-step-NNNNNN-PID, renames that directory into place, then replaces `latest` by write-temp + rename; the
/// directory `latest` names is never touched before `latest` names another. Re-saving the step `latest` names therefore
/// goes to the step's second slot, step-NNNNNN.1 (and back again the next time), and only then is the old slot removed.
/// Leftovers of a killed save (.tmp-* entries, the unnamed slot of a re-saved step) are removed by <see cref="CleanStale"/>.
/// </remarks>
public static class TrainingCheckpoint
{
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "trainer_state.json";
    public const string LatestFile = "latest";

    /// <summary>Marks the temporaries of a save: root/.tmp-step-NNNNNN-PID and latest.tmp-PID.</summary>
    public const string TempMarker = ".tmp-";

    /// <summary>Suffix of a step's second slot, used when the step `latest` names is saved again.</summary>
    public const string ResaveSuffix = ".1";

    /// <summary>The instants of a save, in order, at which <see cref="PhaseHook"/> is called: half of the files written into the
    /// temporary directory; all written; the target slot cleared of an older copy; the directory renamed into place; the new
    /// `latest` written beside the old; `latest` replaced.</summary>
    public static readonly IReadOnlyList<string> SavePhases = ["temp-write", "temp-written", "slot-cleared", "renamed", "latest-written", "latest-updated"];

    /// <summary>Called with (root, phase) at each of <see cref="SavePhases"/> as a save passes it (crash tests and the kill -9 soak stop there); null in normal runs.</summary>
    public static Action<string, string>? PhaseHook { get; set; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>The directory name of a step's checkpoint.</summary>
    public static string StepName(int step) => $"step-{step:D6}";

    /// <summary>Saves the trainer's model, optimizer and state under root/step-NNNNNN and points root/latest at it; returns the directory.</summary>
    public static string Save(string root, Trainer trainer, IReadOnlyDictionary<string, string>? extraFiles = null)
    {
        Directory.CreateDirectory(root);
        string step = StepName(trainer.StepIndex);
        string? named = LatestName(root);
        // Never write into the directory latest names: a re-save of that step takes the other slot.
        string name = named == step ? step + ResaveSuffix : step;
        string other = name == step ? step + ResaveSuffix : step;
        string final = Path.Combine(root, name);
        string tmp = Path.Combine(root, $"{TempMarker}{name}-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Checkpoint.SaveModel(tmp, trainer.Model);
        PhaseHook?.Invoke(root, SavePhases[0]);
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
        AtomicFile.WriteText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, Json));
        if (extraFiles is not null)
            foreach (var (file, text) in extraFiles) AtomicFile.WriteText(Path.Combine(tmp, file), text);
        PhaseHook?.Invoke(root, SavePhases[1]);
        // final is not what latest names, so removing an older copy of it (a complete or half-deleted leftover) is safe.
        if (Directory.Exists(final)) Directory.Delete(final, true);
        PhaseHook?.Invoke(root, SavePhases[2]);
        Directory.Move(tmp, final);
        PhaseHook?.Invoke(root, SavePhases[3]);
        AtomicFile.WriteText(Path.Combine(root, LatestFile), name, beforeRename: () => PhaseHook?.Invoke(root, SavePhases[4]));
        PhaseHook?.Invoke(root, SavePhases[5]);
        // The step's other slot, if any, is an older save of the same step that latest no longer names.
        string stale = Path.Combine(root, other);
        if (Directory.Exists(stale)) Directory.Delete(stale, true);
        return final;
    }

    /// <summary>The directory name root/latest holds, or null when there is no pointer.</summary>
    private static string? LatestName(string root)
    {
        string pointer = Path.Combine(root, LatestFile);
        return File.Exists(pointer) ? InputFile.ReadText(pointer, "checkpoint pointer").Trim() : null;
    }

    /// <summary>The newest complete checkpoint directory under root, or null.</summary>
    public static string? Latest(string root)
    {
        string? name = LatestName(root);
        if (name is null) return null;
        if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name.Contains(".."))
            throw new CheckpointException($"{Path.Combine(root, LatestFile)}: '{name}' is not a checkpoint directory name");
        string dir = Path.Combine(root, name);
        return Directory.Exists(dir) ? dir : throw new CheckpointException($"{Path.Combine(root, LatestFile)} names {dir}, which does not exist");
    }

    /// <summary>Removes what killed saves left behind: every .tmp-* entry, and the slot of a twice-saved step that latest does not name.
    /// Call only while holding the run's lock (another live save's temporaries look the same).</summary>
    public static void CleanStale(string root)
    {
        if (!Directory.Exists(root)) return;
        string? named = LatestName(root);
        foreach (var entry in Directory.EnumerateFileSystemEntries(root))
        {
            string file = Path.GetFileName(entry);
            bool stale = file.Contains(TempMarker, StringComparison.Ordinal)
                || (named is not null && file != named && (file == named + ResaveSuffix || file + ResaveSuffix == named));
            if (!stale) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, true);
            else File.Delete(entry);
        }
    }

    /// <summary>Reads trainer_state.json of a checkpoint.</summary>
    public static TrainerState ReadState(string dir)
    {
        string path = Path.Combine(dir, StateFile);
        if (!File.Exists(path)) throw new CheckpointException($"{dir}: missing {StateFile} (not a training checkpoint)");
        TrainerState state;
        try
        {
            state = JsonSerializer.Deserialize<TrainerState>(InputFile.ReadText(path, "trainer state"), Json) ?? throw new CheckpointException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: malformed JSON ({e.Message})");
        }
        if (state.Format != new TrainerState().Format) throw new CheckpointException($"{path}: format {state.Format} is not supported (expected {new TrainerState().Format})");
        if (state.Step < 0 || state.OptimizerStep < 0 || state.DataEpoch < 0 || state.DataIndex < 0)
            throw new CheckpointException($"{path}: negative step or data position (step {state.Step}, optimizer_step {state.OptimizerStep}, data_epoch {state.DataEpoch}, data_index {state.DataIndex})");
        return state;
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
