using System.Text.Json;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Sampling.Policies;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;

namespace LLaDA;

/// <summary>A checkpoint's generation_config.json: the special ids it names and the sampler defaults it sets.</summary>
/// <remarks>
/// <para>LLaDA-8B-Instruct's file holds only <c>bos_token_id</c>, <c>eos_token_id</c>, <c>pad_token_id</c>, <c>_from_model_config</c>
/// and <c>transformers_version</c>: the ids are checked against the tokenizer (a BOS or pad that disagrees is refused), every
/// <c>eos_token_id</c> (a number or a list) ends the answer, and the sampler keeps its built-in defaults.</para>
/// <para>Sampler defaults it may set: Hugging Face's <c>max_new_tokens</c>, <c>do_sample</c> (false = greedy) and <c>temperature</c>
/// (when sampling), and LLaDA generate.py's / Fast-dLLM's parameter names <c>gen_length</c>, <c>steps</c>, <c>block_length</c>,
/// <c>cfg_scale</c>, <c>remasking</c>, <c>threshold</c>, <c>factor</c>, <c>use_cache</c> ("none", "prefix", "dual" or a boolean =
/// dual/none), <c>logits_eos_inf</c>, <c>confidence_eos_eot_inf</c>. Options given to a call override them
/// (<see cref="GenerationOptions"/>).</para>
/// <para>Hugging Face settings that change autoregressive sampling in ways this sampler does not implement (top_k, top_p, typical_p,
/// min_p, repetition_penalty, num_beams, no_repeat_ngram_size, min_new_tokens, min_length, max_length, num_return_sequences,
/// bad_words_ids, …) are refused when set to anything but their neutral value, never silently ignored. Other keys
/// (output flags, return_dict_in_generate…) do not change the tokens and are ignored.</para>
/// </remarks>
public sealed record GenerationDefaults(GenerationOptions Options, IReadOnlyList<int> EosTokenIds, int? BosTokenId, int? PadTokenId)
{
    public const string File = "generation_config.json";

    public static readonly GenerationDefaults None = new(new GenerationOptions(), [], null, null);

    /// <summary>The settings neutral in Hugging Face's generate and the value each must have here.</summary>
    private static readonly Dictionary<string, Func<JsonElement, bool>> NeutralOnly = new()
    {
        ["top_k"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 0),
        ["top_p"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 1),
        ["typical_p"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 1),
        ["min_p"] = e => e.ValueKind == JsonValueKind.Null,
        ["epsilon_cutoff"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 0),
        ["eta_cutoff"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 0),
        ["repetition_penalty"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 1),
        ["encoder_repetition_penalty"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 1),
        ["num_beams"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 1),
        ["num_beam_groups"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 1),
        ["penalty_alpha"] = e => e.ValueKind == JsonValueKind.Null,
        ["no_repeat_ngram_size"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 0),
        ["min_new_tokens"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 0),
        ["min_length"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 0),
        ["max_length"] = e => e.ValueKind == JsonValueKind.Null,
        ["num_return_sequences"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 1),
        ["bad_words_ids"] = e => e.ValueKind == JsonValueKind.Null,
        ["force_words_ids"] = e => e.ValueKind == JsonValueKind.Null,
        ["suppress_tokens"] = e => e.ValueKind == JsonValueKind.Null,
        ["begin_suppress_tokens"] = e => e.ValueKind == JsonValueKind.Null,
        ["forced_bos_token_id"] = e => e.ValueKind == JsonValueKind.Null,
        ["forced_eos_token_id"] = e => e.ValueKind == JsonValueKind.Null,
        ["sequence_bias"] = e => e.ValueKind == JsonValueKind.Null,
        ["guidance_scale"] = e => e.ValueKind == JsonValueKind.Null || (e.ValueKind == JsonValueKind.Number && e.GetDouble() == 1),
        ["watermarking_config"] = e => e.ValueKind == JsonValueKind.Null,
    };

    /// <summary>The defaults of a directory: its generation_config.json, or <see cref="None"/> without one.</summary>
    public static GenerationDefaults Load(string dir)
    {
        string path = Path.Combine(dir, File);
        return System.IO.File.Exists(path) ? Parse(InputFile.ReadText(path, "generation config"), path) : None;
    }

    /// <summary>Parses a generation_config.json text; <see cref="InvalidDataException"/> naming the field for a bad or unsupported value.</summary>
    public static GenerationDefaults Parse(string json, string source = File)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}: the root is not a JSON object");
            InvalidDataException Bad(string field, JsonElement v, string why) => new($"{source}: {field} {v.GetRawText()} {why}");
            foreach (var p in root.EnumerateObject())
                if (NeutralOnly.TryGetValue(p.Name, out var neutral) && !neutral(p.Value))
                    throw Bad(p.Name, p.Value, "is not supported by the diffusion sampler (only its neutral value is accepted)");

            int? Int(string field, int min)
            {
                if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i) || i < min) throw Bad(field, v, $"is not an integer ≥ {min}");
                return i;
            }
            double? Real(string field)
            {
                if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                if (v.ValueKind != JsonValueKind.Number || !double.IsFinite(v.GetDouble())) throw Bad(field, v, "is not a finite number");
                return v.GetDouble();
            }
            bool? Bool(string field)
            {
                if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                return v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Bad(field, v, "is not true or false") };
            }

            var eos = new List<int>();
            if (root.TryGetProperty("eos_token_id", out var e) && e.ValueKind != JsonValueKind.Null)
            {
                if (e.ValueKind == JsonValueKind.Array)
                {
                    foreach (var x in e.EnumerateArray())
                        eos.Add(x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int id) && id >= 0 ? id : throw Bad("eos_token_id", e, "is not a list of token ids"));
                }
                else eos.Add(e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) && id >= 0 ? id : throw Bad("eos_token_id", e, "is not a token id or a list of them"));
            }

            int? maxNew = Int("max_new_tokens", 1), genLength = Int("gen_length", 1);
            if (maxNew is not null && genLength is not null && maxNew != genLength)
                throw new InvalidDataException($"{source}: max_new_tokens {maxNew} and gen_length {genLength} disagree");
            bool? doSample = Bool("do_sample");
            double? temperature = Real("temperature");
            if (temperature is < 0) throw new InvalidDataException($"{source}: temperature {temperature} is negative");

            Remasking? remasking = null;
            if (root.TryGetProperty("remasking", out var rm) && rm.ValueKind != JsonValueKind.Null)
            {
                if (rm.ValueKind != JsonValueKind.String) throw Bad("remasking", rm, "is not a string");
                string name = rm.GetString()!;
                try
                {
                    remasking = name == "low_confidence" ? Diffusion.Sampling.Remasking.LowConfidence : UnmaskingPolicies.Parse(name);
                }
                catch (ArgumentException)
                {
                    throw Bad("remasking", rm, $"is not one of low_confidence|{UnmaskingPolicies.Names}");
                }
            }

            CacheMode? cache = null;
            if (root.TryGetProperty("use_cache", out var uc) && uc.ValueKind != JsonValueKind.Null)
                cache = uc.ValueKind switch
                {
                    // Hugging Face's own use_cache (autoregressive KV cache) is a boolean: true = Fast-dLLM's dual cache here.
                    JsonValueKind.True => CacheMode.Dual,
                    JsonValueKind.False => CacheMode.None,
                    JsonValueKind.String => uc.GetString() switch
                    {
                        "none" => CacheMode.None,
                        "prefix" => CacheMode.Prefix,
                        "dual" => CacheMode.Dual,
                        _ => throw Bad("use_cache", uc, "is not none, prefix, dual or a boolean"),
                    },
                    _ => throw Bad("use_cache", uc, "is not none, prefix, dual or a boolean"),
                };

            var options = new GenerationOptions
            {
                GenLength = maxNew ?? genLength,
                Steps = Int("steps", 1),
                BlockLength = Int("block_length", 1),
                Temperature = doSample == false ? 0 : temperature ?? (doSample == true ? 1.0 : null),
                CfgScale = Real("cfg_scale"),
                Remasking = remasking,
                Threshold = Real("threshold"),
                Factor = Real("factor"),
                Cache = cache,
                LogitsEosInf = Bool("logits_eos_inf"),
                ConfidenceEosEotInf = Bool("confidence_eos_eot_inf"),
            };
            return new GenerationDefaults(options, eos, Int("bos_token_id", 0), Int("pad_token_id", 0));
        }
    }
}
