using LLaDA.Diffusion.Data;
using Xunit;

namespace LLaDA.Tests.Diffusion;

public class DialogueTests
{
    [Fact]
    public void SplitIntoPairs_ThreeTurns_GivesThreePairsWithGrowingHistory()
    {
        var d = new List<(string, string)> { ("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"), ("user", "e"), ("assistant", "f") };
        var pairs = Dialogues.SplitIntoPairs(d);
        Assert.Equal(3, pairs.Count);
        Assert.Equal(new[] { 1, 3, 5 }, pairs.Select(p => p.Prompt.Count));
        Assert.Equal(new[] { "b", "d", "f" }, pairs.Select(p => p.Answer));
        Assert.Equal(("user", "c"), pairs[1].Prompt[2]);
    }

    [Fact]
    public void Encode_CharTokenizer_PromptIsPlainHistory()
    {
        var tok = CharTokenizer.Build(["问答甲乙"]);
        var pairs = Dialogues.Encode(tok, [("user", "问"), ("assistant", "答"), ("user", "甲"), ("assistant", "乙")]);
        Assert.Equal(tok.Encode("问答甲"), pairs[1].Prompt);
        Assert.Equal(tok.Encode("乙"), pairs[1].Answer);
    }
}
