namespace LLaDA.Diffusion.Data;

/// <summary>Ids of the special tokens (never inline in code: they come from the tokenizer or model config).</summary>
public sealed record SpecialTokens(int Eos, int Mask, int? Bos = null, int? Pad = null, int? EndOfTurn = null, int? Unknown = null)
{
    /// <summary>The padding id (LLaDA pads with EOS).</summary>
    public int PadId => Pad ?? Eos;
}

/// <summary>Text ↔ token ids.</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    SpecialTokens Specials { get; }
    int[] Encode(string text);
    string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false);
}
