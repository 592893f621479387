using System.Text.Json;
using System.Text.Json.Serialization;

namespace LLaDA.Diffusion.Training;

/// <summary>What a run optimises: LLaDA pre-training, LLaDA SFT, or the autoregressive baseline's next-token loss.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Objective>))]
public enum Objective
{
    Pretrain,
    Sft,
    Autoregressive,
}

/// <summary>The learning-rate schedule of a run: LLaDA's warmup-stable-decay, cosine, or constant (each after the warmup).</summary>
/// <remarks>Saved with the checkpoint as "wsd", "cosine", "constant".</remarks>
[JsonConverter(typeof(LowerCaseEnumConverter<LrSchedule>))]
public enum LrSchedule
{
    Wsd,
    Cosine,
    Constant,
}

/// <summary>Enum values as lower-case JSON strings (read case-insensitively).</summary>
public sealed class LowerCaseEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false) where T : struct, Enum;

/// <summary>Every knob of a training run, with defaults that suit the bundled poems on 2 CPU cores.</summary>
public sealed record TrainConfig
{
    public Objective Objective { get; init; } = Objective.Pretrain;
    /// <summary>900 steps of batch 16 (≈ 7.5 epochs of the 1,900 training poems): the main job's ≈ 110 s on 2 cores, after
    /// which ≥ 90 % of its sampled poems are poem-shaped (README, "The main job").</summary>
    public int Steps { get; init; } = 900;
    public int BatchSize { get; init; } = 16;

    /// <summary>Micro-batches whose gradients are summed before one optimizer step (effective batch = BatchSize·GradAccum).</summary>
    public int GradAccum { get; init; } = 1;

    public float Lr { get; init; } = 3e-3f;
    public float MinLr { get; init; } = 3e-4f;
    public int Warmup { get; init; } = 30;

    public LrSchedule Schedule { get; init; } = LrSchedule.Wsd;

    /// <summary>Fraction of the run spent decaying under "wsd".</summary>
    public float DecayFraction { get; init; } = 0.2f;

    public float WeightDecay { get; init; } = 0.1f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;

    /// <summary>Global gradient-norm clip (0 disables).</summary>
    public float GradClip { get; init; } = 1.0f;

    public int EvalEvery { get; init; } = 100;
    public int EvalBatches { get; init; } = 4;
    public int SaveEvery { get; init; } = 200;
    public ulong Seed { get; init; } = 1234;
    public NoiseConfig Noise { get; init; } = new();

    /// <summary>Decay of an exponential moving average of the weights kept beside them (e.g. 0.999; 0 = off); see <see cref="LLaDA.Nn.Optim.Ema"/>.</summary>
    public float EmaDecay { get; init; }
}
