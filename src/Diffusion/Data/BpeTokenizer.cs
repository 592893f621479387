using System.Runtime.InteropServices;
using System.Text;
using LLaDA.Diffusion.Data.Bpe;
using MlBpe = Microsoft.ML.Tokenizers.BpeTokenizer;

namespace LLaDA.Diffusion.Data;

/// <summary>A Hugging Face <c>tokenizer.json</c> byte-level BPE tokenizer (LLaDA, LLaMA-3, Qwen…) that gives exactly the ids of the Rust tokenizers library.</summary>
/// <remarks>
/// <para>Encoding follows the reference pipeline: added tokens are cut out of the raw text first (leftmost, longest first),
/// the pieces between them are normalized (then searched for <c>normalized</c> added tokens), pre-tokenized, mapped to
/// byte-level characters and merged by the BPE model. <see cref="Encode"/> never adds BOS/EOS (the post-processor is not run):
/// callers add <see cref="Specials"/> ids themselves.</para>
/// <para>The BPE merge loop is Microsoft.ML.Tokenizers' <c>BpeTokenizer</c>, fed one byte-level pre-token at a time. The rest is
/// written here, where the library has no equivalent of the reference: tokenizer.json reading and validation, added tokens
/// matched in the raw text (with lstrip/rstrip/single_word/normalized), NFC with the reference's Unicode 9.0 tables, regex
/// splitting over code points rather than UTF-16 units, the ByteLevel pre-tokenizer options, <c>ignore_merges</c>, and a decoder
/// that keeps non-special added tokens under <c>skipSpecial</c> and falls back to a token's own UTF-8 as the reference does.</para>
/// <para>Instances are immutable and safe to use from several threads.</para>
/// </remarks>
public sealed partial class BpeTokenizer : ITokenizer
{
    private readonly Dictionary<string, int> _vocab;          // model vocabulary (byte-level strings)
    private readonly Dictionary<string, int> _added;          // added tokens (and a made-up mask token) by content
    private readonly MlBpe _bpe;                               // the merge loop
    private readonly bool _ignoreMerges;
    private readonly string?[] _tokens;                        // id → token (added tokens win over the model's)
    private readonly bool[] _special;                          // id → is a special added token
    private readonly AddedTokenMatcher _rawAdded;              // added tokens with normalized = false
    private readonly AddedTokenMatcher _normalizedAdded;       // added tokens with normalized = true (matched by their normalized form)
    private readonly Func<string, string>? _normalizer;
    private readonly PreTokenizerStep[] _preTokenizer;

    private BpeTokenizer(Dictionary<string, int> vocab, Dictionary<string, int> added, MlBpe bpe, bool ignoreMerges, string?[] tokens, bool[] special,
        AddedTokenMatcher rawAdded, AddedTokenMatcher normalizedAdded, Func<string, string>? normalizer, PreTokenizerStep[] preTokenizer,
        SpecialTokens specials)
    {
        _vocab = vocab;
        _added = added;
        _bpe = bpe;
        _ignoreMerges = ignoreMerges;
        _tokens = tokens;
        _special = special;
        _rawAdded = rawAdded;
        _normalizedAdded = normalizedAdded;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        Specials = specials;
    }

    /// <summary>One more than the largest id (model vocabulary, added tokens and, if it had to be made up, the mask token).</summary>
    public int VocabSize => _tokens.Length;

    public SpecialTokens Specials { get; }

    /// <summary>The token string of an id (byte-level characters for model tokens, plain text for added tokens).</summary>
    public string Token(int id) =>
        (uint)id < (uint)_tokens.Length && _tokens[id] is { } t ? t : throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is not in the vocabulary");

    /// <summary>The id of a token string (an added token's content or a model token in byte-level characters), or null.</summary>
    public int? TokenToId(string token) =>
        _added.TryGetValue(token, out int a) ? a : _vocab.TryGetValue(token, out int v) ? v : null;

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = ReplaceLoneSurrogates(text);
        var ids = new List<int>(text.Length / 2 + 4);
        var raw = new List<(string Text, AddedToken? Token)>();
        var normalizedParts = new List<(string Text, AddedToken? Token)>();
        var pieces = new List<string>();
        var next = new List<string>();
        _rawAdded.Split(text, raw);
        foreach (var (part, token) in raw)
        {
            if (token is not null) { ids.Add(token.Id); continue; }
            string normalized = _normalizer is null ? part : _normalizer(part);
            normalizedParts.Clear();
            _normalizedAdded.Split(normalized, normalizedParts);
            foreach (var (piece, token2) in normalizedParts)
            {
                if (token2 is not null) { ids.Add(token2.Id); continue; }
                pieces.Clear();
                pieces.Add(piece);
                foreach (var step in _preTokenizer)
                {
                    next.Clear();
                    foreach (var p in pieces) step.Apply(p, next);
                    (pieces, next) = (next, pieces);
                }
                foreach (var word in pieces) EncodeWord(word, ids);
            }
        }
        return ids.ToArray();
    }

    /// <summary>Decodes ids to text as the reference ByteLevel decoder: the tokens' bytes are joined and read as UTF-8, invalid sequences becoming U+FFFD.</summary>
    /// <param name="skipSpecial">Drop added tokens marked special (non-special added tokens such as &lt;think&gt; stay).</param>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary (the reference would skip it silently).</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokens.Length || _tokens[id] is not { } token)
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is not in the vocabulary ({_tokens.Length})");
            if (skipSpecial && _special[id]) continue;
            ByteLevelAlphabet.AppendBytes(token, bytes);
        }
        return Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>BPE of one byte-level pre-token (with <c>ignore_merges</c>, a pre-token that is itself in the vocabulary is one token).</summary>
    private void EncodeWord(string word, List<int> ids)
    {
        if (_ignoreMerges && _vocab.TryGetValue(word, out int id)) { ids.Add(id); return; }
        foreach (int i in _bpe.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false)) ids.Add(i);
    }

    /// <summary>Lone surrogates (impossible in the reference's Rust strings) become U+FFFD.</summary>
    private static string ReplaceLoneSurrogates(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            var chars = text.ToCharArray();
            for (int j = i; j < chars.Length; j++)
            {
                if (!char.IsSurrogate(chars[j])) continue;
                if (char.IsHighSurrogate(chars[j]) && j + 1 < chars.Length && char.IsLowSurrogate(chars[j + 1])) { j++; continue; }
                chars[j] = '\uFFFD';
            }
            return new string(chars);
        }
        return text;
    }
}
