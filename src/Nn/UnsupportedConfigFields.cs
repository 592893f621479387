using System.Text.Json;

namespace LLaDA.Nn;

/// <summary>The config.json fields of LLaDA/OLMo configs that change the math and have exactly one implemented value:
/// any other value is refused by name, never silently ignored (SPEC §4.1 lists LLaDA-8B's values).</summary>
/// <remarks>Fields that do not change the forward (init_*, precision, flash_attention, use_cache, mlp_ratio when
/// mlp_hidden_size is given, rope_full_precision — rotary embeddings are always computed in f32) are accepted as is.</remarks>
public static class UnsupportedConfigFields
{
    private enum Want
    {
        FalseOrNull,
        TrueOrNull,
        Null,
        ZeroOrNull,
        OneOrNull,
        Rms,
        Silu,
    }

    /// <summary>Field → the only implemented value and what the other values would mean.</summary>
    private static readonly (string Field, Want Want, string Meaning)[] Table =
    [
        ("scale_logits", Want.FalseOrNull, "logit scaling by 1/√d_model is not implemented"),
        ("input_emb_norm", Want.FalseOrNull, "embedding scaling by √d_model is not implemented"),
        ("layer_norm_type", Want.Rms, "only RMSNorm is implemented"),
        ("layer_norm_with_affine", Want.TrueOrNull, "norms without a learned scale are not implemented"),
        ("bias_for_layer_norm", Want.FalseOrNull, "norm biases are not implemented"),
        ("include_bias", Want.FalseOrNull, "linear-layer biases are not implemented"),
        ("include_qkv_bias", Want.FalseOrNull, "query/key/value biases are not implemented"),
        ("attention_layer_norm", Want.FalseOrNull, "query/key layer norms are not implemented"),
        ("activation_type", Want.Silu, "only the SiLU-gated MLP is implemented"),
        ("alibi", Want.FalseOrNull, "ALiBi attention biases are not implemented"),
        ("rope", Want.TrueOrNull, "the model always applies rotary embeddings"),
        ("rope_scaling", Want.Null, "rotary scaling is not implemented"),
        ("clip_qkv", Want.Null, "query/key/value clipping is not implemented"),
        ("multi_query_attention", Want.FalseOrNull, "use n_kv_heads for grouped-query attention"),
        ("norm_after", Want.FalseOrNull, "post-norm blocks are not implemented"),
        ("block_group_size", Want.OneOrNull, "grouped blocks are not implemented"),
        ("attention_dropout", Want.ZeroOrNull, "dropout is not implemented"),
        ("residual_dropout", Want.ZeroOrNull, "dropout is not implemented"),
        ("embedding_dropout", Want.ZeroOrNull, "dropout is not implemented"),
    ];

    /// <summary>The names of every refused-unless-default field (for documentation and tests).</summary>
    public static IEnumerable<string> Fields => Table.Select(t => t.Field);

    /// <summary>Null when every listed field in <paramref name="extra"/> has its implemented value, else a message naming the first that does not.</summary>
    public static string? FirstProblem(IReadOnlyDictionary<string, JsonElement>? extra)
    {
        if (extra is null) return null;
        foreach (var (field, want, meaning) in Table)
        {
            if (!extra.TryGetValue(field, out var v) || Accepts(want, v)) continue;
            return $"{field} {Show(v)} is not supported (only {Expected(want)}): {meaning}";
        }
        return null;
    }

    private static bool Accepts(Want want, JsonElement v) => want switch
    {
        Want.FalseOrNull => v.ValueKind is JsonValueKind.False or JsonValueKind.Null,
        Want.TrueOrNull => v.ValueKind is JsonValueKind.True or JsonValueKind.Null,
        Want.Null => v.ValueKind == JsonValueKind.Null,
        Want.ZeroOrNull => v.ValueKind == JsonValueKind.Null || (v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0),
        Want.OneOrNull => v.ValueKind == JsonValueKind.Null || (v.ValueKind == JsonValueKind.Number && v.GetDouble() == 1),
        Want.Rms => v.ValueKind == JsonValueKind.String && v.GetString() == "rms",
        Want.Silu => v.ValueKind == JsonValueKind.String && v.GetString() == "silu",
        _ => false,
    };

    private static string Expected(Want want) => want switch
    {
        Want.FalseOrNull => "false",
        Want.TrueOrNull => "true",
        Want.Null => "null",
        Want.ZeroOrNull => "0",
        Want.OneOrNull => "1",
        Want.Rms => "\"rms\"",
        Want.Silu => "\"silu\"",
        _ => "?",
    };

    private static string Show(JsonElement v)
    {
        string raw = v.GetRawText();
        return raw.Length <= 60 ? raw : raw[..57] + "...";
    }
}
