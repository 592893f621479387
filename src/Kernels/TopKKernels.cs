using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>ArgMax along any dim and TopK along the last dim, both ordered by <see cref="SortKey"/> (value descending, lower index first, NaN largest) as CpuBackend.</summary>
public static class TopKKernels
{
    /// <summary>y[row] = index of the first maximum of x[row, 0..r) (NaN wins); one group per row.</summary>
    [Kernel]
    internal static void ArgMaxRowsKernel(ArrayView<float> x, ArrayView<int> y, long rows, int r)
    {
        var scratch = SharedMemory.Allocate<ulong>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long start = row * r;
            ulong best = ulong.MaxValue;
            for (int j = Group.IdxX; j < r; j += Group.DimX)
            {
                ulong key = SortKey.Of(x[start + j], j);
                if (key < best) best = key;
            }
            best = GroupReduce.MinKey(best, scratch);
            if (Group.IsFirstThread) y[row] = SortKey.Index(best);
        }
    }

    /// <summary>y[o, c] = argmax over k of x[o, k, c]; one thread per (o, c) column.</summary>
    [Kernel]
    internal static void ArgMaxColumnsKernel(ArrayView<float> x, ArrayView<int> y, long outer, int r, long inner)
    {
        long n = outer * inner;
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            long o = i / inner, c = i - o * inner;
            long p = o * r * inner + c;
            int best = 0;
            float bv = x[p];
            for (int k = 1; k < r; k++)
            {
                float v = x[p + k * inner];
                if (v > bv || (float.IsNaN(v) && !float.IsNaN(bv)))
                {
                    bv = v;
                    best = k;
                }
            }
            y[i] = best;
        }
    }

    /// <summary>The k best of each row of x (rows, n) into values/indices (rows, k); one group per row, k selection rounds.</summary>
    /// <remarks>
    /// Round j picks the smallest key greater than round j−1's (keys are unique because they carry the index), so no
    /// scratch list is needed: O(k·n / group) per row. Right for the sampler's small k; a full sort (k ≈ n large) would
    /// want a bitonic sort instead.
    /// </remarks>
    [Kernel]
    internal static void TopKKernel(ArrayView<float> x, ArrayView<float> values, ArrayView<int> indices, long rows, int n, int k)
    {
        var scratch = SharedMemory.Allocate<ulong>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long start = row * n;
            ulong prev = 0;
            for (int j = 0; j < k; j++)
            {
                ulong best = ulong.MaxValue;
                for (int c = Group.IdxX; c < n; c += Group.DimX)
                {
                    ulong key = SortKey.Of(x[start + c], c);
                    if ((j == 0 || key > prev) && key < best) best = key;
                }
                best = GroupReduce.MinKey(best, scratch);
                if (Group.IsFirstThread)
                {
                    int idx = SortKey.Index(best);
                    values[row * k + j] = x[start + idx];
                    indices[row * k + j] = idx;
                }
                prev = best;
            }
        }
    }

    /// <summary>y (outer, inner) = argmax over R of x (outer, R, inner); R ≥ 1.</summary>
    public static void ArgMax(KernelContext k, ArrayView<float> x, ArrayView<int> y, long outer, int r, long inner)
    {
        if (outer * inner == 0) return;
        if (inner == 1)
            k.Kernel("TopK.ArgMaxRows", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, long, int>>(a, ArgMaxRowsKernel))
                (k.Stream, Launch.Rows(k, outer, r), x, y, outer, r);
        else
            k.Kernel("TopK.ArgMaxColumns", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, long, int, long>>(a, ArgMaxColumnsKernel))
                (k.Stream, Launch.Elementwise(k, outer * inner), x, y, outer, r, inner);
    }

    /// <summary>values, indices (rows, k) = the k largest of each row of x (rows, n), descending.</summary>
    public static void TopK(KernelContext k, ArrayView<float> x, ArrayView<float> values, ArrayView<int> indices, long rows, int n, int kk)
    {
        if (rows == 0 || kk == 0) return;
        k.Kernel("TopK.TopK", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, long, int, int>>(a, TopKKernel))
            (k.Stream, Launch.Rows(k, rows, n), x, values, indices, rows, n, kk);
    }
}
