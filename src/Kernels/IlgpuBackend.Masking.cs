using ILGPU;
using LLaDA.Tensors;

namespace LLaDA.Kernels;

// The forward process's per-token noising: clean ids stay on the device, dense noisy ids and weights are written there.
public sealed partial class IlgpuBackend
{
    public void MaskTokens(Tensor ids, Tensor pMask, Tensor? promptLengths, int maskId, ulong seed, ulong step, Tensor noisy, Tensor weights)
        => MaskingKernels.MaskTokens(Kernels, I(ids), F(pMask), promptLengths is null ? ArrayView<int>.Empty : I(promptLengths), I(noisy), F(weights),
                                     ids.Dim(0), ids.Dim(1), noisy.Dim(1), maskId, seed, step);
}
