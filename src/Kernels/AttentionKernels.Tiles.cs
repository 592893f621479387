using System.Runtime.CompilerServices;
using ILGPU;

namespace LLaDA.Kernels;

// The two tile products every attention kernel is made of, plus row statistics. All of them are called by all 256
// threads of the group with group-uniform sizes (they contain barriers) and leave shared memory free on return.
public static partial class AttentionKernels
{
    /// <summary>acc[i][j] += Σ_d X[ty + 16i][d]·Y[tx + 16j][d] over d &lt; hs for a 64-row tile of X and one of Y; rows at or beyond xRows / yRows read as 0.</summary>
    /// <remarks>X and Y rows are staged 32 head-dim values at a time into <paramref name="sxy"/> as [d][row] (row stride 65):
    /// the global reads are row segments (coalesced), the transposed stores and the compute-loop reads are free of bank
    /// conflicts. 16 FMAs per 8 shared loads; the d loop is unrolled by 4.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScoreTile(ref Block4x4 acc,
        ArrayView<float> x, long xBase, long xStride, int xRows,
        ArrayView<float> y, long yBase, long yStride, int yRows,
        int hs, ArrayView<float> sxy, int tid, int tx, int ty)
    {
        const int yOff = DChunk * XStride;
        for (int d0 = 0; d0 < hs; d0 += DChunk)
        {
            for (int r = 0; r < DChunk * Tile / Threads; r++)
            {
                int e = tid + r * Threads;
                int row = e >> 5, dc = e & (DChunk - 1);
                int d = d0 + dc;
                bool inD = d < hs;
                sxy[dc * XStride + row] = inD && row < xRows ? x[xBase + row * xStride + d] : 0f;
                sxy[yOff + dc * XStride + row] = inD && row < yRows ? y[yBase + row * yStride + d] : 0f;
            }
            Group.Barrier();
            int dn = hs - d0 < DChunk ? hs - d0 : DChunk;
            int dcx = 0;
            for (; dcx + 4 <= dn; dcx += 4)
            {
                ScoreStep(ref acc, sxy, dcx * XStride + ty, yOff + dcx * XStride + tx);
                ScoreStep(ref acc, sxy, (dcx + 1) * XStride + ty, yOff + (dcx + 1) * XStride + tx);
                ScoreStep(ref acc, sxy, (dcx + 2) * XStride + ty, yOff + (dcx + 2) * XStride + tx);
                ScoreStep(ref acc, sxy, (dcx + 3) * XStride + ty, yOff + (dcx + 3) * XStride + tx);
            }
            for (; dcx < dn; dcx++)
                ScoreStep(ref acc, sxy, dcx * XStride + ty, yOff + dcx * XStride + tx);
            Group.Barrier();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreStep(ref Block4x4 acc, ArrayView<float> sxy, int xi, int yi)
    {
        Row4 a, b;
        a.C0 = sxy[xi]; a.C1 = sxy[xi + 16]; a.C2 = sxy[xi + 32]; a.C3 = sxy[xi + 48];
        b.C0 = sxy[yi]; b.C1 = sxy[yi + 16]; b.C2 = sxy[yi + 32]; b.C3 = sxy[yi + 48];
        acc.Fma(a, b);
    }

    /// <summary>acc[i][c] += Σ_j P[j][ty + 16i]·Y[j][dOff + tx + 16c] for j &lt; yRows, with P in <paramref name="sp"/> as [j][row] (stride 65) and Y rows read from global memory.</summary>
    /// <remarks>Y rows are staged 32 at a time, 128 head-dim values each, into <paramref name="sv"/> as [j][d] (conflict-free
    /// reads by consecutive tx). With dWidth ≤ 64 only the lower four output columns are computed.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AccumulateTile(ref Block4x8 acc, ArrayView<float> sp,
        ArrayView<float> y, long yBase, long yStride, int yRows, int dOff, int dWidth,
        ArrayView<float> sv, int tid, int tx, int ty)
    {
        bool upper = dWidth > 64;
        for (int j0 = 0; j0 < yRows; j0 += 32)
        {
            for (int r = 0; r < 32 * DBlock / Threads; r++)
            {
                int e = tid + r * Threads;
                int jj = e >> 7, dd = e & (DBlock - 1);
                sv[e] = j0 + jj < yRows && dd < dWidth ? y[yBase + (j0 + jj) * yStride + dOff + dd] : 0f;
            }
            Group.Barrier();
            int jn = yRows - j0 < 32 ? yRows - j0 : 32;
            int pi = j0 * XStride + ty, vi = tx;
            if (upper)
            {
                for (int jj = 0; jj < jn; jj++)
                {
                    Row4 pv;
                    pv.C0 = sp[pi]; pv.C1 = sp[pi + 16]; pv.C2 = sp[pi + 32]; pv.C3 = sp[pi + 48];
                    Row8 vv;
                    vv.C0 = sv[vi]; vv.C1 = sv[vi + 16]; vv.C2 = sv[vi + 32]; vv.C3 = sv[vi + 48];
                    vv.C4 = sv[vi + 64]; vv.C5 = sv[vi + 80]; vv.C6 = sv[vi + 96]; vv.C7 = sv[vi + 112];
                    acc.Fma(pv, vv);
                    pi += XStride;
                    vi += DBlock;
                }
            }
            else
            {
                for (int jj = 0; jj < jn; jj++)
                {
                    Row4 pv;
                    pv.C0 = sp[pi]; pv.C1 = sp[pi + 16]; pv.C2 = sp[pi + 32]; pv.C3 = sp[pi + 48];
                    Row8 vv = default;
                    vv.C0 = sv[vi]; vv.C1 = sv[vi + 16]; vv.C2 = sv[vi + 32]; vv.C3 = sv[vi + 48];
                    acc.FmaLow(pv, vv);
                    pi += XStride;
                    vi += DBlock;
                }
            }
            Group.Barrier();
        }
    }

    /// <summary>Stores a thread's 4×4 block into the [column][row] shared tile: sp[(tx + 16j)·65 + ty + 16i] = blk[i][j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreTransposed(ArrayView<float> sp, in Block4x4 blk, int tx, int ty)
    {
        int b0 = tx * XStride + ty;
        const int c = 16 * XStride;
        StoreColumn(sp, b0, blk.R0.C0, blk.R1.C0, blk.R2.C0, blk.R3.C0);
        StoreColumn(sp, b0 + c, blk.R0.C1, blk.R1.C1, blk.R2.C1, blk.R3.C1);
        StoreColumn(sp, b0 + 2 * c, blk.R0.C2, blk.R1.C2, blk.R2.C2, blk.R3.C2);
        StoreColumn(sp, b0 + 3 * c, blk.R0.C3, blk.R1.C3, blk.R2.C3, blk.R3.C3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreColumn(ArrayView<float> sp, int i, float r0, float r1, float r2, float r3)
    {
        sp[i] = r0; sp[i + 16] = r1; sp[i + 32] = r2; sp[i + 48] = r3;
    }

    /// <summary>Maximum over the 16 lanes of a half-warp (the 64 columns of one tile row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float RowMax(float x)
    {
        x = XMax(x, Warp.ShuffleXor(x, 8));
        x = XMax(x, Warp.ShuffleXor(x, 4));
        x = XMax(x, Warp.ShuffleXor(x, 2));
        return XMax(x, Warp.ShuffleXor(x, 1));
    }

    /// <summary>Sum over the 16 lanes of a half-warp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float RowSum(float x)
    {
        x += Warp.ShuffleXor(x, 8);
        x += Warp.ShuffleXor(x, 4);
        x += Warp.ShuffleXor(x, 2);
        return x + Warp.ShuffleXor(x, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float XMax(float a, float b) => a > b ? a : b;

    /// <summary>Stages lse·log2 e (or +∞ for rows ≥ rows) and D_i = Σ_d dO_id·O_id of a 64-query tile into sl[0..63] and sd[0..63]; four threads per row; ends with a barrier.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StageRowStats(ArrayView<float> sstat, ArrayView<float> o, long oBase, long oStride,
        ArrayView<float> dO, long doBase, long doStride, ArrayView<float> lse, long lseBase, int rows, int hs, int tid)
    {
        int row = tid >> 2, part = tid & 3;
        float sum = 0f;
        if (row < rows)
        {
            long oi = oBase + row * oStride, di = doBase + row * doStride;
            for (int d = part; d < hs; d += 4) sum += o[oi + d] * dO[di + d];
        }
        sum += Warp.ShuffleXor(sum, 1);
        sum += Warp.ShuffleXor(sum, 2);
        if (part == 0)
        {
            sstat[Tile + row] = sum;
            sstat[row] = row < rows ? lse[lseBase + row] * Log2E : float.PositiveInfinity;
        }
        Group.Barrier();
    }

    /// <summary>Whether key column kj of batch b is a real key (inside Tk and not padded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool KeyOk(ArrayView<int> pad, in AttnParams p, int b, int kj)
        => kj < p.Tk && (p.HasPadding == 0 || pad[(long)b * p.Tk + kj] != 0);

    /// <summary>Whether query qi may attend key kj (query inside Tq; causal: kj ≤ Tk − Tq + qi); key validity is separate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Sees(in AttnParams p, int qi, int kj)
        => qi < p.Tq && (p.Causal == 0 || kj <= p.Tk - p.Tq + qi);

    /// <summary>Writes a thread's output row (columns tx + 16c below dWidth) times <paramref name="scale"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WriteRow(ArrayView<float> x, long rowBase, int tx, int dWidth, in Row8 r, float scale)
    {
        if (tx < dWidth) x[rowBase + tx] = r.C0 * scale;
        if (tx + 16 < dWidth) x[rowBase + tx + 16] = r.C1 * scale;
        if (tx + 32 < dWidth) x[rowBase + tx + 32] = r.C2 * scale;
        if (tx + 48 < dWidth) x[rowBase + tx + 48] = r.C3 * scale;
        if (tx + 64 < dWidth) x[rowBase + tx + 64] = r.C4 * scale;
        if (tx + 80 < dWidth) x[rowBase + tx + 80] = r.C5 * scale;
        if (tx + 96 < dWidth) x[rowBase + tx + 96] = r.C6 * scale;
        if (tx + 112 < dWidth) x[rowBase + tx + 112] = r.C7 * scale;
    }
}
