using System.Text.Json.Nodes;
using LLaDA.Cli.Commands;
using LLaDA.Diffusion.Data;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>`llada make-checkpoint`: the 8B plan matches the published checkpoint's tensor count and byte total (SPEC §4.4);
/// the small LLaDA-vocabulary variant is written, validated, memory-mapped and sampled end to end.</summary>
[Collection("Console")]
public sealed class SyntheticCheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-synth-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    [Fact]
    public void Plan8B_Has291TensorsOfThePublishedTotalSize_InLladaNames()
    {
        var plan = SyntheticCheckpoint.Plan("8b");
        Assert.Equal(291, plan.Tensors.Count);
        Assert.Equal(16_031_162_368L, plan.TotalBytes); // metadata.total_size of LLaDA-8B-Instruct's index
        var expected = Checkpoint.ExpectedShapes(Presets.Llada8B());
        Assert.Equal(expected.Keys.Order(), plan.Tensors.Select(t => t.Name).Order());
        foreach (var (name, shape) in plan.Tensors) Assert.Equal(expected[name], shape);
        Assert.Equal(6, plan.ShardCount);
        Assert.Equal(2, SyntheticCheckpoint.Plan("8b-2layer").Config.NLayers);
    }

    [Fact]
    public void Mini_IsWrittenInTheLladaLayout_LoadsMappedAndGenerates()
    {
        var (code, _, err) = CliRunner.Run(["make-checkpoint", "--shape", "mini", "--out", _dir, "--seed", "3"]);
        Assert.True(code == 0, err);
        foreach (var f in new[] { "config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(_dir, f)), f);
        var shards = Directory.GetFiles(_dir, "model-*-of-00006.safetensors").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 6).Select(i => $"model-{i:D5}-of-00006.safetensors"), shards);
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, Checkpoint.IndexFile)))!;
        long total = (long)index["metadata"]!["total_size"]!;
        var files = ModelFiles.Open(_dir);
        Assert.Equal(total, files.Tensors.Sum(t => t.End - t.Begin));
        Assert.All(files.Tensors, t => Assert.Equal(LLaDA.Tensors.DType.BF16, t.DType));
        Assert.Equal(126464, files.Config.VocabSize);

        // The tokenizer: LLaDA's special ids, and the chat template's header tokens.
        var tok = TokenizerFiles.Load(_dir);
        Assert.Equal(126464, tok.VocabSize);
        Assert.Equal(new SpecialTokens(126081, 126336, 126080, null, 126348), tok.Specials with { Pad = null, Unknown = null });
        var chat = ChatTemplate.Encode(tok, [("user", "hi")]);
        Assert.Equal([126080, 126346], chat[..2]);
        Assert.Equal(126347, chat[^3]);

        var (gc, gout, gerr) = CliRunner.Run(["generate", "--checkpoint", _dir, "--prompt", "hi", "--gen-length", "8", "--steps", "8", "--block-length", "8", "--chat-template"]);
        Assert.True(gc == 0, gerr);
        Assert.False(string.IsNullOrEmpty(gout));
        var (ic, iout, _) = CliRunner.Run(["info", "--checkpoint", _dir]);
        Assert.Equal(0, ic);
        Assert.Contains("tensors:    21 (BF16 ×21)", iout); // 2 layers × 9 + embedding, final norm, head
    }
    [Fact]
    public void StreamedWeights_AreTheModelsOwnInitRoundedToBf16_PieceByPiece()
    {
        // More elements than one generated piece (2²¹), and a count not a multiple of Philox's four words per block.
        int[] shape = [1031, 2039];
        using var ms = new MemoryStream();
        SyntheticCheckpoint.EmitRandom(ms, shape, 0.02f, 7, 5);
        var bytes = ms.ToArray();
        Assert.Equal(2L * 1031 * 2039, bytes.Length);
        // Reference: the model's init in F32 as a whole tensor, then converted by the backend.
        using var w = Init.Normal(shape, 0.02f, 7, 5, LLaDA.Tensors.Cpu.CpuBackend.Default);
        using var bf = w.Contiguous(LLaDA.Tensors.DType.BF16);
        var expected = new ushort[bf.Numel];
        bf.Backend.Download<ushort>(bf, expected);
        Assert.Equal(System.Runtime.InteropServices.MemoryMarshal.AsBytes(expected.AsSpan()).ToArray(), bytes);
        // Another seed gives other weights; norm scales are ones.
        using var other = new MemoryStream();
        SyntheticCheckpoint.EmitRandom(other, shape, 0.02f, 8, 5);
        Assert.NotEqual(bytes, other.ToArray());
        using var ones = new MemoryStream();
        SyntheticCheckpoint.EmitRandom(ones, [5], 0.02f, 7, 1);
        Assert.Equal(Enumerable.Repeat(new byte[] { 0x80, 0x3F }, 5).SelectMany(b => b).ToArray(), ones.ToArray());
    }

    [Fact]
    public void Writer_RefusesAStreamedTensorOfTheWrongByteCount()
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "bad.safetensors");
        var items = new[] { PendingTensor.Streamed("w", [4, 4], LLaDA.Tensors.DType.BF16, s => s.Write(new byte[30])) };
        var e = Assert.Throws<CheckpointException>(() => SafeTensorsWriter.Write(path, items));
        Assert.Contains("'w' was announced as 32 bytes but 30 were written", e.Message);
        Assert.False(File.Exists(path));
    }
}
