using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LLaDA.Tensors.Cpu;

/// <summary>Stores for bandwidth-bound loops: large outputs bypass the cache (non-temporal stores), which saves the read-for-ownership of every written line.</summary>
/// <remarks>
/// Writing a fresh line normally costs a read of it first; for an output far larger than the caches that read is pure
/// waste (25 % of an a + b → y loop's traffic). Below <see cref="Threshold"/> bytes the output likely stays in L3 for
/// the next op, so ordinary stores win there.
/// </remarks>
internal static unsafe class CpuStream
{
    /// <summary>Outputs at least this large use non-temporal stores (half the 32 MiB L3 of our machines).</summary>
    public const long Threshold = 16L << 20;

    public static bool Use(long outputBytes) => outputBytes >= Threshold && Sse.IsSupported;

    /// <summary>Elements to process one by one before <paramref name="y"/> reaches 32-byte alignment.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Head(float* y, long n) => Math.Min(n, ((32 - ((nint)y & 31)) & 31) / 4);

    /// <summary>Elements to process one by one before <paramref name="y"/> reaches 64-byte alignment (for Vector512 stores).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Head64(float* y, long n) => Math.Min(n, ((64 - ((nint)y & 63)) & 63) / 4);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> v, float* p, bool nonTemporal)
    {
        if (nonTemporal) Vector512.StoreAlignedNonTemporal(v, p);
        else Vector512.Store(v, p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> v, float* p, bool nonTemporal)
    {
        if (nonTemporal) Vector256.StoreAlignedNonTemporal(v, p);
        else Vector256.Store(v, p);
    }

    /// <summary>Orders non-temporal stores before anything that follows (other threads read the output next).</summary>
    public static void Fence(bool nonTemporal)
    {
        if (nonTemporal) Sse.StoreFence();
    }
}
