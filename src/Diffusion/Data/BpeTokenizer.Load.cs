using System.Text.Json;
using LLaDA.Nn.Serialization;
using System.Text.RegularExpressions;
using LLaDA.Diffusion.Data.Bpe;
using LLaDA.Diffusion.Data.Unicode;
using Microsoft.ML.Tokenizers;
using MlBpe = Microsoft.ML.Tokenizers.BpeTokenizer;

namespace LLaDA.Diffusion.Data;

public sealed partial class BpeTokenizer
{
    /// <summary>The mask token's name when neither the caller nor tokenizer_config.json names one.</summary>
    public const string DefaultMaskToken = "<|mdm_mask|>";

    private static readonly string[] WellKnownEos = ["<|endoftext|>", "<|end_of_text|>"];
    private static readonly string[] WellKnownBos = ["<|startoftext|>", "<|begin_of_text|>"];
    private static readonly string[] WellKnownEndOfTurn = ["<|eot_id|>", "<|im_end|>"];
    private static readonly string[] WellKnownMask = [DefaultMaskToken, "<|mask|>"];

    /// <summary>Loads a Hugging Face tokenizer.json (byte-level BPE) and, optionally, the tokenizer_config.json that names its special tokens.</summary>
    /// <param name="tokenizerJsonPath">The tokenizer.json file.</param>
    /// <param name="tokenizerConfigPath">tokenizer_config.json: bos_token, eos_token, pad_token, unk_token and mask_token come from it when present.</param>
    /// <param name="maskToken">The mask token's name, overriding the config's.</param>
    /// <remarks>
    /// <para>Special tokens not named by the config come from well-known added tokens: EOS &lt;|endoftext|&gt; or &lt;|end_of_text|&gt;
    /// (required), BOS &lt;|startoftext|&gt; or &lt;|begin_of_text|&gt;, end of turn &lt;|eot_id|&gt; or &lt;|im_end|&gt;, mask
    /// <see cref="DefaultMaskToken"/> or &lt;|mask|&gt; (LLaDA 2). Pad stays null (LLaDA pads with EOS) unless the config names one.</para>
    /// <para>When the mask token is in neither the added tokens nor the vocabulary (Qwen3, LLaMA-3…), it is made up: it gets the id
    /// one past the largest id, so <see cref="VocabSize"/> grows by one and the model needs that embedding row. It is special
    /// for <see cref="Decode"/> but is never produced by <see cref="Encode"/>: its name in a text stays ordinary text, as in the reference.</para>
    /// </remarks>
    /// <exception cref="InvalidDataException">A file is malformed or uses a feature this loader does not support (the message says which).</exception>
    public static BpeTokenizer Load(string tokenizerJsonPath, string? tokenizerConfigPath = null, string? maskToken = null) =>
        Parse(InputFile.ReadText(tokenizerJsonPath, "tokenizer"), tokenizerConfigPath is null ? null : InputFile.ReadText(tokenizerConfigPath, "tokenizer config"), maskToken);

    /// <summary>As <see cref="Load"/>, from the JSON texts.</summary>
    public static BpeTokenizer Parse(string tokenizerJson, string? tokenizerConfigJson = null, string? maskToken = null)
    {
        using var doc = ParseJson(tokenizerJson, "tokenizer.json");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw Bad("the root is not a JSON object");

        // Model.
        var model = Prop(root, "model") ?? throw Bad("no \"model\"");
        if (model.ValueKind != JsonValueKind.Object) throw Bad("\"model\" is not an object");
        string type = Prop(model, "type") is { } t ? Str(t, "model.type")
            : Prop(model, "merges") is not null ? "BPE" : throw Bad("the model has no \"type\"");
        if (type != "BPE") throw Bad($"unsupported model type '{type}' (only BPE is supported)");

        var vocabJson = Prop(model, "vocab") ?? throw Bad("the model has no \"vocab\"");
        if (vocabJson.ValueKind != JsonValueKind.Object) throw Bad("model.vocab is not an object");
        var vocab = new Dictionary<string, int>();
        var byId = new Dictionary<int, string>();
        foreach (var p in vocabJson.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                throw Bad($"model.vocab: the id of '{p.Name}' is not a non-negative integer");
            if (!vocab.TryAdd(p.Name, id)) throw Bad($"model.vocab: '{p.Name}' appears twice");
            if (!byId.TryAdd(id, p.Name)) throw Bad($"model.vocab: id {id} is used by both '{byId[id]}' and '{p.Name}'");
        }
        if (vocab.Count == 0) throw Bad("model.vocab is empty");

        if (Prop(model, "dropout") is { } dropout && (dropout.ValueKind != JsonValueKind.Number || dropout.GetDouble() != 0))
            throw Bad("model.dropout is set: BPE dropout (random merges) is not supported");
        string? unk = OptStr(model, "unk_token", "model.unk_token");
        if (unk is not null && !vocab.ContainsKey(unk)) throw Bad($"model.unk_token '{unk}' is not in the vocabulary");
        string? prefix = OptStr(model, "continuing_subword_prefix", "model.continuing_subword_prefix");
        string? suffix = OptStr(model, "end_of_word_suffix", "model.end_of_word_suffix");
        if (prefix == "") prefix = null;
        if (suffix == "") suffix = null;
        bool ignoreMerges = OptBool(model, "ignore_merges", false, "model.ignore_merges");
        bool fuseUnk = OptBool(model, "fuse_unk", false, "model.fuse_unk");
        if (OptBool(model, "byte_fallback", false, "model.byte_fallback"))
            foreach (char c in ByteLevelAlphabet.ByteToChar)
                if (!vocab.ContainsKey(c.ToString()))
                    throw Bad($"model.byte_fallback is set and the byte-level character '{c}' is not in the vocabulary: byte fallback is not supported");

        var merges = ReadMerges(model, vocab, prefix);

        // Added tokens.
        var addedTokens = new List<AddedToken>();
        var added = new Dictionary<string, int>();
        if (Prop(root, "added_tokens") is { } addedJson)
        {
            if (addedJson.ValueKind != JsonValueKind.Array) throw Bad("\"added_tokens\" is not an array");
            int k = 0;
            foreach (var a in addedJson.EnumerateArray())
            {
                string where = $"added_tokens[{k++}]";
                if (a.ValueKind != JsonValueKind.Object) throw Bad($"{where} is not an object");
                var idJson = Prop(a, "id") ?? throw Bad($"{where} has no \"id\"");
                if (idJson.ValueKind != JsonValueKind.Number || !idJson.TryGetInt32(out int id) || id < 0) throw Bad($"{where}.id is not a non-negative integer");
                string content = Str(Prop(a, "content") ?? throw Bad($"{where} has no \"content\""), $"{where}.content");
                if (content.Length == 0) throw Bad($"{where}.content is empty");
                bool isSpecial = OptBool(a, "special", false, $"{where}.special");
                var token = new AddedToken(id, content, isSpecial,
                    OptBool(a, "single_word", false, $"{where}.single_word"), OptBool(a, "lstrip", false, $"{where}.lstrip"),
                    OptBool(a, "rstrip", false, $"{where}.rstrip"), OptBool(a, "normalized", !isSpecial, $"{where}.normalized"));
                if (!added.TryAdd(content, id)) throw Bad($"{where}: the added token '{content}' appears twice");
                addedTokens.Add(token);
            }
        }

        var normalizer = ReadNormalizer(Prop(root, "normalizer"), "normalizer");
        var preTokenizer = new List<PreTokenizerStep>();
        ReadPreTokenizer(Prop(root, "pre_tokenizer") ?? throw Bad("no \"pre_tokenizer\": only byte-level BPE (with a ByteLevel pre-tokenizer) is supported"), "pre_tokenizer", preTokenizer);
        int byteLevels = preTokenizer.Count(s => s is ByteLevelStep);
        if (byteLevels != 1) throw Bad($"the pre_tokenizer has {byteLevels} ByteLevel steps: a byte-level BPE needs exactly one");
        ReadDecoder(Prop(root, "decoder") ?? throw Bad("no \"decoder\": a byte-level BPE needs the ByteLevel decoder"), "decoder");

        // The merge loop: Microsoft.ML.Tokenizers' BPE over byte-level strings (the byte-level mapping is done by the pre-tokenizer).
        MlBpe bpe;
        try
        {
            bpe = MlBpe.Create(new BpeOptions(vocab)
            {
                Merges = merges,
                UnknownToken = unk,
                FuseUnknownTokens = fuseUnk,
                ContinuingSubwordPrefix = prefix,
                EndOfWordSuffix = suffix,
                ByteLevel = false,
            });
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            throw Bad($"the BPE model was rejected by Microsoft.ML.Tokenizers: {e.Message}");
        }

        var rawMatcher = new AddedTokenMatcher(addedTokens.Where(a => !a.Normalized).Select(a => (a.Content, a)));
        var normalizedMatcher = new AddedTokenMatcher(addedTokens.Where(a => a.Normalized).Select(a => (normalizer is null ? a.Content : normalizer(a.Content), a)));

        // Special tokens.
        int Lookup(string name) => added.TryGetValue(name, out int a) ? a : vocab.TryGetValue(name, out int v) ? v : -1;
        int? FirstKnown(string[] names) => names.Select(Lookup).Where(id => id >= 0).Select(id => (int?)id).FirstOrDefault();
        var config = ReadConfig(tokenizerConfigJson);
        int? FromConfig(string key)
        {
            if (config is null || !config.TryGetValue(key, out var name)) return null;
            int id = Lookup(name);
            return id >= 0 ? id : throw new InvalidDataException($"tokenizer_config.json: {key} '{name}' is not in the tokenizer");
        }

        int maxId = Math.Max(vocab.Values.Max(), addedTokens.Count == 0 ? -1 : addedTokens.Max(a => a.Id));
        if (maxId > 4L * (vocab.Count + addedTokens.Count) + 65536)
            throw Bad($"the ids are implausibly sparse: the largest is {maxId} for {vocab.Count + addedTokens.Count} tokens");
        string? maskName = maskToken ?? (config is not null && config.TryGetValue("mask_token", out var m) ? m : null);
        int maskId = maskName is not null ? Lookup(maskName) : FirstKnown(WellKnownMask) ?? -1;
        maskName ??= DefaultMaskToken;
        bool madeUpMask = maskId < 0;
        if (madeUpMask) maskId = ++maxId;

        var tokens = new string?[maxId + 1];
        var special = new bool[maxId + 1];
        foreach (var (s, id) in vocab) tokens[id] = s;
        foreach (var a in addedTokens) { tokens[a.Id] = a.Content; special[a.Id] = a.Special; }
        if (madeUpMask) { tokens[maskId] = maskName; special[maskId] = true; added[maskName] = maskId; }

        int eos = FromConfig("eos_token") ?? FirstKnown(WellKnownEos)
            ?? throw new InvalidDataException($"tokenizer.json: no EOS token ({string.Join(", ", WellKnownEos)} are absent): give the tokenizer_config.json that names eos_token");
        var specials = new SpecialTokens(
            Eos: eos,
            Mask: maskId,
            Bos: FromConfig("bos_token") ?? FirstKnown(WellKnownBos),
            Pad: FromConfig("pad_token"),
            EndOfTurn: FirstKnown(WellKnownEndOfTurn),
            Unknown: FromConfig("unk_token") ?? (unk is null ? null : vocab[unk]));

        return new BpeTokenizer(vocab, added, bpe, ignoreMerges, tokens, special, rawMatcher, normalizedMatcher, normalizer, [.. preTokenizer], specials);
    }

    /// <summary>model.merges as "a b" strings for Microsoft.ML.Tokenizers, checked against the vocabulary; a repeated pair keeps its last rank, as in the reference.</summary>
    private static List<string> ReadMerges(JsonElement model, Dictionary<string, int> vocab, string? prefix)
    {
        var mergesJson = Prop(model, "merges") ?? throw Bad("the model has no \"merges\"");
        if (mergesJson.ValueKind != JsonValueKind.Array) throw Bad("model.merges is not an array");
        var pairs = new List<(string A, string B)>(mergesJson.GetArrayLength());
        int rank = 0;
        foreach (var e in mergesJson.EnumerateArray())
        {
            string a, b;
            if (e.ValueKind == JsonValueKind.String)
            {
                var parts = e.GetString()!.Split(' ');
                if (parts.Length != 2) throw Bad($"model.merges[{rank}] \"{e.GetString()}\" is not two tokens separated by one space");
                (a, b) = (parts[0], parts[1]);
            }
            else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2
                     && e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.String)
                (a, b) = (e[0].GetString()!, e[1].GetString()!);
            else throw Bad($"model.merges[{rank}] is neither an \"a b\" string nor a pair of strings");

            foreach (var s in (string[])[a, b])
                if (!vocab.ContainsKey(s)) throw Bad($"model.merges[{rank}] ('{a}', '{b}') names '{s}', which is not in the vocabulary");
            if (prefix is not null && b.Length < prefix.Length) throw Bad($"model.merges[{rank}]: '{b}' is shorter than continuing_subword_prefix");
            string merged = a + (prefix is null ? b : b[prefix.Length..]);
            if (!vocab.ContainsKey(merged)) throw Bad($"model.merges[{rank}] ('{a}', '{b}') makes '{merged}', which is not in the vocabulary");
            if (a.Contains(' ') || b.Contains(' ')) throw Bad($"model.merges[{rank}]: a token with a space ('{a}', '{b}') cannot be given to Microsoft.ML.Tokenizers");
            pairs.Add((a, b));
            rank++;
        }

        var last = new Dictionary<(string, string), int>(pairs.Count);
        for (int i = 0; i < pairs.Count; i++) last[pairs[i]] = i;
        var merges = new List<string>(last.Count);
        for (int i = 0; i < pairs.Count; i++)
            if (last[pairs[i]] == i) merges.Add(pairs[i].A + " " + pairs[i].B);
        return merges;
    }

    private static Func<string, string>? ReadNormalizer(JsonElement? json, string where)
    {
        if (json is not { } n) return null;
        if (n.ValueKind != JsonValueKind.Object) throw Bad($"{where} is not an object");
        string type = Str(Prop(n, "type") ?? throw Bad($"{where} has no \"type\""), $"{where}.type");
        switch (type)
        {
            case "NFC": return UnicodeNormalizer.Nfc;
            case "NFD": return UnicodeNormalizer.Nfd;
            case "Sequence":
                var list = Prop(n, "normalizers") ?? throw Bad($"{where} (Sequence) has no \"normalizers\"");
                if (list.ValueKind != JsonValueKind.Array) throw Bad($"{where}.normalizers is not an array");
                var steps = list.EnumerateArray().Select((e, i) => ReadNormalizer(e, $"{where}.normalizers[{i}]")).OfType<Func<string, string>>().ToArray();
                return steps.Length == 0 ? null : s => { foreach (var f in steps) s = f(s); return s; };
            default:
                throw Bad($"unsupported normalizer type '{type}' at {where} (supported: NFC, NFD, Sequence)");
        }
    }

    private static void ReadPreTokenizer(JsonElement p, string where, List<PreTokenizerStep> into)
    {
        if (p.ValueKind != JsonValueKind.Object) throw Bad($"{where} is not an object");
        string type = Str(Prop(p, "type") ?? throw Bad($"{where} has no \"type\""), $"{where}.type");
        switch (type)
        {
            case "Sequence":
                var list = Prop(p, "pretokenizers") ?? throw Bad($"{where} (Sequence) has no \"pretokenizers\"");
                if (list.ValueKind != JsonValueKind.Array) throw Bad($"{where}.pretokenizers is not an array");
                int i = 0;
                foreach (var e in list.EnumerateArray()) ReadPreTokenizer(e, $"{where}.pretokenizers[{i++}]", into);
                break;
            case "ByteLevel":
                into.Add(new ByteLevelStep(OptBool(p, "add_prefix_space", true, $"{where}.add_prefix_space"), OptBool(p, "use_regex", true, $"{where}.use_regex")));
                break;
            case "Split":
                var pattern = Prop(p, "pattern") ?? throw Bad($"{where} (Split) has no \"pattern\"");
                string regex = pattern.ValueKind != JsonValueKind.Object ? throw Bad($"{where}.pattern is not an object")
                    : Prop(pattern, "Regex") is { } r ? Str(r, $"{where}.pattern.Regex")
                    : Prop(pattern, "String") is { } s ? Regex.Escape(Str(s, $"{where}.pattern.String"))
                    : throw Bad($"{where}.pattern has neither \"Regex\" nor \"String\"");
                string behaviorName = Str(Prop(p, "behavior") ?? throw Bad($"{where} (Split) has no \"behavior\""), $"{where}.behavior");
                if (!Enum.TryParse<SplitBehavior>(behaviorName, out var behavior) || !Enum.IsDefined(behavior))
                    throw Bad($"{where}.behavior '{behaviorName}' is not one of {string.Join(", ", Enum.GetNames<SplitBehavior>())}");
                CodePointRegex compiled;
                try { compiled = new CodePointRegex(regex); }
                catch (ArgumentException e) { throw Bad($"{where}: the regex does not compile in .NET ({e.Message}): {regex}"); }
                into.Add(new SplitStep(compiled, behavior, OptBool(p, "invert", false, $"{where}.invert")));
                break;
            default:
                throw Bad($"unsupported pre_tokenizer type '{type}' at {where} (supported: Sequence, Split, ByteLevel)");
        }
    }

    private static void ReadDecoder(JsonElement d, string where)
    {
        if (d.ValueKind != JsonValueKind.Object) throw Bad($"{where} is not an object");
        string type = Str(Prop(d, "type") ?? throw Bad($"{where} has no \"type\""), $"{where}.type");
        if (type == "ByteLevel") return;
        if (type == "Sequence" && Prop(d, "decoders") is { ValueKind: JsonValueKind.Array } list && list.GetArrayLength() == 1)
        {
            ReadDecoder(list[0], $"{where}.decoders[0]");
            return;
        }
        throw Bad($"unsupported decoder type '{type}' at {where} (only ByteLevel is supported)");
    }

    /// <summary>The token names of tokenizer_config.json (a name is a string or an object with "content"); null keys are left out.</summary>
    private static Dictionary<string, string>? ReadConfig(string? json)
    {
        if (json is null) return null;
        using var doc = ParseJson(json, "tokenizer_config.json");
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException("tokenizer_config.json: the root is not a JSON object");
        var names = new Dictionary<string, string>();
        foreach (var key in (string[])["bos_token", "eos_token", "pad_token", "unk_token", "mask_token"])
        {
            if (Prop(doc.RootElement, key) is not { } v) continue;
            string? name = v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Object when Prop(v, "content") is { ValueKind: JsonValueKind.String } c => c.GetString(),
                _ => throw new InvalidDataException($"tokenizer_config.json: {key} is neither a string nor an object with \"content\""),
            };
            if (!string.IsNullOrEmpty(name)) names[key] = name;
        }
        return names;
    }

    private static JsonDocument ParseJson(string json, string file)
    {
        try { return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new InvalidDataException($"{file}: malformed JSON ({e.Message})", e); }
    }

    /// <summary>A property's value, or null when it is missing or JSON null.</summary>
    private static JsonElement? Prop(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static string Str(JsonElement e, string where) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Bad($"{where} is not a string");

    private static string? OptStr(JsonElement obj, string name, string where) => Prop(obj, name) is { } v ? Str(v, where) : null;

    private static bool OptBool(JsonElement obj, string name, bool fallback, string where) => Prop(obj, name) switch
    {
        null => fallback,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw Bad($"{where} is not a boolean"),
    };

    private static InvalidDataException Bad(string problem) => new($"tokenizer.json: {problem}");
}
