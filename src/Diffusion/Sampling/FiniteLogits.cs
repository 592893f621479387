using LLaDA.Tensors;

namespace LLaDA.Diffusion.Sampling;

/// <summary>Refuses NaN/±Inf logits from the model: argmax over NaN picks an arbitrary token (often EOS), so a broken model would
/// otherwise "succeed" with garbage. Checked on the model's raw output, before the sampler's own −∞ (EOS suppression) is applied.</summary>
public static class FiniteLogits
{
    /// <summary>Throws <see cref="InvalidDataException"/> naming the caller, the position and the vocabulary entry of the first non-finite logit of (rows, L, V) data.</summary>
    public static void Ensure(ReadOnlySpan<float> logits, int vocab, string where)
    {
        long i = NonFinite.FirstIndex(logits);
        if (i < 0) return;
        throw new InvalidDataException($"{where}: the model produced a non-finite logit ({logits[(int)i]}) at position {i / vocab}, token {i % vocab}; its weights or inputs are broken");
    }
}
