using LLaDA.Nn.Serialization;

namespace LLaDA.Diffusion.Data;

/// <summary>A couplet of a poem: the first line (上句) and the line that answers it (下句).</summary>
public sealed record Couplet(int Poem, int Index, string First, string Second);

/// <summary>Tang poems in the bundled format: one poem per line, punctuated 上句，下句。上句，下句。…</summary>
public sealed class PoemCorpus
{
    private PoemCorpus(List<string> poems) => Poems = poems;

    public IReadOnlyList<string> Poems { get; }

    /// <summary>Reads the first <paramref name="limit"/> non-empty lines of a poem file (all when limit ≤ 0).</summary>
    public static PoemCorpus Load(string path, int limit = 0)
    {
        var poems = new List<string>();
        foreach (var raw in InputFile.ReadLines(path, "data file"))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            poems.Add(line);
            if (limit > 0 && poems.Count >= limit) break;
        }
        if (poems.Count == 0) throw new InvalidDataException($"{path}: no poems");
        return new PoemCorpus(poems);
    }

    public static PoemCorpus FromLines(IEnumerable<string> lines) => new(lines.Select(l => l.Trim()).Where(l => l.Length > 0).ToList());

    /// <summary>The couplets of one poem: text split at '。' into sentences, each split at '，' into its two lines.</summary>
    public static IEnumerable<Couplet> CoupletsOf(int poem, string text)
    {
        int k = 0;
        foreach (var sentence in text.Split('。', StringSplitOptions.RemoveEmptyEntries))
        {
            var halves = sentence.Split('，');
            if (halves.Length == 2 && halves[0].Length > 0 && halves[1].Length > 0)
                yield return new Couplet(poem, k++, halves[0], halves[1]);
        }
    }

    /// <summary>Every couplet of every poem, in order.</summary>
    public IEnumerable<Couplet> Couplets() => Poems.SelectMany((p, i) => CoupletsOf(i, p));

    /// <summary>LLaDA's reversal-benchmark prompts (SPEC §13): forward "{first}的下一句是什么？", reversal "{second}的上一句是什么？".</summary>
    public static string ForwardQuestion(Couplet c) => c.First + "的下一句是什么？";

    public static string ReverseQuestion(Couplet c) => c.Second + "的上一句是什么？";
}
