using System;
using System.Runtime.CompilerServices;

namespace LLaDA.Tensors.Cpu;

// Forward pass. One work item = one tile of QueryTile queries of one (b, h); it loops over the key tiles with an online
// softmax. The score tile is kept TRANSPOSED, sᵀ (keys × queries), with queries in the vector lanes, because then
//   * sᵀ = K·(Q·scale)ᵀ reads K in its own layout (A operand, broadcast) and Qᵀ packed once per item (B operand);
//   * the running max and sum per query are lane-wise max/add down the rows — no horizontal reductions.
// The output accumulates in row form, o (queries × HS): o += P·V reads P through strides straight out of the sᵀ tile
// (A operand) and V rows (B operand: in place when HS is a whole number of vectors, else copied into zero-padded rows),
// so o is written back as plain rows and the only transpose in the forward is Q's, once per item.
public static unsafe partial class CpuAttention
{
    private static void ForwardAll<TV, TS>(AttnArgs a, AttentionTuning tuning) where TV : struct where TS : ISimd<TV>
    {
        AttentionShape s = a.Shape;
        int queryTiles = CeilDiv(s.Tq, QueryTile);
        double flops = 4.0 * s.B * s.NH * s.Tq * s.Tk * s.HS;
        RunItems(s.B * s.NH * queryTiles, flops, tuning, item =>
        {
            int qt = item % queryTiles, bh = item / queryTiles;
            ForwardQueryTile<TV, TS>(a, bh / a.Shape.NH, bh % a.Shape.NH, qt);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardQueryTile<TV, TS>(in AttnArgs a, int b, int h, int qt) where TV : struct where TS : ISimd<TV>
    {
        ref readonly AttentionShape s = ref a.Shape;
        const int br = QueryTile, bc = KeyTile;
        int w = TS.Width, hs = s.HS;
        int i0 = qt * br, nq = Math.Min(br, s.Tq - i0);
        int kvHead = h / (s.NH / s.NKV);
        int shift = s.Tk - s.Tq;                                      // query i sits at absolute position i + shift
        bool causal = s.Mask == AttnMask.Causal;
        long ldq = a.Lq.StrideT, ldk = a.Lk.StrideT, ldv = a.Lv.StrideT, ldo = a.Lo.StrideT;
        float* q = AttnArgs.Head(a.Q, a.Lq, b, h) + i0 * ldq;           // (nq, HS) rows of this tile
        float* k = AttnArgs.Head(a.K, a.Lk, b, kvHead);                 // (Tk, HS)
        float* v = AttnArgs.Head(a.V, a.Lv, b, kvHead);                 // (Tk, HS)
        float* o = AttnArgs.Head(a.O, a.Lo, b, h) + i0 * ldo;           // (nq, HS)
        float* lse = a.Lse + ((long)b * s.NH + h) * s.Tq + i0;          // (nq)
        int* pad = a.KeyPadding == null ? null : a.KeyPadding + (long)b * s.Tk;

        int hsPadded = (hs + w - 1) / w * w;                          // o's lanes are d: round HS up to whole vectors
        ThreadScratch scratch = ThreadScratch.Begin(ThreadScratch.Size(hs * br) + ThreadScratch.Size(bc * br)
            + 2 * ThreadScratch.Size(bc * hsPadded) + ThreadScratch.Size(br * hsPadded) + 3 * ThreadScratch.Size(br));
        float* qT = scratch.Take(hs * br);            // (HS, Br)  (Q·scale)ᵀ, lanes ≥ nq zero
        float* sT = scratch.Take(bc * br);            // (Bc, Br)  scores, then probabilities, transposed
        float* kRows = scratch.Take(bc * hsPadded);   // (Bc, HSp) K rows of the key tile (if not already dense)
        float* vRows = scratch.Take(bc * hsPadded);   // (Bc, HSp) V rows of the key tile, d ≥ HS zero (if not already dense)
        float* acc = scratch.Take(br * hsPadded);     // (Br, HSp) unnormalised output Σ_j exp(s_ij − m_i)·v_j
        float* m = scratch.Take(br);                  // (Br)      running max of the scores seen so far
        float* l = scratch.Take(br);                  // (Br)      running Σ exp(s − m)
        float* alpha = scratch.Take(br);              // (Br)      exp(m_old − m_new), rescales l and acc when the max grows

        PackTransposed<TV, TS>(q, ldq, nq, hs, s.Scale, qT, br, br);
        new Span<float>(acc, br * hsPadded).Clear();
        new Span<float>(m, br).Fill(float.NegativeInfinity);
        new Span<float>(l, br).Clear();

        // Keys after the last visible one (causal) are never touched; jEnd ≤ 0 leaves every row fully masked.
        int jEnd = causal ? Math.Min(s.Tk, i0 + nq + shift) : s.Tk;
        for (int j0 = 0; j0 < jEnd; j0 += bc)
        {
            int nk = Math.Min(bc, jEnd - j0);
            int* tilePad = pad == null ? null : pad + j0;
            if (!AnyKeyVisible(tilePad, nk)) continue;

            // sᵀ (nk, Br) = K[j0 : j0+nk] · (Q·scale)ᵀ        A = K rows (dense copy unless already dense), B = Qᵀ
            float* kA = RowsOperand(k + j0 * ldk, ldk, nk, hs, hsPadded, kRows, out long ldkA);
            TileGemm.Run<TV, TS>(nk, br, hs, kA, ldkA, 1, qT, br, sT, br, accumulate: false);
            MaskScoresTransposed<TV, TS>(sT, nk, br, tilePad, causal, j0 - shift - i0);
            OnlineSoftmaxStep<TV, TS>(sT, nk, br, m, l, alpha);

            // acc ·= α (per query row), then acc (nq, HSp) += P·V        A(i, j) = Pᵀ[j, i] (strides), B = V rows
            for (int i = 0; i < nq; i++)
            {
                TV rescale = TS.Broadcast(alpha[i]);
                for (int d = 0; d < hsPadded; d += w) TS.Store(acc + i * hsPadded + d, TS.Mul(TS.Load(acc + i * hsPadded + d), rescale));
            }
            float* vB = RowsOperand(v + j0 * ldv, ldv, nk, hs, hsPadded, vRows, out long ldvB);
            TileGemm.Run<TV, TS>(nq, hsPadded, nk, sT, 1, br, vB, ldvB, acc, hsPadded, accumulate: true);
        }

        // o = acc / l, lse = m + log l; a row that saw no visible key has l = 0: o = 0, lse = +∞ (so backward's P = 0).
        for (int i = 0; i < nq; i++)
        {
            bool any = l[i] > 0;
            lse[i] = any ? m[i] + MathF.Log(l[i]) : float.PositiveInfinity;
            ScaleRows<TV, TS>(acc + i * hsPadded, hsPadded, 1, hs, any ? 1f / l[i] : 0f, o + i * ldo, ldo);
        }
    }

    /// <summary>One online-softmax step over a masked transposed score tile: m' = max(m, max_j sᵀ), sᵀ ← exp(sᵀ − m'), α = exp(m − m'), l ← α·l + Σ_j exp(sᵀ − m'), m ← m'.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnlineSoftmaxStep<TV, TS>(float* sT, int nk, int lanes, float* m, float* l, float* alpha)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width;
        TV negInfLimit = TS.Broadcast(-float.MaxValue);
        for (int c = 0; c < lanes; c += w)
        {
            TV mOld = TS.Load(m + c), mNew = mOld;
            for (int r = 0; r < nk; r++) mNew = TS.Max(mNew, TS.Load(sT + r * lanes + c));
            // A lane whose keys so far are all masked has m' = −∞; subtract 0 instead so exp(−∞ − 0) = 0, not NaN.
            TV shift = TS.Select(TS.LessThan(mNew, negInfLimit), default, mNew);
            TV sum = default;
            for (int r = 0; r < nk; r++)
            {
                float* p = sT + r * lanes + c;
                TV e = SimdMath.Exp<TV, TS>(TS.Sub(TS.Load(p), shift));
                TS.Store(p, e);
                sum = TS.Add(sum, e);
            }
            TV al = SimdMath.Exp<TV, TS>(TS.Sub(mOld, shift));
            TS.Store(alpha + c, al);
            TS.Store(l + c, TS.Fma(TS.Load(l + c), al, sum));
            TS.Store(m + c, mNew);
        }
    }
}
