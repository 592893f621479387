using LLaDA.Cli.Commands;
using LLaDA.Diffusion.Data;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>The research toolkit's CLI surface: --remasking, eval elbo, EMA weights for sampling.</summary>
[Collection("Console")]
public sealed class ResearchToolkitCliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-rt-" + Guid.NewGuid().ToString("N"));
    private static readonly string[] Lines = ["白日依山尽，黄河入海流。", "床前明月光，疑是地上霜。", "春眠不觉晓，处处闻啼鸟。"];

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    /// <summary>A tiny random char-level checkpoint with its tokenizer.</summary>
    private MaskPredictor Checkpoint()
    {
        var tok = CharTokenizer.Build(Lines);
        var sp = tok.Specials;
        var m = new MaskPredictor(Presets.Tiny(tok.VocabSize, sp.Mask, sp.Eos) with { BosTokenId = sp.Bos, PadTokenId = sp.PadId }, seed: 1);
        LLaDA.Nn.Serialization.Checkpoint.SaveModel(_dir, m);
        File.WriteAllText(Path.Combine(_dir, TokenizerFiles.CharFile), tok.ToJson());
        return m;
    }

    [Fact]
    public void Generate_EveryRemaskingName_Runs_UnknownNameIsOneClearLine()
    {
        using var _ = Checkpoint();
        foreach (var name in new[] { "confidence", "low_confidence", "margin", "entropy", "random", "origin" })
        {
            var (code, _, err) = Run("generate", "--checkpoint", _dir, "--prompt", "白日", "--gen-length", "4", "--remasking", name, "--threads", "1");
            Assert.True(code == 0, $"{name}: {err}");
        }
        var (bad, _, e) = Run("generate", "--checkpoint", _dir, "--prompt", "白日", "--remasking", "greedy");
        Assert.Equal(2, bad);
        Assert.StartsWith("llada: --remasking 'greedy' (confidence,margin,entropy,random,origin", e);
        Assert.DoesNotContain("   at ", e);
    }

    [Fact]
    public void EvalElbo_PrintsNelboAndBitsPerChar_MissingDataIsOneClearLine()
    {
        using var _ = Checkpoint();
        string data = Path.Combine(_dir, "held.txt");
        File.WriteAllLines(data, Lines);
        var (code, stdout, err) = Run("eval", "elbo", "--checkpoint", _dir, "--data", data, "--t-grid", "4", "--mask-draws", "2", "--threads", "1", "--json");
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(3, root.GetProperty("sequences").GetInt32());
        Assert.Equal(36, root.GetProperty("tokens").GetInt32());
        double nats = root.GetProperty("nelbo_per_token").GetDouble(), bits = root.GetProperty("bits_per_char").GetDouble();
        Assert.Equal(nats / Math.Log(2), bits, 1e-9); // char tokenizer: one token per character
        Assert.True(root.GetProperty("std_error").GetDouble() > 0);
        var (missing, _, e) = Run("eval", "elbo", "--checkpoint", _dir);
        Assert.Equal(2, missing);
        Assert.StartsWith("llada: eval elbo needs --data FILE", e);
    }

    [Fact]
    public void ModelLoader_UsesEmaWeightsWhenPresent_RawWeightsOnRequest()
    {
        using var m = Checkpoint();
        using (var ema = new Ema(m.NamedParameters(), 0.5f))
        {
            foreach (var (_, p) in m.NamedParameters()) p.Data.CopyFrom(p.Data.Scale(3f));
            ema.Update(); // average = 2 × the saved weights
            ema.Save(_dir);
        }
        var (avg, _, _) = ModelLoader.Load(_dir, CpuBackend.Default);
        var (raw, _, _) = ModelLoader.Load(_dir, CpuBackend.Default, rawWeights: true);
        var saved = m.NamedParameters().First().Parameter.Data.ToArray().Select(x => x / 3f).ToArray();
        Assert.Equal(saved, raw.NamedParameters().First().Parameter.Data.ToArray(), new Tol());
        Assert.Equal(saved.Select(x => 2 * x), avg.NamedParameters().First().Parameter.Data.ToArray(), new Tol());
        avg.Dispose();
        raw.Dispose();
    }

    private sealed class Tol : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= 1e-5f * Math.Max(1, Math.Abs(x));
        public int GetHashCode(float obj) => 0;
    }
}
