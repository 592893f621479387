using System.Globalization;
using System.Text.RegularExpressions;

namespace LLaDA.Diffusion.Data.Bpe;

/// <summary>A .NET regex that matches over code points, as Oniguruma does in the reference, instead of over UTF-16 units.</summary>
/// <remarks>
/// .NET sees a character outside the BMP as two surrogates of category Cs, so <c>\p{L}</c> and <c>\p{N}</c> miss astral
/// letters and digits (CJK Ext-B, mathematical alphanumerics…) and the pre-token boundaries move. Texts with such
/// characters are matched through a proxy string holding one UTF-16 unit per code point: BMP units stay, and each astral
/// code point becomes a BMP stand-in of the same general category (never ASCII, never whitespace); match offsets are
/// then mapped back. Patterns whose classes go beyond general categories and whitespace (a literal astral character,
/// a script property) would see the stand-in instead.
/// </remarks>
internal sealed class CodePointRegex
{
    private readonly Regex _regex;

    public CodePointRegex(string pattern)
    {
        Pattern = pattern;
        _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    /// <summary>The pattern as given.</summary>
    public string Pattern { get; }

    /// <summary>Appends the (start, end) UTF-16 offsets of the successive matches in <paramref name="text"/>.</summary>
    public void Matches(string text, List<(int Start, int End)> into)
    {
        int astral = 0;
        foreach (char c in text) if (char.IsHighSurrogate(c)) astral++;
        if (astral == 0)
        {
            foreach (var m in _regex.EnumerateMatches(text)) into.Add((m.Index, m.Index + m.Length));
            return;
        }

        // Proxy: one unit per code point; start[k] is the offset in text of proxy unit k (start[^1] = text.Length).
        var proxy = new char[text.Length];
        var start = new int[text.Length + 1];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            start[n] = i;
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                proxy[n++] = StandIn(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[i + 1])));
                i++;
            }
            else proxy[n++] = c;
        }
        start[n] = text.Length;
        foreach (var m in _regex.EnumerateMatches(proxy.AsSpan(0, n))) into.Add((start[m.Index], start[m.Index + m.Length]));
    }

    /// <summary>A BMP character of the given general category, outside ASCII and not whitespace.</summary>
    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\uA640',
        UnicodeCategory.LowercaseLetter => '\uA641',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u4E00',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u02C2',
        UnicodeCategory.OtherSymbol => '\u00A6',
        UnicodeCategory.Format => '\u2061',
        UnicodeCategory.PrivateUse => '\uE000',
        _ => '\uFFFE', // unassigned (Cn); no astral code point is a separator, control or surrogate
    };
}
