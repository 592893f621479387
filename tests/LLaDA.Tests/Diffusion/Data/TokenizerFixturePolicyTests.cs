using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Diffusion.Data;

/// <summary>The fixture rule of the house: an absent ../shared fixture skips (with the reason) on a developer machine and fails under CI.</summary>
public class TokenizerFixturePolicyTests
{
    [Fact]
    public void SkipReason_AbsentFixture_SkipsOnlyOutsideCi()
    {
        Assert.Contains("tokenizer fixture absent", TokenizerFixture.SkipReason(null, underCi: false));
        Assert.Null(TokenizerFixture.SkipReason(null, underCi: true));   // runs, and fails on the missing file
        Assert.Null(TokenizerFixture.SkipReason("/some/dir", underCi: false));
        Assert.Null(TokenizerFixture.SkipReason("/some/dir", underCi: true));
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("1", true)]
    [InlineData("false", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Ci_RecognisesTheUsualValues(string? value, bool expected) => Assert.Equal(expected, Ci.IsTrue(value));

    [Fact]
    public void UnderCi_TheFixtureIsPresent()
    {
        // .ci/run sets CI=true and ../shared is always beside the clone there: its absence is a CI failure.
        if (Ci.Active) Assert.NotNull(TokenizerFixture.Directory);
    }
}
