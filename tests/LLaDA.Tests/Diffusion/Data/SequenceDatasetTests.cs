using LLaDA.Diffusion.Data;
using Xunit;

namespace LLaDA.Tests.Diffusion.Data;

/// <summary>Row layout of the three dataset builders, the held-out split, and the batch loader's epoch order, wrap-around and resume.</summary>
public class SequenceDatasetTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 2, Bos: 1, Pad: 9);

    [Fact]
    public void PerDocument_BosDocEosThenPad_LongDocumentsCut()
    {
        var d = SequenceDataset.PerDocument([[5, 6], [5, 6, 7, 8, 3, 4]], 5, Sp);
        Assert.Equal(new[] { 1, 5, 6, 0, 9 }, d[0]);   // [BOS] doc [EOS] pad
        Assert.Equal(new[] { 1, 5, 6, 7, 8 }, d[1]);   // cut: no room for EOS
        Assert.False(d.HasPrompts);
        Assert.Equal(0, d.PromptLength(1));
    }

    [Fact]
    public void PromptAnswer_PromptLengthCountsBos_AnswerPaddedWithEos()
    {
        var d = SequenceDataset.PromptAnswer([([5, 6], [7]), ([5], [7, 8, 3, 4, 4])], 6, Sp);
        Assert.Equal(new[] { 1, 5, 6, 7, 0, 0 }, d[0]); // EOS padding (not the pad id) counts as answer
        Assert.Equal(3, d.PromptLength(0));
        Assert.Equal(new[] { 1, 5, 7, 8, 3, 4 }, d[1]); // answer cut at the row's end
        Assert.Equal(2, d.PromptLength(1));
        Assert.True(d.HasPrompts);
        Assert.Throws<ArgumentException>(() => SequenceDataset.PromptAnswer([([5, 6, 7, 8, 3], [7])], 6, Sp));
    }

    [Fact]
    public void Packed_JoinsDocumentsAndDropsTheTail()
    {
        // Stream: 1 5 6 0 | 1 7 0 | 1 8 3 4 0 → 12 tokens, windows of 5: two rows, the last 2 tokens dropped.
        var d = SequenceDataset.Packed([[5, 6], [7], [8, 3, 4]], 5, Sp);
        Assert.Equal(2, d.Count);
        Assert.Equal(new[] { 1, 5, 6, 0, 1 }, d[0]);
        Assert.Equal(new[] { 7, 0, 1, 8, 3 }, d[1]);
    }

    [Fact]
    public void Split_EveryKthRowIsHeldOut_WithItsPromptLength()
    {
        var pairs = Enumerable.Range(0, 7).Select(i => (new[] { 10 + i }, new[] { 20 + i })).ToList();
        var (train, held) = SequenceDataset.PromptAnswer(pairs, 4, Sp).Split(3);
        Assert.Equal(new[] { 12, 15 }, Enumerable.Range(0, held.Count).Select(i => held[i][1])); // rows 2 and 5
        Assert.Equal(new[] { 10, 11, 13, 14, 16 }, Enumerable.Range(0, train.Count).Select(i => train[i][1]));
        Assert.Equal(2, held.PromptLength(0));
    }

    private static SequenceDataset Numbered(int n) => new(Enumerable.Range(0, n).Select(i => new[] { i, i }).ToList(), 2);

    [Fact]
    public void EpochOrder_IsASeededPermutation_DifferentPerEpochAndSeed()
    {
        var d = Numbered(10);
        var e0 = d.EpochOrder(5, 0);
        Assert.Equal(Enumerable.Range(0, 10), e0.OrderBy(x => x));
        Assert.Equal(e0, d.EpochOrder(5, 0));
        Assert.NotEqual(e0, d.EpochOrder(5, 1));
        Assert.NotEqual(e0, d.EpochOrder(6, 0));
        Assert.NotEqual(Enumerable.Range(0, 10), e0); // shuffled at all
    }

    [Fact]
    public void BatchLoader_WalksEpochOrder_WrapsIntoTheNextEpoch_AndResumesFromItsPosition()
    {
        // 5 rows, batches of 3: batch 1 = epoch 0 [0..3), batch 2 = epoch 0 [3..5) + epoch 1 [0], batch 3 = epoch 1 [1..4).
        var d = Numbered(5);
        var expected = d.EpochOrder(7, 0).Concat(d.EpochOrder(7, 1)).Take(9).ToArray();
        var loader = new BatchLoader(d, 3, 7);
        var seen = new List<int>();
        for (int k = 0; k < 3; k++)
        {
            var ids = loader.Next();
            Assert.Equal(6, ids.Length);
            for (int b = 0; b < 3; b++) seen.Add(ids[2 * b]);
        }
        Assert.Equal(expected, seen);
        Assert.Equal(new DataPosition(1, 4), loader.Position);

        // A loader started at a saved position draws the same next batch as the original.
        var resumed = new BatchLoader(d, 3, 7, new DataPosition(0, 5));
        var fresh = new BatchLoader(d, 3, 7);
        fresh.Next();
        fresh.Next();
        Assert.Equal(fresh.Next(), new BatchLoader(d, 3, 7, new DataPosition(1, 1)).Next());
        Assert.Equal(new[] { expected[5], expected[6], expected[7] }, resumed.Next().Where((_, i) => i % 2 == 0));
    }

    [Fact]
    public void BatchLoader_ReportsPromptLengthsOfTheRowsItDrew()
    {
        var pairs = Enumerable.Range(0, 4).Select(i => (Enumerable.Repeat(5, i).ToArray(), new[] { 7 })).ToList();
        var d = SequenceDataset.PromptAnswer(pairs, 6, Sp);
        var loader = new BatchLoader(d, 4, 3);
        var ids = loader.Next(out var prompts);
        for (int b = 0; b < 4; b++)
        {
            int fives = ids.Skip(b * 6).Take(6).Count(t => t == 5);
            Assert.Equal(1 + fives, prompts[b]); // BOS + the prompt's tokens
        }
    }
}

/// <summary>The char tokenizer's JSON, which every checkpoint carries and --resume reads back.</summary>
public class CharTokenizerJsonTests
{
    [Fact]
    public void ToJson_FromJson_RoundTripsEveryIdIncludingEscapesAndAstralCharacters()
    {
        string text = "白日依山尽，\"引号\"\\ 𠀋𝄞 tab\t";
        var tok = CharTokenizer.Build([text]);
        var back = CharTokenizer.FromJson(tok.ToJson());
        Assert.Equal(tok.VocabSize, back.VocabSize);
        Assert.Equal(tok.Specials, back.Specials);
        for (int id = 0; id < tok.VocabSize; id++) Assert.Equal(tok.Token(id), back.Token(id));
        Assert.Equal(tok.Encode(text), back.Encode(text));
        Assert.Equal(text, back.Decode(back.Encode(text)));
        Assert.Equal(text.EnumerateRunes().Count(), back.Encode(text).Length); // one id per scalar, surrogate pairs included
    }

    [Theory]
    [InlineData("{\"tokens\": []}", "missing \"type\"")]
    [InlineData("{\"type\": \"char\", \"tokens\": [\"<|endoftext|>\", \"<|mdm_mask|>\"]}", "token 1 must be <|startoftext|>")]
    [InlineData("{\"type\": \"char\", \"tokens\": [\"<|endoftext|>\", \"<|startoftext|>\", \"<|mdm_mask|>\", \"<|unk|>\", \"a\", \"a\"]}", "appears twice")]
    [InlineData("{\"type\": \"char\", \"tokens\": [\"<|endoftext|>\", \"<|startoftext|>\", \"<|mdm_mask|>\", \"<|unk|>\", \"ab\"]}", "not a single character")]
    [InlineData("{\"type\": \"char\"", "malformed JSON")]
    public void FromJson_Malformed_ThrowsInvalidDataNamingTheProblem(string json, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => CharTokenizer.FromJson(json));
        Assert.Contains(message, e.Message);
    }
}
