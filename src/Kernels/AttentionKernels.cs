using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Kernels;

/// <summary>Fused flash-style attention on an ILGPU accelerator — same contract as CpuAttention (layouts, GQA, causal, key padding, lse).</summary>
/// <remarks>
/// <para><b>Contract</b> (as CpuAttention): q, o, dO, dq are (B, NH, Tq, HS) and k, v, dk, dv are (B, NKV, Tk, HS), each
/// through its <see cref="AttnLayout"/> (dq, dk, dv use the layouts of q, k, v); lse is (B, NH, Tq) contiguous, natural
/// log. Query head h reads kv head h / (NH/NKV). Causal: query i sits at absolute position Tk − Tq + i. keyPadding is
/// int[B·Tk] (1 = real key) or an empty view. A query row with no visible key gets o = 0, lse = +∞, zero gradient;
/// dq, dk, dv are overwritten.</para>
/// <para><b>Algorithm</b>: FlashAttention-2 (Dao 2023) in FP32 without tensor cores. Forward: one group of 256
/// threads per (b, h, 64-query tile, 128-wide head-dim block); it walks 64-key tiles with an online softmax (running
/// max m and sum l per query, in base 2: scores are pre-multiplied by scale·log2 e so each exponential is one ex2)
/// and saves lse = (m + log2 l)·ln 2. Backward recomputes P = exp(s − lse) tile by tile with D_i = Σ_d dO_id·O_id, in
/// two deterministic kernels (no atomics, no T×T buffer): dk/dv with one group per (b, kv head, 64-key tile, d block)
/// looping over the query tiles of every query head that shares the kv head, and dq with one group per (b, h, 64-query
/// tile, d block) looping over key tiles. That is 7 tile products per (query tile, key tile) instead of 5 (S and dP are
/// computed in both kernels) — the price of determinism and of parallelism over keys as well as queries.</para>
/// <para><b>Tiles</b> (AttentionKernels.Tiles.cs): a thread owns rows {ty + 16i} × columns {tx + 16j} (i, j &lt; 4) of a
/// 64×64 score tile and rows {ty + 16i} × columns {tx + 16c} (c &lt; 8) of a 64×128 output block, tid = 16·ty + tx.
/// Score tiles are accumulated over 32-wide head-dim chunks staged in shared memory (transposed, row stride 65: no
/// bank conflicts on the store or the reads); a row's 64 scores live in the 16 lanes of one half-warp, so row max and
/// row sum are four xor-shuffles. P (or dS) goes through a 64×65 shared tile into the output product, whose V (or dO,
/// Q, K) rows are staged 32 at a time. Shared memory: 16.3 KiB (chunks) + 16.3 KiB (P) + 0.5 KiB (row stats). Head
/// sizes above 128 use several d blocks (S and dP are recomputed per block: 1.5× the flops at HS = 256), any HS ≥ 1
/// works; ≤ 64 skips the upper half of the output block.</para>
/// </remarks>
public static partial class AttentionKernels
{
    internal const int Tile = 64;            // queries per query tile = keys per key tile
    internal const int Threads = 256;
    internal const int DChunk = 32;          // head-dim chunk of a score-tile product
    internal const int DBlock = 128;         // output head-dim block per group
    internal const int XStride = Tile + 1;   // shared row stride of transposed chunks and of the P tile
    internal const int ChunkFloats = 2 * DChunk * XStride;   // X and Y chunks (4160 floats) — also holds 32 × 128 V rows
    internal const int PFloats = Tile * XStride;
    internal const float Log2E = 1.4426950408889634f;
    internal const float Ln2 = 0.6931471805599453f;

    /// <summary>o = softmax(q·kᵀ·scale + mask)·v and lse (see the class remarks); the tiled flash kernels, or the naive ones where 256-thread groups are unavailable.</summary>
    public static void Forward(KernelContext k, AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<int> keyPadding, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse)
    {
        var p = CheckForward(k, s, q, lq, kk, lk, v, lv, keyPadding, o, lo, lse);
        var pad = Padding(k, keyPadding, s);
        if (!MatMulKernels.CanRunTiles(k))
        {
            LaunchForwardNaive(k, p, q, kk, v, pad, o, lse);
            return;
        }
        var kernel = k.Kernel("attn.fwd", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, AttnParams>(ForwardKernel));
        kernel(k.Stream, new KernelConfig(new Index3D(p.QTiles * p.DBlocks, s.NH, s.B), new Index3D(Threads, 1, 1)), q, kk, v, pad, o, lse, p);
    }

    /// <summary>dq, dk, dv (overwritten, in the layouts of q, k, v) from dO and the forward's o and lse; the tiled kernels, or the naive ones where 256-thread groups are unavailable.</summary>
    public static void Backward(KernelContext k, AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<int> keyPadding, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse,
        ArrayView<float> dO, AttnLayout ldo, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv)
    {
        var p = CheckBackward(k, s, q, lq, kk, lk, v, lv, keyPadding, o, lo, lse, dO, ldo, dq, dk, dv);
        var pad = Padding(k, keyPadding, s);
        if (!MatMulKernels.CanRunTiles(k))
        {
            LaunchBackwardNaive(k, p, q, kk, v, pad, o, lse, dO, dq, dk, dv);
            return;
        }
        var dkdv = k.Kernel("attn.bwd.dkdv", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnParams>(BackwardDkDvKernel));
        var dqk = k.Kernel("attn.bwd.dq", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttnParams>(BackwardDqKernel));
        var group = new Index3D(Threads, 1, 1);
        dkdv(k.Stream, new KernelConfig(new Index3D(p.KTiles * p.DBlocks, s.NKV, s.B), group), q, kk, v, pad, o, lse, dO, dk, dv, p);
        dqk(k.Stream, new KernelConfig(new Index3D(p.QTiles * p.DBlocks, s.NH, s.B), group), q, kk, v, pad, o, lse, dO, dq, p);
    }

    private static AttnParams CheckForward(KernelContext k, in AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<int> keyPadding, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse)
    {
        var p = MakeParams(s, lq, lk, lv, lo, default, keyPadding);
        RequireForwardOperands(s, q, lq, kk, lk, v, lv, o, lo, lse);
        return p;
    }

    private static AttnParams CheckBackward(KernelContext k, in AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<int> keyPadding, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse,
        ArrayView<float> dO, AttnLayout ldo, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv)
    {
        var p = MakeParams(s, lq, lk, lv, lo, ldo, keyPadding);
        RequireForwardOperands(s, q, lq, kk, lk, v, lv, o, lo, lse);
        Require(dO, ldo, s.B, s.NH, s.Tq, s.HS, "dO");
        Require(dq, lq, s.B, s.NH, s.Tq, s.HS, "dq");
        Require(dk, lk, s.B, s.NKV, s.Tk, s.HS, "dk");
        Require(dv, lv, s.B, s.NKV, s.Tk, s.HS, "dv");
        return p;
    }

    /// <summary>q, k, v, o cover their (B, heads, T, HS) extents in their layouts and lse holds B·NH·Tq values (forward and backward alike).</summary>
    private static void RequireForwardOperands(in AttentionShape s, ArrayView<float> q, AttnLayout lq, ArrayView<float> kk, AttnLayout lk,
        ArrayView<float> v, AttnLayout lv, ArrayView<float> o, AttnLayout lo, ArrayView<float> lse)
    {
        Require(q, lq, s.B, s.NH, s.Tq, s.HS, "q");
        Require(kk, lk, s.B, s.NKV, s.Tk, s.HS, "k");
        Require(v, lv, s.B, s.NKV, s.Tk, s.HS, "v");
        Require(o, lo, s.B, s.NH, s.Tq, s.HS, "o");
        RequireLength(lse, (long)s.B * s.NH * s.Tq, "lse");
    }

    // ---- host-side checks and parameters -------------------------------------------------------------------------

    private static AttnParams MakeParams(in AttentionShape s, AttnLayout lq, AttnLayout lk, AttnLayout lv, AttnLayout lo, AttnLayout ldo,
        ArrayView<int> keyPadding)
    {
        s.Validate();
        bool hasPad = keyPadding.Length > 0;
        if (hasPad && keyPadding.Length < (long)s.B * s.Tk)
            throw new ArgumentException($"keyPadding has {keyPadding.Length} elements, needs B·Tk = {(long)s.B * s.Tk}.", nameof(keyPadding));
        return new AttnParams
        {
            B = s.B, NH = s.NH, NKV = s.NKV, Tq = s.Tq, Tk = s.Tk, HS = s.HS,
            Scale = s.Scale, ScaleLog2 = s.Scale * Log2E,
            Causal = s.Mask == AttnMask.Causal ? 1 : 0, HasPadding = hasPad ? 1 : 0,
            QB = lq.StrideB, QH = lq.StrideH, QT = lq.StrideT,
            KB = lk.StrideB, KH = lk.StrideH, KT = lk.StrideT,
            VB = lv.StrideB, VH = lv.StrideH, VT = lv.StrideT,
            OB = lo.StrideB, OH = lo.StrideH, OT = lo.StrideT,
            DOB = ldo.StrideB, DOH = ldo.StrideH, DOT = ldo.StrideT,
            QTiles = (s.Tq + Tile - 1) / Tile, KTiles = (s.Tk + Tile - 1) / Tile,
            DBlocks = (s.HS + DBlock - 1) / DBlock,
        };
    }

    private static void Require(ArrayView<float> x, AttnLayout l, int b, int h, int t, int hs, string name)
    {
        if (l.StrideB < 0 || l.StrideH < 0 || l.StrideT < 0)
            throw new ArgumentException($"{name}: strides must be ≥ 0, got {l}.", name);
        long last = (b - 1) * l.StrideB + (h - 1) * l.StrideH + (t - 1) * l.StrideT + hs - 1;
        if (last >= x.Length)
            throw new ArgumentException($"{name}: view has {x.Length} elements but layout {l} with (B, H, T, HS) = ({b}, {h}, {t}, {hs}) reaches element {last}.", name);
    }

    private static void RequireLength<T>(ArrayView<T> x, long n, string name) where T : unmanaged
    {
        if (x.Length < n) throw new ArgumentException($"{name}: view has {x.Length} elements, needs {n}.", name);
    }

    /// <summary>The key-padding view, or a cached one-element dummy when absent (kernels never index it then).</summary>
    private static ArrayView<int> Padding(KernelContext k, ArrayView<int> keyPadding, in AttentionShape s)
        => keyPadding.Length > 0 ? keyPadding : k.Kernel("attn.nopad", acc => acc.Allocate1D<int>(1)).View;
}

/// <summary>The scalar arguments of one attention launch: sizes, scale, mask flags, the element strides of every operand, tile counts.</summary>
public struct AttnParams
{
    public int B, NH, NKV, Tq, Tk, HS;
    public float Scale, ScaleLog2;
    public int Causal, HasPadding;
    public long QB, QH, QT, KB, KH, KT, VB, VH, VT, OB, OH, OT, DOB, DOH, DOT;
    public int QTiles, KTiles, DBlocks;
}
