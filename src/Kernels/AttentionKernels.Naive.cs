using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using LLaDA.Tensors;

namespace LLaDA.Kernels;

// The reference path: one thread per query row (forward, dq) or per key row (dk, dv), textbook formulas, no shared
// memory, accumulating straight into the thread's own output row. O(Tq·Tk·HS) work per thread row, so slow on long
// sequences, but obviously correct, any group size — which is also why Forward/Backward fall back to it on
// accelerators that cannot run the 256-thread groups of the tiled kernels.
public static partial class AttentionKernels
{
    /// <summary>Reference forward (same contract as <see cref="Forward"/>): one thread per (b, h, query).</summary>
    public static void ForwardNaive(KernelContext k, AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<int> keyPadding, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse)
    {
        var p = CheckForward(k, s, q, lq, kk, lk, v, lv, keyPadding, o, lo, lse);
        LaunchForwardNaive(k, p, q, kk, v, Padding(k, keyPadding, s), o, lse);
    }

    /// <summary>Reference backward (same contract as <see cref="Backward"/>): one thread per (b, h, query) for dq, per (b, kv head, key) for dk and dv.</summary>
    public static void BackwardNaive(KernelContext k, AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<int> keyPadding, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse,
        ArrayView<float> dO, AttnLayout ldo, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv)
    {
        var p = CheckBackward(k, s, q, lq, kk, lk, v, lv, keyPadding, o, lo, lse, dO, ldo, dq, dk, dv);
        LaunchBackwardNaive(k, p, q, kk, v, Padding(k, keyPadding, s), o, lse, dO, dq, dk, dv);
    }

    private static void LaunchForwardNaive(KernelContext k, in AttnParams p, ArrayView<float> q, ArrayView<float> kk, ArrayView<float> v,
        ArrayView<int> pad, ArrayView<float> o, ArrayView<float> lse)
    {
        var kernel = k.Kernel("attn.fwd.naive", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, AttnParams>(ForwardNaiveKernel));
        kernel(k.Stream, MatMulKernels.FlatConfig(k, (long)p.B * p.NH * p.Tq), q, kk, v, pad, o, lse, p);
    }

    private static void LaunchBackwardNaive(KernelContext k, in AttnParams p, ArrayView<float> q, ArrayView<float> kk, ArrayView<float> v,
        ArrayView<int> pad, ArrayView<float> o, ArrayView<float> lse, ArrayView<float> dO, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv)
    {
        var dqk = k.Kernel("attn.bwd.dq.naive", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnParams>(BackwardDqNaiveKernel));
        var dkdv = k.Kernel("attn.bwd.dkdv.naive", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnParams>(BackwardDkDvNaiveKernel));
        dqk(k.Stream, MatMulKernels.FlatConfig(k, (long)p.B * p.NH * p.Tq), q, kk, v, pad, o, lse, dO, dq, p);
        dkdv(k.Stream, MatMulKernels.FlatConfig(k, (long)p.B * p.NKV * p.Tk), q, kk, v, pad, o, lse, dO, dk, dv, p);
    }

    /// <summary>o_i = Σ_j softmax_j(s_ij)·v_j in two passes over the keys (max, then exp-sum and accumulation into o_i); lse_i natural log.</summary>
    [Kernel]
    internal static void ForwardNaiveKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<int> pad,
        ArrayView<float> o, ArrayView<float> lse, AttnParams p)
    {
        long idx = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        if (idx >= (long)p.B * p.NH * p.Tq) return;
        int i = (int)(idx % p.Tq);
        int bh = (int)(idx / p.Tq);
        int h = bh % p.NH, b = bh / p.NH;
        int kvh = h / (p.NH / p.NKV);
        long qi = b * p.QB + h * p.QH + i * p.QT, oi = b * p.OB + h * p.OH + i * p.OT;
        long kHead = b * p.KB + kvh * p.KH, vHead = b * p.VB + kvh * p.VH;
        float m = float.NegativeInfinity;
        for (int j = 0; j < p.Tk; j++)
            if (KeyOk(pad, p, b, j) && Sees(p, i, j))
                m = XMax(m, Dot(q, qi, k, kHead + j * p.KT, p.HS) * p.ScaleLog2);
        for (int d = 0; d < p.HS; d++) o[oi + d] = 0f;
        if (m == float.NegativeInfinity)
        {
            lse[idx] = float.PositiveInfinity;
            return;
        }
        float l = 0f;
        for (int j = 0; j < p.Tk; j++)
        {
            if (!(KeyOk(pad, p, b, j) && Sees(p, i, j))) continue;
            float w = XMath.Exp2(Dot(q, qi, k, kHead + j * p.KT, p.HS) * p.ScaleLog2 - m);
            l += w;
            long vj = vHead + j * p.VT;
            for (int d = 0; d < p.HS; d++) o[oi + d] += w * v[vj + d];
        }
        float inv = 1f / l;
        for (int d = 0; d < p.HS; d++) o[oi + d] *= inv;
        lse[idx] = (m + XMath.Log2(l)) * Ln2;
    }

    /// <summary>dq_i = scale·Σ_j P_ij (dO_i·v_j − D_i)·k_j with P recomputed from lse and D_i = dO_i·O_i.</summary>
    [Kernel]
    internal static void BackwardDqNaiveKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<int> pad,
        ArrayView<float> o, ArrayView<float> lse, ArrayView<float> dO, ArrayView<float> dq, AttnParams p)
    {
        long idx = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        if (idx >= (long)p.B * p.NH * p.Tq) return;
        int i = (int)(idx % p.Tq);
        int bh = (int)(idx / p.Tq);
        int h = bh % p.NH, b = bh / p.NH;
        int kvh = h / (p.NH / p.NKV);
        long qi = b * p.QB + h * p.QH + i * p.QT;
        long doi = b * p.DOB + h * p.DOH + i * p.DOT;
        float dRow = Dot(dO, doi, o, b * p.OB + h * p.OH + i * p.OT, p.HS);
        float lse2 = lse[idx] * Log2E;
        long kHead = b * p.KB + kvh * p.KH, vHead = b * p.VB + kvh * p.VH;
        for (int d = 0; d < p.HS; d++) dq[qi + d] = 0f;
        for (int j = 0; j < p.Tk; j++)
        {
            if (!(KeyOk(pad, p, b, j) && Sees(p, i, j))) continue;
            long kj = kHead + j * p.KT;
            float pij = XMath.Exp2(Dot(q, qi, k, kj, p.HS) * p.ScaleLog2 - lse2);
            float ds = pij * (Dot(dO, doi, v, vHead + j * p.VT, p.HS) - dRow) * p.Scale;
            for (int d = 0; d < p.HS; d++) dq[qi + d] += ds * k[kj + d];
        }
    }

    /// <summary>dk_j = scale·Σ_{h,i} dS_ij·q_i and dv_j = Σ_{h,i} P_ij·dO_i over the query heads h sharing kv head of j.</summary>
    [Kernel]
    internal static void BackwardDkDvNaiveKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<int> pad,
        ArrayView<float> o, ArrayView<float> lse, ArrayView<float> dO, ArrayView<float> dk, ArrayView<float> dv, AttnParams p)
    {
        long idx = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        if (idx >= (long)p.B * p.NKV * p.Tk) return;
        int j = (int)(idx % p.Tk);
        int bk = (int)(idx / p.Tk);
        int kvh = bk % p.NKV, b = bk / p.NKV;
        long kj = b * p.KB + kvh * p.KH + j * p.KT, vj = b * p.VB + kvh * p.VH + j * p.VT;
        for (int d = 0; d < p.HS; d++)
        {
            dk[kj + d] = 0f;
            dv[vj + d] = 0f;
        }
        if (!KeyOk(pad, p, b, j)) return;
        int group = p.NH / p.NKV;
        for (int h = kvh * group; h < (kvh + 1) * group; h++)
            for (int i = 0; i < p.Tq; i++)
            {
                if (!Sees(p, i, j)) continue;
                long qi = b * p.QB + h * p.QH + i * p.QT;
                long doi = b * p.DOB + h * p.DOH + i * p.DOT;
                float lse2 = lse[((long)b * p.NH + h) * p.Tq + i] * Log2E;
                float pij = XMath.Exp2(Dot(q, qi, k, kj, p.HS) * p.ScaleLog2 - lse2);
                float dRow = Dot(dO, doi, o, b * p.OB + h * p.OH + i * p.OT, p.HS);
                float ds = pij * (Dot(dO, doi, v, vj, p.HS) - dRow) * p.Scale;
                for (int d = 0; d < p.HS; d++)
                {
                    dk[kj + d] += ds * q[qi + d];
                    dv[vj + d] += pij * dO[doi + d];
                }
            }
    }

    private static float Dot(ArrayView<float> x, long xi, ArrayView<float> y, long yi, int n)
    {
        float sum = 0f;
        for (int d = 0; d < n; d++) sum += x[xi + d] * y[yi + d];
        return sum;
    }
}
