using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors.Random;

namespace LLaDA.Kernels;

/// <summary>LLaDA's forward (noising) process on the device, drawing exactly the Philox numbers of LLaDA.Diffusion.ForwardProcess.</summary>
/// <remarks>
/// <para>Counter layout of step s (ForwardProcess): stream (seed, offset = s·2³²); word 0 decides the random cut, word 1 its
/// length, word 2 + i the row time t[i], word 2 + B + i·L + j the token draw of (i, j) — L is the uncut length, so a cut
/// batch reads the same draws as an uncut one.</para>
/// <para>Instead of ForwardProcess's compacted lists (masked rows, targets, weights) the kernel writes dense (B, L')
/// tensors: the noisy ids and a loss weight per token that is 0 where the token was kept. Cross-entropy over all B·L'
/// rows with these weights (and the clean ids as targets) is the LLaDA loss, with no host round trip.</para>
/// </remarks>
public static class MaskingKernels
{
    /// <summary>Per token (i, j &lt; L'): p = (1−ε)t[i] + ε; masked when j ≥ prompt[i] and u[i, j] &lt; p; noisy = masked ? maskId : id; weight = masked ? 1/(p·B·L') (pre-training) or 1/(p·(L − prompt)·B) (SFT) : 0.</summary>
    [Kernel]
    internal static void ForwardProcessKernel(ArrayView<int> ids, ArrayView<int> promptLengths, int sft, ArrayView<int> noisy, ArrayView<float> weights, ArrayView<float> pMask,
                                              int batch, int length, int cut, int maskId, float eps, ulong seed, ulong offset)
    {
        long n = (long)batch * cut;
        for (long e = Idx.Global; e < n; e += Idx.Stride)
        {
            int i = (int)(e / cut), j = (int)(e - (long)i * cut);
            float t = DevicePhilox.ToUniform(DevicePhilox.Word(seed, offset, 2 + i));
            float p = (1 - eps) * t + eps;
            if (j == 0) pMask[i] = p;
            float u = DevicePhilox.ToUniform(DevicePhilox.Word(seed, offset, 2 + batch + (long)i * length + j));
            int prompt = sft != 0 ? promptLengths[i] : 0;
            bool masked = j >= prompt && u < p;
            // SPEC §5.1/§5.3: pre-training divides by every token of the (cut) batch; SFT by the answer length.
            float w = sft != 0 ? 1f / (p * (length - prompt) * batch) : 1f / (p * batch * cut);
            noisy[e] = masked ? maskId : ids[(long)i * length + j];
            weights[e] = masked ? w : 0f;
        }
    }

    /// <summary>The batch length after ForwardProcess.Pretrain's random cut: with probability <paramref name="randomLengthProb"/> the whole batch is cut to r ∈ [1, L].</summary>
    public static int CutLength(ulong seed, ulong step, int length, float randomLengthProb)
    {
        ulong offset = step << 32;
        if (Philox.ToUniform(Philox.Word(seed, offset, 0)) < randomLengthProb)
            return 1 + (int)(Philox.Word(seed, offset, 1) % (uint)length);
        return length;
    }

    /// <summary>Noises ids (B, L) into noisy (B, cut) I32, weights (B, cut) F32 and pMask (B) F32 for training step <paramref name="step"/>.</summary>
    /// <param name="promptLengths">(B) prompt lengths in [0, L) for SFT (prompts are never masked), or an empty view for pre-training.</param>
    /// <param name="cut">The batch length: L for SFT, <see cref="CutLength"/> for pre-training.</param>
    public static void ForwardProcess(KernelContext k, ArrayView<int> ids, ArrayView<int> promptLengths, ArrayView<int> noisy, ArrayView<float> weights, ArrayView<float> pMask,
                                      int batch, int length, int cut, int maskId, float eps, ulong seed, ulong step)
    {
        if (cut < 1 || cut > length) throw new ArgumentOutOfRangeException(nameof(cut), $"cut length {cut} must be in [1, {length}]");
        if (promptLengths.Length > 0 && cut != length) throw new ArgumentException("SFT batches are never cut");
        long n = (long)batch * cut;
        if (n == 0) return;
        k.Kernel("Masking.ForwardProcess", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<int>, int, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, int, float, ulong, ulong>>(a, ForwardProcessKernel))
            (k.Stream, Launch.Elementwise(k, n), ids, promptLengths, promptLengths.Length > 0 ? 1 : 0, noisy, weights, pMask, batch, length, cut, maskId, eps, seed, step << 32);
    }
}
