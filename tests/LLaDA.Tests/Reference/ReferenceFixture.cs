using System.Text.Json;

namespace LLaDA.Tests.Reference;

/// <summary>One case of the committed model-reference fixtures (tests/LLaDA.Tests/Fixtures/reference/CASE), written by
/// tools/llada_reference.py, an independent float64 PyTorch implementation of the LLaDA forward, sampler and likelihood.</summary>
/// <remarks>The fixtures live in the repository, so a missing one is always a failure, never a skip.</remarks>
public sealed class ReferenceFixture : IDisposable
{
    public const string RelativePath = "tests/LLaDA.Tests/Fixtures/reference";

    /// <summary>The cases the script writes: MHA, GQA, tied head, BF16 weights, padded embedding rows.</summary>
    public static readonly string[] Cases = ["mha", "gqa", "tied", "bf16", "padded"];

    private readonly JsonDocument _doc;

    public ReferenceFixture(string name)
    {
        Directory = Path.Combine(Root, name);
        string path = Path.Combine(Directory, "expected.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"reference fixture missing: {path} (regenerate with tools/make_fixtures.sh)");
        _doc = JsonDocument.Parse(File.ReadAllText(path));
    }

    /// <summary>The checkpoint directory (config.json + model.safetensors).</summary>
    public string Directory { get; }

    public JsonElement Expected => _doc.RootElement;

    public void Dispose() => _doc.Dispose();

    /// <summary>The fixture root: the first folder above the test assembly that holds <see cref="RelativePath"/>.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, RelativePath);
            if (System.IO.Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"no {RelativePath} in any folder above {AppContext.BaseDirectory}");
    }

    public static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public static int[][] IntRows(JsonElement e) => e.EnumerateArray().Select(Ints).ToArray();

    public static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(x => x.GetDouble()).ToArray();
}
