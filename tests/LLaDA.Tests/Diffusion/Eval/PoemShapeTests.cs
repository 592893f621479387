using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Eval;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tests.Diffusion.Sampling;
using Xunit;

namespace LLaDA.Tests.Diffusion.Eval;

/// <summary>The poem-shape measure on hand-written good and bad poems, and poem completion with the format given or not.</summary>
public class PoemShapeTests
{
    [Theory]
    [InlineData("移舟泊烟渚，日暮客愁新。野旷天低树，江清月近人。")]
    [InlineData("朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。")]
    [InlineData("白日依山尽，黄河入海流。")]
    [InlineData("人人不人人，不人人不人。")] // two in a row is allowed
    public void Real_and_well_formed_poems_are_shaped(string poem)
    {
        Assert.Null(PoemShape.Flaw(poem));
        Assert.True(PoemShape.IsShaped(poem));
    }

    [Theory]
    [InlineData("移舟泊烟渚，。。为为为，，，人人人为。。", "three times")]           // the sample
    [InlineData("移舟泊烟渚，日暮客愁新。野旷天低树，江人人人近。", "three times")]
    [InlineData("移舟泊烟渚，日暮客愁新。野旷天低树，江清月近人", "does not end")]
    [InlineData("移舟泊烟渚，日暮客愁新。野旷天低树，", "does not end")]
    [InlineData("移舟泊烟渚，日暮客新。野旷天低树，江清月近人。", "line 2 has 4")]
    [InlineData("移舟泊烟渚，日暮客愁新啊。野旷天低树，江清月近人。", "line 2 has 6")]
    [InlineData("移舟泊烟渚，日暮客愁新今日。野旷天低树，江清月近人。", "the first has 5")] // 7 after 5
    [InlineData("移舟泊烟渚。日暮客愁新，野旷天低树，江清月近人。", "ends with 。")]
    [InlineData("移舟泊烟渚，日暮客愁新，野旷天低树，江清月近人。", "ends with ，")]
    [InlineData("移舟泊烟a，日暮客愁新。", "not a Han character")]
    [InlineData("。", "has 0 characters")]
    [InlineData("", "empty")]
    public void Malformed_poems_name_their_flaw(string poem, string flaw)
    {
        var f = PoemShape.Flaw(poem);
        Assert.NotNull(f);
        Assert.Contains(flaw, f);
    }

    [Fact]
    public void Fraction_counts_shaped_poems()
    {
        string[] poems = ["白日依山尽，黄河入海流。", "不不不人，。", "朝辞白帝彩云间，千里江陵一日还。", "白日依山尽，黄河入海流"];
        Assert.Equal(0.5, PoemShape.Fraction(poems));
        Assert.Equal(0, PoemShape.Fraction(Array.Empty<string>()));
    }

    [Fact]
    public void Template_puts_stop_and_comma_alternately_at_line_ends()
    {
        var tok = CharTokenizer.Build(["，。"]);
        int comma = tok.Encode("，")[0], stop = tok.Encode("。")[0], m = tok.Specials.Mask;
        // 5-character quatrain after its given first line: 3 lines of 5 + punctuation = 18 tokens.
        var t = PoemCompletions.Template(tok, 18, 6, comma, stop);
        int[] expected = [m, m, m, m, m, stop, m, m, m, m, m, comma, m, m, m, m, m, stop];
        Assert.Equal(expected, t);
    }

    /// <summary>A model that always prefers ， and otherwise the characters 山水云 in turn by position: free, greedy decoding
    /// writes ，，，… (not shaped); with the format given the punctuation is the template's and the lines are 山水云山水….</summary>
    [Fact]
    public void Given_format_fills_only_characters_between_the_templates_punctuation()
    {
        const string poem = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。";
        var tok = CharTokenizer.Build([poem, "山水云"]);
        int comma = tok.Encode("，")[0];
        int[] chars = tok.Encode("山水云");
        var model = new InputDependentModel(tok.VocabSize, (row, j) =>
        {
            var z = new double[tok.VocabSize];
            z[comma] = 5;
            z[chars[j % 3]] = 3;
            return z;
        });
        var sampler = new ReverseSampler(model, tok.Specials);
        var given = PoemCompletions.Complete(sampler, tok, [poem], new PoemSamplingConfig { Temperature = 0, RowLength = 30 })[0];
        Assert.Equal("白日依山尽，", given.Head);
        Assert.Equal(poem.Length - given.Head.Length, given.Generated.Length);
        Assert.Null(given.Flaw);
        Assert.Equal(poem.Length, given.Poem.Length);
        for (int j = 0; j < given.Poem.Length; j++)
            Assert.Equal(poem[j] is '，' or '。', given.Poem[j] is '，' or '。');
        // The model saw rows of RowLength with EOS after the answer.
        Assert.All(model.Rows, r => Assert.Equal(30, r.Length));
        Assert.All(model.Rows, r => Assert.Equal(tok.Specials.Eos, r[1 + poem.Length]));

        var free = PoemCompletions.Complete(sampler, tok, [poem], new PoemSamplingConfig { Temperature = 0, GivenFormat = false })[0];
        Assert.Equal("，，，，，，，，，，，，，，，，，，", free.Generated);
        Assert.Contains("three times", free.Flaw);
    }
}

/// <summary>The sampler's EOS padding after the answer (PadTo) and banned tokens.</summary>
public class SamplerPaddingAndBanTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2);

    [Fact]
    public void PadTo_appends_eos_padding_that_the_model_sees_and_never_fills()
    {
        var model = new OracleModel(6, j => 3 + j % 2, j => 1 + j);
        var r = new ReverseSampler(model, Sp).Generate([[2, 5]], new SamplerConfig { GenLength = 4, BlockLength = 2, Steps = 4, PadTo = 9 });
        Assert.Equal([3, 4, 3, 4], r.Generated[0]); // positions 2..5 favour 3 + j % 2
        Assert.All(model.Inputs, x => Assert.Equal(9, x.Length));
        Assert.All(model.Inputs, x => Assert.Equal([0, 0, 0], x[6..]));
        Assert.Equal([2, 5, 1, 1, 1, 1, 0, 0, 0], model.Inputs[0]);
        // Without padding the rows are prompt + answer only.
        var plain = new OracleModel(6, j => 3 + j % 2, j => 1 + j);
        new ReverseSampler(plain, Sp).Generate([[2, 5]], new SamplerConfig { GenLength = 4, BlockLength = 2, Steps = 4 });
        Assert.All(plain.Inputs, x => Assert.Equal(6, x.Length));
    }

    [Fact]
    public void Banned_tokens_are_never_predicted()
    {
        // Token 3 wins everywhere; banned, the runner-up 4 is chosen; with 3 and 4 banned, 5.
        var model = new InputDependentModel(6, (_, _) => [0, 0, 0, 9, 2, 1]);
        var r = new ReverseSampler(model, Sp).Generate([[2]], new SamplerConfig { GenLength = 3, BlockLength = 3, Steps = 3, BannedTokens = [3] });
        Assert.Equal([4, 4, 4], r.Generated[0]);
        var inf = new ReverseSampler(model, Sp).Infill([[2, 1, 1, 0]], new SamplerConfig { Steps = 2, BannedTokens = [3, 4] });
        Assert.Equal([5, 5], inf.Generated[0]);
    }
}
