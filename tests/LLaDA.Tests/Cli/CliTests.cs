using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using Xunit;

namespace LLaDA.Tests.Cli;

[Collection("Console")]
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-cli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    internal static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void Info_ValidCheckpoint_PrintsConfigAndCount()
    {
        using var m = new MaskPredictor(Presets.Tiny(30, 2, 0), seed: 1);
        Checkpoint.SaveModel(_dir, m);
        var (code, stdout, _) = Run("info", "--checkpoint", _dir);
        Assert.Equal(0, code);
        Assert.Contains($"parameters: {m.ParameterCount():N0}", stdout);
        Assert.Contains("status:     valid", stdout);
    }

    [Fact]
    public void Info_TruncatedCheckpoint_ClearErrorAndExitCode2()
    {
        using var m = new MaskPredictor(Presets.Tiny(30, 2, 0), seed: 1);
        Checkpoint.SaveModel(_dir, m);
        string f = Path.Combine(_dir, Checkpoint.ModelFile);
        var bytes = File.ReadAllBytes(f);
        File.WriteAllBytes(f, bytes[..(bytes.Length / 2)]);
        var (code, _, err) = Run("info", "--checkpoint", _dir);
        Assert.Equal(2, code);
        Assert.Contains("truncated", err);
    }

    [Fact]
    public void UnknownCommandAndOption_ExitCode2()
    {
        Assert.Equal(2, Run("frobnicate").Code);
        var (code, _, err) = Run("bench", "matmul", "--frob");
        Assert.Equal(2, code);
        Assert.Contains("unknown option --frob", err);
    }

    [Fact]
    public void BenchJson_PrintsArrayWithOpShapeGflops()
    {
        var (code, stdout, _) = Run("bench", "matmul", "--json", "--quick", "--threads", "1");
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(System.Text.Json.JsonValueKind.Array, doc.RootElement.ValueKind);
        var first = doc.RootElement[0];
        Assert.Equal("matmul", first.GetProperty("op").GetString());
        Assert.True(first.GetProperty("gflops").GetDouble() > 0);
        Assert.False(string.IsNullOrEmpty(first.GetProperty("shape").GetString()));
    }

    [Fact]
    public void BenchJson_GivesEachFigureAsAFractionOfTheLimitMeasuredInTheSameRun()
    {
        var (code, stdout, _) = Run("bench", "adamw", "--json", "--quick", "--threads", "1");
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var row = doc.RootElement[0];
        Assert.Equal("adamw", row.GetProperty("op").GetString());
        double gbps = row.GetProperty("gbps").GetDouble(), triad = row.GetProperty("triad_gbps").GetDouble();
        Assert.True(triad > 0 && row.GetProperty("fma_peak_gflops").GetDouble() > 0);
        // A bandwidth-bound op is given against the triad bandwidth (both rounded to 3 decimals in the JSON).
        Assert.Equal(gbps / triad, row.GetProperty("fraction_of_triad").GetDouble(), 0.002);
        Assert.False(row.TryGetProperty("fraction_of_peak", out _));
    }
}
