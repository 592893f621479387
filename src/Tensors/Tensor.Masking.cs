namespace LLaDA.Tensors;

// The forward (noising) process's per-token primitive (IBackend.MaskTokens) with its checks.
public sealed partial class Tensor
{
    /// <summary>(noisy (B, L') I32, weights (B, L') F32) of clean ids (B, L) I32 for training step <paramref name="step"/>; see <see cref="IBackend.MaskTokens"/>.</summary>
    /// <param name="pMask">(B) F32 masking probability per row, drawn on the host (p = (1 − ε)t + ε).</param>
    /// <param name="promptLengths">(B) I32 prompt lengths in [0, L) for SFT (prompts are never masked), or null for pre-training.</param>
    /// <param name="cut">The batch length L': <see cref="TokenMasking.CutLength"/> for pre-training, L for SFT.</param>
    public static (Tensor Noisy, Tensor Weights) MaskTokens(Tensor ids, Tensor pMask, Tensor? promptLengths, int cut, int maskId, ulong seed, ulong step)
    {
        if (ids.Rank != 2 || ids.DType != DType.I32 || !ids.IsContiguous) throw new TensorException($"MaskTokens: ids must be contiguous I32 (B, L), got {ids.DType} {Check.Fmt(ids.Shape)}");
        int b = ids.Dim(0), l = ids.Dim(1);
        if (pMask.Rank != 1 || pMask.DType != DType.F32 || !pMask.IsContiguous || pMask.Dim(0) != b) throw new TensorException($"MaskTokens: pMask must be contiguous F32 ({b}), got {pMask.DType} {Check.Fmt(pMask.Shape)}");
        if (promptLengths is not null && (promptLengths.Rank != 1 || promptLengths.DType != DType.I32 || !promptLengths.IsContiguous || promptLengths.Dim(0) != b))
            throw new TensorException($"MaskTokens: prompt lengths must be contiguous I32 ({b}), got {promptLengths.DType} {Check.Fmt(promptLengths.Shape)}");
        if (cut < 1 || cut > l) throw new TensorException($"MaskTokens: cut length {cut} must be in [1, {l}]");
        if (promptLengths is not null && cut != l) throw new TensorException($"MaskTokens: SFT batches are never cut ({cut} of {l})");
        Check.SameBackend("MaskTokens", ids, pMask);
        if (promptLengths is not null) Check.SameBackend("MaskTokens", ids, promptLengths);
        var noisy = Empty([b, cut], DType.I32, ids.Backend);
        var weights = Empty([b, cut], DType.F32, ids.Backend);
        if (b > 0) ids.Backend.MaskTokens(ids, pMask, promptLengths, maskId, seed, step, noisy, weights);
        return (noisy, weights);
    }
}
