using Xunit;

namespace LLaDA.Tests.Testing;

/// <summary>The Qwen3 tokenizer fixture (tokenizer.json and golden ids), which lives outside the repository in shared/data/tokenizers/qwen3.</summary>
public static class TokenizerFixture
{
    public const string RelativePath = "shared/data/tokenizers/qwen3";

    /// <summary>The fixture folder: the first folder above the test assembly that holds shared/data/tokenizers/qwen3/tokenizer.json, or null.</summary>
    public static readonly string? Directory = Find();

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, RelativePath);
            if (File.Exists(Path.Combine(candidate, "tokenizer.json"))) return candidate;
        }
        return null;
    }

    private static string Absent => $"tokenizer fixture absent: no {RelativePath}/tokenizer.json in any folder above {AppContext.BaseDirectory}";

    /// <summary>Why a fixture test is skipped, or null when it runs: it runs when the fixture is there, and under CI always (where ../shared is
    /// always present, so an absent fixture must fail the test, never skip it).</summary>
    public static string? SkipReason(string? fixtureDirectory, bool underCi) => fixtureDirectory is null && !underCi ? Absent : null;

    /// <summary>A file of the fixture (call only from a test marked <see cref="TokenizerFixtureFactAttribute"/>); under CI an absent fixture throws.</summary>
    public static string PathOf(string name) => Path.Combine(Directory ?? throw new InvalidOperationException(
        Ci.Active ? $"{Absent}; CI=true, where the fixture must be present" : Absent), name);
}

/// <summary>A fact that is skipped, with the reason, when the Qwen3 tokenizer fixture is absent outside CI (xunit 2 has no dynamic skip); under CI it always runs.</summary>
public sealed class TokenizerFixtureFactAttribute : FactAttribute
{
    public TokenizerFixtureFactAttribute()
    {
        if (TokenizerFixture.SkipReason(TokenizerFixture.Directory, Ci.Active) is string reason) Skip = reason;
    }
}
