namespace LLaDA.Diffusion.Eval;

/// <summary>Whether a text has the shape of a Tang poem in the bundled format (上句，下句。上句，下句。…), and why not.</summary>
/// <remarks>
/// A poem is shaped when: it is split by ， and 。 into lines that alternate ， then 。 and it ends with 。 (so whole couplets);
/// every line has the same length, 5 or 7 characters, all Han characters (no punctuation, specials or spaces inside); and no
/// character appears three times in a row anywhere. It checks form only — a shaped poem may still be nonsense.
/// </remarks>
public static class PoemShape
{
    /// <summary>Null when <paramref name="poem"/> is poem-shaped, otherwise the first rule it breaks, in words.</summary>
    public static string? Flaw(string poem)
    {
        if (string.IsNullOrEmpty(poem)) return "empty";
        for (int i = 2; i < poem.Length; i++)
            if (poem[i] == poem[i - 1] && poem[i] == poem[i - 2]) return $"'{poem[i]}' three times in a row";
        if (poem[^1] != '。') return "does not end with 。";
        int lineLength = -1, line = 0, start = 0;
        for (int i = 0; i < poem.Length; i++)
        {
            char c = poem[i];
            if (c != '，' && c != '。')
            {
                if (!IsHan(poem, i)) return $"'{c}' in line {line + 1} is not a Han character";
                continue;
            }
            int len = i - start;
            if (len != 5 && len != 7) return $"line {line + 1} has {len} characters (5 or 7 expected)";
            if (lineLength >= 0 && len != lineLength) return $"line {line + 1} has {len} characters, the first has {lineLength}";
            lineLength = len;
            char expected = line % 2 == 0 ? '，' : '。';
            if (c != expected) return $"line {line + 1} ends with {c} ({expected} expected)";
            line++;
            start = i + 1;
        }
        return null;
    }

    /// <summary>True when <paramref name="poem"/> has no <see cref="Flaw"/>.</summary>
    public static bool IsShaped(string poem) => Flaw(poem) is null;

    /// <summary>The fraction of <paramref name="poems"/> that are poem-shaped (0 for none).</summary>
    public static double Fraction(IReadOnlyCollection<string> poems) => poems.Count == 0 ? 0 : (double)poems.Count(IsShaped) / poems.Count;

    // CJK ideographs of the basic plane (extension A, unified, compatibility); the bundled poems use no others.
    private static bool IsHan(string s, int i)
    {
        char c = s[i];
        return c >= '\u3400' && c <= '\u9FFF' || c >= '\uF900' && c <= '\uFAFF';
    }
}
