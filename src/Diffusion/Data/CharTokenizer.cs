using System.Text;
using System.Text.Json;

namespace LLaDA.Diffusion.Data;

/// <summary>One token per Unicode scalar (rune), for Chinese poems: four special tokens, then the corpus's characters in code-point order.</summary>
/// <remarks>Ids: 0 &lt;|endoftext|&gt; (EOS = PAD), 1 &lt;|startoftext|&gt; (BOS), 2 &lt;|mdm_mask|&gt;, 3 &lt;|unk|&gt;, then characters.</remarks>
public sealed class CharTokenizer : ITokenizer
{
    public const string EosToken = "<|endoftext|>", BosToken = "<|startoftext|>", MaskToken = "<|mdm_mask|>", UnkToken = "<|unk|>";
    private static readonly string[] SpecialNames = [EosToken, BosToken, MaskToken, UnkToken];

    private readonly string[] _tokens;
    private readonly Dictionary<int, int> _ids = new(); // rune value → id

    private CharTokenizer(string[] tokens)
    {
        _tokens = tokens;
        for (int i = 0; i < SpecialNames.Length; i++)
            if (tokens.Length <= i || tokens[i] != SpecialNames[i])
                throw new InvalidDataException($"char tokenizer: token {i} must be {SpecialNames[i]}");
        for (int i = SpecialNames.Length; i < tokens.Length; i++)
        {
            var s = tokens[i];
            if (!Rune.TryGetRuneAt(s, 0, out var r) || r.Utf16SequenceLength != s.Length)
                throw new InvalidDataException($"char tokenizer: token {i} '{s}' is not a single character");
            if (!_ids.TryAdd(r.Value, i)) throw new InvalidDataException($"char tokenizer: character '{s}' appears twice");
        }
        Specials = new SpecialTokens(Eos: 0, Mask: 2, Bos: 1, Pad: 0, Unknown: 3);
    }

    public int VocabSize => _tokens.Length;
    public SpecialTokens Specials { get; }

    /// <summary>A vocabulary of every character in the texts (sorted by code point, so it does not depend on text order).</summary>
    public static CharTokenizer Build(IEnumerable<string> texts)
    {
        var set = new SortedSet<int>();
        foreach (var t in texts)
            foreach (var r in t.EnumerateRunes()) set.Add(r.Value);
        return new CharTokenizer([.. SpecialNames, .. set.Select(v => new Rune(v).ToString())]);
    }

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (var r in text.EnumerateRunes()) ids.Add(_ids.TryGetValue(r.Value, out int id) ? id : Specials.Unknown!.Value);
        return ids.ToArray();
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokens.Length) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary ({_tokens.Length})");
            if (skipSpecial && id < SpecialNames.Length) continue;
            sb.Append(_tokens[id]);
        }
        return sb.ToString();
    }

    /// <summary>The token string of an id.</summary>
    public string Token(int id) => _tokens[id];

    public string ToJson() => JsonSerializer.Serialize(new { type = "char", tokens = _tokens }, new JsonSerializerOptions { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public static CharTokenizer FromJson(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (!root.TryGetProperty("type", out var type) || type.GetString() != "char")
                throw new InvalidDataException("char tokenizer: missing \"type\": \"char\"");
            var tokens = root.GetProperty("tokens").EnumerateArray().Select(e => e.GetString() ?? throw new InvalidDataException("char tokenizer: null token")).ToArray();
            return new CharTokenizer(tokens);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"char tokenizer: malformed JSON ({e.Message})");
        }
    }
}
