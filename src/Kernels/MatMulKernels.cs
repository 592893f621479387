using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>SGEMM on an ILGPU accelerator — same contract as CpuMatMul.Sgemm (batched, transposed operands, alpha/beta).</summary>
/// <remarks>
/// <para><b>Paths.</b></para>
/// <list type="bullet">
/// <item><see cref="SgemmNaive"/> (this file): one thread per element of C, a plain k loop — the obviously correct
/// reference path, also the fastest for tiny products.</item>
/// <item><see cref="SgemmTiled"/> (MatMulKernels.Tiled.cs): 128×128×8 shared-memory tiles, 256 threads, 8×8
/// outputs per thread in registers, double-buffered shared memory with register staging, float4 loads/stores where
/// the operands are 16-byte aligned.</item>
/// <item><see cref="GemmBf16"/> / <see cref="GemmF16"/> (MatMulKernels.TensorCore.cs): 16-bit inputs (raw bits in
/// ushort), FP32 accumulation and output, tensor cores through inline PTX mma.sync.m16n8k16 on CUDA; on other
/// accelerators (the CPU test device) the same kernel computes its fragments with scalar FP32 arithmetic.</item>
/// </list>
/// <para><b>Dispatch</b> (<see cref="Sgemm"/>): k == 0 or alpha == 0 runs the scale-only kernel (A and B are not
/// read, as in BLAS); m·n·k ≤ <see cref="NaiveMaxWork"/> (≤ 0.26 MFLOP, launch-latency bound on any GPU and far cheaper
/// on the CPU accelerator, whose group barriers are OS-thread rendezvous) runs the naive kernel; everything else the
/// tiled kernel — unless the accelerator cannot run 256-thread groups (e.g. a CPU accelerator configured with 4 warps
/// per group), where every product takes the naive kernels (GemmBf16/F16 included), whose group size adapts.</para>
/// <para><b>Contract</b> (row-major, as CpuMatMul): op(A)(i,p) = transA ? a[p·lda + i] : a[i·lda + p], op(B)(p,j) =
/// transB ? b[j·ldb + p] : b[p·ldb + j], C(i,j) = c[i·ldc + j]; batch entry t adds t·stride (0 = shared operand);
/// beta == 0 never reads C (NaN in C does not leak).</para>
/// </remarks>
public static partial class MatMulKernels
{
    /// <summary>Largest m·n·k that <see cref="Sgemm"/> sends to the naive kernel.</summary>
    public const long NaiveMaxWork = 1L << 18;

    /// <summary>Threads per group of the naive and scale kernels (fewer where the accelerator allows fewer).</summary>
    private const int NaiveThreads = 256;

    /// <summary>C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b]; each view starts at element (0, 0) of batch 0 of its operand; strides in elements (strideA/B may be 0 = shared).</summary>
    public static void Sgemm(KernelContext k, int batch, int m, int n, int kDim, float alpha,
        ArrayView<float> a, int lda, long strideA, bool transA,
        ArrayView<float> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC)
    {
        if (Begin(k, batch, m, n, kDim, alpha, a.Length, lda, strideA, transA, b.Length, ldb, strideB, transB, beta, c, ldc, strideC) is not { } p) return;
        if ((long)m * n * kDim <= NaiveMaxWork || !CanRunTiles(k)) LaunchNaive(k, p, a, b, c);
        else LaunchTiled(k, p, a, b, c);
    }

    /// <summary>Whether the accelerator runs the 256-thread groups of the tiled and tensor-core kernels.</summary>
    public static bool CanRunTiles(KernelContext k) => k.Accelerator.MaxNumThreadsPerGroup >= TiledThreads;

    /// <summary>The reference path: one thread per C element, FP32 accumulation in k order. Same contract as <see cref="Sgemm"/>.</summary>
    public static void SgemmNaive(KernelContext k, int batch, int m, int n, int kDim, float alpha,
        ArrayView<float> a, int lda, long strideA, bool transA,
        ArrayView<float> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC)
    {
        if (Begin(k, batch, m, n, kDim, alpha, a.Length, lda, strideA, transA, b.Length, ldb, strideB, transB, beta, c, ldc, strideC) is not { } p) return;
        LaunchNaive(k, p, a, b, c);
    }

    /// <summary>The register-blocked shared-memory kernel for any shape (no size dispatch). Same contract as <see cref="Sgemm"/>.</summary>
    /// <exception cref="NotSupportedException">The accelerator cannot run 256-thread groups (<see cref="CanRunTiles"/>).</exception>
    public static void SgemmTiled(KernelContext k, int batch, int m, int n, int kDim, float alpha,
        ArrayView<float> a, int lda, long strideA, bool transA,
        ArrayView<float> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC)
    {
        if (!CanRunTiles(k))
            throw new NotSupportedException($"SgemmTiled needs {TiledThreads}-thread groups; {k.Accelerator.Name} allows {k.Accelerator.MaxNumThreadsPerGroup}.");
        if (Begin(k, batch, m, n, kDim, alpha, a.Length, lda, strideA, transA, b.Length, ldb, strideB, transB, beta, c, ldc, strideC) is not { } p) return;
        LaunchTiled(k, p, a, b, c);
    }

    // ---- naive and scale kernels ---------------------------------------------------------------------------------

    /// <summary>One thread per C element (flattened over batch × m × n): C = alpha·Σ_p op(A)(i,p)·op(B)(p,j) + beta·C.</summary>
    [Kernel]
    internal static void NaiveKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmParams p)
    {
        long idx = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        long mn = (long)p.M * p.N;
        if (idx >= mn * p.Batch) return;
        int bi = (int)(idx / mn);
        long rem = idx - bi * mn;
        int i = (int)(rem / p.N);
        int j = (int)(rem - (long)i * p.N);
        long aBase = bi * p.StrideA, bBase = bi * p.StrideB;
        // Step through op(A) row i and op(B) column j with fixed element strides (no branch on the transposes per step).
        long aPos = aBase + (p.TransA != 0 ? i : (long)i * p.Lda);
        long aStep = p.TransA != 0 ? p.Lda : 1;
        long bPos = bBase + (p.TransB != 0 ? (long)j * p.Ldb : j);
        long bStep = p.TransB != 0 ? 1 : p.Ldb;
        float sum = 0f;
        for (int q = 0; q < p.K; q++)
        {
            sum += a[aPos] * b[bPos];
            aPos += aStep;
            bPos += bStep;
        }
        long ci = bi * p.StrideC + (long)i * p.Ldc + j;
        c[ci] = p.Beta == 0f ? p.Alpha * sum : p.Alpha * sum + p.Beta * c[ci];
    }

    /// <summary>C = beta·C (beta == 0 writes zeros without reading): the k == 0 / alpha == 0 case, where A and B are not read.</summary>
    [Kernel]
    internal static void ScaleKernel(ArrayView<float> c, GemmParams p)
    {
        long idx = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        long mn = (long)p.M * p.N;
        if (idx >= mn * p.Batch) return;
        int bi = (int)(idx / mn);
        long rem = idx - bi * mn;
        int i = (int)(rem / p.N);
        int j = (int)(rem - (long)i * p.N);
        long ci = bi * p.StrideC + (long)i * p.Ldc + j;
        c[ci] = p.Beta == 0f ? 0f : p.Beta * c[ci];
    }

    private static void LaunchNaive(KernelContext k, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        var kernel = k.Kernel("mm.naive", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(NaiveKernel));
        kernel(k.Stream, FlatConfig(k, p), a, b, c, p);
    }

    private static void LaunchScale(KernelContext k, in GemmParams p, ArrayView<float> c)
    {
        var kernel = k.Kernel("mm.scale", acc => acc.LoadKernel<ArrayView<float>, GemmParams>(ScaleKernel));
        kernel(k.Stream, FlatConfig(k, p), c, p);
    }

    /// <summary>One thread per C element: groups of up to 256 threads (a whole number of warps the accelerator allows).</summary>
    internal static KernelConfig FlatConfig(KernelContext k, in GemmParams p) => FlatConfig(k, (long)p.Batch * p.M * p.N);

    internal static KernelConfig FlatConfig(KernelContext k, long total)
    {
        var acc = k.Accelerator;
        int group = Math.Max(acc.WarpSize, Math.Min(NaiveThreads, acc.MaxNumThreadsPerGroup) / acc.WarpSize * acc.WarpSize);
        long groups = (total + group - 1) / group;
        if (groups > int.MaxValue) throw new ArgumentException($"{total} threads are too many for one launch.");
        return new KernelConfig((int)Math.Max(1, groups), group);
    }

    // ---- argument checks (CpuMatMul's rules, plus: every element touched lies inside its view) --------------------

    /// <summary>Validates a call (<see cref="Validate"/>) and finishes the trivial ones itself: an empty C, or k = 0 / alpha = 0
    /// (C = beta·C, A and B unread). Null when nothing is left to compute, else the launch parameters.</summary>
    internal static GemmParams? Begin(KernelContext k, int batch, int m, int n, int kDim, float alpha,
        long aLength, int lda, long strideA, bool transA,
        long bLength, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC)
    {
        var p = Validate(batch, m, n, kDim, alpha, aLength, lda, strideA, transA, bLength, ldb, strideB, transB, beta, c.Length, ldc, strideC);
        if (batch == 0 || m == 0 || n == 0) return null;
        if (kDim == 0 || alpha == 0f) { LaunchScale(k, p, c); return null; }
        return p;
    }

    internal static GemmParams Validate(int batch, int m, int n, int k, float alpha,
        long aLength, int lda, long strideA, bool transA,
        long bLength, int ldb, long strideB, bool transB,
        float beta, long cLength, int ldc, long strideC)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"batch = {batch} must be ≥ 0.");
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, $"m = {m} must be ≥ 0.");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, $"n = {n} must be ≥ 0.");
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, $"k = {k} must be ≥ 0.");
        int aWidth = transA ? m : k, aRows = transA ? k : m;
        if (lda < Math.Max(1, aWidth))
            throw new ArgumentException($"lda = {lda} is smaller than the stored A's row length {aWidth} (m = {m}, k = {k}, transA = {transA}).", nameof(lda));
        int bWidth = transB ? k : n, bRows = transB ? n : k;
        if (ldb < Math.Max(1, bWidth))
            throw new ArgumentException($"ldb = {ldb} is smaller than the stored B's row length {bWidth} (k = {k}, n = {n}, transB = {transB}).", nameof(ldb));
        if (ldc < Math.Max(1, n)) throw new ArgumentException($"ldc = {ldc} is smaller than C's row length n = {n}.", nameof(ldc));
        if (strideA < 0) throw new ArgumentOutOfRangeException(nameof(strideA), strideA, $"strideA = {strideA} must be ≥ 0 (0 shares A across the batch).");
        if (strideB < 0) throw new ArgumentOutOfRangeException(nameof(strideB), strideB, $"strideB = {strideB} must be ≥ 0 (0 shares B across the batch).");
        if (strideC < 0) throw new ArgumentOutOfRangeException(nameof(strideC), strideC, $"strideC = {strideC} must be ≥ 0.");
        if (batch > 1 && m > 0 && n > 0)
        {
            long span = (long)(m - 1) * ldc + n;
            if (strideC < span)
                throw new ArgumentException($"strideC = {strideC} must be ≥ (m-1)·ldc + n = {span} when batch = {batch} > 1 (m = {m}, n = {n}, ldc = {ldc}).", nameof(strideC));
        }
        if (batch > 0 && m > 0 && n > 0)
        {
            RequireInside("c", cLength, (batch - 1) * strideC + (long)(m - 1) * ldc + n);
            if (k > 0 && alpha != 0f)
            {
                RequireInside("a", aLength, (batch - 1) * strideA + (long)(aRows - 1) * lda + aWidth);
                RequireInside("b", bLength, (batch - 1) * strideB + (long)(bRows - 1) * ldb + bWidth);
            }
        }
        return new GemmParams
        {
            Batch = batch, M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc,
            StrideA = strideA, StrideB = strideB, StrideC = strideC,
            TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Alpha = alpha, Beta = beta,
        };
    }

    private static void RequireInside(string name, long length, long needed)
    {
        if (needed > length)
            throw new ArgumentException($"view {name} has {length} elements but the product reads/writes up to element {needed - 1}.", name);
    }
}

/// <summary>The scalar arguments of one GEMM launch (a kernel parameter: value type, no views).</summary>
public struct GemmParams
{
    public int Batch, M, N, K, Lda, Ldb, Ldc;
    public long StrideA, StrideB, StrideC;
    public int TransA, TransB;
    public float Alpha, Beta;
    /// <summary>Tiled kernels: tiles along m and n (the flattened grid is batch × TilesM × TilesN).</summary>
    public int TilesM, TilesN;
    /// <summary>Tiled kernels: 1 when A / B / C may be read or written as aligned 16-byte vectors (tensor-core kernel: 4-byte pairs).</summary>
    public int VecA, VecB, VecC;
    /// <summary>Tensor-core kernel: 1 for IEEE half inputs, 0 for bfloat16.</summary>
    public int IsF16;
    /// <summary>Tensor-core kernel: 1 when A is f32 (the mixed GEMM's activations), rounded to the 16-bit format per staged tile.</summary>
    public int AFloat;
}
