using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>Embedding lookup (IndexSelect), its backward (IndexAdd, float atomics), and Gather/ScatterAdd along the last dim.</summary>
/// <remarks>
/// Out-of-range ids are never read or written: the kernel skips them and records the first one it meets in the backend's
/// error slots (see <see cref="ErrorSlots"/>), which the host turns into the same TensorException CpuBackend throws.
/// The atomic adds make repeated-id sums order-dependent in the last bits (CpuBackend adds in id order).
/// </remarks>
public static class EmbeddingKernels
{
    /// <summary>y[i, :] = src[ids[i], :] for src (V, C), ids (N), y (N, C); one group per row i.</summary>
    [Kernel]
    internal static void IndexSelectKernel(ArrayView<float> src, ArrayView<int> ids, ArrayView<float> y, long n, int c, int v, ArrayView<int> errors)
    {
        for (long i = Grid.IdxX; i < n; i += Grid.DimX)
        {
            int id = ids[i];
            if ((uint)id >= (uint)v)
            {
                if (Group.IsFirstThread) ErrorSlots.Report(errors, i, id);
                continue;
            }
            for (int j = Group.IdxX; j < c; j += Group.DimX) y[i * c + j] = src[(long)id * c + j];
        }
    }

    /// <summary>dst[ids[i], :] += src[i, :] with atomic adds (repeated ids accumulate); one group per row i.</summary>
    [Kernel]
    internal static void IndexAddKernel(ArrayView<float> src, ArrayView<int> ids, ArrayView<float> dst, long n, int c, int v, ArrayView<int> errors)
    {
        for (long i = Grid.IdxX; i < n; i += Grid.DimX)
        {
            int id = ids[i];
            if ((uint)id >= (uint)v)
            {
                if (Group.IsFirstThread) ErrorSlots.Report(errors, i, id);
                continue;
            }
            for (int j = Group.IdxX; j < c; j += Group.DimX) Atomic.Add(ref dst[(long)id * c + j], src[i * c + j]);
        }
    }

    /// <summary>y[r, j] = x[r, index[r, j]] for x (rows, n), index and y (rows, m).</summary>
    [Kernel]
    internal static void GatherKernel(ArrayView<float> x, ArrayView<int> index, ArrayView<float> y, long rows, int n, int m, ArrayView<int> errors)
    {
        long total = rows * m;
        for (long i = Idx.Global; i < total; i += Idx.Stride)
        {
            int idx = index[i];
            if ((uint)idx >= (uint)n)
            {
                ErrorSlots.Report(errors, i, idx);
                continue;
            }
            long r = i / m;
            y[i] = x[r * n + idx];
        }
    }

    /// <summary>dst[r, index[r, j]] += src[r, j] with atomic adds.</summary>
    [Kernel]
    internal static void ScatterAddKernel(ArrayView<float> src, ArrayView<int> index, ArrayView<float> dst, long rows, int n, int m, ArrayView<int> errors)
    {
        long total = rows * m;
        for (long i = Idx.Global; i < total; i += Idx.Stride)
        {
            int idx = index[i];
            if ((uint)idx >= (uint)n)
            {
                ErrorSlots.Report(errors, i, idx);
                continue;
            }
            long r = i / m;
            Atomic.Add(ref dst[r * n + idx], src[i]);
        }
    }

    public static void IndexSelect(KernelContext k, ArrayView<float> src, ArrayView<int> ids, ArrayView<float> y, long n, int c, int v, ArrayView<int> errors)
    {
        if (n == 0) return;
        k.Kernel("Embedding.IndexSelect", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, long, int, int, ArrayView<int>>>(a, IndexSelectKernel))
            (k.Stream, Launch.Rows(k, n, c), src, ids, y, n, c, v, errors);
    }

    public static void IndexAdd(KernelContext k, ArrayView<float> src, ArrayView<int> ids, ArrayView<float> dst, long n, int c, int v, ArrayView<int> errors)
    {
        if (n == 0) return;
        k.Kernel("Embedding.IndexAdd", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, long, int, int, ArrayView<int>>>(a, IndexAddKernel))
            (k.Stream, Launch.Rows(k, n, c), src, ids, dst, n, c, v, errors);
    }

    public static void Gather(KernelContext k, ArrayView<float> x, ArrayView<int> index, ArrayView<float> y, long rows, int n, int m, ArrayView<int> errors)
    {
        if (rows * m == 0) return;
        k.Kernel("Embedding.Gather", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, long, int, int, ArrayView<int>>>(a, GatherKernel))
            (k.Stream, Launch.Elementwise(k, rows * m), x, index, y, rows, n, m, errors);
    }

    public static void ScatterAdd(KernelContext k, ArrayView<float> src, ArrayView<int> index, ArrayView<float> dst, long rows, int n, int m, ArrayView<int> errors)
    {
        if (rows * m == 0) return;
        k.Kernel("Embedding.ScatterAdd", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, long, int, int, ArrayView<int>>>(a, ScatterAddKernel))
            (k.Stream, Launch.Elementwise(k, rows * m), src, index, dst, rows, n, m, errors);
    }
}

/// <summary>Two device ints where an index kernel records the first out-of-range index it meets: [0] = flat position + 1 (0 = none), [1] = the bad value.</summary>
public static class ErrorSlots
{
    public static void Report(ArrayView<int> errors, long position, int value)
    {
        if (Atomic.CompareExchange(ref errors[0], 0, (int)Math.Min(position + 1, int.MaxValue)) == 0) errors[1] = value;
    }
}
