using System.Globalization;
using System.Text;

namespace LLaDA.Diffusion.Data.Bpe;

/// <summary>One entry of <c>added_tokens</c> in tokenizer.json.</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord, bool LStrip, bool RStrip, bool Normalized);

/// <summary>Finds added tokens in a text, leftmost first and longest first at a position, as the reference's AddedVocabulary does.</summary>
/// <remarks>
/// A match failing <c>single_word</c> is dropped (its text stays ordinary text); <c>lstrip</c>/<c>rstrip</c> widen a match over the
/// whitespace before/after it. Word characters for <c>single_word</c> are letters, marks, decimal digits, letter numbers and
/// connector punctuation (close to Rust's Unicode <c>\w</c>, which adds a few Alphabetic symbols).
/// </remarks>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, (string Pattern, AddedToken Token)[]> _byFirstChar;

    /// <param name="tokens">The tokens with the text to look for: their content, or their normalized content for normalized tokens.</param>
    public AddedTokenMatcher(IEnumerable<(string Pattern, AddedToken Token)> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Pattern.Length > 0)
            .GroupBy(t => t.Pattern[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Pattern.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>Cuts a text into (piece, token) parts that cover it: token is null for ordinary text; empty pieces are omitted.</summary>
    public void Split(string text, List<(string Text, AddedToken? Token)> into)
    {
        if (_byFirstChar.Count == 0)
        {
            if (text.Length > 0) into.Add((text, null));
            return;
        }
        int done = 0; // end of the last emitted part
        int i = 0;
        while (i < text.Length)
        {
            if (!_byFirstChar.TryGetValue(text[i], out var candidates)) { i++; continue; }
            (string Pattern, AddedToken Token)? hit = null;
            foreach (var c in candidates)
                if (text.AsSpan(i).StartsWith(c.Pattern, StringComparison.Ordinal)) { hit = c; break; }
            if (hit is null) { i++; continue; }

            var (pattern, token) = hit.Value;
            int start = i, stop = i + pattern.Length;
            i = stop; // the search resumes after the raw match, whatever becomes of it
            if (start < done) continue; // already swallowed by the previous token's rstrip
            if (token.SingleWord && ((start > 0 && IsWordCharBefore(text, start)) || (stop < text.Length && IsWordCharAt(text, stop))))
                continue;
            if (token.LStrip)
                while (start > done && char.IsWhiteSpace(text[start - 1])) start--;
            if (token.RStrip)
                while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
            if (done < start) into.Add((text[done..start], null));
            into.Add((text[start..stop], token));
            done = stop;
            i = Math.Max(i, stop);
        }
        if (done < text.Length) into.Add((done == 0 ? text : text[done..], null));
    }

    private static bool IsWordCharAt(string text, int i) => Rune.TryGetRuneAt(text, i, out var r) && IsWordRune(r);

    private static bool IsWordCharBefore(string text, int i)
    {
        int j = i - 1;
        if (char.IsLowSurrogate(text[j]) && j > 0 && char.IsHighSurrogate(text[j - 1])) j--;
        return IsWordCharAt(text, j);
    }

    private static bool IsWordRune(Rune r) => Rune.GetUnicodeCategory(r) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation => true,
        _ => r.Value is 0x200C or 0x200D,
    };
}
