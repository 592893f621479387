using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LLaDA.Nn;

/// <summary>Shape and numerics of the mask predictor; field and JSON names follow LLaDA's Hugging Face config.json, so one loader reads ours and the published ones.</summary>
/// <remarks>Defaults are LLaDA-8B-Instruct's (SPEC §4.1) except the token ids, which come from the tokenizer in use.</remarks>
public sealed record MaskPredictorConfig
{
    [JsonPropertyName("d_model")] public int DModel { get; init; } = 4096;
    [JsonPropertyName("n_layers")] public int NLayers { get; init; } = 32;
    [JsonPropertyName("n_heads")] public int NHeads { get; init; } = 32;

    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="NHeads"/>); null means equal to NHeads.</summary>
    [JsonPropertyName("n_kv_heads")] public int? NKvHeads { get; init; }

    [JsonPropertyName("mlp_hidden_size")] public int MlpHiddenSize { get; init; } = 12288;
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 126464;

    /// <summary>Rows of the embedding and LM head (≥ vocab_size; null means vocab_size).</summary>
    [JsonPropertyName("embedding_size")] public int? EmbeddingSize { get; init; }

    [JsonPropertyName("max_sequence_length")] public int MaxSequenceLength { get; init; } = 4096;
    [JsonPropertyName("rope_theta")] public float RopeTheta { get; init; } = 500000f;
    [JsonPropertyName("rms_norm_eps")] public float RmsNormEps { get; init; } = 1e-5f;
    [JsonPropertyName("weight_tying")] public bool WeightTying { get; init; }
    [JsonPropertyName("init_std")] public float InitStd { get; init; } = 0.02f;
    [JsonPropertyName("mask_token_id")] public int MaskTokenId { get; init; } = 126336;
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 126081;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; } = 126081;
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; } = 126080;

    /// <summary>"llama" (the only block type here); kept to match config.json.</summary>
    [JsonPropertyName("block_type")] public string BlockType { get; init; } = "llama";

    /// <summary>Our extension: true for the autoregressive baseline (causal mask, next-token loss); LLaDA is false.</summary>
    [JsonPropertyName("causal")] public bool Causal { get; init; }

    /// <summary>Fields of a Hugging Face config that we do not model (architectures, auto_map, torch_dtype, …), kept so a round trip loses nothing.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; init; }

    [JsonIgnore] public int KvHeads => NKvHeads ?? NHeads;
    [JsonIgnore] public int HeadSize => DModel / NHeads;
    [JsonIgnore] public int Rows => EmbeddingSize ?? VocabSize;

    /// <summary>Throws a <see cref="ConfigException"/> naming the first inconsistent field.</summary>
    public MaskPredictorConfig Validate()
    {
        void Need(bool ok, string msg)
        {
            if (!ok) throw new ConfigException($"config: {msg}");
        }
        Need(DModel > 0 && NLayers > 0 && NHeads > 0 && MlpHiddenSize > 0 && VocabSize > 0, "d_model, n_layers, n_heads, mlp_hidden_size and vocab_size must be positive");
        Need(DModel % NHeads == 0, $"d_model {DModel} is not divisible by n_heads {NHeads}");
        Need(HeadSize % 2 == 0, $"head size {HeadSize} must be even for rotary embeddings");
        Need(HeadSize <= 256, $"head size {HeadSize} exceeds 256");
        Need(KvHeads > 0 && NHeads % KvHeads == 0, $"n_heads {NHeads} is not a multiple of n_kv_heads {KvHeads}");
        Need(Rows >= VocabSize, $"embedding_size {Rows} is smaller than vocab_size {VocabSize}");
        Need(MaskTokenId >= 0 && MaskTokenId < Rows, $"mask_token_id {MaskTokenId} is outside the embedding ({Rows} rows)");
        Need(EosTokenId >= 0 && EosTokenId < Rows, $"eos_token_id {EosTokenId} is outside the embedding ({Rows} rows)");
        Need(RopeTheta > 0 && RmsNormEps > 0 && InitStd > 0, "rope_theta, rms_norm_eps and init_std must be positive");
        Need(MaxSequenceLength > 0, "max_sequence_length must be positive");
        Need(BlockType == "llama", $"block_type '{BlockType}' is not supported (only 'llama')");
        return this;
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowReadingFromString };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses and validates a config.json (ours or a Hugging Face LLaDA one).</summary>
    public static MaskPredictorConfig FromJson(string json)
    {
        MaskPredictorConfig? c;
        try
        {
            c = JsonSerializer.Deserialize<MaskPredictorConfig>(json, Json);
        }
        catch (JsonException e)
        {
            throw new ConfigException($"config: malformed JSON ({e.Message})");
        }
        return (c ?? throw new ConfigException("config: empty JSON")).Validate();
    }

    public static MaskPredictorConfig Load(string path) => FromJson(Serialization.InputFile.ReadText(path, "model config"));

    /// <summary>Parameter count implied by the shape (embedding + blocks + final norm + untied head).</summary>
    public long ParameterCount()
    {
        long c = DModel, kv = (long)KvHeads * HeadSize, m = MlpHiddenSize;
        long perLayer = c * c + 2 * c * kv + c * c + 3 * c * m + 2 * c;
        return Rows * c + NLayers * perLayer + c + (WeightTying ? 0 : Rows * c);
    }
}

/// <summary>An inconsistent or malformed model configuration.</summary>
public sealed class ConfigException(string message) : Exception(message);
