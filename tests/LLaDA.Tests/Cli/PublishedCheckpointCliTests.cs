using System.Text.Json.Nodes;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>An unimplemented config.json value ends `llada info` and `llada generate` with one `llada:` line naming field and value.</summary>
[Collection("Console")]
public sealed class PublishedCheckpointCliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-pubcli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    [Theory]
    [InlineData("info")]
    [InlineData("generate")]
    public void ScaleLogitsTrue_IsOneLlladaLine(string command)
    {
        using var m = new MaskPredictor(Presets.Tiny(30, 2, 0), seed: 1);
        Checkpoint.SaveModel(_dir, m);
        string cfg = Path.Combine(_dir, Checkpoint.ConfigFile);
        var node = JsonNode.Parse(File.ReadAllText(cfg))!.AsObject();
        node["scale_logits"] = true;
        File.WriteAllText(cfg, node.ToJsonString());
        string[] args = command == "info" ? ["info", "--checkpoint", _dir] : ["generate", "--checkpoint", _dir, "--prompt", "a"];
        var (code, _, err) = CliRunner.Run(args);
        Assert.NotEqual(0, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines, l => l.StartsWith("llada:", StringComparison.Ordinal));
        Assert.Contains("scale_logits true", line);
        Assert.DoesNotContain("   at ", err);
    }
}
