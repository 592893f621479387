using ILGPU;

namespace LLaDA.Kernels;

/// <summary>SGEMM on an ILGPU accelerator — same contract as CpuMatMul.Sgemm (batched, transposed operands, alpha/beta).</summary>
/// <remarks>PLACEHOLDER: the tiled and tensor-core kernels are being written; this file defines the contract IlgpuBackend calls.</remarks>
public static class MatMulKernels
{
    /// <summary>C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b]; each view starts at element (0, 0) of batch 0 of its operand; strides in elements (strideA/B may be 0 = shared).</summary>
    public static void Sgemm(KernelContext k, int batch, int m, int n, int kDim, float alpha,
        ArrayView<float> a, int lda, long strideA, bool transA,
        ArrayView<float> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC)
        => throw new NotImplementedException("MatMulKernels.Sgemm is not written yet");
}
