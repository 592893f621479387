using System.Buffers.Binary;
using System.Text;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Nn;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, true);

    private static MaskPredictorConfig TinyConfig => Presets.Tiny(vocab: 37, mask: 2, eos: 0) with { NKvHeads = 1 };

    private static void AssertSameParameters(MaskPredictor a, MaskPredictor b)
    {
        var pa = a.NamedParameters().ToList();
        var pb = b.NamedParameters().ToList();
        Assert.Equal(pa.Select(p => p.Name), pb.Select(p => p.Name));
        for (int i = 0; i < pa.Count; i++)
            Assert.Equal(pa[i].Parameter.Data.ToArray(), pb[i].Parameter.Data.ToArray());
    }

    [Fact]
    public void SaveLoad_SingleFile_RoundTripsBitExactly()
    {
        using var m = new MaskPredictor(TinyConfig, seed: 5);
        Checkpoint.SaveModel(_dir, m);
        using var back = Checkpoint.LoadModel(_dir);
        Assert.Equal(m.Config with { Extra = null }, back.Config with { Extra = null });
        AssertSameParameters(m, back);
    }

    [Fact]
    public void SaveLoad_Sharded_WritesIndexAndRoundTrips()
    {
        using var m = new MaskPredictor(TinyConfig, seed: 6);
        Checkpoint.SaveModel(_dir, m, maxShardBytes: 8 * 1024);
        Assert.True(File.Exists(Path.Combine(_dir, Checkpoint.IndexFile)));
        Assert.True(Directory.GetFiles(_dir, "model-*-of-*.safetensors").Length > 1);
        using var back = Checkpoint.LoadModel(_dir);
        AssertSameParameters(m, back);
    }

    [Fact]
    public void SaveLoad_Bf16_RoundsOnceThenRoundTripsExactly()
    {
        using var m = new MaskPredictor(TinyConfig, seed: 7);
        Checkpoint.SaveModel(_dir, m, storeAs: DType.BF16);
        var files = ModelFiles.Open(_dir);
        Assert.All(files.Tensors, t => Assert.Equal(DType.BF16, t.DType));
        using var back = Checkpoint.LoadModel(_dir);
        var w = m.Wte.Weight.Data.ToArray();
        var wb = back.Wte.Weight.Data.ToArray();
        for (int i = 0; i < w.Length; i++) Assert.Equal(Half16.FromBf16(Half16.ToBf16(w[i])), wb[i]);
    }

    [Fact]
    public void ParameterNames_FollowLladaCheckpoint()
    {
        using var m = new MaskPredictor(TinyConfig);
        var names = m.NamedParameters().Select(p => p.Name).ToList();
        Assert.Equal("model.transformer.wte.weight", names[0]);
        Assert.Contains("model.transformer.blocks.1.q_proj.weight", names);
        Assert.Contains("model.transformer.blocks.0.ff_proj.weight", names);
        Assert.Contains("model.transformer.blocks.0.up_proj.weight", names);
        Assert.Contains("model.transformer.blocks.0.ff_out.weight", names);
        Assert.Contains("model.transformer.blocks.0.attn_out.weight", names);
        Assert.Equal("model.transformer.ff_out.weight", names[^1]);
        Assert.Equal(2 * 9 + 3, names.Count);
        Assert.Equal(m.Config.ParameterCount(), m.ParameterCount());
    }

    [Fact]
    public void Llada8BConfig_ParameterCount_MatchesPublishedTotal()
    {
        // SPEC §4.4: 8,015,581,184 parameters in 291 tensors.
        var c = Presets.Llada8B();
        Assert.Equal(8_015_581_184L, c.ParameterCount());
        Assert.Equal(291, Checkpoint.ExpectedShapes(c).Count);
    }

    // ---------------------------------------------------------------- malformed files

    private string WriteGood()
    {
        using var t = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        using var u = Tensor.FromArray(new[] { 7, 8 });
        string p = Path.Combine(_dir, "x.safetensors");
        SafeTensorsWriter.Write(p, [("a", t), ("b", u)]);
        return p;
    }

    private string WriteRaw(string headerJson, int dataBytes, ulong? declaredLength = null)
    {
        string p = Path.Combine(_dir, "raw.safetensors");
        var h = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    private static string ErrorOf(Action a) => Assert.Throws<CheckpointException>(a).Message;

    [Fact]
    public void Good_File_ReadsBack()
    {
        var f = SafeTensorsFile.Open(WriteGood());
        using var a = f.Read("a");
        using var b = f.Read("b");
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, a.ToArray());
        Assert.Equal(new[] { 7, 8 }, b.ToIntArray());
    }

    [Fact]
    public void Truncated_Data_IsReportedAsTruncated()
    {
        string p = WriteGood();
        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..^4]);
        Assert.Contains("truncated", ErrorOf(() => SafeTensorsFile.Open(p)));
    }

    [Fact]
    public void Truncated_BeforeHeaderLength_IsReported()
    {
        string p = Path.Combine(_dir, "short.safetensors");
        File.WriteAllBytes(p, [1, 2, 3]);
        Assert.Contains("truncated", ErrorOf(() => SafeTensorsFile.Open(p)));
    }

    [Fact]
    public void HugeHeaderLength_IsRejectedWithoutAllocating()
    {
        string p = WriteRaw("{}", 0, declaredLength: ulong.MaxValue / 2);
        Assert.Contains("exceeds", ErrorOf(() => SafeTensorsFile.Open(p)));
        string q = WriteRaw("{}", 0, declaredLength: 5000);
        Assert.Contains("past the end", ErrorOf(() => SafeTensorsFile.Open(q)));
    }

    [Fact]
    public void BadJson_UnknownDtype_ShapeMismatch_AreNamed()
    {
        Assert.Contains("not valid JSON", ErrorOf(() => SafeTensorsFile.Open(WriteRaw("{\"a\": [", 0))));
        var dt = ErrorOf(() => SafeTensorsFile.Open(WriteRaw("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8)));
        Assert.Contains("'w'", dt);
        Assert.Contains("F64", dt);
        var sh = ErrorOf(() => SafeTensorsFile.Open(WriteRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)));
        Assert.Contains("'w'", sh);
        Assert.Contains("needs 12 bytes", sh);
        var neg = ErrorOf(() => SafeTensorsFile.Open(WriteRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)));
        Assert.Contains("invalid dimension", neg);
        var huge = ErrorOf(() => SafeTensorsFile.Open(WriteRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,4]}}", 4)));
        Assert.Contains("'w'", huge);
    }

    [Fact]
    public void OverlapGapAndTrailingBytes_AreRejected()
    {
        Assert.Contains("overlaps", ErrorOf(() => SafeTensorsFile.Open(WriteRaw(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8))));
        Assert.Contains("gap", ErrorOf(() => SafeTensorsFile.Open(WriteRaw(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8))));
        Assert.Contains("trailing", ErrorOf(() => SafeTensorsFile.Open(WriteRaw(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8))));
    }

    [Fact]
    public void MissingTensor_WrongShape_UnexpectedTensor_ConfigMismatch_AreNamed()
    {
        using var m = new MaskPredictor(TinyConfig, seed: 1);
        Checkpoint.SaveModel(_dir, m);
        // Config claims one more layer than the weights hold.
        File.WriteAllText(Path.Combine(_dir, Checkpoint.ConfigFile), (TinyConfig with { NLayers = 3 }).ToJson());
        var missing = ErrorOf(() => Checkpoint.LoadModel(_dir));
        Assert.Contains("missing tensor 'model.transformer.blocks.2.", missing);
        // Config claims one fewer layer: the extra tensors are reported.
        File.WriteAllText(Path.Combine(_dir, Checkpoint.ConfigFile), (TinyConfig with { NLayers = 1 }).ToJson());
        Assert.Contains("unexpected tensor 'model.transformer.blocks.1.", ErrorOf(() => Checkpoint.LoadModel(_dir)));
        // Config with another width: shapes disagree, the tensor is named.
        File.WriteAllText(Path.Combine(_dir, Checkpoint.ConfigFile), (TinyConfig with { MlpHiddenSize = 48 }).ToJson());
        var shape = ErrorOf(() => Checkpoint.LoadModel(_dir));
        Assert.Contains("ff_proj.weight", shape);
        Assert.Contains("[48, 32]", shape);
    }

    [Fact]
    public void BrokenConfigAndIndex_AreReported()
    {
        using var m = new MaskPredictor(TinyConfig, seed: 1);
        Checkpoint.SaveModel(_dir, m, maxShardBytes: 8 * 1024);
        string cfg = Path.Combine(_dir, Checkpoint.ConfigFile);
        string good = File.ReadAllText(cfg);
        File.WriteAllText(cfg, "{ not json");
        Assert.Contains("config", ErrorOf(() => ModelFiles.Open(_dir)));
        File.WriteAllText(cfg, good.Replace("\"n_heads\": 2", "\"n_heads\": 3"));
        Assert.Contains("divisible", ErrorOf(() => ModelFiles.Open(_dir)));
        File.WriteAllText(cfg, good);
        string index = Path.Combine(_dir, Checkpoint.IndexFile);
        File.WriteAllText(index, File.ReadAllText(index).Replace("model-00001-of", "../evil-00001-of"));
        Assert.Contains("plain file name", ErrorOf(() => ModelFiles.Open(_dir)));
    }

    [Fact]
    public void AtomicWrite_LeavesNoTempFiles()
    {
        using var m = new MaskPredictor(TinyConfig, seed: 2);
        Checkpoint.SaveModel(_dir, m);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }
}
