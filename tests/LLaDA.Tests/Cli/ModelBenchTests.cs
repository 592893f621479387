using System.Text.Json;
using LLaDA.Autograd;
using LLaDA.Cli.Bench;
using LLaDA.Cli.Commands;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>`llada bench model DIR` on the synthetic "mini" checkpoint (LLaDA's vocabulary and ids, tiny widths): its figures
/// are finite and follow from the shapes, its forward count is the sampler's own; and a mapped BF16 forward allocates memory
/// for its activations only, never for a copy of the weights.</summary>
[Collection("Console")]
public sealed class ModelBenchTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-benchmodel-" + Guid.NewGuid().ToString("N"));

    public ModelBenchTests()
    {
        var plan = SyntheticCheckpoint.Plan("mini");
        SyntheticCheckpoint.Write(_dir, plan, 11);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    [Fact]
    public void BenchModel_Json_FiguresAreFiniteAndFollowFromTheShapes_ChatCountsTheSamplersForwards()
    {
        var (code, output, err) = CliRunner.Run(["bench", "model", _dir, "--json", "--lengths", "1,8", "--gen-length", "32", "--block-length", "16", "--threads", "1"]);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        var c = ModelFiles.Open(_dir).Config;

        // Matmul parameters by hand: per layer q, k, v, o (C×C each, n_kv_heads = n_heads) and three C×M MLP matrices, plus the head.
        long pmm = (long)c.NLayers * (4L * c.DModel * c.DModel + 3L * c.DModel * c.MlpHiddenSize) + (long)c.Rows * c.DModel;
        Assert.Equal(pmm, r.GetProperty("matmul_parameters").GetInt64());
        Assert.Equal(c.ParameterCount(), r.GetProperty("parameters").GetInt64());
        Assert.Equal(2L * c.ParameterCount(), r.GetProperty("weight_bytes").GetInt64()); // BF16
        foreach (var name in new[] { "fma_peak_gflops", "triad_gbps", "map_seconds", "first_forward_seconds", "load_seconds" })
            Assert.True(r.GetProperty(name).GetDouble() is var v && double.IsFinite(v) && v > 0, name);
        Assert.Equal(r.GetProperty("map_seconds").GetDouble() + r.GetProperty("first_forward_seconds").GetDouble(), r.GetProperty("load_seconds").GetDouble(), 9);

        var rows = r.GetProperty("forwards").EnumerateArray().ToList();
        Assert.Equal([1, 8], rows.Select(x => x.GetProperty("tokens").GetInt32()));
        double peak = r.GetProperty("fma_peak_gflops").GetDouble();
        foreach (var row in rows)
        {
            int n = row.GetProperty("tokens").GetInt32();
            double sec = row.GetProperty("seconds").GetDouble(), gflop = row.GetProperty("gflop").GetDouble();
            Assert.True(sec > 0 && double.IsFinite(sec));
            Assert.Equal((2.0 * pmm * n + 4.0 * c.NLayers * n * n * c.DModel) / 1e9, gflop, 9);
            Assert.Equal(gflop / sec, row.GetProperty("gflops").GetDouble(), 6);
            Assert.Equal(gflop / sec / peak, row.GetProperty("fraction_of_peak").GetDouble(), 6);
        }

        // The chat answer: completed, its forwards counted around the model equal the sampler's own count, and equal the
        // count of an independent run of the sampler on the same model, prompt and settings (greedy: deterministic).
        var chat = r.GetProperty("chat");
        Assert.True(chat.GetProperty("completed").GetBoolean());
        int passes = chat.GetProperty("forward_passes").GetInt32();
        Assert.Equal(passes, chat.GetProperty("sampler_forward_passes").GetInt32());
        Assert.Equal(passes, chat.GetProperty("forward_seconds").GetArrayLength());
        Assert.True(passes >= 2, $"{passes} passes: at least one per block");
        Assert.True(chat.GetProperty("tokens_per_second").GetDouble() is var tps && double.IsFinite(tps) && tps > 0);
        Assert.Equal(32 / chat.GetProperty("seconds").GetDouble(), tps, 6);

        using var model = Checkpoint.MapModel(ModelFiles.Open(_dir));
        var tok = TokenizerFiles.Load(_dir);
        int[] prompt = ChatTemplate.Encode(tok, [("user", ModelBench.Prompt)]);
        Assert.Equal(prompt.Length, chat.GetProperty("prompt_tokens").GetInt32());
        var cfg = new SamplerConfig { GenLength = 32, BlockLength = 16, Steps = 32, Threshold = 0.9, Cache = CacheMode.Dual };
        var own = new ReverseSampler(new MaskPredictorLogits(model), ModelLoader.Specials(tok, model.Config)).Generate([prompt], cfg);
        Assert.Equal(own.ForwardPasses, passes);

        // Memory figures are present and ordered: the peak resident set holds at least the peak anonymous part.
        Assert.True(r.GetProperty("peak_rss_bytes").GetInt64() >= r.GetProperty("peak_anon_bytes").GetInt64());
        Assert.True(r.GetProperty("peak_anon_bytes").GetInt64() > 0);
    }

    [Fact]
    public void BenchModel_RefusesBadLengthsAndAMissingDirectory()
    {
        var (code, _, err) = CliRunner.Run(["bench", "model", _dir, "--lengths", "1,x"]);
        Assert.NotEqual(0, code);
        Assert.Contains("llada: --lengths: 'x' is not a token count", err);
        var (code2, _, err2) = CliRunner.Run(["bench", "model", _dir + "-absent"]);
        Assert.NotEqual(0, code2);
        Assert.StartsWith("llada: ", err2.Trim());
        Assert.DoesNotContain("   at ", err2);
    }

    /// <summary>A forward over the memory-mapped BF16 weights allocates tensors for its activations only: the bytes a fresh
    /// backend's pool obtains (every tensor of the forward) and the managed bytes the calling thread allocates stay below a
    /// budget computed from the activation shapes — and that budget is below the size of one BF16 copy of the embedding or
    /// head (let alone an F32 one), so a widened or copied weight matrix (the 8B's would be 1–2 GB) cannot hide in it.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void MappedForward_AllocatesActivationsOnly_NeverAWeightCopy(int tokens)
    {
        var backend = new CpuBackend();
        using var model = Checkpoint.MapModel(ModelFiles.Open(_dir), backend);
        var c = model.Config;
        long weightMatrixBf16 = 2L * c.Rows * c.DModel;
        // Activations of one forward of B = 1 × L tokens, F32: the logits (L × rows), the residual stream and one layer's
        // temporaries (norm, q, k, v, rope'd q/k, attention output, projection: ≤ 12 C; MLP: 3 M), the attention scores
        // (heads × L × L, and their softmax), with 2× for the pool's size classes and blocks kept for reuse.
        long activations = 4L * tokens * c.Rows + 4L * tokens * (12L * c.DModel + 3L * c.MlpHiddenSize) + 2 * 4L * c.NHeads * tokens * tokens;
        long budget = 2 * activations + (1 << 16);
        Assert.True(budget < weightMatrixBf16, $"budget {budget} must be below one BF16 weight copy ({weightMatrixBf16}) to mean anything");

        var ids = Enumerable.Range(0, tokens).Select(i => i % 2 == 0 ? c.MaskTokenId : 1000 + i).ToArray();
        long managed0 = GC.GetAllocatedBytesForCurrentThread();
        long fresh0 = backend.Pool.FreshBytes, inUse0 = backend.Pool.BytesInUse;
        using (var x = Tensor.FromSpan<int>(ids, [1, tokens], DType.I32, backend))
        using (var logits = Tape.NoGrad(() => model.Forward(x)).Data)
            Assert.Equal([1, tokens, c.Rows], logits.ShapeArray());
        long pooled = backend.Pool.FreshBytes - fresh0;
        long managed = GC.GetAllocatedBytesForCurrentThread() - managed0;
        Assert.True(pooled <= budget, $"the forward took {pooled} bytes of tensors; activations budget {budget}");
        Assert.True(managed <= budget, $"the forward allocated {managed} managed bytes; activations budget {budget}");
        Assert.Equal(inUse0, backend.Pool.BytesInUse); // nothing of the forward outlives it
    }
    [Fact]
    public void ProcStatus_ReadsTheKernelsLines_WithOrWithoutSpacesAfterTheTab()
    {
        // As /proc/self/status prints them: a tab, then spaces only while the number has fewer than 8 digits.
        var s = ProcStatus.Parse(["Name:\tllada", "VmHWM:\t16132696 kB", "VmRSS:\t  430352 kB", "RssAnon:\t    5852 kB", "RssFile:\t16000000 kB"]);
        Assert.Equal(16132696L * 1024, s.PeakRssBytes);
        Assert.Equal(430352L * 1024, s.RssBytes);
        Assert.Equal(5852L * 1024, s.AnonBytes);
        Assert.Equal(16000000L * 1024, s.FileBytes);
        Assert.Equal(default(ProcStatus), ProcStatus.Parse(["Name:\tllada"]));
        var now = ProcStatus.Read();
        if (OperatingSystem.IsLinux()) Assert.True(now.PeakRssBytes >= now.RssBytes && now.RssBytes >= now.AnonBytes && now.AnonBytes > 0);
    }
}
