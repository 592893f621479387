namespace LLaDA.Diffusion.Data.Bpe;

/// <summary>How a Split pre-tokenizer treats the pieces its pattern matches (Hugging Face's SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>One step of a Hugging Face pre-tokenizer: turns each current piece of text into zero or more pieces.</summary>
internal abstract class PreTokenizerStep
{
    /// <summary>Appends the pieces that <paramref name="piece"/> becomes (empty pieces are dropped, as the reference does).</summary>
    public abstract void Apply(string piece, List<string> into);

    /// <summary>Splits a text at the matches of a pattern, as the reference's <c>NormalizedString::split</c>.</summary>
    protected static void SplitByMatches(string text, List<(int Start, int End)> matches, SplitBehavior behavior, bool invert, List<string> into)
    {
        // The pattern covers the text with contiguous (start, end, isMatch) pieces.
        var parts = new List<(int Start, int End, bool IsMatch)>(2 * matches.Count + 1);
        int prev = 0;
        foreach (var (s, e) in matches)
        {
            if (prev != s) parts.Add((prev, s, invert));
            parts.Add((s, e, !invert));
            prev = e;
        }
        if (prev != text.Length) parts.Add((prev, text.Length, invert));

        var kept = new List<(int Start, int End)>(parts.Count);
        bool previousMatch = false;
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var p in parts) if (!p.IsMatch) kept.Add((p.Start, p.End));
                break;
            case SplitBehavior.Isolated:
                foreach (var p in parts) kept.Add((p.Start, p.End));
                break;
            case SplitBehavior.Contiguous:
                foreach (var p in parts)
                {
                    if (p.IsMatch == previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, p.End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                break;
            case SplitBehavior.MergedWithPrevious:
                foreach (var p in parts)
                {
                    if (p.IsMatch && !previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, p.End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                break;
            case SplitBehavior.MergedWithNext:
                for (int i = parts.Count - 1; i >= 0; i--)
                {
                    var p = parts[i];
                    if (p.IsMatch && !previousMatch && kept.Count > 0) kept[^1] = (p.Start, kept[^1].End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                kept.Reverse();
                break;
        }
        foreach (var (s, e) in kept)
            if (e > s) into.Add(s == 0 && e == text.Length ? text : text[s..e]);
    }
}

/// <summary>The Split pre-tokenizer: a regex (or a literal string) with a delimiter behavior, optionally inverted.</summary>
internal sealed class SplitStep(CodePointRegex regex, SplitBehavior behavior, bool invert) : PreTokenizerStep
{
    private readonly CodePointRegex _regex = regex;
    private readonly SplitBehavior _behavior = behavior;
    private readonly bool _invert = invert;

    public override void Apply(string piece, List<string> into)
    {
        var matches = new List<(int, int)>();
        _regex.Matches(piece, matches);
        SplitByMatches(piece, matches, _behavior, _invert, into);
    }
}

/// <summary>The ByteLevel pre-tokenizer: an optional leading space, an optional split by the GPT-2 regex, then the byte-level mapping of each piece.</summary>
internal sealed class ByteLevelStep(bool addPrefixSpace, bool useRegex) : PreTokenizerStep
{
    /// <summary>GPT-2's pre-tokenizer regex (the reference's ByteLevel <c>use_regex</c>).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly Lazy<CodePointRegex> Gpt2 = new(() => new CodePointRegex(Gpt2Pattern));
    private readonly bool _addPrefixSpace = addPrefixSpace;
    private readonly bool _useRegex = useRegex;

    public override void Apply(string piece, List<string> into)
    {
        if (_addPrefixSpace && !piece.StartsWith(' ')) piece = " " + piece;
        if (!_useRegex)
        {
            if (piece.Length > 0) into.Add(ByteLevelAlphabet.Encode(piece));
            return;
        }
        var pieces = new List<string>();
        var matches = new List<(int, int)>();
        Gpt2.Value.Matches(piece, matches);
        SplitByMatches(piece, matches, SplitBehavior.Isolated, invert: false, pieces);
        foreach (var p in pieces) into.Add(ByteLevelAlphabet.Encode(p));
    }
}
