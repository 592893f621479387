using LLaDA.Diffusion.Data;
using LLaDA.Nn;
using LLaDA.Tensors;

namespace LLaDA;

/// <summary>How <see cref="LladaModel.Load"/> loads a directory.</summary>
public sealed record LoadOptions
{
    /// <summary>The backend; null = the CPU, where the weights are memory-mapped in their stored dtype (BF16/F16/F32) and used in
    /// place. Other backends (and moving-average weights) take the copying load.</summary>
    public IBackend? Backend { get; init; }

    /// <summary>Use a training checkpoint's raw weights even when it has moving-average weights (ema.safetensors).</summary>
    public bool RawWeights { get; init; }

    /// <summary>Called with the validated config and tokenizer after every file has been read and checked, and before the model's
    /// tensors are mapped or allocated: the place for a host's own memory or context checks (throw to refuse).</summary>
    public Action<ModelCheck>? BeforeAllocating { get; init; }
}

/// <summary>What <see cref="LoadOptions.BeforeAllocating"/> sees: the resolved directory, the config, the tokenizer, the chat
/// template, the generation defaults, and the stored bytes of the weights when they will be memory-mapped (null when they will be
/// copied into F32).</summary>
public sealed record ModelCheck(string Directory, MaskPredictorConfig Config, ITokenizer Tokenizer, ChatFormat? ChatFormat, GenerationDefaults Defaults, long? MappedWeightBytes);
