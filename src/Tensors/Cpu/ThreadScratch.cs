using System;
using System.Runtime.InteropServices;

namespace LLaDA.Tensors.Cpu;

/// <summary>Per-thread native scratch block that kernels carve into 64-byte-aligned float buffers: one block per thread, grown on demand, reused forever.</summary>
/// <remarks>
/// Why native and per thread: tile buffers are needed by every work item on every call; allocating them from the GC
/// would allocate per call, and sharing them would need locks. A [ThreadStatic] holder gives each pool thread its own
/// block with no synchronisation; after the first call of the largest shape no new pages are touched (a first touch
/// costs 12–18 µs per 4 KiB page on these machines). The finalizer frees the block when its thread dies.
/// Usage: <c>var s = ThreadScratch.Begin(totalFloats); float* x = s.Take(n); …</c> — Begin resets the carve pointer,
/// so a work item must call Begin once with the sum of its <see cref="Size"/>s and not hold pointers across items.
/// </remarks>
internal sealed unsafe class ThreadScratch
{
    private const int Alignment = 64;              // one cache line = one Vector512
    private const int AlignFloats = Alignment / sizeof(float);

    [ThreadStatic] private static ThreadScratch? _current;

    private float* _block;
    private long _capacity;                        // floats
    private long _used;                            // floats

    /// <summary>The calling thread's scratch, with capacity for at least totalFloats (as counted by <see cref="Size"/>) and nothing taken yet.</summary>
    public static ThreadScratch Begin(long totalFloats)
    {
        ThreadScratch s = _current ??= new ThreadScratch();
        if (s._capacity < totalFloats)
        {
            if (s._block != null) NativeMemory.AlignedFree(s._block);
            // Round up generously so that shapes which differ a little do not regrow the block.
            long capacity = Math.Max(totalFloats + totalFloats / 4, 16 * 1024);
            s._block = (float*)NativeMemory.AlignedAlloc((nuint)(capacity * sizeof(float)), Alignment);
            s._capacity = capacity;
        }
        s._used = 0;
        return s;
    }

    /// <summary>Floats that a buffer of n floats occupies in the block, n rounded up to whole cache lines.</summary>
    public static long Size(long n) => (n + AlignFloats - 1) / AlignFloats * AlignFloats;

    /// <summary>A 64-byte-aligned buffer of n floats (contents undefined).</summary>
    public float* Take(long n)
    {
        long size = Size(n);
        if (_used + size > _capacity) throw new InvalidOperationException("ThreadScratch: Take exceeds the size passed to Begin.");
        float* p = _block + _used;
        _used += size;
        return p;
    }

    ~ThreadScratch()
    {
        if (_block != null) NativeMemory.AlignedFree(_block);
    }
}
