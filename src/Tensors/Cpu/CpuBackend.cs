using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LLaDA.Tensors.Cpu;

/// <summary>The CPU implementation of every primitive: SIMD (Vector512/Vector256 with scalar fallbacks) on both cores, pooled memory.</summary>
/// <remarks>One file per non-trivial kernel family (CpuMatMul, CpuAttention, …); this partial class holds memory and glue.</remarks>
public sealed unsafe partial class CpuBackend : IBackend
{
    /// <summary>The process-wide CPU backend used when no backend is named.</summary>
    public static CpuBackend Default { get; } = new();

    public CpuBackend() => Pool = new CpuMemoryPool();

    public string Name => "cpu";

    /// <summary>The memory pool behind every tensor of this backend (its counters are what benchmarks report).</summary>
    public CpuMemoryPool Pool { get; }

    public Storage Allocate(long elements, DType dtype)
    {
        if (elements < 0) throw new ArgumentOutOfRangeException(nameof(elements));
        return new CpuStorage(this, Pool, elements, dtype);
    }

    /// <summary>Storage over memory this backend does not own (a read-only memory-mapped checkpoint tensor, used in place);
    /// <paramref name="owner"/> keeps the memory valid and is disposed when the last view of the storage goes.</summary>
    public Storage Wrap(nint pointer, long elements, DType dtype, IDisposable owner)
    {
        if (elements < 0) throw new ArgumentOutOfRangeException(nameof(elements));
        return new CpuStorage(this, pointer, elements, dtype, owner);
    }

    public void Dispose() => Pool.Trim();

    // ---------------------------------------------------------------- pointers

    /// <summary>Address of element (0, …, 0) of a CPU tensor.</summary>
    internal static byte* Addr(Tensor t)
    {
        if (t.Storage is not CpuStorage s)
            throw new TensorException($"cpu backend: tensor {Check.Fmt(t.Shape)} lives on {t.Backend.Name}");
        return s.Pointer + t.Layout.Offset * t.DType.SizeOf();
    }

    internal static float* F(Tensor t) => (float*)Addr(t);

    internal static int* I(Tensor t) => (int*)Addr(t);

    /// <summary>A span over a contiguous CPU tensor's elements.</summary>
    public static Span<T> Span<T>(Tensor t) where T : unmanaged
    {
        if (!t.IsContiguous) throw new TensorException($"Span: tensor {Check.Fmt(t.Shape)} is not contiguous");
        if (Unsafe.SizeOf<T>() != t.DType.SizeOf()) throw new TensorException($"Span: {typeof(T).Name} does not match {t.DType}");
        return new Span<T>(Addr(t), checked((int)t.Numel));
    }

    // ---------------------------------------------------------------- host transfer

    public void Upload<T>(ReadOnlySpan<T> src, Tensor dst) where T : unmanaged
    {
        if (!dst.IsContiguous) throw new TensorException("Upload: destination must be contiguous");
        long bytes = (long)src.Length * Unsafe.SizeOf<T>();
        if (bytes != dst.Numel * dst.DType.SizeOf()) throw new TensorException($"Upload: {src.Length} values do not fill {Check.Fmt(dst.Shape)} {dst.DType}");
        fixed (T* p = src) Buffer.MemoryCopy(p, Addr(dst), bytes, bytes);
    }

    public void Download<T>(Tensor src, Span<T> dst) where T : unmanaged
    {
        if (!src.IsContiguous) throw new TensorException("Download: source must be contiguous");
        long bytes = src.Numel * src.DType.SizeOf();
        if (bytes != (long)dst.Length * Unsafe.SizeOf<T>()) throw new TensorException($"Download: {dst.Length} slots for {Check.Fmt(src.Shape)} {src.DType}");
        fixed (T* p = dst) Buffer.MemoryCopy(Addr(src), p, bytes, bytes);
    }

    public void Fill(Tensor dst, float value)
    {
        if (!dst.IsContiguous) throw new TensorException("Fill: destination must be contiguous");
        long n = dst.Numel;
        byte* p = Addr(dst);
        switch (dst.DType)
        {
            case DType.F32:
                CpuParallel.For(n, 4, (s, e) => new Span<float>((float*)p + s, (int)(e - s)).Fill(value));
                break;
            case DType.I32:
                CpuParallel.For(n, 4, (s, e) => new Span<int>((int*)p + s, (int)(e - s)).Fill((int)value));
                break;
            case DType.BF16:
                CpuParallel.For(n, 2, (s, e) => new Span<ushort>((ushort*)p + s, (int)(e - s)).Fill(Half16.ToBf16(value)));
                break;
            case DType.F16:
                CpuParallel.For(n, 2, (s, e) => new Span<ushort>((ushort*)p + s, (int)(e - s)).Fill(BitConverter.HalfToUInt16Bits((Half)value)));
                break;
        }
    }
}

/// <summary>Bit conversions between F32 and the 16-bit storage types.</summary>
public static class Half16
{
    /// <summary>F32 → BF16 with round-to-nearest-even (NaN stays NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7FFFFFFF) > 0x7F800000) return (ushort)((u >> 16) | 0x40); // quiet NaN
        u += 0x7FFF + ((u >> 16) & 1);
        return (ushort)(u >> 16);
    }

    /// <summary>BF16 → F32 (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromBf16(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>F16 bits → F32 (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromF16(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);

    /// <summary>F32 → F16 bits, round-to-nearest-even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToF16(float f) => BitConverter.HalfToUInt16Bits((Half)f);
}
