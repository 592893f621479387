using System;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace LLaDA.Tensors.Cpu;

/// <summary>Fused CPU attention, flash style: o = softmax(q·kᵀ·scale + mask)·v forward (saving lse) and its gradients, without a T×T matrix.</summary>
/// <remarks>
/// <para><b>Contract.</b> q, o, dO, dq are (B, NH, Tq, HS) and k, v, dk, dv are (B, NKV, Tk, HS), each through its own
/// <see cref="AttnLayout"/> (dq, dk, dv use the layouts of q, k, v); lse is (B, NH, Tq) contiguous. Any mix of
/// (B, NH, T, HS), (B, T, NH, HS) and strided views (e.g. slices of a fused QKV projection) works with no copies.
/// A query row whose keys are all masked (every key padded, or causal with no key at or before its position) gets
/// o = 0, lse = +∞, and contributes zero gradient — unlike Hugging Face LLaDA, whose float32.min bias would spread such
/// a row uniformly over the padded keys. Padded keys get dk = dv = 0.</para>
/// <para><b>Algorithm</b> (FlashAttention-2, Dao 2023, adapted to CPU registers instead of GPU shared memory):
/// queries and keys are cut into tiles of <see cref="QueryTile"/> × <see cref="KeyTile"/>; each tile's scores live
/// only in a per-thread scratch tile. The forward keeps a running max m and sum l per query (online softmax) and saves
/// lse = m + log l. The backward recomputes P = exp(s − lse) per tile and uses D_i = Σ_d dO_id·O_id, so
/// dS = P ⊙ (dP − D) needs no row reductions. Every matrix product is one <see cref="TileGemm"/> call.</para>
/// <para><b>Parallelism.</b> Forward: one work item per (b, h, query tile). Backward: see <see cref="BackwardStrategy"/>;
/// the default gives each worker whole (b, kv-head) groups so it owns their dk, dv and the dq of their query heads and
/// needs no atomics or reductions, and switches to a two-pass split when there are too few groups to fill the machine's cores (its core count, not the
/// worker count in effect: the two splits round dq differently, and the bits must not depend on --threads).</para>
/// <para>Scratch is per-thread native memory (<see cref="ThreadScratch"/>), O(tile² + tile·HS) floats per thread, plus
/// O((Tq + Tk)·HS) for the PerGroup backward's dense copies and accumulators of one group (the size of a few heads); no
/// O(T²) or O(B·NH·T·HS) buffer is ever allocated. Steady-state managed allocation is only Parallel.For's own.</para>
/// </remarks>
public static unsafe partial class CpuAttention
{
    /// <summary>Queries per tile (lanes of the forward's score tile, rows of the backward's).</summary>
    internal const int QueryTile = 64;
    /// <summary>Keys per tile (rows of the forward's score tile, lanes of the backward's).</summary>
    internal const int KeyTile = 64;
    /// <summary>Below this many flops a call runs on the calling thread: Parallel.For's start-up (~5–20 µs) would dominate.</summary>
    private const long SerialFlops = 1L << 21;

    /// <summary>o = softmax(q·kᵀ·scale + mask)·v; lse[b,h,i] = log Σ_j exp(s_ij) (natural log, of the scaled, masked scores), saved for backward.</summary>
    /// <param name="s">Sizes, scale and mask.</param>
    /// <param name="q">Queries (B, NH, Tq, HS) in layout <paramref name="lq"/>.</param>
    /// <param name="lq">Layout of q.</param>
    /// <param name="k">Keys (B, NKV, Tk, HS) in layout <paramref name="lk"/>.</param>
    /// <param name="lk">Layout of k.</param>
    /// <param name="v">Values (B, NKV, Tk, HS) in layout <paramref name="lv"/>.</param>
    /// <param name="lv">Layout of v.</param>
    /// <param name="keyPadding">Optional int[B·Tk]: 1 = real key, 0 = padded key; null = no padding.</param>
    /// <param name="o">Output (B, NH, Tq, HS) in layout <paramref name="lo"/>; a fully masked row is written as zeros.</param>
    /// <param name="lo">Layout of o.</param>
    /// <param name="lse">Output (B, NH, Tq) contiguous: log-sum-exp per query, +∞ for a fully masked row.</param>
    public static void Forward(in AttentionShape s, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv,
                               int* keyPadding, float* o, AttnLayout lo, float* lse)
        => Forward(s, q, lq, k, lk, v, lv, keyPadding, o, lo, lse, default);

    /// <summary>Gradients of L through o = softmax(q·kᵀ·scale + mask)·v given dO = ∂L/∂o: writes (overwrites) dq, dk, dv in the layouts of q, k, v.</summary>
    /// <param name="s">Sizes, scale and mask (as in the forward).</param>
    /// <param name="q">Queries, as in the forward.</param>
    /// <param name="lq">Layout of q and dq.</param>
    /// <param name="k">Keys, as in the forward.</param>
    /// <param name="lk">Layout of k and dk.</param>
    /// <param name="v">Values, as in the forward.</param>
    /// <param name="lv">Layout of v and dv.</param>
    /// <param name="keyPadding">The forward's key padding (or null).</param>
    /// <param name="o">The forward's output.</param>
    /// <param name="lo">Layout of o.</param>
    /// <param name="lse">The forward's lse (B, NH, Tq).</param>
    /// <param name="dO">∂L/∂o (B, NH, Tq, HS) in layout <paramref name="ldo"/>.</param>
    /// <param name="ldo">Layout of dO.</param>
    /// <param name="dq">Output ∂L/∂q in layout lq.</param>
    /// <param name="dk">Output ∂L/∂k in layout lk (summed over the query heads sharing each kv head).</param>
    /// <param name="dv">Output ∂L/∂v in layout lv (summed over the query heads sharing each kv head).</param>
    public static void Backward(in AttentionShape s, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv,
                                int* keyPadding, float* o, AttnLayout lo, float* lse, float* dO, AttnLayout ldo,
                                float* dq, float* dk, float* dv)
        => Backward(s, q, lq, k, lk, v, lv, keyPadding, o, lo, lse, dO, ldo, dq, dk, dv, default);

    internal static void Forward(in AttentionShape s, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv,
                                 int* keyPadding, float* o, AttnLayout lo, float* lse, AttentionTuning tuning)
    {
        Validate(s);
        RequireNonNull(q, nameof(q)); RequireNonNull(k, nameof(k)); RequireNonNull(v, nameof(v));
        RequireNonNull(o, nameof(o)); RequireNonNull(lse, nameof(lse));
        var a = new AttnArgs(s, q, lq, k, lk, v, lv, keyPadding, o, lo, lse, null, default, null, null, null);
        CpuFlops.Add(CpuFlops.AttentionForward(s));
        switch (ResolveVectorBits(tuning))
        {
            case 512: ForwardAll<Vector512<float>, Simd512>(a, tuning); break;
            case 256: ForwardAll<Vector256<float>, Simd256>(a, tuning); break;
            default: ForwardAll<Vector128<float>, Simd128>(a, tuning); break;
        }
    }

    internal static void Backward(in AttentionShape s, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv,
                                  int* keyPadding, float* o, AttnLayout lo, float* lse, float* dO, AttnLayout ldo,
                                  float* dq, float* dk, float* dv, AttentionTuning tuning)
    {
        Validate(s);
        RequireNonNull(q, nameof(q)); RequireNonNull(k, nameof(k)); RequireNonNull(v, nameof(v));
        RequireNonNull(o, nameof(o)); RequireNonNull(lse, nameof(lse)); RequireNonNull(dO, nameof(dO));
        RequireNonNull(dq, nameof(dq)); RequireNonNull(dk, nameof(dk)); RequireNonNull(dv, nameof(dv));
        var a = new AttnArgs(s, q, lq, k, lk, v, lv, keyPadding, o, lo, lse, dO, ldo, dq, dk, dv);
        CpuFlops.Add(2 * CpuFlops.AttentionForward(s));
        switch (ResolveVectorBits(tuning))
        {
            case 512: BackwardAll<Vector512<float>, Simd512>(a, tuning); break;
            case 256: BackwardAll<Vector256<float>, Simd256>(a, tuning); break;
            default: BackwardAll<Vector128<float>, Simd128>(a, tuning); break;
        }
    }

    // ---- argument checks -------------------------------------------------------------------------------------------

    private static void Validate(in AttentionShape s) => s.Validate();

    private static void RequireNonNull(void* p, string name)
    {
        if (p == null) throw new ArgumentException($"Pointer {name} must not be null.", name);
    }

    // ---- dispatch and scheduling -----------------------------------------------------------------------------------

    private static int ResolveVectorBits(AttentionTuning tuning)
    {
        if (tuning.VectorBits is 512 or 256 or 128) return tuning.VectorBits;
        if (Vector512.IsHardwareAccelerated) return 512;
        if (Vector256.IsHardwareAccelerated) return 256;
        return 128;   // Vector128 is accelerated almost everywhere (SSE, NEON) and falls back to software elsewhere.
    }

    private static int Workers(AttentionTuning tuning) =>
        tuning.MaxThreads > 0 ? Math.Min(tuning.MaxThreads, CpuParallel.Threads) : CpuParallel.Threads;

    /// <summary>Runs body(0..count−1) on all workers, or inline when there is one worker, one item or less than <see cref="SerialFlops"/> of work.</summary>
    private static void RunItems(int count, double totalFlops, AttentionTuning tuning, Action<int> body)
    {
        int workers = Workers(tuning);
        if (workers == 1 || count == 1 || totalFlops < SerialFlops)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = workers }, body);
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;
}

/// <summary>How the backward splits work across threads; Auto picks by <see cref="CpuAttention"/>'s cost model.</summary>
internal enum BackwardStrategy
{
    /// <summary>PerGroup when there are enough (b, kv-head) groups to keep every worker busy, else TwoPass.</summary>
    Auto,
    /// <summary>One work item per (b, kv head): it owns dk, dv of that kv head and dq of its NH/NKV query heads, so no
    /// atomics or partial sums are needed; 5 tile products per (query tile, key tile) pair. Parallelism = B·NKV.</summary>
    PerGroup,
    /// <summary>Pass 1, one item per (b, kv head, key tile), computes dk, dv; pass 2, one item per (b, h, query tile),
    /// computes dq. Each pass recomputes S and dP, so 7 products per pair instead of 5 (+40 % flops), but it offers
    /// B·NKV·(Tk/KeyTile) and B·NH·(Tq/QueryTile) items: the right choice for B·NKV below the core count (e.g. B = 1).</summary>
    TwoPass,
}

/// <summary>Knobs for tests and benchmarks: 0 / Auto means "choose automatically".</summary>
/// <param name="VectorBits">Force 512, 256 or 128-bit vectors (to test the fallbacks on an AVX-512 machine).</param>
/// <param name="Strategy">Force a backward work split.</param>
/// <param name="MaxThreads">Cap the worker count (1 = run on the calling thread).</param>
internal readonly record struct AttentionTuning(int VectorBits = 0, BackwardStrategy Strategy = BackwardStrategy.Auto, int MaxThreads = 0);

/// <summary>The operands of one call, bundled so work items can capture them by value.</summary>
internal readonly unsafe struct AttnArgs(
    AttentionShape shape, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv, int* keyPadding,
    float* o, AttnLayout lo, float* lse, float* dO, AttnLayout ldo, float* dq, float* dk, float* dv)
{
    public readonly AttentionShape Shape = shape;
    public readonly float* Q = q, K = k, V = v, O = o, Lse = lse, DO = dO, DQ = dq, DK = dk, DV = dv;
    public readonly AttnLayout Lq = lq, Lk = lk, Lv = lv, Lo = lo, Ldo = ldo;
    public readonly int* KeyPadding = keyPadding;

    /// <summary>Pointer to row t = 0 of head h in batch entry b of an operand with layout l.</summary>
    public static float* Head(float* p, AttnLayout l, int b, int h) => p + b * l.StrideB + h * l.StrideH;
}
