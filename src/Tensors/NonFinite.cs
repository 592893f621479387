using System.Numerics;
using System.Runtime.InteropServices;

namespace LLaDA.Tensors;

/// <summary>Finds NaN or ±Inf in raw float data by its exponent bits (all ones), a vectorized pass over the bytes.</summary>
/// <remarks>IEEE 754: F32 exponent 0x7F800000, BF16 0x7F80, F16 0x7C00; a value is non-finite iff every exponent bit is set.</remarks>
public static class NonFinite
{
    /// <summary>Index of the first NaN/Inf element of <paramref name="raw"/> (little-endian elements of <paramref name="dtype"/>), or −1; integer dtypes have none.</summary>
    public static long FirstIndex(ReadOnlySpan<byte> raw, DType dtype) => dtype switch
    {
        DType.F32 => First(MemoryMarshal.Cast<byte, uint>(raw), 0x7F800000u),
        DType.BF16 => First(MemoryMarshal.Cast<byte, ushort>(raw), (ushort)0x7F80),
        DType.F16 => First(MemoryMarshal.Cast<byte, ushort>(raw), (ushort)0x7C00),
        _ => -1,
    };

    /// <summary>Index of the first NaN/Inf in <paramref name="values"/>, or −1.</summary>
    public static long FirstIndex(ReadOnlySpan<float> values) => First(MemoryMarshal.Cast<float, uint>(values), 0x7F800000u);

    private static long First<T>(ReadOnlySpan<T> bits, T exponent) where T : unmanaged, IBinaryInteger<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && bits.Length >= Vector<T>.Count)
        {
            var e = new Vector<T>(exponent);
            var vs = MemoryMarshal.Cast<T, Vector<T>>(bits);
            for (int k = 0; k < vs.Length; k++)
                if (Vector.EqualsAny(vs[k] & e, e)) return Scalar(bits, exponent, k * Vector<T>.Count);
            i = vs.Length * Vector<T>.Count;
        }
        return Scalar(bits, exponent, i);
    }

    private static long Scalar<T>(ReadOnlySpan<T> bits, T exponent, int from) where T : unmanaged, IBinaryInteger<T>
    {
        for (int i = from; i < bits.Length; i++)
            if ((bits[i] & exponent) == exponent) return i;
        return -1;
    }
}
