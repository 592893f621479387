using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;

namespace LLaDA.Diffusion.Eval;

/// <summary>How held-out poems are completed for the samples and the poem-shape figure (<see cref="PoemCompletions"/>).</summary>
public sealed record PoemSamplingConfig
{
    /// <summary>Poems completed for the figure (the first <c>Count</c> given).</summary>
    public int Count { get; init; } = 100;

    /// <summary>Semi-autoregressive decoding with one block per line (line length + its punctuation, read off the given first
    /// line): each line is finished before the next starts, while attention still sees the whole poem (SPEC §6.2). One block
    /// over the whole answer when false.</summary>
    public bool BlockPerLine { get; init; } = true;

    /// <summary>1 = x0 sampled from the model's distribution (Gumbel-max); 0 = greedy x0 (LLaDA's default), which a model this
    /// small fills with its most frequent characters (不不不人人…).</summary>
    public double Temperature { get; init; } = 1.0;

    public Remasking Remasking { get; init; } = Remasking.LowConfidence;

    public ulong Seed { get; init; }

    /// <summary>Characters committed per denoising step when the format is given (forward passes = characters / this).</summary>
    public int TokensPerStep { get; init; } = 2;

    /// <summary>Condition on the poem's format: the ， and 。 at the line ends (every line as long as the given first one) are
    /// placed like the prompt and the model infills the characters between them (never punctuation), in its own order (one
    /// block, <see cref="TokensPerStep"/> per step). When false the model also places the punctuation itself, one token per
    /// step (blocks per <see cref="BlockPerLine"/>).</summary>
    public bool GivenFormat { get; init; } = true;

    /// <summary>The training rows' length: each poem is denoised inside a row of this many tokens, EOS-padded after the answer
    /// as the training rows are (<see cref="SamplerConfig.PadTo"/>), so the model sees where the poem ends. 0 = no padding.</summary>
    public int RowLength { get; init; }
}

/// <summary>A held-out poem completed by the model: <see cref="Head"/> was given, <see cref="Generated"/> was sampled.</summary>
public sealed record PoemCompletion(string Head, string Generated, string Truth)
{
    public string Poem => Head + Generated;

    /// <summary>Why the completed poem is not poem-shaped, or null when it is (<see cref="PoemShape.Flaw"/>).</summary>
    public string? Flaw => PoemShape.Flaw(Poem);
}

/// <summary>Completes poems from their first line with the reverse process, and fills a masked first line from the rest (infilling).</summary>
public static class PoemCompletions
{
    /// <summary>Completes each poem given its first line (up to and including the first ，): the answer has the poem's true
    /// remaining length and EOS is suppressed (eval_reverse.py's --eos_inf); see <see cref="PoemSamplingConfig.GivenFormat"/> for
    /// what else is given. Poems with the same prompt and answer lengths are sampled as one batch.</summary>
    public static IReadOnlyList<PoemCompletion> Complete(ReverseSampler sampler, ITokenizer tok, IReadOnlyList<string> poems, PoemSamplingConfig cfg)
    {
        var sp = tok.Specials;
        var heads = poems.Select(Head).ToArray();
        var prompts = heads.Select(h => (int[])[.. (sp.Bos is int b ? new[] { b } : []), .. tok.Encode(h)]).ToArray();
        var gens = poems.Select((p, i) => tok.Encode(p).Length - tok.Encode(heads[i]).Length).ToArray();
        var result = new string[poems.Count];
        foreach (var group in Enumerable.Range(0, poems.Count).Where(i => gens[i] > 0).GroupBy(i => (prompts[i].Length, gens[i])))
        {
            var idx = group.ToArray();
            int gen = group.Key.Item2, line = prompts[idx[0]].Length - (sp.Bos is null ? 0 : 1);
            int block = cfg.BlockPerLine && line > 0 && gen % line == 0 ? line : gen;
            var sc = new SamplerConfig
            {
                GenLength = gen, BlockLength = block, Steps = gen, LogitsEosInf = true, PadTo = cfg.RowLength,
                Temperature = cfg.Temperature, Remasking = cfg.Remasking, Seed = cfg.Seed,
            };
            if (cfg.GivenFormat)
            {
                // [BOS] first line， then masks with ，/。 at every line end, [EOS] padding: infilled as one sequence per poem.
                int comma = tok.Encode("，")[0], stop = tok.Encode("。")[0];
                var template = Template(tok, gen, line, comma, stop);
                int p = prompts[idx[0]].Length, len = Math.Max(cfg.RowLength, p + gen + 1);
                var rows = idx.Select(i => { var row = new List<int>([.. prompts[i], .. template]); while (row.Count < len) row.Add(sp.Eos); return row.ToArray(); }).ToArray();
                // The punctuation is the format's, so the characters between never are punctuation.
                var filled = sampler.Infill(rows, sc with { BannedTokens = [comma, stop], Steps = (gen + cfg.TokensPerStep - 1) / cfg.TokensPerStep });
                for (int k = 0; k < idx.Length; k++)
                {
                    var answer = (int[])template.Clone();
                    for (int j = 0, m = 0; j < gen; j++)
                        if (answer[j] == sp.Mask) answer[j] = filled.Generated[k][m++];
                    result[idx[k]] = Text(tok, answer);
                }
                continue;
            }
            var r = sampler.Generate(idx.Select(i => prompts[i]).ToArray(), sc);
            for (int k = 0; k < idx.Length; k++) result[idx[k]] = Text(tok, r.Generated[k]);
        }
        return poems.Select((p, i) => new PoemCompletion(heads[i], result[i] ?? "", p)).ToList();
    }

    /// <summary>Infilling: the poem with its first line replaced by masks (its ， kept) is denoised as one sequence
    /// [BOS] masks ，rest [EOS] (EOS-padded to RowLength); the model fills the first line from what follows it. Returns the filled first line.</summary>
    public static string InfillFirstLine(ReverseSampler sampler, ITokenizer tok, string poem, PoemSamplingConfig cfg)
    {
        var sp = tok.Specials;
        string first = Head(poem)[..^1];
        int n = tok.Encode(first).Length;
        var seq = new List<int>([.. (sp.Bos is int b ? new[] { b } : []), .. Enumerable.Repeat(sp.Mask, n), .. tok.Encode(poem[first.Length..]), sp.Eos]);
        while (seq.Count < cfg.RowLength) seq.Add(sp.Eos);
        var r = sampler.Infill([seq.ToArray()], new SamplerConfig { Steps = n, GenLength = n, BlockLength = n, LogitsEosInf = true, Temperature = cfg.Temperature, Remasking = cfg.Remasking, Seed = cfg.Seed });
        return Text(tok, r.Generated[0]);
    }

    /// <summary>The answer of a poem whose lines are <paramref name="line"/> tokens with their punctuation: masks, with ， and 。
    /// alternating at the line ends (the first line, given, ended with ，).</summary>
    public static int[] Template(ITokenizer tok, int gen, int line, int comma, int stop)
    {
        var t = Enumerable.Repeat(tok.Specials.Mask, gen).ToArray();
        if (line <= 0) return t;
        for (int j = line - 1, k = 1; j < gen; j += line, k++) t[j] = k % 2 == 1 ? stop : comma;
        return t;
    }

    /// <summary>The given part of a poem: its first line with the ，after it (the whole text when it has none).</summary>
    public static string Head(string poem) => poem.IndexOf('，') is int k and >= 0 ? poem[..(k + 1)] : poem;

    private static string Text(ITokenizer tok, int[] ids)
    {
        int end = Array.IndexOf(ids, tok.Specials.Eos);
        return tok.Decode(end >= 0 ? ids[..end] : ids, skipSpecial: true);
    }
}
