using System.Text.Json.Nodes;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Nn;

/// <summary>Published-checkpoint loading: every config value that changes the math either works or is refused by name;
/// broken shard sets are named by file and tensor before anything is allocated; memory-mapped weights are used in place in
/// their stored dtype and give the copying load's logits.</summary>
public sealed class PublishedCheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-pub-" + Guid.NewGuid().ToString("N"));

    public PublishedCheckpointTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, true);

    private static MaskPredictorConfig Config => Presets.Tiny(vocab: 40, mask: 2, eos: 0) with { NKvHeads = 1, EmbeddingSize = 44 };

    private string Dir(string name) => Path.Combine(_dir, name);

    private static string ErrorOf(Action a) => Assert.Throws<CheckpointException>(a).Message;

    /// <summary>Writes config.json with one field set to a raw JSON value (LLaDA's own field names).</summary>
    private static void SetField(string dir, string field, string rawJson)
    {
        string path = Path.Combine(dir, Checkpoint.ConfigFile);
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        node[field] = JsonNode.Parse(rawJson);
        File.WriteAllText(path, node.ToJsonString());
    }

    public static TheoryData<string, string> Refused() => new()
    {
        { "scale_logits", "true" },
        { "input_emb_norm", "true" },
        { "layer_norm_type", "\"default\"" },
        { "layer_norm_with_affine", "false" },
        { "bias_for_layer_norm", "true" },
        { "include_bias", "true" },
        { "include_qkv_bias", "true" },
        { "attention_layer_norm", "true" },
        { "activation_type", "\"gelu\"" },
        { "activation_type", "\"swiglu\"" },
        { "alibi", "true" },
        { "rope", "false" },
        { "rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}" },
        { "clip_qkv", "8.0" },
        { "multi_query_attention", "true" },
        { "norm_after", "true" },
        { "block_group_size", "2" },
        { "attention_dropout", "0.1" },
        { "residual_dropout", "0.1" },
        { "embedding_dropout", "0.1" },
        { "scale_logits", "\"yes\"" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void UnimplementedConfigValue_IsRefusedNamingFieldAndValue(string field, string value)
    {
        using var m = new MaskPredictor(Config, seed: 1);
        Checkpoint.SaveModel(Dir("c"), m);
        SetField(Dir("c"), field, value);
        var msg = ErrorOf(() => ModelFiles.Open(Dir("c")));
        Assert.Contains(field, msg);
        Assert.Contains(value.Replace(" ", ""), msg.Replace(" ", ""));
        Assert.Contains("not supported", msg);
    }

    [Fact]
    public void Llada8BValuesOfTheMathFields_AreAccepted()
    {
        // SPEC §4.1: LLaDA-8B-Instruct's values of every refused-unless-default field, plus fields that do not change the forward.
        using var m = new MaskPredictor(Config, seed: 1);
        Checkpoint.SaveModel(Dir("c"), m);
        foreach (var (f, v) in new[] { ("scale_logits", "false"), ("input_emb_norm", "false"), ("layer_norm_type", "\"rms\""), ("layer_norm_with_affine", "true"),
                     ("bias_for_layer_norm", "false"), ("include_bias", "false"), ("include_qkv_bias", "false"), ("attention_layer_norm", "false"),
                     ("activation_type", "\"silu\""), ("alibi", "false"), ("rope", "true"), ("clip_qkv", "null"), ("multi_query_attention", "null"),
                     ("attention_dropout", "0.0"), ("residual_dropout", "0.0"), ("embedding_dropout", "0.0"), ("rope_full_precision", "true"),
                     ("flash_attention", "false"), ("precision", "\"amp_bf16\""), ("init_fn", "\"mitchell\""), ("mlp_ratio", "4") })
            SetField(Dir("c"), f, v);
        using var loaded = Checkpoint.LoadModel(Dir("c"));
        Assert.Equal(m.ParameterCount(), loaded.ParameterCount());
    }

    [Fact]
    public void EveryListedField_IsCoveredByARefusalCase()
    {
        var covered = Refused().Select(r => (string)r[0]).ToHashSet();
        foreach (var f in UnsupportedConfigFields.Fields) Assert.Contains(f, covered);
    }

    // ---------------------------------------------------------------- broken shard sets

    private void SaveSharded(string name)
    {
        using var m = new MaskPredictor(Config, seed: 1);
        Checkpoint.SaveModel(Dir(name), m, maxShardBytes: 16 * 1024);
        Assert.True(Directory.GetFiles(Dir(name), "model-*.safetensors").Length >= 3);
    }

    [Fact]
    public void MissingShard_NamesFileAndATensor()
    {
        SaveSharded("s");
        string shard = Directory.GetFiles(Dir("s"), "model-00002-of-*.safetensors").Single();
        File.Delete(shard);
        var msg = ErrorOf(() => ModelFiles.Open(Dir("s")));
        Assert.Contains(Path.GetFileName(shard), msg);
        Assert.Contains("not found", msg);
        Assert.Matches("tensor 'model\\.transformer\\.[a-z0-9_.]+'", msg);
    }

    [Fact]
    public void IndexNamingAnAbsentTensor_NamesIndexShardAndTensor()
    {
        SaveSharded("s");
        string index = Path.Combine(Dir("s"), Checkpoint.IndexFile);
        var node = JsonNode.Parse(File.ReadAllText(index))!;
        node["weight_map"]!["model.transformer.blocks.0.q_proj.weight"] = "model-00003-of-" + Path.GetFileName(Directory.GetFiles(Dir("s"), "model-00001-of-*")[0])[15..];
        File.WriteAllText(index, node.ToJsonString());
        var msg = ErrorOf(() => ModelFiles.Open(Dir("s")));
        Assert.Contains("model.transformer.blocks.0.q_proj.weight", msg);
        Assert.Contains("model-00003-of-", msg);
        Assert.Contains("does not contain it", msg);
    }

    [Fact]
    public void TruncatedShard_NamesFileAndTheCutTensor()
    {
        SaveSharded("s");
        string shard = Directory.GetFiles(Dir("s"), "model-00001-of-*.safetensors").Single();
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..(bytes.Length - 10)]);
        var msg = ErrorOf(() => ModelFiles.Open(Dir("s")));
        Assert.Contains(Path.GetFileName(shard), msg);
        Assert.Contains("truncated", msg);
        var last = SafeTensorsFileEntries(bytes).Last();
        Assert.Contains($"'{last}'", msg);
    }

    /// <summary>Tensor names of a safetensors file in data order, read from the header independently of the product's parser.</summary>
    private static List<string> SafeTensorsFileEntries(byte[] file)
    {
        long len = BitConverter.ToInt64(file, 0);
        var header = JsonNode.Parse(System.Text.Encoding.UTF8.GetString(file, 8, (int)len))!.AsObject();
        return header.Where(kv => kv.Key != "__metadata__").OrderBy(kv => (long)kv.Value!["data_offsets"]![0]!).Select(kv => kv.Key).ToList();
    }

    [Fact]
    public void ShapeAndDtypeMismatch_NameFileAndTensor()
    {
        // A shard whose q_proj has another shape than config.json implies, then one whose q_proj is I32.
        using var m = new MaskPredictor(Config, seed: 1);
        Checkpoint.SaveModel(Dir("d"), m);
        string file = Path.Combine(Dir("d"), Checkpoint.ModelFile);
        var named = m.NamedParameters().Select(p => (p.Name, p.Parameter.Data)).ToList();
        const string q = "model.transformer.blocks.1.q_proj.weight";
        using (var wrong = Tensor.Zeros([16, 32]))
            SafeTensorsWriter.Write(file, named.Select(p => p.Name == q ? (p.Name, wrong) : p));
        var shape = ErrorOf(() => Checkpoint.Validate(Config, ModelFiles.Open(Dir("d"))));
        Assert.Contains(q, shape);
        Assert.Contains("[16, 32]", shape);
        using (var ints = Tensor.Zeros([32, 32], DType.I32))
            SafeTensorsWriter.Write(file, named.Select(p => p.Name == q ? (p.Name, ints) : p));
        var dtype = ErrorOf(() => Checkpoint.Validate(Config, ModelFiles.Open(Dir("d"))));
        Assert.Contains(q, dtype);
        Assert.Contains("I32", dtype);
    }

    // ---------------------------------------------------------------- memory-mapped weights in their stored dtype

    [Fact]
    public void MappedF32_IsInPlace_AndBitIdenticalToTheCopyingLoad()
    {
        using var m = new MaskPredictor(Config, seed: 3);
        Checkpoint.SaveModel(Dir("f"), m, maxShardBytes: 16 * 1024);
        using var copied = Checkpoint.LoadModel(Dir("f"));
        using var mapped = Checkpoint.MapModel(ModelFiles.Open(Dir("f")));
        foreach (var (name, p) in mapped.NamedParameters())
            if (p.Data.Rank == 2) Assert.True(((CpuStorage)p.Data.Storage).IsExternal, $"{name} is not a view into the mapped shard");
        using var ids = Tensor.FromArray(new[] { 5, 2, 2, 9, 30, 1, 2, 7 }, [2, 4]);
        using var a = copied.Forward(ids).Data;
        using var b = mapped.Forward(ids).Data;
        Assert.Equal(a.ToArray(), b.ToArray());
    }

    [Fact]
    public void MappedBf16_StaysBf16_AndGivesTheF32CopysTokensAndLogitsWithinBf16Rounding()
    {
        // The F32 model, its BF16 copy, and an F32 copy of the BF16 weights (the same numbers widened).
        using var m = new MaskPredictor(Config, seed: 4);
        Checkpoint.SaveModel(Dir("f32"), m);
        Checkpoint.SaveModel(Dir("bf16"), m, storeAs: DType.BF16, maxShardBytes: 16 * 1024);
        using (var widened = Checkpoint.LoadModel(Dir("bf16"))) Checkpoint.SaveModel(Dir("rounded"), widened);
        using var bf16 = Checkpoint.MapModel(ModelFiles.Open(Dir("bf16")));
        using var rounded = Checkpoint.MapModel(ModelFiles.Open(Dir("rounded")));
        foreach (var (name, p) in bf16.NamedParameters())
            if (p.Data.Rank == 2) Assert.Equal(DType.BF16, p.Data.DType);
        using var ids = Tensor.FromArray(new[] { 5, 2, 2, 9, 30, 1, 2, 7, 2, 2, 3, 4 }, [2, 6]);
        using var lb = bf16.Forward(ids).Data;
        using var lr = rounded.Forward(ids).Data;
        using var lf = m.Forward(ids).Data;
        float[] b = lb.ToArray(), r = lr.ToArray(), f = lf.ToArray();
        float scale = f.Max(Math.Abs);
        for (int i = 0; i < b.Length; i++)
        {
            // Same weights, different summation order: f32 rounding only.
            Assert.True(Math.Abs(b[i] - r[i]) <= 1e-5f * scale + 1e-6f, $"[{i}] bf16 {b[i]} vs widened {r[i]}");
            // Against the unrounded f32 model: BF16 keeps 8 significant bits (relative error 2⁻⁹ per weight).
            Assert.True(Math.Abs(b[i] - f[i]) <= 0.03f * scale, $"[{i}] bf16 {b[i]} vs f32 {f[i]}");
        }
        // Greedy tokens (argmax over the vocabulary columns) of the BF16 model and the f32 copy of its weights agree.
        int v = Config.VocabSize, rows = Config.Rows;
        for (int t = 0; t < b.Length / rows; t++)
            Assert.Equal(ArgMax(r, t * rows, v), ArgMax(b, t * rows, v));
    }

    private static int ArgMax(float[] x, int start, int count)
    {
        int best = 0;
        for (int i = 1; i < count; i++)
            if (x[start + i] > x[start + best]) best = i;
        return best;
    }

    [Fact]
    public void MappedModel_OutlivesItsFiles_AndUnmapsOnDispose()
    {
        using var m = new MaskPredictor(Config, seed: 5);
        Checkpoint.SaveModel(Dir("u"), m, storeAs: DType.BF16);
        var model = Checkpoint.MapModel(ModelFiles.Open(Dir("u")));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using (var ids = Tensor.FromArray(new[] { 1, 2, 3 }, [1, 3]))
        using (var logits = model.Forward(ids).Data)
            Assert.All(logits.ToArray(), x => Assert.True(float.IsFinite(x)));
        model.Dispose();
        // With every lease returned the mapping is closed, so the directory can be removed (and rewritten) at once.
        Directory.Delete(Dir("u"), true);
    }
}
