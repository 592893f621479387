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
                if (float.IsNaN(x) || float.IsPositiveInfinity(x)) throw NonFiniteError(where, x, pos, t);
                any |= !float.IsNegativeInfinity(x);
            }
            if (!any) throw NoFiniteError(where, pos);
        }
    }

    /// <summary>Throws as <see cref="Ensure"/> would for the status codes of <see cref="Tensor.SampleTokens"/> (tokens (B, W), see <see cref="TokenSampler"/>) over logits (R, W, V): the first broken position in row-major order, conditional rows before unconditional ones.</summary>
    public static void EnsureStatus(ReadOnlySpan<int> tokens, Tensor scores, int batch, int w, int vocab, string where)
    {
        int first = -1;
        for (int half = 0; half < 2 && first < 0; half++)
            for (int k = 0; k < tokens.Length && first < 0; k++)
            {
                int c = tokens[k];
                if (c >= 0) continue;
                bool uncond = c == -2 - 2 * vocab || (c != -1 - 2 * vocab && -1 - c >= vocab);
                if (uncond == (half == 1)) first = k;
            }
        if (first < 0) return;
        var sc = new double[tokens.Length];
        scores.Backend.Download<double>(scores, sc);
        int code = tokens[first], i = first / w, j = first % w;
        int condPos = i * w + j, uncondPos = (batch + i) * w + j;
        if (code == -1 - 2 * vocab) throw NoFiniteError(where, condPos);
        if (code == -2 - 2 * vocab) throw NoFiniteError(where, uncondPos);
        int t = -1 - code;
        if (t < vocab) throw NonFiniteError(where, (float)sc[first], condPos, t);
        throw NonFiniteError(where, (float)sc[first], uncondPos, t - vocab);
    }

    private static InvalidDataException NonFiniteError(string where, float x, int pos, int t)
        => new($"{where}: the model produced a non-finite logit ({x}) at position {pos}, token {t}; its weights or inputs are broken");

    private static InvalidDataException NoFiniteError(string where, int pos)
        => new($"{where}: the model produced no finite logit at position {pos} (all −∞); its weights or inputs are broken");
}
