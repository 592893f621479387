using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Commands;

/// <summary>`llada make-checkpoint --shape 8b|8b-2layer|mini --out DIR [--seed N]`: writes a synthetic checkpoint in the exact
/// layout of GSAI-ML/LLaDA-8B-Instruct (see <see cref="SyntheticCheckpoint"/>).</summary>
public static class MakeCheckpointCommand
{
    /// <summary>The synthetic shapes (<see cref="SyntheticCheckpoint.Shapes"/>).</summary>
    public enum Shape { Llada8B, Llada8BTwoLayers, Mini }

    private static readonly Choices<Shape> ShapeNames = new([("8b", Shape.Llada8B), ("8b-2layer", Shape.Llada8BTwoLayers), ("mini", Shape.Mini)]);
    private static readonly Option<Named<Shape>> ShapeOption = Opt.Choice("shape", "8b: the full LLaDA-8B (16 GB); 8b-2layer: its widths with 2 layers (3 GB); mini: LLaDA's vocabulary and ids with tiny widths (tests)", ShapeNames, Shape.Llada8BTwoLayers);
    private static readonly Option<string?> Out = Opt.Text("out", "DIR", "the directory to write");
    private static readonly Option<ulong> SeedOption = Opt.Seed("seed of the random weights", 0);

    public static Command Definition()
    {
        var c = new Command("make-checkpoint", "a synthetic checkpoint in LLaDA-8B-Instruct's exact layout (names, shapes, BF16, 6 shards + index, config.json, tokenizer files, generation_config.json) with random weights") { ShapeOption, Out, SeedOption };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult r)
    {
        string shape = ShapeNames.NameOf(r.GetValue(ShapeOption));
        string dir = r.GetValue(Out) ?? throw new OptionException("make-checkpoint needs --out DIR");
        ulong seed = r.GetValue(SeedOption);
        var plan = SyntheticCheckpoint.Plan(shape);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        SyntheticCheckpoint.Write(dir, plan, seed);
        Console.WriteLine($"wrote {dir}: {shape}, {plan.Config.NLayers} layers, {plan.Tensors.Count} tensors, {plan.TotalBytes:N0} bytes of BF16 in {plan.ShardCount} shards ({watch.Elapsed.TotalSeconds:F1} s)");
        return 0;
    }
}

/// <summary>A synthetic checkpoint with LLaDA-8B's names, shapes, BF16 dtype, six-shard layout and index, config.json with
/// every LLaDA field, a LLaDA-layout tokenizer.json (byte-level BPE with LLaDA's special tokens at their ids),
/// tokenizer_config.json with the chat template, and generation_config.json (SPEC §3, §4). The weights are random:
/// N(0, 0.02²) matrices (init_std), unit norm scales, so the activations stay finite through every layer.</summary>
public static class SyntheticCheckpoint
{
    /// <summary>The shapes: the full 8B (16 GB), the 8B with 2 layers (3 GB; same widths and vocabulary), and "mini" (LLaDA's
    /// vocabulary and special ids, tiny widths: ~33 MB, for tests).</summary>
    public static readonly string[] Shapes = ["8b", "8b-2layer", "mini"];

    public sealed record Layout(MaskPredictorConfig Config, IReadOnlyList<(string Name, int[] Shape)> Tensors, int ShardCount)
    {
        public long TotalBytes => Tensors.Sum(t => t.Shape.Aggregate(2L, (p, s) => p * s));
    }

    public static Layout Plan(string shape)
    {
        var c = shape.ToLowerInvariant() switch
        {
            "8b" => Presets.Llada8B(),
            "8b-2layer" => Presets.Llada8B() with { NLayers = 2 },
            "mini" => Presets.Llada8B() with { DModel = 64, NLayers = 2, NHeads = 4, MlpHiddenSize = 128 },
            _ => throw new OptionException($"--shape '{shape}' ({string.Join(", ", Shapes)})"),
        };
        c = c with { EmbeddingSize = c.VocabSize, NKvHeads = c.NHeads };
        // The order of LLaDA's index: embedding, blocks, final norm, head.
        var shapes = Checkpoint.ExpectedShapes(c);
        var names = new List<string> { "model.transformer.wte.weight" };
        for (int i = 0; i < c.NLayers; i++)
            foreach (var part in new[] { "attn_norm", "q_proj", "k_proj", "v_proj", "attn_out", "ff_norm", "ff_proj", "up_proj", "ff_out" })
                names.Add($"model.transformer.blocks.{i}.{part}.weight");
        names.Add("model.transformer.ln_f.weight");
        names.Add("model.transformer.ff_out.weight");
        return new Layout(c, names.Select(n => (n, shapes[n])).ToList(), 6);
    }

    public static void Write(string dir, Layout plan, ulong seed)
    {
        var c = plan.Config;
        var pending = plan.Tensors.Select((t, i) => PendingTensor.Streamed(t.Name, t.Shape, DType.BF16, s => EmitRandom(s, t.Shape, c.InitStd, seed, (ulong)i + 1))).ToList();
        Checkpoint.WriteWeights(dir, pending, shardCount: plan.ShardCount);
        AtomicFile.WriteText(Path.Combine(dir, Checkpoint.ConfigFile), ConfigJson(c));
        AtomicFile.WriteText(Path.Combine(dir, "generation_config.json"), new JsonObject
        {
            ["_from_model_config"] = true,
            ["bos_token_id"] = c.BosTokenId,
            ["eos_token_id"] = c.EosTokenId,
            ["pad_token_id"] = c.PadTokenId,
            ["transformers_version"] = "4.46.3",
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AtomicFile.WriteText(Path.Combine(dir, "tokenizer.json"), TokenizerJson(c.VocabSize));
        AtomicFile.WriteText(Path.Combine(dir, "tokenizer_config.json"), TokenizerConfigJson());
    }

    /// <summary>Elements generated and written per piece: 4 MiB of BF16 (a multiple of Philox's four words per block).</summary>
    private const int PieceElements = 1 << 21;

    /// <summary>Writes a tensor's BF16 bytes piece by piece, holding one piece at a time (≈ 12 MiB whatever the tensor's size):
    /// N(0, std²) truncated at ±3σ for matrices — bit for bit <c>Init.Normal(shape, std, seed, stream).Contiguous(BF16)</c>, the
    /// model's own init rounded to BF16, since Philox is counter-based and every element is drawn at its own index — and ones
    /// for the 1-D norm scales.</summary>
    public static void EmitRandom(Stream s, int[] shape, float std, ulong seed, ulong stream)
    {
        long n = shape.Aggregate(1L, (p, d) => p * d);
        int piece = (int)Math.Min(n, PieceElements);
        var f = new float[piece];
        var bf = new ushort[piece];
        ulong offset = stream << 40; // Init.Normal's counter range of this stream
        for (long at = 0; at < n; at += piece)
        {
            int len = (int)Math.Min(piece, n - at);
            if (shape.Length == 1) bf.AsSpan(0, len).Fill(Half16.ToBf16(1f));
            else
            {
                // Four normals per Philox block; the workers take whole blocks, so the numbers do not depend on the split.
                long pieceStart = at;
                LLaDA.Tensors.Cpu.CpuParallel.For((len + 3) / 4, 80, (b0, b1) =>
                {
                    int i0 = (int)(b0 * 4), i1 = (int)Math.Min(len, b1 * 4);
                    var dst = f.AsSpan(i0, i1 - i0);
                    LLaDA.Tensors.Random.Philox.FillNormal(dst, seed, offset, pieceStart + i0);
                    var out16 = bf.AsSpan(i0, i1 - i0);
                    for (int j = 0; j < dst.Length; j++) out16[j] = Half16.ToBf16(Math.Clamp(dst[j], -3f, 3f) * std);
                });
            }
            s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bf.AsSpan(0, len)));
        }
    }

    /// <summary>config.json as LLaDA-8B-Instruct's (SPEC §4.1), with this shape's sizes.</summary>
    private static string ConfigJson(MaskPredictorConfig c)
    {
        var node = JsonNode.Parse(c.ToJson())!.AsObject();
        node.Remove("causal");
        var llada = new JsonObject
        {
            ["activation_type"] = "silu", ["alibi"] = false, ["alibi_bias_max"] = 8.0, ["architectures"] = new JsonArray("LLaDAModelLM"),
            ["attention_dropout"] = 0.0, ["attention_layer_norm"] = false, ["attention_layer_norm_with_affine"] = true,
            ["bias_for_layer_norm"] = false, ["block_group_size"] = 1, ["embedding_dropout"] = 0.0, ["flash_attention"] = false,
            ["include_bias"] = false, ["include_qkv_bias"] = false, ["init_cutoff_factor"] = null, ["init_device"] = "meta", ["init_fn"] = "mitchell",
            ["input_emb_norm"] = false, ["layer_norm_type"] = "rms", ["layer_norm_with_affine"] = true, ["mlp_ratio"] = 4, ["model_type"] = "llada",
            ["multi_query_attention"] = null, ["precision"] = "amp_bf16", ["residual_dropout"] = 0.0, ["rope"] = true, ["rope_full_precision"] = true,
            ["scale_logits"] = false, ["torch_dtype"] = "bfloat16", ["transformers_version"] = "4.46.3", ["use_cache"] = false,
        };
        foreach (var (k, v) in llada) node[k] = v?.DeepClone();
        return node.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>LLaDA's added tokens (SPEC §3) and their ids.</summary>
    public static IEnumerable<(int Id, string Content)> SpecialTokens()
    {
        yield return (126080, "<|startoftext|>");
        yield return (126081, "<|endoftext|>");
        yield return (126082, "[CLS]");
        yield return (126083, "[gMASK]");
        int reserved = 0;
        for (int id = 126084; id <= 126335; id++) yield return (id, $"<|reserved_token_{reserved++}|>");
        yield return (126336, "<|mdm_mask|>");
        for (int id = 126337; id <= 126339; id++) yield return (id, $"<|reserved_token_{reserved++}|>");
        yield return (126340, "<role>");
        yield return (126341, "</role>");
        yield return (126342, "<|arithmetic_start|>");
        yield return (126343, "<|arithmetic_end|>");
        yield return (126344, "<|number_start|>");
        yield return (126345, "<|number_end|>");
        yield return (126346, "<|start_header_id|>");
        yield return (126347, "<|end_header_id|>");
        yield return (126348, "<|eot_id|>");
    }

    /// <summary>A byte-level BPE over the 256 byte symbols with LLaDA's added tokens at their ids; every other id up to
    /// vocab_size is a "[PAD{id}]" entry (as llama.cpp's converter names ids without a tokenizer entry), so any id decodes.</summary>
    private static string TokenizerJson(int vocabSize)
    {
        var vocab = new JsonObject();
        var specials = SpecialTokens().ToDictionary(t => t.Id, t => t.Content);
        var byteChars = ByteChars();
        for (int b = 0; b < 256; b++) vocab[byteChars[b].ToString()] = b;
        for (int id = 256; id < vocabSize; id++)
            if (!specials.ContainsKey(id)) vocab[$"[PAD{id}]"] = id;
        var added = new JsonArray();
        foreach (var (id, content) in SpecialTokens())
            added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel.DeepClone(),
            ["post_processor"] = byteLevel.DeepClone(),
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false, ["vocab"] = vocab, ["merges"] = new JsonArray(),
            },
        };
        return root.ToJsonString();
    }

    /// <summary>GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the others for U+0100 onwards.</summary>
    private static char[] ByteChars()
    {
        var chars = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            chars[b] = printable ? (char)b : (char)(256 + next++);
        }
        return chars;
    }

    /// <summary>tokenizer_config.json as LLaDA-8B-Instruct's: special tokens and the chat template (SPEC §3).</summary>
    private static string TokenizerConfigJson() => new JsonObject
    {
        ["add_bos_token"] = false,
        ["add_eos_token"] = false,
        ["bos_token"] = "<|startoftext|>",
        ["eos_token"] = "<|endoftext|>",
        ["pad_token"] = "<|endoftext|>",
        ["mask_token"] = "<|mdm_mask|>",
        ["chat_template"] = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
        ["clean_up_tokenization_spaces"] = false,
        ["model_max_length"] = 4096,
        ["tokenizer_class"] = "PreTrainedTokenizerFast",
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}
