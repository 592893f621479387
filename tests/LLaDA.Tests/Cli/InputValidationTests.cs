using System.Text.Json.Nodes;
using LLaDA.Cli;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>Issue 13 items 5, 7, 8 end to end: every bad option, config or weight ends in one `llada:` line with exit code 2, before anything large is allocated.</summary>
[Collection("Console")]
public sealed class InputValidationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-inputs-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    /// <summary>Exit code 2 and exactly one `llada:` line (plus the usage hint), no stack trace; returns that line.</summary>
    private static string CleanError((int Code, string Out, string Err) r)
    {
        Assert.True(r.Code == 2, $"exit code {r.Code}; stderr: {r.Err}");
        Assert.DoesNotContain("   at ", r.Err);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("llada: ", StringComparison.Ordinal)).ToList();
        Assert.Single(lines);
        return lines[0];
    }

    [Theory]
    [InlineData("train", "lr", "nan", "a finite number in [0, 1] (0 freezes the weights)")]
    [InlineData("train", "lr", "-1", "a finite number in [0, 1] (0 freezes the weights)")]
    [InlineData("train", "clip", "nan", "a finite number in [0, 1000000] (0 disables clipping)")]
    [InlineData("train", "min-lr", "nan", "a finite number in [0, 1]")]
    [InlineData("train", "warmup", "-5", "an integer in [0, 2147483647]")]
    [InlineData("train", "save-every", "0", "an integer in [1, 2147483647]")]
    [InlineData("train", "threads", "0", "an integer in [1, 1024]")]
    [InlineData("train", "steps", "1e3", "an integer in [1, 2147483647]")]
    [InlineData("generate", "temperature", "NaN", "a finite number in [0, 100] (0 = greedy)")]
    [InlineData("generate", "cfg", "NaN", "a finite number in [0, 100] (0 disables guidance)")]
    [InlineData("generate", "cfg", "Infinity", "a finite number in [0, 100] (0 disables guidance)")]
    [InlineData("generate", "threshold", "0", "a finite number in (0, 1]")]
    [InlineData("generate", "threads", "0", "an integer in [1, 1024]")]
    [InlineData("eval", "mc-num", "0", "an integer in [1, 16777216]")]
    public void Option_OutsideItsRange_OneLineNamingOptionAndRange(string command, string option, string value, string range)
    {
        string[] args = command switch
        {
            "generate" => ["generate", "--checkpoint", _dir, "--prompt", "春", $"--{option}", value],
            "eval" => ["eval", "likelihood", "--checkpoint", _dir, "--prompt", "春", "--answer", "眠", $"--{option}", value],
            _ => [command, "--out", _dir, $"--{option}", value],
        };
        var line = CleanError(TinyCheckpoint.Run(args));
        Assert.Equal($"llada: --{option} must be {range}, got '{value}'", line);
        Assert.False(Directory.Exists(Path.Combine(_dir, "checkpoints")), "nothing may run before the options are checked");
    }

    [Fact]
    public void OptionRanges_EveryNumericOptionTheCommandsRead_IsDeclared()
    {
        // Options.Int/Double look every name up in the table whether or not it was given: running each command's option
        // parsing (cheap failures after parsing) proves no numeric option lacks a range.
        Directory.CreateDirectory(_dir);
        foreach (var args in new[]
        {
            new[] { "generate", "--checkpoint", Path.Combine(_dir, "none"), "--prompt", "x" },
            ["eval", "likelihood", "--checkpoint", Path.Combine(_dir, "none"), "--prompt", "x", "--answer", "y"],
            ["chat", "--checkpoint", Path.Combine(_dir, "none")],
            ["eval", "reversal", "--data", Path.Combine(_dir, "none.txt")],
            ["train", "--data", Path.Combine(_dir, "none.txt"), "--out", _dir],
        })
        {
            var r = TinyCheckpoint.Run(args);
            Assert.True(r.Code != 0, string.Join(' ', args));
            Assert.DoesNotContain("has no entry in OptionRanges", r.Err);
        }
        Assert.Throws<InvalidOperationException>(() => OptionRanges.Of("no-such-option"));
    }

    [Fact]
    public void Generate_PromptLongerThanContext_Refused()
    {
        TinyCheckpoint.Write(_dir, TinyCheckpoint.Config(maxSequenceLength: 32));
        string prompt = string.Concat(Enumerable.Repeat(TinyCheckpoint.Text, 2)); // 40 characters + BOS = 41 tokens
        var line = CleanError(TinyCheckpoint.Run("generate", "--checkpoint", _dir, "--prompt", prompt, "--gen-length", "8", "--steps", "8", "--block-length", "8"));
        Assert.Equal("llada: the prompt (41 tokens) + --gen-length (8) exceeds the model's context (max_sequence_length 32)", line);
    }

    [Fact]
    public void Generate_GenLength100000_RefusedByContext()
    {
        TinyCheckpoint.Write(_dir);
        var line = CleanError(TinyCheckpoint.Run("generate", "--checkpoint", _dir, "--prompt", "春", "--gen-length", "100000", "--steps", "100000", "--block-length", "100000"));
        Assert.Contains("--gen-length (100000) exceeds the model's context (max_sequence_length 128)", line);
    }

    [Fact]
    public void Generate_GenLengthBeyondMemory_RefusedWithEstimateAndLimit()
    {
        // A model whose context allows 100,000 tokens. By hand (MemoryEstimate's formulas; C 32, KV 32, M 64, V 23, so
        // 2·23·32 + 2·10,304 + 32 = 22,112 parameters): weights 4 · 22,112 = 88,448 B = 86.4 KiB; activations (2 + 100,000) tokens
        // × (4·(8·32 + 2·32 + 3·64) + 16·23 = 2,416 B) = 241,604,832 B = 230.4 MiB; total 230.5 MiB, over a 64 MiB budget.
        TinyCheckpoint.Write(_dir, TinyCheckpoint.Config(maxSequenceLength: 1 << 20));
        var line = WithLimit("64M", () => CleanError(TinyCheckpoint.Run("generate", "--checkpoint", _dir, "--prompt", "春", "--gen-length", "100000", "--steps", "100000", "--block-length", "100000")));
        Assert.True(line.StartsWith("llada: generation (length 2 + 100000) needs about 230.5 MiB (weights 86.4 KiB, optimizer state 0.0 KiB, activations 230.4 MiB)", StringComparison.Ordinal), line);
        Assert.Contains("but 64.0 MiB is available (LLADA_MEMORY_LIMIT)", line);
    }

    [Fact]
    public void Train_Preset8B_RefusedWithEstimate()
    {
        var line = WithLimit("1G", () => CleanError(TinyCheckpoint.Run("train", "--preset", "8b", "--poems", "20", "--steps", "1", "--out", _dir, "--no-progress")));
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(line, @"^llada: training \(batch 16 × length \d+\) needs about \d+\.\d GiB \(weights \d+\.\d GiB, optimizer state \d+\.\d GiB, activations .*\) but 1\.0 GiB is available \(LLADA_MEMORY_LIMIT\)"), line);
        Assert.False(Directory.Exists(Path.Combine(_dir, "checkpoints")));
    }

    [Fact]
    public void Likelihood_HugeBatch_RefusedWithEstimate()
    {
        TinyCheckpoint.Write(_dir);
        var line = WithLimit("1G", () => CleanError(TinyCheckpoint.Run("eval", "likelihood", "--checkpoint", _dir, "--prompt", "春", "--answer", "眠不觉", "--mc-num", "16777216", "--batch", "16777216")));
        Assert.StartsWith("llada: likelihood (batch 16777216 × length 5) needs about ", line);
    }

    [Fact]
    public void Info_EmptyConfig_NamesTheShapeMismatchWithoutBuildingThe8BDefault()
    {
        // `{}` is LLaDA-8B's shape (32 GB of F32 weights): it must be refused from the headers, never allocated.
        TinyCheckpoint.Write(_dir);
        File.WriteAllText(Path.Combine(_dir, Checkpoint.ConfigFile), "{}");
        foreach (var cmd in new[] { "info", "generate" })
        {
            string[] args = cmd == "info" ? ["info", "--checkpoint", _dir] : ["generate", "--checkpoint", _dir, "--prompt", "春"];
            var line = CleanError(TinyCheckpoint.Run(args));
            Assert.True(line.Contains("tensor 'model.transformer.wte.weight' has shape [23, 32] but config.json implies [126464, 4096]", StringComparison.Ordinal), line);
        }
    }

    [Theory]
    [InlineData("n_layers", "100000", "config: n_layers 100000 must be in [1, 1024]")]
    [InlineData("d_model", "1000000", "config: d_model 1000000 must be in [1, 65536]")]
    [InlineData("n_layers", "3", "missing tensor 'model.transformer.blocks.2.attn_norm.weight'")]
    [InlineData("d_model", "64", "has shape [23, 32] but config.json implies [23, 64]")]
    [InlineData("rope_theta", "\"Infinity\"", "rope_theta")]
    [InlineData("rope_theta", "1e39", "rope_theta")]
    [InlineData("rms_norm_eps", "\"Infinity\"", "rms_norm_eps")]
    [InlineData("pad_token_id", "23", "config: pad_token_id 23 is outside the embedding (23 rows)")]
    [InlineData("bos_token_id", "-1", "config: bos_token_id -1 is outside the embedding (23 rows)")]
    [InlineData("d_model", "\"big\"", "field 'd_model' has a value of the wrong type or out of range")]
    public void Info_ConfigFieldWrongOrAbsurd_NamesTheField(string field, string json, string expected)
    {
        TinyCheckpoint.Write(_dir);
        string path = Path.Combine(_dir, Checkpoint.ConfigFile);
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        node[field] = JsonNode.Parse(json);
        File.WriteAllText(path, node.ToJsonString());
        var line = CleanError(TinyCheckpoint.Run("info", "--checkpoint", _dir));
        Assert.True(line.Contains(expected, StringComparison.Ordinal), line);
    }

    [Theory]
    [InlineData(DType.F32, float.NaN)]
    [InlineData(DType.F32, float.PositiveInfinity)]
    [InlineData(DType.BF16, float.NegativeInfinity)]
    [InlineData(DType.F16, float.NaN)]
    public void Generate_NonFiniteWeight_RefusedNamingTheTensor(DType storeAs, float bad)
    {
        TinyCheckpoint.Write(_dir, storeAs: storeAs);
        const string name = "model.transformer.blocks.1.ff_out.weight";
        string file = Path.Combine(_dir, Checkpoint.ModelFile);
        var st = SafeTensorsFile.Open(file);
        byte[] value = storeAs switch
        {
            DType.F32 => BitConverter.GetBytes(bad),
            DType.F16 => BitConverter.GetBytes((Half)bad),
            _ => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(bad) >> 16)),
        };
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            fs.Seek(st.DataStart + st[name].Begin + 7 * storeAs.SizeOf(), SeekOrigin.Begin);
            fs.Write(value);
        }
        var line = CleanError(TinyCheckpoint.Run("generate", "--checkpoint", _dir, "--prompt", "春"));
        Assert.Contains($"tensor '{name}' holds a non-finite value (NaN or ±Inf) at element 7", line);
    }

    [Fact]
    public void Generate_FiniteWeightsOverflowingToInfLogits_Refused()
    {
        // Finite but huge weights (3e38) overflow the LM head's dot products: before, argmax over NaN printed EOS and exited 0.
        TinyCheckpoint.Write(_dir);
        string file = Path.Combine(_dir, Checkpoint.ModelFile);
        var st = SafeTensorsFile.Open(file);
        var e = st["model.transformer.ff_out.weight"];
        var huge = Enumerable.Repeat(BitConverter.GetBytes(3e38f), (int)(e.End - e.Begin) / 4).SelectMany(b => b).ToArray();
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            fs.Seek(st.DataStart + e.Begin, SeekOrigin.Begin);
            fs.Write(huge);
        }
        var line = CleanError(TinyCheckpoint.Run("generate", "--checkpoint", _dir, "--prompt", "春", "--gen-length", "4", "--steps", "4", "--block-length", "4"));
        Assert.StartsWith("llada: sampler: the model produced a non-finite logit", line);
    }

    private static T WithLimit<T>(string limit, Func<T> body)
    {
        var old = Environment.GetEnvironmentVariable(MemoryEstimate.LimitVariable);
        Environment.SetEnvironmentVariable(MemoryEstimate.LimitVariable, limit);
        try
        {
            return body();
        }
        finally
        {
            Environment.SetEnvironmentVariable(MemoryEstimate.LimitVariable, old);
        }
    }
}
