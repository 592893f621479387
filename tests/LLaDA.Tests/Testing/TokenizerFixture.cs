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

    /// <summary>A file of the fixture (call only from a test marked <see cref="TokenizerFixtureFactAttribute"/>).</summary>
    public static string PathOf(string name) => Path.Combine(Directory ?? throw new InvalidOperationException("the tokenizer fixture is absent"), name);
}

/// <summary>A fact that is skipped, with the reason, when the Qwen3 tokenizer fixture is absent (xunit 2 has no dynamic skip).</summary>
public sealed class TokenizerFixtureFactAttribute : FactAttribute
{
    public TokenizerFixtureFactAttribute()
    {
        if (TokenizerFixture.Directory is null)
            Skip = $"tokenizer fixture absent: no {TokenizerFixture.RelativePath}/tokenizer.json in any folder above {AppContext.BaseDirectory}";
    }
}
