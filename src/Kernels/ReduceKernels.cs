using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;

namespace LLaDA.Kernels;

/// <summary>Sum/Mean/Max/Min along one dim of a contiguous tensor viewed as (outer, R, inner).</summary>
/// <remarks>
/// inner = 1 (reducing the last dim): one group per row with a <see cref="GroupReduce"/>, so a 128 K-long row is read
/// by a whole group with coalesced loads. inner &gt; 1: one thread per (outer, inner) column walking R; neighbouring threads
/// read neighbouring addresses. Empty R gives CpuBackend's identities (0, NaN for Mean, ∓∞). Max/Min propagate NaN.
/// </remarks>
public static class ReduceKernels
{
    /// <summary>y[row] = reduce(x[row, 0..r)) for (rows, r) contiguous x.</summary>
    [Kernel]
    internal static void RowsKernel(ArrayView<float> x, ArrayView<float> y, long rows, int r, int op)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long start = row * r;
            float acc = Identity(op);
            for (int j = Group.IdxX; j < r; j += Group.DimX) acc = Combine(op, acc, x[start + j]);
            float total = op == (int)ReduceOp.Max ? GroupReduce.Max(acc, scratch)
                        : op == (int)ReduceOp.Min ? GroupReduce.Min(acc, scratch)
                        : GroupReduce.Sum(acc, scratch);
            if (Group.IsFirstThread) y[row] = op == (int)ReduceOp.Mean ? (r == 0 ? float.NaN : total / r) : total;
        }
    }

    /// <summary>y[o, c] = reduce over k of x[o, k, c] for (outer, r, inner) contiguous x; one thread per (o, c).</summary>
    [Kernel]
    internal static void ColumnsKernel(ArrayView<float> x, ArrayView<float> y, long outer, int r, long inner, int op)
    {
        long n = outer * inner;
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            long o = i / inner, c = i - o * inner;
            long p = o * r * inner + c;
            float acc = Identity(op);
            for (int k = 0; k < r; k++) acc = Combine(op, acc, x[p + k * inner]);
            y[i] = op == (int)ReduceOp.Mean ? (r == 0 ? float.NaN : acc * (1f / r)) : acc;
        }
    }

    private static float Identity(int op) => op == (int)ReduceOp.Max ? float.NegativeInfinity : op == (int)ReduceOp.Min ? float.PositiveInfinity : 0f;

    private static float Combine(int op, float acc, float v)
        => op == (int)ReduceOp.Max ? GroupReduce.MaxNaN(acc, v) : op == (int)ReduceOp.Min ? GroupReduce.MinNaN(acc, v) : acc + v;

    /// <summary>y (outer, inner) = reduce over R of x (outer, R, inner).</summary>
    public static void Reduce(KernelContext k, ReduceOp op, ArrayView<float> x, ArrayView<float> y, long outer, int r, long inner)
    {
        if (outer * inner == 0) return;
        if (inner == 1)
            k.Kernel("Reduce.Rows", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, long, int, int>>(a, RowsKernel))
                (k.Stream, Launch.Rows(k, outer, r), x, y, outer, r, (int)op);
        else
            k.Kernel("Reduce.Columns", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, long, int, long, int>>(a, ColumnsKernel))
                (k.Stream, Launch.Elementwise(k, outer * inner), x, y, outer, r, inner, (int)op);
    }
}
