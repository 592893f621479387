using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

// Tiled SGEMM (the classic register-blocked design: Volkov & Demmel 2008; the "128×128×8, 8×8 per thread" kernel of
// MAGMA/CUTLASS-style SGEMMs; see also Simon Boehm's "How to optimize a CUDA matmul kernel", kernels 5–6).
//
// Why these numbers:
//   * Block tile 128×128, 256 threads, 8×8 outputs per thread. Each k step a thread reads 8 A and 8 B values from
//     shared memory (four 16-byte loads) and issues 64 FMAs — 16 FMAs per shared load instruction, enough to keep the
//     FP32 pipes busy — and 64 accumulators + 16 operands + 8 staged values fit well under 255 registers (two groups
//     per SM). A 4×4 per-thread block would halve the FMA:load ratio; a larger one would spill.
//     Cost: products with fewer than ~132 tiles (e.g. 1024×512) leave SMs idle; a 64×64 variant or split-K would help
//     those, not written yet.
//   * k tile 8: A and B tiles are 8×128 floats = 4 KiB each, 16 KiB double-buffered — leaves shared memory for
//     several resident groups. Every thread moves exactly one float4 of A and one of B per k tile.
//   * Shared layout [k][m] and [k][n] (A transposed on store when op(A) is k-contiguous), so the compute loop reads
//     four consecutive m (or n) values as one float4. A thread owns rows {4ty..4ty+3, 64+4ty..64+4ty+3} and columns
//     {4tx..4tx+3, 64+4tx..}: the split halves keep a warp's float4 reads within two 128-byte wavefronts.
//   * Double buffering with register staging: the next k tile's global loads are issued before the 8 k steps on the
//     current tile and stored to the other buffer after them — one barrier per k tile, load latency hidden.
//   * Edges: every global load is bounds-checked (zeros outside), so any m, n, k works (K > M included — the trap of
//     ILGPU's sample tiled matmul); float4 loads/stores are used only when the host has proved 16-byte alignment
//     (ld % 4 == 0, stride % 4 == 0, view offset % 4 == 0) and the four elements are in range.
//   * Grid: one group per (batch, m tile, n tile), flattened on x with n fastest (neighbouring groups share A rows
//     in L2).
public static partial class MatMulKernels
{
    internal const int TileM = 128, TileN = 128, TileK = 8, TiledThreads = 256;

    [Kernel]
    internal static void TiledKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmParams p)
    {
        // [buffer][k][m] and [buffer][k][n]; allocated as F4 so the shared arrays are 16-byte aligned (ld.shared.v4).
        var sa4 = SharedMemory.Allocate<F4>(2 * TileK * TileM / 4);
        var sb4 = SharedMemory.Allocate<F4>(2 * TileK * TileN / 4);
        var sa = sa4.Cast<float>();
        var sb = sb4.Cast<float>();
        var a4 = a.Cast<F4>();
        var b4 = b.Cast<F4>();

        int tid = Group.IdxX;
        int tx = tid & 15, ty = tid >> 4;
        int tilesMN = p.TilesM * p.TilesN;
        int bi = Grid.IdxX / tilesMN;
        int rem = Grid.IdxX - bi * tilesMN;
        int tm = rem / p.TilesN;
        int m0 = tm * TileM, n0 = (rem - tm * p.TilesN) * TileN;
        long aBase = bi * p.StrideA, bBase = bi * p.StrideB;
        bool vecA = p.VecA != 0, vecB = p.VecB != 0;

        // op(A) is k-contiguous when A is not transposed; op(B) is k-contiguous when B is transposed.
        F4 ra = p.TransA == 0
            ? LoadKContig(a, a4, aBase, p.Lda, m0, p.M, 0, p.K, tid, vecA)
            : LoadMnContig(a, a4, aBase, p.Lda, m0, p.M, 0, p.K, tid, vecA);
        F4 rb = p.TransB != 0
            ? LoadKContig(b, b4, bBase, p.Ldb, n0, p.N, 0, p.K, tid, vecB)
            : LoadMnContig(b, b4, bBase, p.Ldb, n0, p.N, 0, p.K, tid, vecB);
        if (p.TransA == 0) StoreKContig(sa, 0, ra, tid); else StoreMnContig(sa4, 0, ra, tid);
        if (p.TransB != 0) StoreKContig(sb, 0, rb, tid); else StoreMnContig(sb4, 0, rb, tid);
        Group.Barrier();

        Row8 c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        int nk = (p.K + TileK - 1) / TileK;
        for (int kt = 0; kt < nk; kt++)
        {
            int cur = (kt & 1) * (TileK * TileM);       // float offset of the current buffer (TileM == TileN)
            bool more = kt + 1 < nk;
            if (more)
            {
                int k0 = (kt + 1) * TileK;
                ra = p.TransA == 0
                    ? LoadKContig(a, a4, aBase, p.Lda, m0, p.M, k0, p.K, tid, vecA)
                    : LoadMnContig(a, a4, aBase, p.Lda, m0, p.M, k0, p.K, tid, vecA);
                rb = p.TransB != 0
                    ? LoadKContig(b, b4, bBase, p.Ldb, n0, p.N, k0, p.K, tid, vecB)
                    : LoadMnContig(b, b4, bBase, p.Ldb, n0, p.N, k0, p.K, tid, vecB);
            }

            // 8 k steps, two per iteration (hand-unrolled by 2; ILGPU does not unroll).
            int aw = (cur >> 2) + ty, bw = (cur >> 2) + tx;   // float4 index of this thread's first A / B quad at k = 0
            for (int kk = 0; kk < TileK; kk += 2)
            {
                Step(sa4, sb4, aw, bw, ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7);
                Step(sa4, sb4, aw + TileM / 4, bw + TileN / 4, ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7);
                aw += 2 * TileM / 4;
                bw += 2 * TileN / 4;
            }

            if (more)
            {
                int nxt = (cur ^ (TileK * TileM));
                if (p.TransA == 0) StoreKContig(sa, nxt, ra, tid); else StoreMnContig(sa4, nxt, ra, tid);
                if (p.TransB != 0) StoreKContig(sb, nxt, rb, tid); else StoreMnContig(sb4, nxt, rb, tid);
            }
            Group.Barrier();
        }

        long cBase = bi * p.StrideC;
        bool vecC = p.VecC != 0;
        int r0 = m0 + ty * 4, col = n0 + tx * 4;
        StoreRow(c, cBase, r0 + 0, col, c0, p, vecC);
        StoreRow(c, cBase, r0 + 1, col, c1, p, vecC);
        StoreRow(c, cBase, r0 + 2, col, c2, p, vecC);
        StoreRow(c, cBase, r0 + 3, col, c3, p, vecC);
        StoreRow(c, cBase, r0 + 64, col, c4, p, vecC);
        StoreRow(c, cBase, r0 + 65, col, c5, p, vecC);
        StoreRow(c, cBase, r0 + 66, col, c6, p, vecC);
        StoreRow(c, cBase, r0 + 67, col, c7, p, vecC);
    }

    /// <summary>One k step: rows (a quad at aw and aw + 16) times columns (quads at bw and bw + 16) into the 8×8 block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(ArrayView<F4> sa4, ArrayView<F4> sb4, int aw, int bw,
        ref Row8 c0, ref Row8 c1, ref Row8 c2, ref Row8 c3, ref Row8 c4, ref Row8 c5, ref Row8 c6, ref Row8 c7)
    {
        F4 a0 = sa4[aw], a1 = sa4[aw + 16];
        F4 b0 = sb4[bw], b1 = sb4[bw + 16];
        Row8 bv;
        bv.C0 = b0.X; bv.C1 = b0.Y; bv.C2 = b0.Z; bv.C3 = b0.W;
        bv.C4 = b1.X; bv.C5 = b1.Y; bv.C6 = b1.Z; bv.C7 = b1.W;
        c0.Fma(a0.X, bv); c1.Fma(a0.Y, bv); c2.Fma(a0.Z, bv); c3.Fma(a0.W, bv);
        c4.Fma(a1.X, bv); c5.Fma(a1.Y, bv); c6.Fma(a1.Z, bv); c7.Fma(a1.W, bv);
    }

    /// <summary>Loads 4 consecutive-k elements of operand row (mn0 + tid/2) at k0 + 4·(tid%2), stored rows along m (or n), k contiguous; zeros outside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static F4 LoadKContig(ArrayView<float> x, ArrayView<F4> x4, long xBase, int ld, int mn0, int mnCount, int k0, int kCount, int tid, bool vec)
    {
        int row = mn0 + (tid >> 1);
        int kc = k0 + ((tid & 1) << 2);
        F4 v = default;
        if (row < mnCount)
        {
            long e = xBase + (long)row * ld + kc;
            if (vec && kc + 3 < kCount) return x4[e >> 2];
            if (kc < kCount) v.X = x[e];
            if (kc + 1 < kCount) v.Y = x[e + 1];
            if (kc + 2 < kCount) v.Z = x[e + 2];
            if (kc + 3 < kCount) v.W = x[e + 3];
        }
        return v;
    }

    /// <summary>Loads 4 consecutive-m (or n) elements of stored row k0 + tid/32 at mn0 + 4·(tid%32) (the operand is m/n-contiguous); zeros outside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static F4 LoadMnContig(ArrayView<float> x, ArrayView<F4> x4, long xBase, int ld, int mn0, int mnCount, int k0, int kCount, int tid, bool vec)
    {
        int krow = k0 + (tid >> 5);
        int col = mn0 + ((tid & 31) << 2);
        F4 v = default;
        if (krow < kCount)
        {
            long e = xBase + (long)krow * ld + col;
            if (vec && col + 3 < mnCount) return x4[e >> 2];
            if (col < mnCount) v.X = x[e];
            if (col + 1 < mnCount) v.Y = x[e + 1];
            if (col + 2 < mnCount) v.Z = x[e + 2];
            if (col + 3 < mnCount) v.W = x[e + 3];
        }
        return v;
    }

    /// <summary>Stores a k-contiguous quad transposed into the [k][mn] shared tile at float offset buf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreKContig(ArrayView<float> s, int buf, F4 v, int tid)
    {
        int idx = buf + ((tid & 1) << 2) * TileM + (tid >> 1);
        s[idx] = v.X;
        s[idx + TileM] = v.Y;
        s[idx + 2 * TileM] = v.Z;
        s[idx + 3 * TileM] = v.W;
    }

    /// <summary>Stores an m/n-contiguous quad as one float4 into the [k][mn] shared tile at float offset buf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMnContig(ArrayView<F4> s4, int buf, F4 v, int tid)
        => s4[(buf + (tid >> 5) * TileM + ((tid & 31) << 2)) >> 2] = v;

    /// <summary>Writes one thread row (columns col..col+3 and col+64..col+67) of C = alpha·acc + beta·C, bounds-checked, float4 when aligned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(ArrayView<float> c, long cBase, int row, int col, in Row8 acc, in GemmParams p, bool vec)
    {
        if (row >= p.M) return;
        long e = cBase + (long)row * p.Ldc + col;
        StoreQuad(c, e, col, acc.C0, acc.C1, acc.C2, acc.C3, p, vec);
        StoreQuad(c, e + 64, col + 64, acc.C4, acc.C5, acc.C6, acc.C7, p, vec);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreQuad(ArrayView<float> c, long e, int col, float v0, float v1, float v2, float v3, in GemmParams p, bool vec)
    {
        float alpha = p.Alpha, beta = p.Beta;
        if (vec && col + 3 < p.N)
        {
            var c4 = c.Cast<F4>();
            F4 r;
            if (beta == 0f)
            {
                r = new F4(alpha * v0, alpha * v1, alpha * v2, alpha * v3);
            }
            else
            {
                F4 old = c4[e >> 2];
                r = new F4(alpha * v0 + beta * old.X, alpha * v1 + beta * old.Y, alpha * v2 + beta * old.Z, alpha * v3 + beta * old.W);
            }
            c4[e >> 2] = r;
            return;
        }
        if (col < p.N) c[e] = beta == 0f ? alpha * v0 : alpha * v0 + beta * c[e];
        if (col + 1 < p.N) c[e + 1] = beta == 0f ? alpha * v1 : alpha * v1 + beta * c[e + 1];
        if (col + 2 < p.N) c[e + 2] = beta == 0f ? alpha * v2 : alpha * v2 + beta * c[e + 2];
        if (col + 3 < p.N) c[e + 3] = beta == 0f ? alpha * v3 : alpha * v3 + beta * c[e + 3];
    }

    private static void LaunchTiled(KernelContext k, GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        p.TilesM = (p.M + TileM - 1) / TileM;
        p.TilesN = (p.N + TileN - 1) / TileN;
        long groups = (long)p.Batch * p.TilesM * p.TilesN;
        if (groups > int.MaxValue) throw new ArgumentException($"batch·tiles = {groups} is too large for one launch.");
        p.VecA = Aligned4(a, p.Lda, p.StrideA);
        p.VecB = Aligned4(b, p.Ldb, p.StrideB);
        p.VecC = Aligned4(c, p.Ldc, p.StrideC);
        var kernel = k.Kernel("mm.tiled", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(TiledKernel));
        kernel(k.Stream, new KernelConfig((int)groups, TiledThreads), a, b, c, p);
    }

    /// <summary>1 when every row start of every batch entry is 16-byte aligned: the view's address is, and ld and stride are multiples of 4 floats.</summary>
    private static int Aligned4(ArrayView<float> v, int ld, long stride)
        => IsAligned(v, 16) && ld % 4 == 0 && stride % 4 == 0 ? 1 : 0;

    /// <summary>Whether the view's first element lies on a <paramref name="bytes"/>-byte boundary (device address on a GPU, host address on the CPU accelerator).</summary>
    internal static bool IsAligned<T>(ArrayView<T> v, int bytes) where T : unmanaged
        => v.Length > 0 && ((long)v.LoadEffectiveAddressAsPtr() & (bytes - 1)) == 0;
}
