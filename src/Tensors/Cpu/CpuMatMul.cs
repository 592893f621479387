using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LLaDA.Tensors.Cpu;

/// <summary>Selects the micro-kernel family used by <see cref="CpuMatMul.Sgemm"/>: C = alpha·op(A)·op(B) + beta·C.</summary>
public enum GemmKernel
{
    /// <summary>The fastest kernel this CPU supports (<see cref="CpuMatMul.BestAvailable"/>).</summary>
    Auto,

    /// <summary>Portable scalar 4×4 register-blocked kernel (any CPU).</summary>
    Scalar,

    /// <summary>256-bit FMA 6×16 kernel (x64 with AVX2 and FMA3; 15 of 16 ymm registers).</summary>
    Vector256,

    /// <summary>512-bit FMA 6×64 kernel (x64 with AVX-512F where .NET reports Vector512 as accelerated; 29 of 32 zmm registers).</summary>
    Vector512,
}

/// <summary>
/// Single-precision general matrix multiply on the CPU, C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b], row-major, strided and batched.
/// </summary>
/// <remarks>
/// Structure (Goto/BLIS, see "Anatomy of High-Performance Matrix Multiplication", Goto &amp; van de Geijn 2008, and
/// "BLIS: A Framework for Rapidly Instantiating BLAS Functionality", Van Zee &amp; van de Geijn 2015):
/// <list type="bullet">
/// <item><c>CpuMatMul.cs</c>: public entry points, argument checks, the naive reference, dispatch.</item>
/// <item><c>CpuMatMul.Driver.cs</c>: the five-loop blocked driver (NC, KC, MC, NR, MR loops) and edge write-back.</item>
/// <item><c>CpuMatMul.Pack.cs</c>: packing of op(A) into MR×KC row panels and op(B) into KC×NR column panels.</item>
/// <item><c>CpuMatMul.MicroKernels.cs</c>: the register-blocked MR×NR micro-kernels and their blocking constants.</item>
/// <item><c>CpuMatMul.Parallel.cs</c>: the task grid over batch × M × N and the allocation-free two-core dispatch.</item>
/// <item><c>CpuMatMul.Gemv.cs</c>: m == 1 or n == 1 (matrix-vector) shapes, which tiles would pad 6- to 16-fold.</item>
/// </list>
/// Pointers are raw: the caller keeps the memory alive and C must not overlap A or B. alpha == 0 or k == 0 reads
/// neither A nor B (C = beta·C). Safe to call from several threads at once; a call runs on the calling thread plus up
/// to ProcessorCount − 1 thread-pool threads and allocates no managed memory in steady state.
/// </remarks>
public static unsafe partial class CpuMatMul
{
    /// <summary>Gets the fastest kernel this CPU supports: Vector512 with AVX-512F, else Vector256 with AVX2 and FMA3, else Scalar.</summary>
    /// <remarks>Vector512 also needs Vector512.IsHardwareAccelerated, which .NET turns off on CPUs that slow down under
    /// 512-bit code (and with DOTNET_PreferredVectorBitWidth=256); DOTNET_EnableAVX512=0 or DOTNET_EnableAVX2=0
    /// select the lower paths for testing.</remarks>
    public static GemmKernel BestAvailable { get; } = DetectBestKernel();

    /// <summary>
    /// Computes C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] for b in [0, batch) with a packed, cache-blocked, multithreaded kernel.
    /// </summary>
    /// <param name="batch">Number of independent products (≥ 0).</param>
    /// <param name="m">Rows of op(A) and C (≥ 0).</param>
    /// <param name="n">Columns of op(B) and C (≥ 0).</param>
    /// <param name="k">Columns of op(A) = rows of op(B) (≥ 0); k == 0 gives C = beta·C.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A[0]; op(A)(i,p) is a[i*lda + p] when <paramref name="transA"/> is false, else a[p*lda + i].</param>
    /// <param name="lda">Row stride of the stored A (≥ k when not transposed, ≥ m when transposed).</param>
    /// <param name="strideA">Elements between A[b] and A[b+1]; 0 shares one A across the batch.</param>
    /// <param name="transA">Whether op(A) = Aᵀ.</param>
    /// <param name="b">B[0]; op(B)(p,j) is b[p*ldb + j] when <paramref name="transB"/> is false, else b[j*ldb + p].</param>
    /// <param name="ldb">Row stride of the stored B (≥ n when not transposed, ≥ k when transposed).</param>
    /// <param name="strideB">Elements between B[b] and B[b+1]; 0 shares one B across the batch.</param>
    /// <param name="transB">Whether op(B) = Bᵀ.</param>
    /// <param name="beta">Scale of the old C; 0 means C is overwritten and never read (NaN in C does not leak).</param>
    /// <param name="c">C[0]; element (i,j) is c[i*ldc + j].</param>
    /// <param name="ldc">Row stride of C (≥ n).</param>
    /// <param name="strideC">Elements between C[b] and C[b+1]; when batch &gt; 1 it must keep the C matrices disjoint.</param>
    /// <param name="kernel">Micro-kernel family; Auto picks <see cref="BestAvailable"/>.</param>
    public static void Sgemm(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA,
        float* b, int ldb, long strideB, bool transB,
        float beta, float* c, int ldc, long strideC, GemmKernel kernel = GemmKernel.Auto)
    {
        Validate(batch, m, n, k, a, lda, strideA, transA, b, ldb, strideB, transB, c, ldc, strideC);
        GemmKernel resolved = ResolveKernel(kernel);
        if (batch == 0 || m == 0 || n == 0)
        {
            return;
        }

        var args = new GemmArgs(batch, m, n, k, alpha, a, lda, strideA, transA, b, ldb, strideB, transB, beta, c, ldc, strideC);
        if (k == 0 || alpha == 0f)
        {
            // BLAS semantics: A and B are not referenced, C = beta·C (beta == 0 writes exact zeros).
            for (int bi = 0; bi < batch; bi++)
            {
                ScaleTile(c + bi * strideC, ldc, m, n, beta);
            }

            return;
        }

        CpuFlops.Add(2L * batch * m * n * k);
        Execute(in args, resolved);
    }

    /// <summary>
    /// Computes C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] with the obvious triple loop and double accumulation; the test oracle.
    /// </summary>
    /// <param name="batch">Number of independent products (≥ 0).</param>
    /// <param name="m">Rows of op(A) and C (≥ 0).</param>
    /// <param name="n">Columns of op(B) and C (≥ 0).</param>
    /// <param name="k">Columns of op(A) = rows of op(B) (≥ 0).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A[0]; op(A)(i,p) is a[i*lda + p] when <paramref name="transA"/> is false, else a[p*lda + i].</param>
    /// <param name="lda">Row stride of the stored A.</param>
    /// <param name="strideA">Elements between A[b] and A[b+1]; 0 shares one A across the batch.</param>
    /// <param name="transA">Whether op(A) = Aᵀ.</param>
    /// <param name="b">B[0]; op(B)(p,j) is b[p*ldb + j] when <paramref name="transB"/> is false, else b[j*ldb + p].</param>
    /// <param name="ldb">Row stride of the stored B.</param>
    /// <param name="strideB">Elements between B[b] and B[b+1]; 0 shares one B across the batch.</param>
    /// <param name="transB">Whether op(B) = Bᵀ.</param>
    /// <param name="beta">Scale of the old C; 0 means C is overwritten and never read.</param>
    /// <param name="c">C[0]; element (i,j) is c[i*ldc + j].</param>
    /// <param name="ldc">Row stride of C.</param>
    /// <param name="strideC">Elements between C[b] and C[b+1].</param>
    public static void SgemmNaive(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA,
        float* b, int ldb, long strideB, bool transB,
        float beta, float* c, int ldc, long strideC)
    {
        Validate(batch, m, n, k, a, lda, strideA, transA, b, ldb, strideB, transB, c, ldc, strideC);
        for (int bi = 0; bi < batch; bi++)
        {
            float* ab = a + bi * strideA;
            float* bb = b + bi * strideB;
            float* cb = c + bi * strideC;
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                    {
                        float aip = transA ? ab[(long)p * lda + i] : ab[(long)i * lda + p];
                        float bpj = transB ? bb[(long)j * ldb + p] : bb[(long)p * ldb + j];
                        sum += (double)aip * bpj;
                    }

                    float* cij = cb + (long)i * ldc + j;
                    *cij = beta == 0f ? (float)(alpha * sum) : (float)(alpha * sum + (double)beta * *cij);
                }
            }
        }
    }

    private static GemmKernel DetectBestKernel()
    {
        if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
        {
            return GemmKernel.Vector512;
        }

        if (Avx2.IsSupported && Fma.IsSupported)
        {
            return GemmKernel.Vector256;
        }

        return GemmKernel.Scalar;
    }

    private static GemmKernel ResolveKernel(GemmKernel kernel)
    {
        switch (kernel)
        {
            case GemmKernel.Auto:
                return BestAvailable;
            case GemmKernel.Scalar:
                return kernel;
            case GemmKernel.Vector256:
                if (!(Avx2.IsSupported && Fma.IsSupported))
                {
                    throw new PlatformNotSupportedException($"GemmKernel.Vector256 needs AVX2 and FMA3; this CPU's best kernel is {BestAvailable}.");
                }

                return kernel;
            case GemmKernel.Vector512:
                if (!(Avx512F.IsSupported && Vector512.IsHardwareAccelerated))
                {
                    throw new PlatformNotSupportedException($"GemmKernel.Vector512 needs AVX-512F; this CPU's best kernel is {BestAvailable}.");
                }

                return kernel;
            default:
                throw new ArgumentOutOfRangeException(nameof(kernel), kernel, $"kernel = {(int)kernel} is not a GemmKernel value.");
        }
    }

    private static void Validate(int batch, int m, int n, int k,
        float* a, int lda, long strideA, bool transA,
        float* b, int ldb, long strideB, bool transB,
        float* c, int ldc, long strideC)
    {
        if (batch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"batch = {batch} must be ≥ 0.");
        }

        if (m < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(m), m, $"m = {m} must be ≥ 0.");
        }

        if (n < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, $"n = {n} must be ≥ 0.");
        }

        if (k < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k = {k} must be ≥ 0.");
        }

        // Row-major: the stored A is m×k (lda ≥ k) or, transposed, k×m (lda ≥ m); likewise B and C.
        int aWidth = transA ? m : k;
        if (lda < aWidth)
        {
            throw new ArgumentException($"lda = {lda} is smaller than the stored A's row length {aWidth} (m = {m}, k = {k}, transA = {transA}).", nameof(lda));
        }

        int bWidth = transB ? k : n;
        if (ldb < bWidth)
        {
            throw new ArgumentException($"ldb = {ldb} is smaller than the stored B's row length {bWidth} (k = {k}, n = {n}, transB = {transB}).", nameof(ldb));
        }

        if (ldc < n)
        {
            throw new ArgumentException($"ldc = {ldc} is smaller than C's row length n = {n}.", nameof(ldc));
        }

        if (strideA < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(strideA), strideA, $"strideA = {strideA} must be ≥ 0 (0 shares A across the batch).");
        }

        if (strideB < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(strideB), strideB, $"strideB = {strideB} must be ≥ 0 (0 shares B across the batch).");
        }

        if (batch == 0)
        {
            return;
        }

        if (batch > 1 && m > 0 && n > 0)
        {
            // The C matrices are written in parallel, so they must not overlap: C[b] spans (m-1)·ldc + n elements.
            long span = (long)(m - 1) * ldc + n;
            if (strideC < span)
            {
                throw new ArgumentException($"strideC = {strideC} must be ≥ (m-1)·ldc + n = {span} when batch = {batch} > 1 (m = {m}, n = {n}, ldc = {ldc}).", nameof(strideC));
            }
        }

        if (a == null && m > 0 && k > 0)
        {
            throw new ArgumentException($"a is null but A has m×k = {m}×{k} elements.", nameof(a));
        }

        if (b == null && k > 0 && n > 0)
        {
            throw new ArgumentException($"b is null but B has k×n = {k}×{n} elements.", nameof(b));
        }

        if (c == null && m > 0 && n > 0)
        {
            throw new ArgumentException($"c is null but C has m×n = {m}×{n} elements.", nameof(c));
        }
    }

    /// <summary>Sets C = beta·C on an m×n tile (beta == 0 writes zeros without reading C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleTile(float* c, int ldc, int m, int n, float beta)
    {
        for (int i = 0; i < m; i++)
        {
            float* row = c + (long)i * ldc;
            if (beta == 0f)
            {
                new Span<float>(row, n).Clear();
            }
            else if (beta != 1f)
            {
                for (int j = 0; j < n; j++)
                {
                    row[j] *= beta;
                }
            }
        }
    }
}
