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

    /// <summary>Throws a <see cref="ConfigException"/> naming the first field outside its range or inconsistent with another.</summary>
    /// <remarks>The ranges are the one place config values are limited: generous for real models (LLaDA-8B: d 4096, 32 layers,
    /// vocab 126464, rope_theta 5e5) and small enough that nothing absurd reaches an allocation or the rotary tables.</remarks>
    public MaskPredictorConfig Validate()
    {
        static void Need(bool ok, string msg)
        {
            if (!ok) throw new ConfigException($"config: {msg}");
        }
        static void In(string field, double v, double lo, double hi, bool loOpen = false)
        {
            static string F(double x) => x.ToString("G", System.Globalization.CultureInfo.InvariantCulture);
            bool ok = double.IsFinite(v) && (loOpen ? v > lo : v >= lo) && v <= hi;
            Need(ok, $"{field} {F(v)} must be in {(loOpen ? "(" : "[")}{F(lo)}, {F(hi)}]");
        }
        In("d_model", DModel, 1, 1 << 16);
        In("n_layers", NLayers, 1, 1024);
        In("n_heads", NHeads, 1, 1024);
        In("n_kv_heads", KvHeads, 1, NHeads);
        In("mlp_hidden_size", MlpHiddenSize, 1, 1 << 20);
        In("vocab_size", VocabSize, 1, 1 << 24);
        In("embedding_size", Rows, VocabSize, 1 << 24);
        In("max_sequence_length", MaxSequenceLength, 1, 1 << 20);
        In("rope_theta", RopeTheta, 1, 1e10);
        In("rms_norm_eps", RmsNormEps, 0, 1, loOpen: true);
        In("init_std", InitStd, 0, 10, loOpen: true);
        Need(DModel % NHeads == 0, $"d_model {DModel} is not divisible by n_heads {NHeads}");
        Need(HeadSize % 2 == 0, $"head size {HeadSize} must be even for rotary embeddings");
        Need(HeadSize <= LLaDA.Tensors.AttentionShape.MaxHeadSize, $"head size {HeadSize} exceeds {LLaDA.Tensors.AttentionShape.MaxHeadSize}");
        Need(NHeads % KvHeads == 0, $"n_heads {NHeads} is not a multiple of n_kv_heads {KvHeads}");
        foreach (var (field, id) in new[] { ("mask_token_id", (int?)MaskTokenId), ("eos_token_id", EosTokenId), ("pad_token_id", PadTokenId), ("bos_token_id", BosTokenId) })
            Need(id is null || (id >= 0 && id < Rows), $"{field} {id} is outside the embedding ({Rows} rows)");
        Need(BlockType == "llama", $"block_type '{BlockType}' is not supported (only 'llama')");
        if (UnsupportedConfigFields.FirstProblem(Extra) is string problem) Need(false, problem);
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
            // A wrong-typed or out-of-range field: name it (System.Text.Json's path is "$.field").
            throw new ConfigException(e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal)
                ? $"config: field '{path[2..]}' has a value of the wrong type or out of range ({e.Message})"
                : $"config: malformed JSON ({e.Message})");
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
