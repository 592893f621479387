using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>Marks a kernel entry point of this assembly: the loader refuses unmarked methods and the PTX test compiles every marked one.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class KernelAttribute : Attribute;

/// <summary>Loading and launch geometry shared by every kernel family.</summary>
/// <remarks>
/// Every kernel here is explicitly grouped (it reads Grid/Group indices itself) and loops grid-stride, so any element count
/// runs on a bounded grid. Row kernels give one group to one row (Softmax, RMSNorm, cross-entropy, …) and reduce with
/// <see cref="GroupReduce"/>; group sizes are multiples of the warp size.
/// </remarks>
public static class Launch
{
    /// <summary>Threads per group of elementwise kernels (capped by the accelerator).</summary>
    public const int ElementGroup = 256;

    /// <summary>Largest group of a row kernel: enough threads to stream a 128 K-vocabulary row while keeping 8 groups per SM.</summary>
    public const int MaxRowGroup = 256;

    /// <summary>Loads an explicitly grouped kernel and returns its launcher (AcceleratorStream, KernelConfig, args…).</summary>
    /// <exception cref="InvalidOperationException">The method lacks <see cref="KernelAttribute"/> (so the PTX test would not see it).</exception>
    public static TLauncher Load<TLauncher>(Accelerator accelerator, Delegate kernel) where TLauncher : Delegate
    {
        var m = kernel.Method;
        if (!m.IsDefined(typeof(KernelAttribute), false))
            throw new InvalidOperationException($"{m.DeclaringType?.Name}.{m.Name} is loaded as a kernel but has no [Kernel] attribute");
        return accelerator.LoadKernel(m).CreateLauncherDelegate<TLauncher>();
    }

    /// <summary>Threads per group for elementwise work: <see cref="ElementGroup"/> rounded to the accelerator's limits.</summary>
    public static int ElementGroupSize(Accelerator a) => Math.Max(a.WarpSize, Math.Min(ElementGroup, a.MaxNumThreadsPerGroup) / a.WarpSize * a.WarpSize);

    /// <summary>A grid-stride configuration for n independent elements: enough groups to fill the device (≤ 8 waves of resident groups), at least one.</summary>
    public static KernelConfig Elementwise(KernelContext k, long n)
    {
        var a = k.Accelerator;
        int group = ElementGroupSize(a);
        long resident = Math.Max(1L, (long)a.NumMultiprocessors * Math.Max(1, a.MaxNumThreadsPerMultiprocessor / group));
        long groups = Math.Clamp((n + group - 1) / group, 1, resident * 8);
        return new KernelConfig((int)groups, group);
    }

    /// <summary>Threads per group of a row kernel for rows of length n: about four elements per thread, a multiple of the warp, at most <see cref="MaxRowGroup"/>.</summary>
    public static int RowGroupSize(Accelerator a, long n)
    {
        int warp = a.WarpSize;
        int cap = Math.Max(warp, Math.Min(Math.Min(MaxRowGroup, a.MaxNumThreadsPerGroup), GroupReduce.MaxWarps * warp) / warp * warp);
        long want = (n + 3) / 4;
        int g = warp;
        while (g < cap && g < want) g *= 2;
        return Math.Min(g, cap);
    }

    /// <summary>One group per row (grid-stride over rows when there are more rows than the grid allows).</summary>
    public static KernelConfig Rows(KernelContext k, long rows, long rowLength)
    {
        int group = RowGroupSize(k.Accelerator, rowLength);
        long groups = Math.Clamp(rows, 1, 1 << 20);
        return new KernelConfig((int)groups, group);
    }

    /// <summary>A row configuration with a given group size (kernels that must know it, e.g. fixed shared-memory tiles).</summary>
    public static KernelConfig Rows(long rows, int group) => new((int)Math.Clamp(rows, 1, 1 << 20), group);
}

/// <summary>Device-side index helpers (called from kernels; inlined by ILGPU).</summary>
public static class Idx
{
    /// <summary>Global linear index of this thread.</summary>
    public static long Global => (long)Grid.IdxX * Group.DimX + Group.IdxX;

    /// <summary>Total threads of the launch (the grid-stride step).</summary>
    public static long Stride => (long)Grid.DimX * Group.DimX;
}

/// <summary>Group-wide reductions: a warp butterfly (every lane ends with the result), then, for groups of several warps, one shared-memory round.</summary>
/// <remarks>
/// The scratch view must be shared memory of ≥ <see cref="MaxWarps"/> slots, allocated by the kernel. Every thread of the
/// group must call (the barriers are group-wide) and every thread receives the result. Group sizes are multiples of
/// the warp size. On a single-warp group there is no barrier at all, which is what makes tiny rows cheap.
/// </remarks>
public static class GroupReduce
{
    /// <summary>Warps per group the scratch can hold.</summary>
    public const int MaxWarps = 32;

    public static float WarpSum(float v)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o >>= 1) v += Warp.ShuffleXor(v, o);
        return v;
    }

    /// <summary>max that propagates NaN (as TensorPrimitives.Max).</summary>
    public static float MaxNaN(float a, float b) => float.IsNaN(a) || a > b ? a : b;

    /// <summary>min that propagates NaN (as TensorPrimitives.Min).</summary>
    public static float MinNaN(float a, float b) => float.IsNaN(a) || a < b ? a : b;

    public static float WarpMax(float v)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o >>= 1) v = MaxNaN(v, Warp.ShuffleXor(v, o));
        return v;
    }

    public static float WarpMin(float v)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o >>= 1) v = MinNaN(v, Warp.ShuffleXor(v, o));
        return v;
    }

    public static ulong WarpMinKey(ulong v)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o >>= 1)
        {
            ulong other = Warp.ShuffleXor(v, o);
            if (other < v) v = other;
        }
        return v;
    }

    /// <summary>Σ over the group.</summary>
    public static float Sum(float v, ArrayView<float> scratch)
    {
        v = WarpSum(v);
        if (Group.DimX <= Warp.WarpSize) return v;
        if (Warp.IsFirstLane) scratch[Warp.WarpIdx] = v;
        Group.Barrier();
        v = Warp.LaneIdx < Group.DimX / Warp.WarpSize ? scratch[Warp.LaneIdx] : 0f;
        v = WarpSum(v);
        Group.Barrier(); // scratch is free again for the caller's next reduction
        return v;
    }

    /// <summary>max over the group (NaN wins).</summary>
    public static float Max(float v, ArrayView<float> scratch)
    {
        v = WarpMax(v);
        if (Group.DimX <= Warp.WarpSize) return v;
        if (Warp.IsFirstLane) scratch[Warp.WarpIdx] = v;
        Group.Barrier();
        v = Warp.LaneIdx < Group.DimX / Warp.WarpSize ? scratch[Warp.LaneIdx] : float.NegativeInfinity;
        v = WarpMax(v);
        Group.Barrier();
        return v;
    }

    /// <summary>min over the group (NaN wins).</summary>
    public static float Min(float v, ArrayView<float> scratch)
    {
        v = WarpMin(v);
        if (Group.DimX <= Warp.WarpSize) return v;
        if (Warp.IsFirstLane) scratch[Warp.WarpIdx] = v;
        Group.Barrier();
        v = Warp.LaneIdx < Group.DimX / Warp.WarpSize ? scratch[Warp.LaneIdx] : float.PositiveInfinity;
        v = WarpMin(v);
        Group.Barrier();
        return v;
    }

    /// <summary>Smallest 64-bit key over the group (argmax/top-k keys, see <see cref="SortKey"/>).</summary>
    public static ulong MinKey(ulong v, ArrayView<ulong> scratch)
    {
        v = WarpMinKey(v);
        if (Group.DimX <= Warp.WarpSize) return v;
        if (Warp.IsFirstLane) scratch[Warp.WarpIdx] = v;
        Group.Barrier();
        v = Warp.LaneIdx < Group.DimX / Warp.WarpSize ? scratch[Warp.LaneIdx] : ulong.MaxValue;
        v = WarpMinKey(v);
        Group.Barrier();
        return v;
    }
}

/// <summary>A 64-bit key that sorts ascending as (value descending, index ascending), NaN above +∞: the order of CpuBackend's ArgMax and TopK.</summary>
public static class SortKey
{
    public static ulong Of(float v, int index)
    {
        uint bits = float.IsNaN(v) ? 0x7FC00000u : (uint)Interop.FloatAsInt(v);
        // Monotone map of float order onto uint order, then flipped so larger values get smaller keys.
        uint ordered = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
        return ((ulong)~ordered << 32) | (uint)index;
    }

    public static int Index(ulong key) => (int)(uint)key;
}

/// <summary>A collapsed iteration space of rank ≤ 6 (dim 0 innermost) with the strides of up to three operands; a linear index in row-major order maps to one element offset per operand.</summary>
/// <remarks>
/// Built on the host by <see cref="Build"/>, which drops size-1 dims and merges dims that are contiguous with each other
/// in every operand, so most views collapse to rank 1–2 and the per-element div/mod chain stays short.
/// </remarks>
public struct StridedIndex
{
    public const int MaxRank = 6;

    public int Rank;
    public long D0, D1, D2, D3, D4, D5;
    public long A0, A1, A2, A3, A4, A5;
    public long B0, B1, B2, B3, B4, B5;
    public long C0, C1, C2, C3, C4, C5;

    /// <summary>Element offsets of operands a, b, c for row-major linear index i.</summary>
    public readonly void Offsets(long i, out long a, out long b, out long c)
    {
        a = 0; b = 0; c = 0;
        long q = i, r;
        // Hand-unrolled (ILGPU 1.5.3 does not unroll): peel one dim at a time, innermost first.
        r = q % D0; q /= D0; a += r * A0; b += r * B0; c += r * C0;
        if (Rank > 1) { r = q % D1; q /= D1; a += r * A1; b += r * B1; c += r * C1; }
        if (Rank > 2) { r = q % D2; q /= D2; a += r * A2; b += r * B2; c += r * C2; }
        if (Rank > 3) { r = q % D3; q /= D3; a += r * A3; b += r * B3; c += r * C3; }
        if (Rank > 4) { r = q % D4; q /= D4; a += r * A4; b += r * B4; c += r * C4; }
        if (Rank > 5) { r = q % D5; a += r * A5; b += r * B5; c += r * C5; }
    }

    /// <summary>Collapses shape and per-operand strides (outermost first, as in Layout) into a StridedIndex; missing operands get stride 0.</summary>
    public static StridedIndex Build(string op, ReadOnlySpan<int> shape, ReadOnlySpan<long> a, ReadOnlySpan<long> b = default, ReadOnlySpan<long> c = default)
    {
        Span<long> dims = stackalloc long[Math.Max(shape.Length, 1)];
        Span<long> sa = stackalloc long[dims.Length], sb = stackalloc long[dims.Length], sc = stackalloc long[dims.Length];
        int n = 0; // collapsed dims, outermost first
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            long xa = a[d], xb = b.IsEmpty ? 0 : b[d], xc = c.IsEmpty ? 0 : c[d];
            if (n > 0 && sa[n - 1] == xa * shape[d] && sb[n - 1] == xb * shape[d] && sc[n - 1] == xc * shape[d])
            {
                dims[n - 1] *= shape[d];
                sa[n - 1] = xa; sb[n - 1] = xb; sc[n - 1] = xc;
                continue;
            }
            dims[n] = shape[d]; sa[n] = xa; sb[n] = xb; sc[n] = xc;
            n++;
        }
        if (n == 0)
        {
            dims[0] = 1; sa[0] = sb[0] = sc[0] = 0;
            n = 1;
        }
        if (n > MaxRank)
            throw new LLaDA.Tensors.TensorException($"{op}: a strided view of rank {n} after merging dims exceeds the ILGPU kernels' limit of {MaxRank}; make it contiguous first");
        var s = new StridedIndex { Rank = n };
        for (int k = 0; k < n; k++)
        {
            int j = n - 1 - k; // k-th innermost
            s.Set(k, dims[j], sa[j], sb[j], sc[j]);
        }
        for (int k = n; k < MaxRank; k++) s.Set(k, 1, 0, 0, 0);
        return s;
    }

    private void Set(int k, long d, long a, long b, long c)
    {
        switch (k)
        {
            case 0: D0 = d; A0 = a; B0 = b; C0 = c; break;
            case 1: D1 = d; A1 = a; B1 = b; C1 = c; break;
            case 2: D2 = d; A2 = a; B2 = b; C2 = c; break;
            case 3: D3 = d; A3 = a; B3 = b; C3 = c; break;
            case 4: D4 = d; A4 = a; B4 = b; C4 = c; break;
            default: D5 = d; A5 = a; B5 = b; C5 = c; break;
        }
    }
}
