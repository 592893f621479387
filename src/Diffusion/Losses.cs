using LLaDA.Autograd;
using LLaDA.Nn;
using LLaDA.Tensors;

namespace LLaDA.Diffusion;

/// <summary>The training objectives: LLaDA's masked-diffusion loss and the autoregressive baseline's next-token loss.</summary>
public static class Losses
{
    /// <summary>Σ_masked CE(logits, x)·weight for a noised batch (weights carry 1/p_mask and the normaliser); null when nothing was masked.</summary>
    /// <remarks>Only masked rows go through the LM head: the same loss as the reference at about p_mask of the head's cost.</remarks>
    public static Variable? Masked(MaskPredictor model, MaskedBatch batch, Tensor? keyPadding = null)
        => MaskedPerToken(model, batch, keyPadding) is Variable perToken ? F.Sum(perToken) : null;

    /// <summary>(Nm) CE(logits, x)·weight of every masked token (the terms of <see cref="Masked"/>); null when nothing was masked.</summary>
    public static Variable? MaskedPerToken(MaskPredictor model, MaskedBatch batch, Tensor? keyPadding = null)
    {
        if (batch.MaskedCount == 0) return null;
        var h = model.Hidden(batch.Noisy, keyPadding);                        // (B, L, C)
        var flat = F.Reshape(h, batch.Batch * batch.Length, model.Config.DModel); // (B·L, C)
        var picked = F.Embedding(flat, batch.MaskedRows);                     // (Nm, C): row gather, scatter-add backward
        var logits = model.Logits(picked);                                   // (Nm, V)
        return F.CrossEntropy(logits, batch.Targets, batch.Weights);
    }

    /// <summary>Next-token loss of a causal model: mean over positions j &lt; validLength[i] − 1 of CE(logits[i, j], ids[i, j+1]); with prompt lengths (SFT) only answer tokens j + 1 ≥ prompt[i] are predicted.</summary>
    public static Variable NextToken(MaskPredictor model, ReadOnlySpan<int> ids, int batch, int length, ReadOnlySpan<int> validLengths, ReadOnlySpan<int> promptLengths = default)
    {
        if (!model.Config.Causal) throw new InvalidOperationException("NextToken: the model is not causal (config.causal = false)");
        int n = batch * (length - 1);
        var targets = new int[n];
        var weights = new float[n];
        int count = 0;
        for (int i = 0; i < batch; i++)
            for (int j = 0; j < length - 1; j++)
            {
                bool valid = j + 1 < validLengths[i] && (promptLengths.IsEmpty || j + 1 >= promptLengths[i]);
                targets[i * (length - 1) + j] = valid ? ids[i * length + j + 1] : -1;
                if (valid) count++;
            }
        for (int k = 0; k < n; k++) weights[k] = targets[k] >= 0 ? 1f / Math.Max(1, count) : 0f;
        var input = Tensor.FromArray(ids.ToArray(), [batch, length], model.Backend);
        var h = model.Hidden(input);                                          // (B, L, C)
        var hs = F.Reshape(F.Narrow(h, 1, 0, length - 1), n, model.Config.DModel); // (B·(L−1), C)
        var logits = model.Logits(hs);
        var t = Tensor.FromArray(targets, [n], model.Backend);
        var w = Tensor.FromArray(weights, [n], model.Backend);
        return F.Sum(F.CrossEntropy(logits, t, w));
    }
}
