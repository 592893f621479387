namespace LLaDA.Nn;

/// <summary>The named model shapes of <see cref="Presets"/>.</summary>
public enum Preset
{
    Tiny,
    Poems,
    Bench,
    Llada8B,
}

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

    /// <summary>Every preset by name (the one list of names): "tiny", "poems", "bench", "8b".</summary>
    public static IReadOnlyList<(string Name, Preset Preset)> Names { get; } = [("tiny", Preset.Tiny), ("poems", Preset.Poems), ("bench", Preset.Bench), ("8b", Preset.Llada8B)];

    /// <summary>The shape of <paramref name="preset"/> with the tokenizer's vocabulary and special ids (8B keeps its own).</summary>
    public static MaskPredictorConfig Of(Preset preset, int vocab, int mask, int eos) => preset switch
    {
        Preset.Tiny => Tiny(vocab, mask, eos),
        Preset.Poems => Poems(vocab, mask, eos),
        Preset.Bench => Bench(vocab) with { MaskTokenId = mask, EosTokenId = eos, PadTokenId = eos },
        Preset.Llada8B => Llada8B(),
        _ => throw new ArgumentOutOfRangeException(nameof(preset), preset, "unknown preset"),
    };

    /// <summary>The preset named <paramref name="name"/> (case-insensitive).</summary>
    public static Preset Parse(string name) =>
        Names.FirstOrDefault(n => string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase)) is { Name: not null } hit
            ? hit.Preset
            : throw new ConfigException($"unknown preset '{name}' ({string.Join(", ", Names.Select(n => n.Name))})");

    /// <summary>Looks a preset up by name ("tiny", "poems", "bench", "8b").</summary>
    public static MaskPredictorConfig ByName(string name, int vocab, int mask, int eos) => Of(Parse(name), vocab, mask, eos);

    public static string NameOf(Preset preset) => Names.First(n => n.Preset == preset).Name;
}
