using ILGPU;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Kernels;

/// <summary>Fused flash-style attention on an ILGPU accelerator — same contract as CpuAttention (layouts, GQA, causal, key padding, lse).</summary>
/// <remarks>PLACEHOLDER: the kernels are being written; this file defines the contract IlgpuBackend calls. keyPadding is an empty view when absent.</remarks>
public static class AttentionKernels
{
    public static void Forward(KernelContext k, AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<int> keyPadding, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse)
        => throw new NotImplementedException("AttentionKernels.Forward is not written yet");

    public static void Backward(KernelContext k, AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<int> keyPadding, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse,
        ArrayView<float> dO, AttnLayout ldo, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv)
        => throw new NotImplementedException("AttentionKernels.Backward is not written yet");
}
