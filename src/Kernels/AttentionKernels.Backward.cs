using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;

namespace LLaDA.Kernels;

// Backward (FlashAttention-2 §3.2 with the dk/dv and dq loops split into two kernels, as FlashAttention-2's
// deterministic mode): P = 2^(s·scale·log2 e − lse·log2 e), dP = dO·vᵀ, D_i = Σ_d dO_id·O_id, dS = P ⊙ (dP − D),
// dv = Pᵀ·dO, dk = scale·dSᵀ·q, dq = scale·dS·k. Each output element is written by exactly one group.
public static partial class AttentionKernels
{
    /// <summary>dk, dv for one (b, kv head, 64-key tile, d block): loops over every query head sharing the kv head and every query tile that can see the key tile. Grid (KTiles·DBlocks, NKV, B).</summary>
    [Kernel]
    internal static void BackwardDkDvKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<int> pad,
        ArrayView<float> o, ArrayView<float> lse, ArrayView<float> dO, ArrayView<float> dk, ArrayView<float> dv, AttnParams p)
    {
        var sxy = SharedMemory.Allocate<float>(ChunkFloats);
        var sp = SharedMemory.Allocate<float>(PFloats);
        var sstat = SharedMemory.Allocate<float>(2 * Tile);   // [0..63] lse·log2 e, [64..127] D
        int tid = Group.IdxX, tx = tid & 15, ty = tid >> 4;
        int kt = Grid.IdxX / p.DBlocks, db = Grid.IdxX - kt * p.DBlocks;
        int kvh = Grid.IdxY, b = Grid.IdxZ;
        int group = p.NH / p.NKV;
        int k0 = kt * Tile, kRows = Min(Tile, p.Tk - k0);
        int dOff = db * DBlock, dWidth = Min(DBlock, p.HS - dOff);
        long kBase = b * p.KB + kvh * p.KH + (long)k0 * p.KT;
        long vBase = b * p.VB + kvh * p.VH + (long)k0 * p.VT;
        // Causal: query i sees key j iff j ≤ Tk − Tq + i, so the first query that sees key k0 is k0 − (Tk − Tq).
        int qFirst = p.Causal != 0 ? k0 - (p.Tk - p.Tq) : 0;
        int qStart = qFirst > 0 ? qFirst / Tile * Tile : 0;
        int kj = k0 + ty;   // rows of the tiles here are keys, columns are queries

        // Key validity of this thread's four rows (fixed for the whole group).
        bool ok0 = KeyOk(pad, p, b, kj), ok1 = KeyOk(pad, p, b, kj + 16), ok2 = KeyOk(pad, p, b, kj + 32), ok3 = KeyOk(pad, p, b, kj + 48);

        Block4x8 dK = default, dV = default;
        for (int h = kvh * group; h < (kvh + 1) * group; h++)
        {
            long qHead = b * p.QB + h * p.QH, oHead = b * p.OB + h * p.OH, doHead = b * p.DOB + h * p.DOH;
            long lseHead = ((long)b * p.NH + h) * p.Tq;
            for (int q0 = qStart; q0 < p.Tq; q0 += Tile)
            {
                int qRows = Min(Tile, p.Tq - q0);
                StageRowStats(sstat, o, oHead + q0 * p.OT, p.OT, dO, doHead + q0 * p.DOT, p.DOT, lse, lseHead + q0, qRows, p.HS, tid);
                Row4 lc, dc;   // per column (query): lse·log2 e and D
                lc.C0 = sstat[tx]; lc.C1 = sstat[tx + 16]; lc.C2 = sstat[tx + 32]; lc.C3 = sstat[tx + 48];
                dc.C0 = sstat[Tile + tx]; dc.C1 = sstat[Tile + tx + 16]; dc.C2 = sstat[Tile + tx + 32]; dc.C3 = sstat[Tile + tx + 48];
                int qi = q0 + tx;

                // sᵀ (keys × queries) → Pᵀ
                Block4x4 pt = default;
                ScoreTile(ref pt, k, kBase, p.KT, kRows, q, qHead + q0 * p.QT, p.QT, qRows, p.HS, sxy, tid, tx, ty);
                ProbRowT(ref pt.R0, p, kj, qi, ok0, lc);
                ProbRowT(ref pt.R1, p, kj + 16, qi, ok1, lc);
                ProbRowT(ref pt.R2, p, kj + 32, qi, ok2, lc);
                ProbRowT(ref pt.R3, p, kj + 48, qi, ok3, lc);
                StoreTransposed(sp, pt, tx, ty);
                Group.Barrier();
                // dV += Pᵀ·dO
                AccumulateTile(ref dV, sp, dO, doHead + q0 * p.DOT, p.DOT, qRows, dOff, dWidth, sxy, tid, tx, ty);

                // dPᵀ = V·dOᵀ; dSᵀ = Pᵀ ⊙ (dPᵀ − D)
                Block4x4 dpt = default;
                ScoreTile(ref dpt, v, vBase, p.VT, kRows, dO, doHead + q0 * p.DOT, p.DOT, qRows, p.HS, sxy, tid, tx, ty);
                DsRow(ref dpt.R0, pt.R0, dc);
                DsRow(ref dpt.R1, pt.R1, dc);
                DsRow(ref dpt.R2, pt.R2, dc);
                DsRow(ref dpt.R3, pt.R3, dc);
                StoreTransposed(sp, dpt, tx, ty);
                Group.Barrier();
                // dK += dSᵀ·Q (scaled at the end)
                AccumulateTile(ref dK, sp, q, qHead + q0 * p.QT, p.QT, qRows, dOff, dWidth, sxy, tid, tx, ty);
            }
        }

        long dkBase = b * p.KB + kvh * p.KH + (long)k0 * p.KT + dOff;
        long dvBase = b * p.VB + kvh * p.VH + (long)k0 * p.VT + dOff;
        WriteKeyRow(dk, dv, dkBase, dvBase, ty, kRows, tx, dWidth, dK.R0, dV.R0, p);
        WriteKeyRow(dk, dv, dkBase, dvBase, ty + 16, kRows, tx, dWidth, dK.R1, dV.R1, p);
        WriteKeyRow(dk, dv, dkBase, dvBase, ty + 32, kRows, tx, dWidth, dK.R2, dV.R2, p);
        WriteKeyRow(dk, dv, dkBase, dvBase, ty + 48, kRows, tx, dWidth, dK.R3, dV.R3, p);
    }

    /// <summary>dq for one (b, h, 64-query tile, d block): loops over the key tiles the tile can see. Grid (QTiles·DBlocks, NH, B).</summary>
    [Kernel]
    internal static void BackwardDqKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<int> pad,
        ArrayView<float> o, ArrayView<float> lse, ArrayView<float> dO, ArrayView<float> dq, AttnParams p)
    {
        var sxy = SharedMemory.Allocate<float>(ChunkFloats);
        var sp = SharedMemory.Allocate<float>(PFloats);
        var sstat = SharedMemory.Allocate<float>(2 * Tile);
        int tid = Group.IdxX, tx = tid & 15, ty = tid >> 4;
        int qt = Grid.IdxX / p.DBlocks, db = Grid.IdxX - qt * p.DBlocks;
        int h = Grid.IdxY, b = Grid.IdxZ;
        int kvh = h / (p.NH / p.NKV);
        int q0 = qt * Tile, qRows = Min(Tile, p.Tq - q0);
        int dOff = db * DBlock, dWidth = Min(DBlock, p.HS - dOff);
        long qBase = b * p.QB + h * p.QH + (long)q0 * p.QT;
        long doBase = b * p.DOB + h * p.DOH + (long)q0 * p.DOT;
        long kBase = b * p.KB + kvh * p.KH, vBase = b * p.VB + kvh * p.VH;
        int kEnd = p.Causal != 0 ? Min(p.Tk, p.Tk - p.Tq + q0 + qRows) : p.Tk;
        int qi = q0 + ty;   // rows are queries, columns keys

        StageRowStats(sstat, o, b * p.OB + h * p.OH + (long)q0 * p.OT, p.OT, dO, doBase, p.DOT, lse, ((long)b * p.NH + h) * p.Tq + q0, qRows, p.HS, tid);
        float lr0 = sstat[ty], lr1 = sstat[ty + 16], lr2 = sstat[ty + 32], lr3 = sstat[ty + 48];
        float dr0 = sstat[Tile + ty], dr1 = sstat[Tile + ty + 16], dr2 = sstat[Tile + ty + 32], dr3 = sstat[Tile + ty + 48];

        Block4x8 dQ = default;
        for (int k0 = 0; k0 < kEnd; k0 += Tile)
        {
            int kRows = Min(Tile, p.Tk - k0);
            int kj = k0 + tx;
            bool ok0 = KeyOk(pad, p, b, kj), ok1 = KeyOk(pad, p, b, kj + 16), ok2 = KeyOk(pad, p, b, kj + 32), ok3 = KeyOk(pad, p, b, kj + 48);
            Block4x4 s = default;
            ScoreTile(ref s, q, qBase, p.QT, qRows, k, kBase + k0 * p.KT, p.KT, kRows, p.HS, sxy, tid, tx, ty);
            ProbRow(ref s.R0, p, qi, kj, lr0, ok0, ok1, ok2, ok3);
            ProbRow(ref s.R1, p, qi + 16, kj, lr1, ok0, ok1, ok2, ok3);
            ProbRow(ref s.R2, p, qi + 32, kj, lr2, ok0, ok1, ok2, ok3);
            ProbRow(ref s.R3, p, qi + 48, kj, lr3, ok0, ok1, ok2, ok3);
            Block4x4 dp = default;
            ScoreTile(ref dp, dO, doBase, p.DOT, qRows, v, vBase + k0 * p.VT, p.VT, kRows, p.HS, sxy, tid, tx, ty);
            DsRowScalar(ref dp.R0, s.R0, dr0);
            DsRowScalar(ref dp.R1, s.R1, dr1);
            DsRowScalar(ref dp.R2, s.R2, dr2);
            DsRowScalar(ref dp.R3, s.R3, dr3);
            StoreTransposed(sp, dp, tx, ty);
            Group.Barrier();
            AccumulateTile(ref dQ, sp, k, kBase + k0 * p.KT, p.KT, kRows, dOff, dWidth, sxy, tid, tx, ty);
        }

        long dqBase = qBase + dOff;
        if (ty < qRows) WriteRow(dq, dqBase + ty * p.QT, tx, dWidth, dQ.R0, p.Scale);
        if (ty + 16 < qRows) WriteRow(dq, dqBase + (ty + 16) * p.QT, tx, dWidth, dQ.R1, p.Scale);
        if (ty + 32 < qRows) WriteRow(dq, dqBase + (ty + 32) * p.QT, tx, dWidth, dQ.R2, p.Scale);
        if (ty + 48 < qRows) WriteRow(dq, dqBase + (ty + 48) * p.QT, tx, dWidth, dQ.R3, p.Scale);
    }

    /// <summary>Row of P for query qi (dq kernel): P_j = 2^(s_j·scale·log2 e − lse_i·log2 e) for visible keys, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProbRow(ref Row4 s, in AttnParams p, int qi, int kj, float lse2, bool ok0, bool ok1, bool ok2, bool ok3)
    {
        float c = p.ScaleLog2;
        s.C0 = ok0 && Sees(p, qi, kj) ? XMath.Exp2(s.C0 * c - lse2) : 0f;
        s.C1 = ok1 && Sees(p, qi, kj + 16) ? XMath.Exp2(s.C1 * c - lse2) : 0f;
        s.C2 = ok2 && Sees(p, qi, kj + 32) ? XMath.Exp2(s.C2 * c - lse2) : 0f;
        s.C3 = ok3 && Sees(p, qi, kj + 48) ? XMath.Exp2(s.C3 * c - lse2) : 0f;
    }

    /// <summary>Row of Pᵀ for key kj (dk/dv kernel): columns are queries qi + 16j with their own lse.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProbRowT(ref Row4 s, in AttnParams p, int kj, int qi, bool keyOk, in Row4 lse2)
    {
        float c = p.ScaleLog2;
        s.C0 = keyOk && Sees(p, qi, kj) ? XMath.Exp2(s.C0 * c - lse2.C0) : 0f;
        s.C1 = keyOk && Sees(p, qi + 16, kj) ? XMath.Exp2(s.C1 * c - lse2.C1) : 0f;
        s.C2 = keyOk && Sees(p, qi + 32, kj) ? XMath.Exp2(s.C2 * c - lse2.C2) : 0f;
        s.C3 = keyOk && Sees(p, qi + 48, kj) ? XMath.Exp2(s.C3 * c - lse2.C3) : 0f;
    }

    /// <summary>dSᵀ row: dp ← P ⊙ (dp − D) with D per column (query).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DsRow(ref Row4 dp, in Row4 pr, in Row4 d)
    {
        dp.C0 = pr.C0 * (dp.C0 - d.C0);
        dp.C1 = pr.C1 * (dp.C1 - d.C1);
        dp.C2 = pr.C2 * (dp.C2 - d.C2);
        dp.C3 = pr.C3 * (dp.C3 - d.C3);
    }

    /// <summary>dS row: dp ← P ⊙ (dp − D_i) with one D for the row (query).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DsRowScalar(ref Row4 dp, in Row4 pr, float d)
    {
        dp.C0 = pr.C0 * (dp.C0 - d);
        dp.C1 = pr.C1 * (dp.C1 - d);
        dp.C2 = pr.C2 * (dp.C2 - d);
        dp.C3 = pr.C3 * (dp.C3 - d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteKeyRow(ArrayView<float> dk, ArrayView<float> dv, long dkBase, long dvBase, int row, int rows, int tx, int dWidth,
        in Row8 dKr, in Row8 dVr, in AttnParams p)
    {
        if (row >= rows) return;
        WriteRow(dk, dkBase + row * p.KT, tx, dWidth, dKr, p.Scale);
        WriteRow(dv, dvBase + row * p.VT, tx, dWidth, dVr, 1f);
    }
}
