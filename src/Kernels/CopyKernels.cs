using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;

namespace LLaDA.Kernels;

/// <summary>Strided copy with dtype conversion (F32 ↔ BF16/F16/I32): dst = src for equal shapes, any strides on both sides.</summary>
/// <remarks>
/// 4-byte operands travel as int views (F32 as its bits), 2-byte ones as ushort views; the unused view of each side is
/// empty. Conversions follow CpuBackend.Copy: float → int truncates (saturating, NaN → 0), int → BF16/F16 goes through
/// float, BF16 and F16 round to nearest even (<see cref="DeviceHalf"/>). The dtype branch is uniform across the launch.
/// </remarks>
public static class CopyKernels
{
    /// <summary>dst[offset_b(i)] = convert(src[offset_a(i)]) for i &lt; n; dtypes are (int)DType.</summary>
    [Kernel]
    internal static void CopyKernel(ArrayView<int> src32, ArrayView<ushort> src16, int srcType,
                                    ArrayView<int> dst32, ArrayView<ushort> dst16, int dstType, long n, StridedIndex s)
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            s.Offsets(i, out long os, out long od, out _);
            if (srcType == dstType)
            {
                if (srcType == (int)DType.F32 || srcType == (int)DType.I32) dst32[od] = src32[os];
                else dst16[od] = src16[os];
                continue;
            }
            if (srcType == (int)DType.I32)
            {
                int iv = src32[os];
                Write(dst32, dst16, dstType, od, iv, iv);
                continue;
            }
            float v = srcType == (int)DType.F32 ? Interop.IntAsFloat((uint)src32[os])
                    : srcType == (int)DType.BF16 ? DeviceHalf.FromBf16(src16[os])
                    : DeviceHalf.FromF16(src16[os]);
            Write(dst32, dst16, dstType, od, v, (int)v);
        }
    }

    /// <summary>Writes a value whose float and int forms are given (int sources convert exactly like CpuBackend: via float).</summary>
    private static void Write(ArrayView<int> dst32, ArrayView<ushort> dst16, int dstType, long od, float v, int iv)
    {
        if (dstType == (int)DType.I32) dst32[od] = iv;
        else if (dstType == (int)DType.F32) dst32[od] = (int)Interop.FloatAsInt(v);
        else if (dstType == (int)DType.BF16) dst16[od] = DeviceHalf.ToBf16(v);
        else dst16[od] = DeviceHalf.ToF16(v);
    }

    /// <summary>Copies n elements mapped by <paramref name="s"/> (operand a = src, operand b = dst).</summary>
    public static void Copy(KernelContext k, ArrayView<int> src32, ArrayView<ushort> src16, DType srcType,
                            ArrayView<int> dst32, ArrayView<ushort> dst16, DType dstType, long n, StridedIndex s)
    {
        if (n == 0) return;
        k.Kernel("Copy.Strided", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<ushort>, int, ArrayView<int>, ArrayView<ushort>, int, long, StridedIndex>>(a, CopyKernel))
            (k.Stream, Launch.Elementwise(k, n), src32, src16, (int)srcType, dst32, dst16, (int)dstType, n, s);
    }
}
