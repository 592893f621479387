using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;

namespace LLaDA.Kernels;

// Forward: one group per (b, h, 64-query tile, d block); grid (QTiles·DBlocks, NH, B).
public static partial class AttentionKernels
{
    [Kernel]
    internal static void ForwardKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<int> pad,
        ArrayView<float> o, ArrayView<float> lse, AttnParams p)
    {
        var sxy = SharedMemory.Allocate<float>(ChunkFloats);
        var sp = SharedMemory.Allocate<float>(PFloats);
        int tid = Group.IdxX, tx = tid & 15, ty = tid >> 4;
        int qt = Grid.IdxX / p.DBlocks, db = Grid.IdxX - qt * p.DBlocks;
        int h = Grid.IdxY, b = Grid.IdxZ;
        int kvh = h / (p.NH / p.NKV);
        int q0 = qt * Tile, qRows = Min(Tile, p.Tq - q0);
        int dOff = db * DBlock, dWidth = Min(DBlock, p.HS - dOff);
        long qBase = b * p.QB + h * p.QH + q0 * p.QT;
        long kBase = b * p.KB + kvh * p.KH, vBase = b * p.VB + kvh * p.VH;
        // Causal: the tile's last query (q0 + qRows − 1) sees keys up to Tk − Tq + q0 + qRows − 1; later key tiles are skipped.
        int kEnd = p.Causal != 0 ? Min(p.Tk, p.Tk - p.Tq + q0 + qRows) : p.Tk;
        int qi = q0 + ty;

        float m0 = float.NegativeInfinity, m1 = float.NegativeInfinity, m2 = float.NegativeInfinity, m3 = float.NegativeInfinity;
        float l0 = 0f, l1 = 0f, l2 = 0f, l3 = 0f;
        Block4x8 acc = default;
        for (int k0 = 0; k0 < kEnd; k0 += Tile)
        {
            int kRows = Min(Tile, p.Tk - k0);
            Block4x4 s = default;
            ScoreTile(ref s, q, qBase, p.QT, qRows, k, kBase + k0 * p.KT, p.KT, kRows, p.HS, sxy, tid, tx, ty);
            int kj = k0 + tx;
            bool ok0 = KeyOk(pad, p, b, kj), ok1 = KeyOk(pad, p, b, kj + 16), ok2 = KeyOk(pad, p, b, kj + 32), ok3 = KeyOk(pad, p, b, kj + 48);
            OnlineRow(ref s.R0, ref m0, ref l0, ref acc.R0, p, qi, kj, ok0, ok1, ok2, ok3);
            OnlineRow(ref s.R1, ref m1, ref l1, ref acc.R1, p, qi + 16, kj, ok0, ok1, ok2, ok3);
            OnlineRow(ref s.R2, ref m2, ref l2, ref acc.R2, p, qi + 32, kj, ok0, ok1, ok2, ok3);
            OnlineRow(ref s.R3, ref m3, ref l3, ref acc.R3, p, qi + 48, kj, ok0, ok1, ok2, ok3);
            StoreTransposed(sp, s, tx, ty);
            Group.Barrier();
            AccumulateTile(ref acc, sp, v, vBase + k0 * p.VT, p.VT, kRows, dOff, dWidth, sxy, tid, tx, ty);
        }

        long oBase = b * p.OB + h * p.OH + (long)q0 * p.OT + dOff;
        long lseBase = ((long)b * p.NH + h) * p.Tq + q0;
        bool writeLse = db == 0 && tx == 0;
        FinishRow(o, oBase, lse, lseBase, ty, qRows, tx, dWidth, acc.R0, m0, l0, p.OT, writeLse);
        FinishRow(o, oBase, lse, lseBase, ty + 16, qRows, tx, dWidth, acc.R1, m1, l1, p.OT, writeLse);
        FinishRow(o, oBase, lse, lseBase, ty + 32, qRows, tx, dWidth, acc.R2, m2, l2, p.OT, writeLse);
        FinishRow(o, oBase, lse, lseBase, ty + 48, qRows, tx, dWidth, acc.R3, m3, l3, p.OT, writeLse);
    }

    /// <summary>Online-softmax update of one query row with this thread's 4 scores: masks, new running max m (base 2), P = 2^(s − m) written back into s, l and the output row rescaled by 2^(m_old − m_new).</summary>
    /// <remarks>A row that has seen no visible key keeps m = −∞; it then uses 0 as the reference so that no −∞ − (−∞)
    /// appears: P = 2^(−∞) = 0, alpha = 0, and l and the output stay 0.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OnlineRow(ref Row4 s, ref float m, ref float l, ref Row8 o, in AttnParams p, int qi, int kj,
        bool ok0, bool ok1, bool ok2, bool ok3)
    {
        float c = p.ScaleLog2;
        float s0 = ok0 && Sees(p, qi, kj) ? s.C0 * c : float.NegativeInfinity;
        float s1 = ok1 && Sees(p, qi, kj + 16) ? s.C1 * c : float.NegativeInfinity;
        float s2 = ok2 && Sees(p, qi, kj + 32) ? s.C2 * c : float.NegativeInfinity;
        float s3 = ok3 && Sees(p, qi, kj + 48) ? s.C3 * c : float.NegativeInfinity;
        float mx = RowMax(XMax(XMax(s0, s1), XMax(s2, s3)));
        float mNew = XMax(m, mx);
        float mRef = mNew == float.NegativeInfinity ? 0f : mNew;
        s.C0 = XMath.Exp2(s0 - mRef);
        s.C1 = XMath.Exp2(s1 - mRef);
        s.C2 = XMath.Exp2(s2 - mRef);
        s.C3 = XMath.Exp2(s3 - mRef);
        float alpha = XMath.Exp2(m - mRef);
        float rs = RowSum(s.C0 + s.C1 + s.C2 + s.C3);
        l = l * alpha + rs;
        o.Scale(alpha);
        m = mNew;
    }

    /// <summary>o row = acc / l (0 when l = 0) and, once per row, lse = (m + log2 l)·ln 2 (+∞ when l = 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishRow(ArrayView<float> o, long oBase, ArrayView<float> lse, long lseBase, int row, int rows, int tx, int dWidth,
        in Row8 acc, float m, float l, long oStride, bool writeLse)
    {
        if (row >= rows) return;
        float inv = l > 0f ? 1f / l : 0f;
        WriteRow(o, oBase + row * oStride, tx, dWidth, acc, inv);
        if (writeLse) lse[lseBase + row] = l > 0f ? (m + XMath.Log2(l)) * Ln2 : float.PositiveInfinity;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Min(int a, int b) => a < b ? a : b;
}
