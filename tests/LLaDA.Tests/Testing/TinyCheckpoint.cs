using LLaDA.Diffusion.Data;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;

namespace LLaDA.Tests.Testing;

/// <summary>A complete, valid CLI checkpoint of the tiny preset (config.json, model.safetensors, tokenizer.char.json) for end-to-end tests of `llada`.</summary>
public static class TinyCheckpoint
{
    public const string Text = "春眠不觉晓处处闻啼鸟夜来风雨声花落知多少";

    public static CharTokenizer Tokenizer() => CharTokenizer.Build([Text]);

    /// <summary>The tiny preset on the test tokenizer (vocab 23: 4 specials + 19 distinct characters).</summary>
    public static MaskPredictorConfig Config(int maxSequenceLength = 128)
    {
        var sp = Tokenizer().Specials;
        return Presets.Tiny(Tokenizer().VocabSize, sp.Mask, sp.Eos) with { BosTokenId = sp.Bos, MaxSequenceLength = maxSequenceLength };
    }

    /// <summary>Writes the checkpoint into <paramref name="dir"/> (created) and returns <paramref name="dir"/>.</summary>
    public static string Write(string dir, MaskPredictorConfig? config = null, LLaDA.Tensors.DType? storeAs = null, ulong seed = 1)
    {
        using var m = new MaskPredictor(config ?? Config(), seed);
        Checkpoint.SaveModel(dir, m, storeAs);
        File.WriteAllText(Path.Combine(dir, TokenizerFiles.CharFile), Tokenizer().ToJson());
        return dir;
    }

    /// <summary>Runs `llada args` in-process with stdout and stderr captured (callers belong to the "Console" collection).</summary>
    public static (int Code, string Out, string Err) Run(params string[] args) => LLaDA.Tests.Cli.CliRunner.Run(args);
}
