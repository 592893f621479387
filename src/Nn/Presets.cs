namespace LLaDA.Nn;

/// <summary>Named model shapes, from CI-sized to LLaDA-8B (shape only: nobody trains that here).</summary>
public static class Presets
{
    /// <summary>CI-sized: trains in seconds (token ids from the tokenizer in use).</summary>
    public static MaskPredictorConfig Tiny(int vocab, int mask, int eos) => new()
    {
        DModel = 32, NLayers = 2, NHeads = 2, MlpHiddenSize = 64, VocabSize = vocab, MaxSequenceLength = 128,
        RopeTheta = 10000f, MaskTokenId = mask, EosTokenId = eos, PadTokenId = eos, BosTokenId = null,
    };

    /// <summary>The poems main-job model: 4 layers, d 128, 4 heads — trains on 2 CPU cores in minutes.</summary>
    public static MaskPredictorConfig Poems(int vocab, int mask, int eos) => new()
    {
        DModel = 128, NLayers = 4, NHeads = 4, MlpHiddenSize = 512, VocabSize = vocab, MaxSequenceLength = 128,
        RopeTheta = 10000f, MaskTokenId = mask, EosTokenId = eos, PadTokenId = eos, BosTokenId = null,
    };

    /// <summary>The speed-benchmark shape: 6 layers, d 256, 4 heads, vocab 4096 (trained at T 256, B 16).</summary>
    public static MaskPredictorConfig Bench(int vocab = 4096) => new()
    {
        DModel = 256, NLayers = 6, NHeads = 4, MlpHiddenSize = 1024, VocabSize = vocab, MaxSequenceLength = 256,
        RopeTheta = 10000f, MaskTokenId = vocab - 1, EosTokenId = vocab - 2, PadTokenId = vocab - 2, BosTokenId = vocab - 3,
    };

    /// <summary>LLaDA-8B-Instruct's shape (SPEC §4.1): 8.02B parameters.</summary>
    public static MaskPredictorConfig Llada8B() => new();

    /// <summary>Looks a preset up by name ("tiny", "poems", "bench", "8B").</summary>
    public static MaskPredictorConfig ByName(string name, int vocab, int mask, int eos) => name.ToLowerInvariant() switch
    {
        "tiny" => Tiny(vocab, mask, eos),
        "poems" => Poems(vocab, mask, eos),
        "bench" => Bench(vocab) with { MaskTokenId = mask, EosTokenId = eos, PadTokenId = eos },
        "8b" => Llada8B(),
        _ => throw new ConfigException($"unknown preset '{name}' (tiny, poems, bench, 8B)"),
    };
}
