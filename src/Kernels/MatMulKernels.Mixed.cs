using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>Which kernel computes <see cref="MatMulKernels.GemmMixed"/>.</summary>
public enum MixedGemmPath
{
    /// <summary>The tensor-core kernel for BF16 weights on CUDA, the generic kernel everywhere else.</summary>
    Auto,

    /// <summary>The tensor-core kernel (MatMulKernels.TensorCore.cs) with the f32 activations rounded to the weights' 16-bit
    /// format (to nearest even) as each 128×32 tile is staged in shared memory; on an accelerator without PTX (the CPU
    /// test device) the same kernel computes its fragments with scalar FP32 arithmetic. Needs 256-thread groups.</summary>
    TensorCore,

    /// <summary>One thread per C element: f32 activations times the weights widened exactly to f32, FP32 accumulation in
    /// k order — runs on any accelerator and keeps the activations at full precision.</summary>
    Generic,
}

// The mixed-precision GEMM of IBackend.MatMul on ILGPU: A (activations) and C in f32, B (a checkpoint's weights) as
// stored, BF16 or F16 bits; never converted as a whole matrix.
public static partial class MatMulKernels
{
    /// <summary>C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] for f32 A and C and 16-bit B (raw bits: bfloat16, or IEEE half
    /// when <paramref name="f16"/>); same layout contract as <see cref="Sgemm"/>.</summary>
    /// <remarks>Auto takes the tensor-core kernel for BF16 weights on CUDA: the activations are rounded to bfloat16 per
    /// staged tile (relative error ≤ 2⁻⁹ per activation, the precision the reference model computes its BF16 matmuls
    /// in), products are exact and accumulate in FP32. F16 weights, and every non-CUDA accelerator, take the generic
    /// kernel, which keeps the activations in f32 (an f32 activation above 65504 would overflow a half).</remarks>
    public static void GemmMixed(KernelContext k, bool f16, int batch, int m, int n, int kDim, float alpha,
        ArrayView<float> a, int lda, long strideA, bool transA,
        ArrayView<ushort> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC, MixedGemmPath path = MixedGemmPath.Auto)
    {
        if (Begin(k, batch, m, n, kDim, alpha, a.Length, lda, strideA, transA, b.Length, ldb, strideB, transB, beta, c, ldc, strideC) is not { } p) return;
        p.IsF16 = f16 ? 1 : 0;
        if (path == MixedGemmPath.Auto)
            path = !f16 && k.Accelerator.AcceleratorType == AcceleratorType.Cuda && CanRunTiles(k) ? MixedGemmPath.TensorCore : MixedGemmPath.Generic;
        if (path == MixedGemmPath.TensorCore)
        {
            if (!CanRunTiles(k))
                throw new NotSupportedException($"the tensor-core mixed GEMM needs {TcThreads}-thread groups; {k.Accelerator.Name} allows {k.Accelerator.MaxNumThreadsPerGroup}.");
            p.AFloat = 1;
            LaunchTensorCore(k, p, ArrayView<ushort>.Empty, a, b, c);
            return;
        }
        var kernel = k.Kernel("mm.mixed", acc => acc.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, GemmParams>(MixedKernel));
        kernel(k.Stream, FlatConfig(k, p), a, b, c, p);
    }

    /// <summary>One thread per C element (flattened over batch × m × n): C = alpha·Σ_p op(A)(i,p)·widen(op(B)(p,j)) + beta·C.</summary>
    [Kernel]
    internal static void MixedKernel(ArrayView<float> a, ArrayView<ushort> b, ArrayView<float> c, GemmParams p)
    {
        long idx = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        long mn = (long)p.M * p.N;
        if (idx >= mn * p.Batch) return;
        int bi = (int)(idx / mn);
        long rem = idx - bi * mn;
        int i = (int)(rem / p.N);
        int j = (int)(rem - (long)i * p.N);
        long aPos = bi * p.StrideA + (p.TransA != 0 ? i : (long)i * p.Lda);
        long aStep = p.TransA != 0 ? p.Lda : 1;
        long bPos = bi * p.StrideB + (p.TransB != 0 ? (long)j * p.Ldb : j);
        long bStep = p.TransB != 0 ? 1 : p.Ldb;
        bool f16 = p.IsF16 != 0;
        float sum = 0f;
        for (int q = 0; q < p.K; q++)
        {
            uint y = b[bPos];
            sum += a[aPos] * (f16 ? HalfBitsToSingle(y) : Bf16BitsToSingle(y));
            aPos += aStep;
            bPos += bStep;
        }
        long ci = bi * p.StrideC + (long)i * p.Ldc + j;
        c[ci] = p.Beta == 0f ? p.Alpha * sum : p.Alpha * sum + p.Beta * c[ci];
    }
}
