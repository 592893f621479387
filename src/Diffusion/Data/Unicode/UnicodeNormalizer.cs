using System.Text;

namespace LLaDA.Diffusion.Data.Unicode;

/// <summary>Canonical Unicode normalization (NFC, NFD) over Unicode 9.0 tables, managed and exact like the Hugging Face tokenizers library.</summary>
/// <remarks>
/// <para>Why not <see cref="string.Normalize()"/>: the build uses invariant globalization, where it returns the text unchanged;
/// with ICU it would use a newer Unicode than the reference (whose crate, unicode-normalization-alignments 0.1.12, has Unicode 9.0 tables)
/// and it throws on noncharacters such as U+FFFE, which the reference passes through.</para>
/// <para>The algorithm is UAX #15: full canonical decomposition (Hangul algorithmically), stable canonical ordering of
/// combining marks, then canonical composition. Any code point is accepted: unassigned ones, noncharacters and lone
/// surrogates are starters that never decompose or compose.</para>
/// </remarks>
internal static partial class UnicodeNormalizer
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, (int First, int Second)> DecompositionMap;
    private static readonly Dictionary<long, int> CompositionMap;
    private static readonly ulong[] NotQuickNfc = new ulong[0x110000 / 64]; // ccc ≠ 0, or NFC_QC is No or Maybe
    private static readonly ulong[] NotQuickNfd = new ulong[0x110000 / 64]; // ccc ≠ 0, or a canonical decomposition

    static UnicodeNormalizer()
    {
        var ranges = CombiningClassRanges;
        for (int i = 0; i < ranges.Length; i += 3)
            for (int cp = ranges[i]; cp <= ranges[i + 1]; cp++) { Set(NotQuickNfc, cp); Set(NotQuickNfd, cp); }

        var excluded = new HashSet<int>();
        foreach (int cp in CompositionExclusions) excluded.Add(cp);
        var d = Decompositions;
        DecompositionMap = new Dictionary<int, (int, int)>(d.Length / 3);
        CompositionMap = new Dictionary<long, int>(d.Length / 3);
        for (int i = 0; i < d.Length; i += 3)
        {
            int cp = d[i], a = d[i + 1], b = d[i + 2];
            DecompositionMap.Add(cp, (a, b));
            Set(NotQuickNfd, cp);
            if (b == 0 || excluded.Contains(cp)) Set(NotQuickNfc, cp); // singletons and exclusions never survive NFC
            else { CompositionMap.Add(Key(a, b), cp); Set(NotQuickNfc, b); } // b may combine with what precedes it
        }
        for (int cp = SBase; cp < SBase + SCount; cp++) Set(NotQuickNfd, cp);
        for (int cp = VBase; cp < VBase + VCount; cp++) Set(NotQuickNfc, cp);
        for (int cp = TBase + 1; cp < TBase + TCount; cp++) Set(NotQuickNfc, cp);
    }

    /// <summary>Canonical composition (NFC) of a text.</summary>
    public static string Nfc(string text) => Normalize(text, compose: true);

    /// <summary>Canonical decomposition (NFD) of a text.</summary>
    public static string Nfd(string text) => Normalize(text, compose: false);

    /// <summary>The canonical combining class of a code point (0 for starters and for anything Unicode 9.0 did not assign).</summary>
    public static int CombiningClass(int cp)
    {
        var r = CombiningClassRanges;
        int lo = 0, hi = r.Length / 3 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            if (cp < r[3 * mid]) hi = mid - 1;
            else if (cp > r[3 * mid + 1]) lo = mid + 1;
            else return r[3 * mid + 2];
        }
        return 0;
    }

    private static string Normalize(string text, bool compose)
    {
        var quick = compose ? NotQuickNfc : NotQuickNfd;
        int first = -1;
        for (int i = 0; i < text.Length; i++)
        {
            int cp = CodePointAt(text, i);
            if (cp > 0xFFFF) i++;
            if (IsSet(quick, cp)) { first = i; break; }
        }
        if (first < 0) return text;

        var cps = new List<int>(text.Length + 8);
        for (int i = 0; i < text.Length; i++)
        {
            int cp = CodePointAt(text, i);
            if (cp > 0xFFFF) i++;
            Decompose(cp, cps);
        }

        // Canonical ordering: a stable insertion sort of each run of non-starters by combining class.
        var classes = new int[cps.Count];
        for (int i = 0; i < cps.Count; i++)
        {
            int c = classes[i] = CombiningClass(cps[i]);
            if (c == 0) continue;
            for (int j = i; j > 0 && classes[j - 1] > c; j--)
            {
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                (classes[j - 1], classes[j]) = (classes[j], classes[j - 1]);
            }
        }

        var sb = new StringBuilder(text.Length);
        if (!compose)
        {
            foreach (int cp in cps) Append(sb, cp);
            return sb.ToString();
        }

        // Canonical composition, as the reference's state machine: `composee` is the last starter, `pending` the marks after it.
        int composee = -1, lastClass = -1;
        var pending = new List<int>();
        for (int i = 0; i < cps.Count; i++)
        {
            int ch = cps[i], c = classes[i];
            if (composee < 0)
            {
                if (c != 0) Append(sb, ch);
                else composee = ch;
                continue;
            }
            if (lastClass >= c) // blocked (lastClass ≥ 1 here, or a starter after marks)
            {
                if (c == 0)
                {
                    Append(sb, composee);
                    foreach (int p in pending) Append(sb, p);
                    pending.Clear();
                    composee = ch;
                    lastClass = -1;
                }
                else { pending.Add(ch); lastClass = c; }
                continue;
            }
            if (TryCompose(composee, ch, out int composed)) { composee = composed; continue; }
            if (c == 0 && lastClass < 0) { Append(sb, composee); composee = ch; continue; }
            pending.Add(ch);
            lastClass = c;
        }
        if (composee >= 0) Append(sb, composee);
        foreach (int p in pending) Append(sb, p);
        return sb.ToString();
    }

    private static void Decompose(int cp, List<int> into)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int s = cp - SBase;
            into.Add(LBase + s / NCount);
            into.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) into.Add(TBase + s % TCount);
            return;
        }
        if (DecompositionMap.TryGetValue(cp, out var d))
        {
            Decompose(d.First, into);
            if (d.Second != 0) Decompose(d.Second, into);
            return;
        }
        into.Add(cp);
    }

    private static bool TryCompose(int a, int b, out int composed)
    {
        if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
        {
            composed = SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
            return true;
        }
        if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
        {
            composed = a + (b - TBase);
            return true;
        }
        return CompositionMap.TryGetValue(Key(a, b), out composed);
    }

    /// <summary>The code point at <paramref name="i"/>: a surrogate pair's scalar, or the UTF-16 unit itself (lone surrogates included).</summary>
    private static int CodePointAt(string s, int i)
    {
        char c = s[i];
        return char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? char.ConvertToUtf32(c, s[i + 1]) : c;
    }

    private static void Append(StringBuilder sb, int cp)
    {
        if (cp <= 0xFFFF) sb.Append((char)cp);
        else sb.Append(char.ConvertFromUtf32(cp));
    }

    private static long Key(int a, int b) => ((long)a << 21) | (uint)b;
    private static void Set(ulong[] bits, int cp) => bits[cp >> 6] |= 1UL << (cp & 63);
    private static bool IsSet(ulong[] bits, int cp) => (bits[cp >> 6] & (1UL << (cp & 63))) != 0;
}
