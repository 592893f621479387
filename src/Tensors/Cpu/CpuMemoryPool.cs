using System.Runtime.InteropServices;

namespace LLaDA.Tensors.Cpu;

/// <summary>Reuses 64-byte-aligned native blocks by size class so a steady-state training step touches no fresh pages.</summary>
/// <remarks>
/// A first touch of a fresh 4 KiB page costs 12–18 µs on our machines (a fresh 32 MiB tensor ≈ 100 ms), more than the
/// GEMM that fills it, so memory is never returned to the OS unless <see cref="Trim"/> is called. Size classes are
/// eight steps per power of two (≤ 12.5 % slack), so tensors of nearly equal size share blocks.
/// </remarks>
public sealed unsafe class CpuMemoryPool
{
    private readonly Dictionary<long, Stack<nint>> _free = new();
    private readonly List<long> _classes = new(); // sorted keys of _free
    private readonly object _lock = new();

    /// <summary>Bytes currently handed out.</summary>
    public long BytesInUse { get; private set; }

    /// <summary>The largest <see cref="BytesInUse"/> since the last <see cref="ResetPeak"/> (a step's high-water mark).</summary>
    public long PeakBytesInUse { get; private set; }

    /// <summary>Starts a new high-water measurement at the current use.</summary>
    public void ResetPeak()
    {
        lock (_lock) PeakBytesInUse = BytesInUse;
    }

    /// <summary>Bytes held by the pool (in use + free).</summary>
    public long BytesReserved { get; private set; }

    /// <summary>Bytes ever obtained from the OS (grows only when the pool misses).</summary>
    public long FreshBytes { get; private set; }

    /// <summary>Number of blocks ever obtained from the OS.</summary>
    public long FreshBlocks { get; private set; }

    /// <summary>Largest ratio of a reused idle block's size to the request.</summary>
    public const double MaxOversize = 2.0;

    /// <summary>Rounds a request up to its size class: eight classes per power of two, at least 64 bytes.</summary>
    public static long SizeClass(long bytes)
    {
        if (bytes <= 64) return 64;
        long p = 1L << (63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)));
        long step = Math.Max(p / 8, 64);
        return (bytes + step - 1) / step * step;
    }

    /// <summary>Whether Rent and Return add their wall time to <see cref="TimedTicks"/> (off by default; `llada bench train --profile`).</summary>
    public static bool Timing { get; set; }

    /// <summary>Stopwatch ticks spent in Rent and Return (including fresh OS allocations) while <see cref="Timing"/> is on.</summary>
    public long TimedTicks => Interlocked.Read(ref _timedTicks);

    private long _timedTicks;

    /// <summary>A block of at least <paramref name="bytes"/> bytes; <paramref name="classBytes"/> is its true size, to be passed back to <see cref="Return"/>.</summary>
    public nint Rent(long bytes, out long classBytes)
    {
        if (!Timing) return RentCore(bytes, out classBytes);
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        nint p = RentCore(bytes, out classBytes);
        Interlocked.Add(ref _timedTicks, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
        return p;
    }

    private nint RentCore(long bytes, out long classBytes)
    {
        long want = SizeClass(bytes);
        lock (_lock)
        {
            // Smallest idle class ≥ want, within MaxOversize.
            int i = _classes.BinarySearch(want);
            if (i < 0) i = ~i;
            for (; i < _classes.Count && _classes[i] <= want * MaxOversize; i++)
            {
                var stack = _free[_classes[i]];
                if (stack.Count == 0) continue;
                classBytes = _classes[i];
                BytesInUse += classBytes;
                if (BytesInUse > PeakBytesInUse) PeakBytesInUse = BytesInUse;
                return stack.Pop();
            }
            classBytes = want;
            BytesInUse += classBytes;
            if (BytesInUse > PeakBytesInUse) PeakBytesInUse = BytesInUse;
            BytesReserved += classBytes;
            FreshBytes += classBytes;
            FreshBlocks++;
        }
        return (nint)NativeMemory.AlignedAlloc((nuint)classBytes, 64);
    }

    /// <summary>Gives a block back for reuse.</summary>
    public void Return(nint ptr, long classBytes)
    {
        long t0 = Timing ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        ReturnCore(ptr, classBytes);
        if (t0 != 0) Interlocked.Add(ref _timedTicks, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
    }

    private void ReturnCore(nint ptr, long classBytes)
    {
        lock (_lock)
        {
            BytesInUse -= classBytes;
            if (!_free.TryGetValue(classBytes, out var stack))
            {
                _free[classBytes] = stack = new Stack<nint>();
                int i = _classes.BinarySearch(classBytes);
                _classes.Insert(~i, classBytes);
            }
            stack.Push(ptr);
        }
    }

    /// <summary>Frees every idle block back to the OS.</summary>
    public void Trim()
    {
        lock (_lock)
        {
            foreach (var (size, stack) in _free)
                while (stack.Count > 0)
                {
                    NativeMemory.AlignedFree((void*)stack.Pop());
                    BytesReserved -= size;
                }
        }
    }
}

/// <summary>CPU storage: a pooled, 64-byte-aligned native block, or memory owned by someone else (a memory-mapped checkpoint shard).</summary>
public sealed unsafe class CpuStorage : Storage
{
    private readonly CpuMemoryPool? _pool;
    private readonly long _classBytes;
    private readonly IDisposable? _owner;
    private nint _ptr;

    internal CpuStorage(CpuBackend backend, CpuMemoryPool pool, long elements, DType dtype) : base(backend, elements, dtype)
    {
        _pool = pool;
        _ptr = pool.Rent(Math.Max(1, elements * dtype.SizeOf()), out _classBytes);
    }

    /// <summary>Storage over external memory kept valid by <paramref name="owner"/>, which is disposed when the last view goes.</summary>
    internal CpuStorage(CpuBackend backend, nint pointer, long elements, DType dtype, IDisposable owner) : base(backend, elements, dtype)
    {
        _ptr = pointer != 0 ? pointer : throw new ArgumentException("external storage needs a non-null pointer", nameof(pointer));
        _owner = owner;
    }

    /// <summary>True for storage over external memory (never written by the model: a mapped checkpoint's weights).</summary>
    public bool IsExternal => _owner is not null;

    /// <summary>Address of element 0.</summary>
    public byte* Pointer => _ptr != 0 ? (byte*)_ptr : throw new ObjectDisposedException(nameof(CpuStorage));

    protected override void Free()
    {
        var p = Interlocked.Exchange(ref _ptr, 0);
        if (p == 0) return;
        if (_owner is not null) _owner.Dispose();
        else _pool!.Return(p, _classBytes);
    }
}
