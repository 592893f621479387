using System;
using System.Runtime.CompilerServices;

namespace LLaDA.Tensors.Cpu;

// Backward pass (FlashAttention-2 algorithm 2). Per (query tile, key tile) pair, with s = q·kᵀ·scale:
//   P  = exp(s − lse)                     recomputed from the saved lse: no row max or sum needed
//   dP = dO·Vᵀ
//   dS = P ⊙ (dP − D),  D_i = Σ_d dO_id·O_id   (= Σ_j P_ij dP_ij, the softmax Jacobian's row term)
//   dV += Pᵀ·dO,  dK += scale·dSᵀ·Q,  dQ += scale·dS·K
// dK, dV reduce over queries and dQ over keys, so one of them must accumulate across the inner loop.
//
// BackwardGroup (PerGroup strategy) and BackwardKeyTile (pass 1 of TwoPass) fix a key tile and loop over query tiles.
// They keep the score tile UNtransposed, s (queries × keys) with keys in the lanes, so that Q and dO rows are broadcast A
// operands, and the products reduce over queries read P and dS through strides:
//   s  = Q·Kᵀ      A = Q rows,                 B = Kᵀ packed (HS, Bc)         once per key tile
//   dP = dO·Vᵀ     A = dO rows,                B = Vᵀ packed (HS, Bc)         once per key tile
//   dV += Pᵀ·dO    A(j, i) = P[i, j],          B = dO rows                    → dV (Bc, HSp) accumulates in scratch
//   dK += dSᵀ·Q    A(j, i) = dS[i, j],         B = Q rows                     → dK (Bc, HSp) accumulates in scratch
//   dQ += dS·K     A = dS,                     B = K rows                     → dQ (Tq, HSp) accumulates in scratch (PerGroup)
// Q, dO and K rows are used in place when they are already dense whole vectors, else copied into scratch rows
// zero-padded to HSp = HS rounded up (RowsOperand): BackwardGroup copies each head's Q and dO once, BackwardKeyTile
// one query tile at a time.
//
// BackwardQueryTile (pass 2 of TwoPass) fixes a query tile and loops over key tiles, like the forward (transposed
// score tiles, queries in the lanes), accumulating dQ (Br, HSp) in scratch.
public static unsafe partial class CpuAttention
{
    private static void BackwardAll<TV, TS>(AttnArgs a, AttentionTuning tuning) where TV : struct where TS : ISimd<TV>
    {
        AttentionShape s = a.Shape;
        int groups = s.B * s.NKV, headsPerGroup = s.NH / s.NKV;
        int keyTiles = CeilDiv(s.Tk, KeyTile), queryTiles = CeilDiv(s.Tq, QueryTile);
        double flops = 10.0 * s.B * s.NH * s.Tq * s.Tk * s.HS;     // 5 products of 2·Tq·Tk·HS per head
        // The two strategies round dq differently, so Auto plans for the machine's cores, never for the worker count in
        // effect: --threads changes who runs the items, not which bits come out.
        BackwardStrategy strategy = tuning.Strategy != BackwardStrategy.Auto
            ? tuning.Strategy
            : ChooseBackwardStrategy(groups, headsPerGroup, keyTiles, queryTiles, flops < SerialFlops ? 1 : Environment.ProcessorCount);

        if (strategy == BackwardStrategy.PerGroup)
        {
            RunItems(groups, flops, tuning, item => BackwardGroup<TV, TS>(a, item / a.Shape.NKV, item % a.Shape.NKV));
        }
        else
        {
            RunItems(groups * keyTiles, flops * 0.8, tuning, item =>
            {
                int kt = item % keyTiles, group = item / keyTiles;
                BackwardKeyTile<TV, TS>(a, group / a.Shape.NKV, group % a.Shape.NKV, kt);
            });
            RunItems(s.B * s.NH * queryTiles, flops * 0.6, tuning, item =>
            {
                int qt = item % queryTiles, bh = item / queryTiles;
                BackwardQueryTile<TV, TS>(a, bh / a.Shape.NH, bh % a.Shape.NH, qt);
            });
        }
    }

    /// <summary>PerGroup unless TwoPass finishes sooner on this many workers, by the cost model: time = Σ over passes of ⌈items / workers⌉ × cost per item, in units of one tile product over a whole group (PerGroup: 5 per group; TwoPass: 4 over the key tiles + 3 over the query tiles).</summary>
    internal static BackwardStrategy ChooseBackwardStrategy(int groups, int headsPerGroup, int keyTiles, int queryTiles, int workers)
    {
        if (workers <= 1) return BackwardStrategy.PerGroup;
        double perGroup = CeilDiv(groups, workers) * 5.0;
        double twoPass = CeilDiv(groups * keyTiles, workers) * 4.0 / keyTiles
                       + CeilDiv(groups * headsPerGroup * queryTiles, workers) * 3.0 / (headsPerGroup * queryTiles);
        return twoPass < perGroup ? BackwardStrategy.TwoPass : BackwardStrategy.PerGroup;
    }

    /// <summary>PerGroup: dk, dv of kv head kvHead in batch entry b and dq of every query head sharing it (all written).</summary>
    /// <remarks>The same tile products as <see cref="BackwardKeyTile{TV,TS}"/>, but with the group's operands made dense
    /// once instead of per (key tile, query tile) pair: per query head, Q and dO rows are copied into (Tq, HSp) scratch
    /// (unless already dense), D = rowsum(dO ⊙ O) is computed once, and dq accumulates in a dense (Tq, HSp) buffer that is
    /// scaled into the (possibly strided) output once; dK, dV of all key tiles accumulate over the heads in (Tk, HSp)
    /// buffers. Scratch is O((Tq + Tk)·HS) floats per thread — the size of a few output heads, never T×T. On Zen 3 the
    /// per-pair copies, D and the strided dq read-modify-writes cost ~40 % of the backward's time at T 256 with (B, T, NH, HS)
    /// operands.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardGroup<TV, TS>(in AttnArgs a, int b, int kvHead) where TV : struct where TS : ISimd<TV>
    {
        ref readonly AttentionShape s = ref a.Shape;
        const int br = QueryTile, bc = KeyTile;
        int w = TS.Width, hs = s.HS, tq = s.Tq, tk = s.Tk;
        int hsPadded = (hs + w - 1) / w * w;
        int headsPerGroup = s.NH / s.NKV;
        int shift = tk - tq;                                          // query i sits at absolute position i + shift
        bool causal = s.Mask == AttnMask.Causal;
        float scale = s.Scale;
        long ldq = a.Lq.StrideT, ldk = a.Lk.StrideT, ldv = a.Lv.StrideT, ldo = a.Lo.StrideT, lddo = a.Ldo.StrideT;
        float* kHead = AttnArgs.Head(a.K, a.Lk, b, kvHead), vHead = AttnArgs.Head(a.V, a.Lv, b, kvHead);   // (Tk, HS)
        int* pad = a.KeyPadding == null ? null : a.KeyPadding + (long)b * tk;
        int keyTiles = CeilDiv(tk, bc), queryTiles = CeilDiv(tq, br);

        ThreadScratch scratch = ThreadScratch.Begin(3 * ThreadScratch.Size((long)tq * hsPadded) + ThreadScratch.Size(tq)
            + 2 * ThreadScratch.Size((long)tk * hsPadded) + 2 * ThreadScratch.Size(hs * bc) + ThreadScratch.Size(bc * hsPadded)
            + 2 * ThreadScratch.Size(br * bc) + ThreadScratch.Size(bc));
        float* qDense = scratch.Take((long)tq * hsPadded);     // (Tq, HSp) Q rows of one head (if not already dense)
        float* doDense = scratch.Take((long)tq * hsPadded);    // (Tq, HSp) dO rows of one head (if not already dense)
        float* dqAcc = scratch.Take((long)tq * hsPadded);      // (Tq, HSp) Σ over key tiles of dS·K (unscaled)
        float* dAll = scratch.Take(tq);                        // (Tq)      D_i = dO_i·O_i
        float* dKAll = scratch.Take((long)tk * hsPadded);      // (Tk, HSp) Σ over heads and query tiles of dSᵀ·Q (unscaled)
        float* dVAll = scratch.Take((long)tk * hsPadded);      // (Tk, HSp) Σ over heads and query tiles of Pᵀ·dO
        float* kT = scratch.Take(hs * bc);                     // (HS, Bc)  Kᵀ of one key tile, lanes ≥ nk zero
        float* vT = scratch.Take(hs * bc);                     // (HS, Bc)  Vᵀ
        float* kRows = scratch.Take(bc * hsPadded);            // (Bc, HSp) K rows (if not already dense)
        float* p = scratch.Take(br * bc);                      // (Br, Bc)  S, then P
        float* ds = scratch.Take(br * bc);                     // (Br, Bc)  dP, then dS
        float* bias = scratch.Take(bc);                        // (Bc)      0 for a real key, −∞ for a padded key or a lane ≥ nk
        new Span<float>(dKAll, tk * hsPadded).Clear();
        new Span<float>(dVAll, tk * hsPadded).Clear();

        for (int h = kvHead * headsPerGroup; h < (kvHead + 1) * headsPerGroup; h++)
        {
            float* qB = RowsOperand(AttnArgs.Head(a.Q, a.Lq, b, h), ldq, tq, hs, hsPadded, qDense, out long ldqB);
            float* doHead = AttnArgs.Head(a.DO, a.Ldo, b, h);
            float* doB = RowsOperand(doHead, lddo, tq, hs, hsPadded, doDense, out long lddoB);
            RowDots<TV, TS>(doHead, lddo, AttnArgs.Head(a.O, a.Lo, b, h), ldo, tq, hs, dAll, tq);
            float* lseHead = a.Lse + ((long)b * s.NH + h) * tq;
            new Span<float>(dqAcc, tq * hsPadded).Clear();
            for (int kt = 0; kt < keyTiles; kt++)
            {
                int j0 = kt * bc, nk = Math.Min(bc, tk - j0);
                int* tilePad = pad == null ? null : pad + j0;
                if (!AnyKeyVisible(tilePad, nk)) continue;           // dk = dv = 0 stay
                float* k = kHead + j0 * ldk, v = vHead + j0 * ldv;     // (nk, HS) rows of this tile
                PackTransposed<TV, TS>(k, ldk, nk, hs, 1f, kT, bc, bc);
                PackTransposed<TV, TS>(v, ldv, nk, hs, 1f, vT, bc, bc);
                float* kB = RowsOperand(k, ldk, nk, hs, hsPadded, kRows, out long ldkB);
                for (int j = 0; j < bc; j++) bias[j] = j < nk && (tilePad == null || tilePad[j] != 0) ? 0f : float.NegativeInfinity;
                float* dK = dKAll + j0 * hsPadded, dV = dVAll + j0 * hsPadded;   // (nk, HSp)
                // Causal: query i sees key j0 iff i + shift ≥ j0, so earlier query tiles see nothing of this key tile.
                int firstTile = causal ? Math.Max(0, j0 - shift) / br : 0;
                for (int qt = firstTile; qt < queryTiles; qt++)
                {
                    int i0 = qt * br, nq = Math.Min(br, tq - i0);
                    float* q = qB + i0 * ldqB, dO = doB + i0 * lddoB;        // (nq, HSp) dense rows
                    // s (nq, Bc) = Q·Kᵀ (unscaled)        dP (nq, Bc) = dO·Vᵀ
                    TileGemm.Run<TV, TS>(nq, bc, hs, q, ldqB, 1, kT, bc, p, bc, accumulate: false);
                    TileGemm.Run<TV, TS>(nq, bc, hs, dO, lddoB, 1, vT, bc, ds, bc, accumulate: false);
                    // Row i hides key lanes > i + i0 + shift − j0 under the causal mask.
                    SoftmaxGradRows<TV, TS>(p, ds, nq, bc, scale, bias, lseHead + i0, dAll + i0, causal, i0 + shift - j0);
                    // dV (nk, HSp) += Pᵀ·dO        dK (nk, HSp) += dSᵀ·Q        A(j, i) read down the columns of P, dS
                    TileGemm.Run<TV, TS>(nk, hsPadded, nq, p, 1, bc, dO, lddoB, dV, hsPadded, accumulate: true);
                    TileGemm.Run<TV, TS>(nk, hsPadded, nq, ds, 1, bc, q, ldqB, dK, hsPadded, accumulate: true);
                    // dq (nq, HSp) += dS (nq, nk) · K (nk, HSp)
                    TileGemm.Run<TV, TS>(nq, hsPadded, nk, ds, bc, 1, kB, ldkB, dqAcc + i0 * hsPadded, hsPadded, accumulate: true);
                }
            }
            ScaleRows<TV, TS>(dqAcc, hsPadded, tq, hs, scale, AttnArgs.Head(a.DQ, a.Lq, b, h), ldq);
        }
        ScaleRows<TV, TS>(dKAll, hsPadded, tk, hs, scale, AttnArgs.Head(a.DK, a.Lk, b, kvHead), ldk);
        ScaleRows<TV, TS>(dVAll, hsPadded, tk, hs, 1f, AttnArgs.Head(a.DV, a.Lv, b, kvHead), ldv);
    }

    /// <summary>Pass 1 of TwoPass, for one key tile of kv head kvHead in batch entry b: dk, dv rows of the tile (written).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardKeyTile<TV, TS>(in AttnArgs a, int b, int kvHead, int kt)
        where TV : struct where TS : ISimd<TV>
    {
        ref readonly AttentionShape s = ref a.Shape;
        const int br = QueryTile, bc = KeyTile;
        int w = TS.Width, hs = s.HS;
        int hsPadded = (hs + w - 1) / w * w;                          // dK's, dV's lanes are d: round HS up to whole vectors
        int j0 = kt * bc, nk = Math.Min(bc, s.Tk - j0);
        int headsPerGroup = s.NH / s.NKV;
        int shift = s.Tk - s.Tq;                                      // query i sits at absolute position i + shift
        bool causal = s.Mask == AttnMask.Causal;
        float scale = s.Scale;
        long ldq = a.Lq.StrideT, ldk = a.Lk.StrideT, ldv = a.Lv.StrideT, ldo = a.Lo.StrideT, lddo = a.Ldo.StrideT;
        float* k = AttnArgs.Head(a.K, a.Lk, b, kvHead) + j0 * ldk;     // (nk, HS) rows of this tile
        float* v = AttnArgs.Head(a.V, a.Lv, b, kvHead) + j0 * ldv;     // (nk, HS)
        float* dk = AttnArgs.Head(a.DK, a.Lk, b, kvHead) + j0 * ldk;   // (nk, HS)
        float* dv = AttnArgs.Head(a.DV, a.Lv, b, kvHead) + j0 * ldv;   // (nk, HS)
        int* pad = a.KeyPadding == null ? null : a.KeyPadding + (long)b * s.Tk + j0;

        ThreadScratch scratch = ThreadScratch.Begin(2 * ThreadScratch.Size(hs * bc) + 2 * ThreadScratch.Size(bc * hsPadded)
            + 2 * ThreadScratch.Size(br * hsPadded) + 2 * ThreadScratch.Size(br * bc) + ThreadScratch.Size(bc) + ThreadScratch.Size(br));
        float* kT = scratch.Take(hs * bc);             // (HS, Bc)  Kᵀ, lanes ≥ nk zero
        float* vT = scratch.Take(hs * bc);             // (HS, Bc)  Vᵀ
        float* dK = scratch.Take(bc * hsPadded);       // (Bc, HSp) Σ over query tiles of dSᵀ·Q (unscaled)
        float* dV = scratch.Take(bc * hsPadded);       // (Bc, HSp) Σ over query tiles of Pᵀ·dO
        float* qRows = scratch.Take(br * hsPadded);    // (Br, HSp) Q rows of one query tile (if HS ≠ HSp)
        float* doRows = scratch.Take(br * hsPadded);   // (Br, HSp) dO rows of one query tile (if HS ≠ HSp)
        float* p = scratch.Take(br * bc);              // (Br, Bc)  S, then P
        float* ds = scratch.Take(br * bc);             // (Br, Bc)  dP, then dS
        float* bias = scratch.Take(bc);                // (Bc)      0 for a real key, −∞ for a padded key or a lane ≥ nk
        float* dRow = scratch.Take(br);                // (Br)      D_i = dO_i·O_i

        PackTransposed<TV, TS>(k, ldk, nk, hs, 1f, kT, bc, bc);
        PackTransposed<TV, TS>(v, ldv, nk, hs, 1f, vT, bc, bc);
        for (int j = 0; j < bc; j++) bias[j] = j < nk && (pad == null || pad[j] != 0) ? 0f : float.NegativeInfinity;
        new Span<float>(dK, bc * hsPadded).Clear();
        new Span<float>(dV, bc * hsPadded).Clear();

        if (AnyKeyVisible(pad, nk))
        {
            int queryTiles = CeilDiv(s.Tq, br);
            // Causal: query i sees key j0 iff i + shift ≥ j0, so earlier query tiles see nothing of this key tile.
            int firstTile = causal ? Math.Max(0, j0 - shift) / br : 0;
            for (int h = kvHead * headsPerGroup; h < (kvHead + 1) * headsPerGroup; h++)
            {
                float* qHead = AttnArgs.Head(a.Q, a.Lq, b, h);
                float* oHead = AttnArgs.Head(a.O, a.Lo, b, h), doHead = AttnArgs.Head(a.DO, a.Ldo, b, h);
                float* lseHead = a.Lse + ((long)b * s.NH + h) * s.Tq;
                for (int qt = firstTile; qt < queryTiles; qt++)
                {
                    int i0 = qt * br, nq = Math.Min(br, s.Tq - i0);
                    float* q = qHead + i0 * ldq, dO = doHead + i0 * lddo;       // (nq, HS) each

                    RowDots<TV, TS>(dO, lddo, oHead + i0 * ldo, ldo, nq, hs, dRow, br);
                    // Q and dO rows as dense (nq, HSp) tiles (copies unless already dense): A of the next two products, B of the two after.
                    float* doB = RowsOperand(dO, lddo, nq, hs, hsPadded, doRows, out long lddoB);
                    float* qB = RowsOperand(q, ldq, nq, hs, hsPadded, qRows, out long ldqB);
                    // s (nq, Bc) = Q·Kᵀ (unscaled)        dP (nq, Bc) = dO·Vᵀ
                    TileGemm.Run<TV, TS>(nq, bc, hs, qB, ldqB, 1, kT, bc, p, bc, accumulate: false);
                    TileGemm.Run<TV, TS>(nq, bc, hs, doB, lddoB, 1, vT, bc, ds, bc, accumulate: false);
                    // Row i hides key lanes > i + i0 + shift − j0 under the causal mask.
                    SoftmaxGradRows<TV, TS>(p, ds, nq, bc, scale, bias, lseHead + i0, dRow, causal, i0 + shift - j0);
                    // dV (nk, HSp) += Pᵀ·dO        dK (nk, HSp) += dSᵀ·Q        A(j, i) read down the columns of P, dS
                    TileGemm.Run<TV, TS>(nk, hsPadded, nq, p, 1, bc, doB, lddoB, dV, hsPadded, accumulate: true);
                    TileGemm.Run<TV, TS>(nk, hsPadded, nq, ds, 1, bc, qB, ldqB, dK, hsPadded, accumulate: true);
                }
            }
        }
        ScaleRows<TV, TS>(dK, hsPadded, nk, hs, scale, dk, ldk);
        ScaleRows<TV, TS>(dV, hsPadded, nk, hs, 1f, dv, ldv);
    }

    /// <summary>In place over untransposed tiles (rows = queries, lanes = keys): p ← P = exp(p·scale + bias − lse_i), masked → 0; ds ← dS = P ⊙ (ds − D_i); under a causal mask row i keeps lanes ≤ i + causalLimit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxGradRows<TV, TS>(float* p, float* ds, int rows, int lanes, float scale, float* bias,
                                                float* lse, float* dRow, bool causal, int causalLimit)
        where TV : struct where TS : ISimd<TV>
    {
        int w = TS.Width;
        TV scaleV = TS.Broadcast(scale), negInf = TS.Broadcast(float.NegativeInfinity);
        for (int i = 0; i < rows; i++)
        {
            // lse = +∞ (row with no visible key) makes every exponent −∞, so P = 0 and dS = 0.
            TV lseV = TS.Broadcast(lse[i]), dV = TS.Broadcast(dRow[i]);
            int last = causal ? i + causalLimit : int.MaxValue;       // last visible lane
            TV lastV = TS.Broadcast(last);
            float* pi = p + i * lanes, dsi = ds + i * lanes;
            for (int c = 0; c < lanes; c += w)
            {
                TV x = TS.Fma(TS.Load(pi + c), scaleV, TS.Sub(TS.Load(bias + c), lseV));
                if (c + w - 1 > last)
                    x = TS.Select(TS.LessThan(lastV, TS.Add(TS.LaneIndices, TS.Broadcast(c))), negInf, x);
                TV pr = SimdMath.Exp<TV, TS>(x);
                TS.Store(pi + c, pr);
                TS.Store(dsi + c, TS.Mul(pr, TS.Sub(TS.Load(dsi + c), dV)));
            }
        }
    }

    /// <summary>For one query tile of head h in batch entry b: dq rows of the tile = scale·Σ over key tiles of dS·K (written; pass 2 of TwoPass).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardQueryTile<TV, TS>(in AttnArgs a, int b, int h, int qt) where TV : struct where TS : ISimd<TV>
    {
        ref readonly AttentionShape s = ref a.Shape;
        const int br = QueryTile, bc = KeyTile;
        int w = TS.Width, hs = s.HS;
        int i0 = qt * br, nq = Math.Min(br, s.Tq - i0);
        int kvHead = h / (s.NH / s.NKV);
        int shift = s.Tk - s.Tq;
        bool causal = s.Mask == AttnMask.Causal;
        long ldq = a.Lq.StrideT, ldk = a.Lk.StrideT, ldv = a.Lv.StrideT, ldo = a.Lo.StrideT, lddo = a.Ldo.StrideT;
        float* q = AttnArgs.Head(a.Q, a.Lq, b, h) + i0 * ldq;           // (nq, HS)
        float* dq = AttnArgs.Head(a.DQ, a.Lq, b, h) + i0 * ldq;         // (nq, HS)
        float* o = AttnArgs.Head(a.O, a.Lo, b, h) + i0 * ldo;           // (nq, HS)
        float* dO = AttnArgs.Head(a.DO, a.Ldo, b, h) + i0 * lddo;       // (nq, HS)
        float* k = AttnArgs.Head(a.K, a.Lk, b, kvHead);                 // (Tk, HS)
        float* v = AttnArgs.Head(a.V, a.Lv, b, kvHead);                 // (Tk, HS)
        float* lseRow = a.Lse + ((long)b * s.NH + h) * s.Tq + i0;       // (nq)
        int* pad = a.KeyPadding == null ? null : a.KeyPadding + (long)b * s.Tk;

        int hsPadded = (hs + w - 1) / w * w;
        ThreadScratch scratch = ThreadScratch.Begin(2 * ThreadScratch.Size(hs * br) + ThreadScratch.Size(bc * hsPadded)
            + ThreadScratch.Size(br * hsPadded) + 2 * ThreadScratch.Size(bc * br) + 2 * ThreadScratch.Size(br));
        float* qT = scratch.Take(hs * br);            // (HS, Br)  (Q·scale)ᵀ
        float* doT = scratch.Take(hs * br);           // (HS, Br)  dOᵀ
        float* kRows = scratch.Take(bc * hsPadded);   // (Bc, HSp) K rows of one key tile (if HS ≠ HSp)
        float* dqAcc = scratch.Take(br * hsPadded);   // (Br, HSp) Σ over key tiles of dS·K (unscaled)
        float* pT = scratch.Take(bc * br);            // (Bc, Br)  scores, then P, transposed
        float* dsT = scratch.Take(bc * br);           // (Bc, Br)  dP, then dS, transposed
        float* lse = scratch.Take(br);                // (Br)      lse per lane, +∞ in lanes ≥ nq
        float* dRow = scratch.Take(br);               // (Br)      D per lane, 0 in lanes ≥ nq

        PackTransposed<TV, TS>(q, ldq, nq, hs, s.Scale, qT, br, br);
        PackTransposed<TV, TS>(dO, lddo, nq, hs, 1f, doT, br, br);
        RowDots<TV, TS>(dO, lddo, o, ldo, nq, hs, dRow, br);
        for (int i = 0; i < br; i++) lse[i] = i < nq ? lseRow[i] : float.PositiveInfinity;
        new Span<float>(dqAcc, br * hsPadded).Clear();

        int jEnd = causal ? Math.Min(s.Tk, i0 + nq + shift) : s.Tk;
        for (int j0 = 0; j0 < jEnd; j0 += bc)
        {
            int nk = Math.Min(bc, jEnd - j0);
            int* tilePad = pad == null ? null : pad + j0;
            if (!AnyKeyVisible(tilePad, nk)) continue;

            // sᵀ (nk, Br) = K·(Q·scale)ᵀ        dPᵀ (nk, Br) = V·dOᵀ
            TileGemm.Run<TV, TS>(nk, br, hs, k + j0 * ldk, ldk, 1, qT, br, pT, br, accumulate: false);
            TileGemm.Run<TV, TS>(nk, br, hs, v + j0 * ldv, ldv, 1, doT, br, dsT, br, accumulate: false);
            MaskScoresTransposed<TV, TS>(pT, nk, br, tilePad, causal, j0 - shift - i0);
            // Pᵀ = exp(sᵀ − lse), dSᵀ = Pᵀ ⊙ (dPᵀ − D): lse and D vary along the lanes here.
            for (int r = 0; r < nk; r++)
                for (int c = 0; c < br; c += w)
                {
                    float* pr = pT + r * br + c, dsr = dsT + r * br + c;
                    TV pv = SimdMath.Exp<TV, TS>(TS.Sub(TS.Load(pr), TS.Load(lse + c)));
                    TS.Store(dsr, TS.Mul(pv, TS.Sub(TS.Load(dsr), TS.Load(dRow + c))));
                }
            // dq (nq, HSp) += dS·K        A(i, j) = dSᵀ[j, i] (strides), B = K rows
            float* kB = RowsOperand(k + j0 * ldk, ldk, nk, hs, hsPadded, kRows, out long ldkB);
            TileGemm.Run<TV, TS>(nq, hsPadded, nk, dsT, 1, br, kB, ldkB, dqAcc, hsPadded, accumulate: true);
        }
        ScaleRows<TV, TS>(dqAcc, hsPadded, nq, hs, s.Scale, dq, ldq);
    }
}
