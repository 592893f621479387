using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>y = cond ≠ 0 ? a : b over broadcast views; a, b, y are 4-byte (F32 or I32, moved as bits), cond is F32 or I32.</summary>
public static class WhereKernels
{
    /// <summary>y[i] = cond[offset_a(i)] ≠ 0 ? a[offset_b(i)] : b[offset_c(i)]; an F32 cond compares as a float (−0 is false, NaN true).</summary>
    [Kernel]
    internal static void WhereKernel(ArrayView<int> cond, int condIsFloat, ArrayView<int> a, ArrayView<int> b, ArrayView<int> y, long n, StridedIndex s)
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            s.Offsets(i, out long oc, out long oa, out long ob);
            int c = cond[oc];
            bool take = condIsFloat != 0 ? Interop.IntAsFloat((uint)c) != 0f : c != 0;
            y[i] = take ? a[oa] : b[ob];
        }
    }

    /// <summary>Launches over n elements of the contiguous y; <paramref name="s"/> operands are (cond, a, b).</summary>
    public static void Where(KernelContext k, ArrayView<int> cond, bool condIsFloat, ArrayView<int> a, ArrayView<int> b, ArrayView<int> y, long n, StridedIndex s)
    {
        if (n == 0) return;
        k.Kernel("Where", acc => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<int>, int, ArrayView<int>, ArrayView<int>, ArrayView<int>, long, StridedIndex>>(acc, WhereKernel))
            (k.Stream, Launch.Elementwise(k, n), cond, condIsFloat ? 1 : 0, a, b, y, n, s);
    }
}
