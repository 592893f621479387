using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace LLaDA.Tensors.Cpu;

/// <summary>Register-blocked tile product C (M×N) = [C +] A·B with A read through arbitrary strides and B, C row-major with contiguous N.</summary>
/// <remarks>
/// Every product in the attention kernels is one call of <see cref="Run{TV,TS}"/>: the N dimension (the one that lives
/// in vector lanes) must be contiguous in B and C, while A is only ever read one scalar at a time (broadcast), so
/// A(i, p) = a[i·am + p·ak] can be a row-major, column-major or strided view with no packing. That is what lets the
/// kernels use Q, K, V, dO in whatever layout the caller has, and pick for each product the orientation whose lane
/// dimension is already contiguous (see the shape comments at each call site).
///
/// The main block keeps a 4-row × 4-vector tile of C in 16 registers: per step of p it loads 4 vectors of B, broadcasts
/// 4 scalars of A and issues 16 FMAs — enough independent FMAs to hide the 4-cycle FMA latency, and few enough loads
/// that the FMA unit is the bottleneck. B's 4-vector column panel (k × 64 floats = 16 KiB for k = 64) stays in L1
/// while the row blocks stream past it. Tails (M not a multiple of 4, N not a multiple of 4 vectors) use 4×1 and 1×1
/// blocks; they only occur for odd T and HS.
/// </remarks>
internal static unsafe class TileGemm
{
    /// <summary>C[i, j] = (accumulate ? C[i, j] : 0) + Σ_p A(i, p)·B[p, j] with A(i, p) = a[i·am + p·ak], B[p, j] = b[p·ldb + j], C[i, j] = c[i·ldc + j]; n must be a multiple of TS.Width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TV, TS>(int m, int n, int k, float* a, long am, long ak, float* b, long ldb, float* c, long ldc, bool accumulate)
        where TV : struct where TS : ISimd<TV>
    {
        if (SixteenRegisters) { RunNarrow<TV, TS>(m, n, k, a, am, ak, b, ldb, c, ldc, accumulate); return; }
        int w = TS.Width;
        int j = 0;
        for (; j + 4 * w <= n; j += 4 * w)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4) Block4x4<TV, TS>(k, a + i * am, am, ak, b + j, ldb, c + i * ldc + j, ldc, accumulate);
            for (; i < m; i++)
                for (int jj = j; jj < j + 4 * w; jj += w) Block1x1<TV, TS>(k, a + i * am, ak, b + jj, ldb, c + i * ldc + jj, accumulate);
        }
        for (; j < n; j += w)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4) Block4x1<TV, TS>(k, a + i * am, am, ak, b + j, ldb, c + i * ldc + j, ldc, accumulate);
            for (; i < m; i++) Block1x1<TV, TS>(k, a + i * am, ak, b + j, ldb, c + i * ldc + j, accumulate);
        }
    }

    /// <summary>x86 without AVX-512 has 16 vector registers, too few for the 4×4 block (16 accumulators + 4 B vectors +
    /// 1 broadcast: the JIT spills accumulators to the stack inside the inner loop, measured ~27 % of the FMA peak on
    /// Zen 3 for attention); there the 6×2 block (12 + 2 + 1 = 15 registers) is used instead.</summary>
    internal static readonly bool SixteenRegisters = X86Base.IsSupported && !Avx512F.IsSupported;

    /// <summary><see cref="Run{TV,TS}"/> for 16-register machines: 6-row × 2-vector blocks, then 4×1 and 1×1 blocks for the tails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RunNarrow<TV, TS>(int m, int n, int k, float* a, long am, long ak, float* b, long ldb, float* c, long ldc, bool accumulate)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width;
        int j = 0;
        for (; j + 2 * w <= n; j += 2 * w)
        {
            int i = 0;
            for (; i + 6 <= m; i += 6) Block6x2<TV, TS>(k, a + i * am, am, ak, b + j, ldb, c + i * ldc + j, ldc, accumulate);
            for (; i + 4 <= m; i += 4)
            {
                Block4x1<TV, TS>(k, a + i * am, am, ak, b + j, ldb, c + i * ldc + j, ldc, accumulate);
                Block4x1<TV, TS>(k, a + i * am, am, ak, b + j + w, ldb, c + i * ldc + j + w, ldc, accumulate);
            }
            for (; i < m; i++)
            {
                Block1x1<TV, TS>(k, a + i * am, ak, b + j, ldb, c + i * ldc + j, accumulate);
                Block1x1<TV, TS>(k, a + i * am, ak, b + j + w, ldb, c + i * ldc + j + w, accumulate);
            }
        }
        for (; j < n; j += w)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4) Block4x1<TV, TS>(k, a + i * am, am, ak, b + j, ldb, c + i * ldc + j, ldc, accumulate);
            for (; i < m; i++) Block1x1<TV, TS>(k, a + i * am, ak, b + j, ldb, c + i * ldc + j, accumulate);
        }
    }

    // 6 rows × 2 vectors of C in registers: 12 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 registers of
    // AVX2. Per step of p: 2 vector loads, 6 broadcast loads, 12 FMAs (6 cycles of the two FMA pipes, loads to spare).
    // The rows of A are addressed as a_r + off with one running offset, so the loop advances two registers, not seven.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Block6x2<TV, TS>(int k, float* a, long am, long ak, float* b, long ldb, float* c, long ldc, bool accumulate)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc, c4 = c + 4 * ldc, c5 = c + 5 * ldc;
        if (accumulate)
        {
            c00 = TS.Load(c0); c01 = TS.Load(c0 + w); c10 = TS.Load(c1); c11 = TS.Load(c1 + w);
            c20 = TS.Load(c2); c21 = TS.Load(c2 + w); c30 = TS.Load(c3); c31 = TS.Load(c3 + w);
            c40 = TS.Load(c4); c41 = TS.Load(c4 + w); c50 = TS.Load(c5); c51 = TS.Load(c5 + w);
        }
        float* a0 = a, a1 = a + am, a2 = a + 2 * am, a3 = a + 3 * am, a4 = a + 4 * am, a5 = a + 5 * am;
        long off = 0;
        for (int p = 0; p < k; p++)
        {
            TV b0 = TS.Load(b), b1 = TS.Load(b + w);
            TV x = TS.Broadcast(a0[off]);
            c00 = TS.Fma(x, b0, c00); c01 = TS.Fma(x, b1, c01);
            x = TS.Broadcast(a1[off]);
            c10 = TS.Fma(x, b0, c10); c11 = TS.Fma(x, b1, c11);
            x = TS.Broadcast(a2[off]);
            c20 = TS.Fma(x, b0, c20); c21 = TS.Fma(x, b1, c21);
            x = TS.Broadcast(a3[off]);
            c30 = TS.Fma(x, b0, c30); c31 = TS.Fma(x, b1, c31);
            x = TS.Broadcast(a4[off]);
            c40 = TS.Fma(x, b0, c40); c41 = TS.Fma(x, b1, c41);
            x = TS.Broadcast(a5[off]);
            c50 = TS.Fma(x, b0, c50); c51 = TS.Fma(x, b1, c51);
            off += ak;
            b += ldb;
        }
        TS.Store(c0, c00); TS.Store(c0 + w, c01); TS.Store(c1, c10); TS.Store(c1 + w, c11);
        TS.Store(c2, c20); TS.Store(c2 + w, c21); TS.Store(c3, c30); TS.Store(c3 + w, c31);
        TS.Store(c4, c40); TS.Store(c4 + w, c41); TS.Store(c5, c50); TS.Store(c5 + w, c51);
    }

    // 4 rows × 4 vectors of C in registers; the workhorse (see remarks above). Not inlined: it needs 16 accumulators
    // + 4 B vectors + 1 broadcast of the 32 vector registers, and is easiest for the JIT to allocate as its own method.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Block4x4<TV, TS>(int k, float* a, long am, long ak, float* b, long ldb, float* c, long ldc, bool accumulate)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width;
        TV c00 = default, c01 = default, c02 = default, c03 = default;
        TV c10 = default, c11 = default, c12 = default, c13 = default;
        TV c20 = default, c21 = default, c22 = default, c23 = default;
        TV c30 = default, c31 = default, c32 = default, c33 = default;
        float* c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc;
        if (accumulate)
        {
            c00 = TS.Load(c0); c01 = TS.Load(c0 + w); c02 = TS.Load(c0 + 2 * w); c03 = TS.Load(c0 + 3 * w);
            c10 = TS.Load(c1); c11 = TS.Load(c1 + w); c12 = TS.Load(c1 + 2 * w); c13 = TS.Load(c1 + 3 * w);
            c20 = TS.Load(c2); c21 = TS.Load(c2 + w); c22 = TS.Load(c2 + 2 * w); c23 = TS.Load(c2 + 3 * w);
            c30 = TS.Load(c3); c31 = TS.Load(c3 + w); c32 = TS.Load(c3 + 2 * w); c33 = TS.Load(c3 + 3 * w);
        }
        float* a0 = a, a1 = a + am, a2 = a + 2 * am, a3 = a + 3 * am;
        for (int p = 0; p < k; p++)
        {
            TV b0 = TS.Load(b), b1 = TS.Load(b + w), b2 = TS.Load(b + 2 * w), b3 = TS.Load(b + 3 * w);
            TV x = TS.Broadcast(*a0);
            c00 = TS.Fma(x, b0, c00); c01 = TS.Fma(x, b1, c01); c02 = TS.Fma(x, b2, c02); c03 = TS.Fma(x, b3, c03);
            x = TS.Broadcast(*a1);
            c10 = TS.Fma(x, b0, c10); c11 = TS.Fma(x, b1, c11); c12 = TS.Fma(x, b2, c12); c13 = TS.Fma(x, b3, c13);
            x = TS.Broadcast(*a2);
            c20 = TS.Fma(x, b0, c20); c21 = TS.Fma(x, b1, c21); c22 = TS.Fma(x, b2, c22); c23 = TS.Fma(x, b3, c23);
            x = TS.Broadcast(*a3);
            c30 = TS.Fma(x, b0, c30); c31 = TS.Fma(x, b1, c31); c32 = TS.Fma(x, b2, c32); c33 = TS.Fma(x, b3, c33);
            a0 += ak; a1 += ak; a2 += ak; a3 += ak;
            b += ldb;
        }
        TS.Store(c0, c00); TS.Store(c0 + w, c01); TS.Store(c0 + 2 * w, c02); TS.Store(c0 + 3 * w, c03);
        TS.Store(c1, c10); TS.Store(c1 + w, c11); TS.Store(c1 + 2 * w, c12); TS.Store(c1 + 3 * w, c13);
        TS.Store(c2, c20); TS.Store(c2 + w, c21); TS.Store(c2 + 2 * w, c22); TS.Store(c2 + 3 * w, c23);
        TS.Store(c3, c30); TS.Store(c3 + w, c31); TS.Store(c3 + 2 * w, c32); TS.Store(c3 + 3 * w, c33);
    }

    // 4 rows × 1 vector: N tails (HS = 80 gives 5 vectors = 4 + 1).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x1<TV, TS>(int k, float* a, long am, long ak, float* b, long ldb, float* c, long ldc, bool accumulate)
        where TV : struct where TS : ISimd<TV>
    {
        TV c0 = accumulate ? TS.Load(c) : default;
        TV c1 = accumulate ? TS.Load(c + ldc) : default;
        TV c2 = accumulate ? TS.Load(c + 2 * ldc) : default;
        TV c3 = accumulate ? TS.Load(c + 3 * ldc) : default;
        float* a0 = a, a1 = a + am, a2 = a + 2 * am, a3 = a + 3 * am;
        for (int p = 0; p < k; p++)
        {
            TV b0 = TS.Load(b);
            c0 = TS.Fma(TS.Broadcast(*a0), b0, c0);
            c1 = TS.Fma(TS.Broadcast(*a1), b0, c1);
            c2 = TS.Fma(TS.Broadcast(*a2), b0, c2);
            c3 = TS.Fma(TS.Broadcast(*a3), b0, c3);
            a0 += ak; a1 += ak; a2 += ak; a3 += ak;
            b += ldb;
        }
        TS.Store(c, c0); TS.Store(c + ldc, c1); TS.Store(c + 2 * ldc, c2); TS.Store(c + 3 * ldc, c3);
    }

    // 1 row × 1 vector: M tails (odd key counts, HS not a multiple of 4). Two accumulators halve the FMA dependency chain.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block1x1<TV, TS>(int k, float* a, long ak, float* b, long ldb, float* c, bool accumulate)
        where TV : struct where TS : ISimd<TV>
    {
        TV even = accumulate ? TS.Load(c) : default, odd = default;
        int p = 0;
        for (; p + 2 <= k; p += 2)
        {
            even = TS.Fma(TS.Broadcast(a[p * ak]), TS.Load(b + p * ldb), even);
            odd = TS.Fma(TS.Broadcast(a[(p + 1) * ak]), TS.Load(b + (p + 1) * ldb), odd);
        }
        if (p < k) even = TS.Fma(TS.Broadcast(a[p * ak]), TS.Load(b + p * ldb), even);
        TS.Store(c, TS.Add(even, odd));
    }
}
