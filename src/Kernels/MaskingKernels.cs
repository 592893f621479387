using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;

namespace LLaDA.Kernels;

/// <summary>The forward process's per-token noising on the device (IBackend.MaskTokens), drawing exactly the Philox numbers of <see cref="TokenMasking.Reference"/>.</summary>
/// <remarks>
/// <para>Counter layout of step s (<see cref="TokenMasking"/>): stream (seed, offset = s·2³²); word 2 + B + i·L + j is the token
/// draw of (i, j) — L is the uncut length, so a cut batch reads the same draws as an uncut one. The row probabilities
/// p_mask arrive from the host (TimeSampler's modes and t_min, then ε), so the kernel never draws a time itself.</para>
/// <para>The kernel writes dense (B, L') tensors: the noisy ids and a loss weight per token that is 0 where the token was kept.</para>
/// </remarks>
public static class MaskingKernels
{
    /// <summary>Per token (i, j &lt; L'): p = pMask[i]; masked when j ≥ prompt[i] and u[i, j] &lt; p; noisy = masked ? maskId : id; weight = masked ? 1/(p·B·L') (pre-training) or 1/(p·(L − prompt)·B) (SFT) : 0.</summary>
    [Kernel]
    internal static void MaskTokensKernel(ArrayView<int> ids, ArrayView<float> pMask, ArrayView<int> promptLengths, int sft, ArrayView<int> noisy, ArrayView<float> weights,
                                          int batch, int length, int cut, int maskId, ulong seed, ulong offset)
    {
        long n = (long)batch * cut;
        for (long e = Idx.Global; e < n; e += Idx.Stride)
        {
            int i = (int)(e / cut), j = (int)(e - (long)i * cut);
            float p = pMask[i];
            float u = DevicePhilox.ToUniform(DevicePhilox.Word(seed, offset, 2 + batch + (long)i * length + j));
            int prompt = sft != 0 ? promptLengths[i] : 0;
            bool masked = j >= prompt && u < p;
            // SPEC §5.1/§5.3: pre-training divides by every token of the (cut) batch; SFT by the answer length.
            float w = sft != 0 ? 1f / (p * (length - prompt) * batch) : 1f / (p * batch * cut);
            noisy[e] = masked ? maskId : ids[(long)i * length + j];
            weights[e] = masked ? w : 0f;
        }
    }

    /// <summary>Noises ids (B, L) into noisy (B, cut) I32 and weights (B, cut) F32 for training step <paramref name="step"/> with the row probabilities pMask (B) F32.</summary>
    /// <param name="promptLengths">(B) prompt lengths in [0, L) for SFT (prompts are never masked), or an empty view for pre-training.</param>
    /// <param name="cut">The batch length: L for SFT, <see cref="TokenMasking.CutLength"/> for pre-training.</param>
    public static void MaskTokens(KernelContext k, ArrayView<int> ids, ArrayView<float> pMask, ArrayView<int> promptLengths, ArrayView<int> noisy, ArrayView<float> weights,
                                  int batch, int length, int cut, int maskId, ulong seed, ulong step)
    {
        if (cut < 1 || cut > length) throw new ArgumentOutOfRangeException(nameof(cut), $"cut length {cut} must be in [1, {length}]");
        if (promptLengths.Length > 0 && cut != length) throw new ArgumentException("SFT batches are never cut");
        long n = (long)batch * cut;
        if (n == 0) return;
        k.Kernel("Masking.MaskTokens", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<float>, ArrayView<int>, int, ArrayView<int>, ArrayView<float>, int, int, int, int, ulong, ulong>>(a, MaskTokensKernel))
            (k.Stream, Launch.Elementwise(k, n), ids, pMask, promptLengths, promptLengths.Length > 0 ? 1 : 0, noisy, weights, batch, length, cut, maskId, seed, TokenMasking.Offset(step));
    }
}
