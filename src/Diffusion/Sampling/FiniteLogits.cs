using LLaDA.Tensors;

namespace LLaDA.Diffusion.Sampling;

/// <summary>Refuses NaN/+Inf logits from the model: argmax over NaN picks an arbitrary token (often EOS), so a broken model would
/// otherwise "succeed" with garbage. −∞ is a probability of zero (a constrained or oracle model may give it) and is accepted, but
/// a position with no finite logit has no distribution and is refused. Checked on the model's raw output, before the sampler's own
/// −∞ (EOS suppression) is applied.</summary>
public static class FiniteLogits
{
    /// <summary>Throws <see cref="InvalidDataException"/> naming the caller, the position and the vocabulary entry of the first NaN/+Inf
    /// logit of (rows, L, V) data, or the first position whose logits are all −∞.</summary>
    public static void Ensure(ReadOnlySpan<float> logits, int vocab, string where)
    {
        if (NonFinite.FirstIndex(logits) < 0) return; // the common case: one vectorised pass
        for (int pos = 0; pos < logits.Length / vocab; pos++)
        {
            var row = logits.Slice(pos * vocab, vocab);
            bool any = false;
            for (int t = 0; t < vocab; t++)
            {
                float x = row[t];
                if (float.IsNaN(x) || float.IsPositiveInfinity(x))
                    throw new InvalidDataException($"{where}: the model produced a non-finite logit ({x}) at position {pos}, token {t}; its weights or inputs are broken");
                any |= !float.IsNegativeInfinity(x);
            }
            if (!any) throw new InvalidDataException($"{where}: the model produced no finite logit at position {pos} (all −∞); its weights or inputs are broken");
        }
    }
}
