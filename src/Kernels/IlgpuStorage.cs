using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Kernels;

/// <summary>Reuses device buffers by size class so a steady-state training step allocates nothing on the device.</summary>
/// <remarks>
/// Device memory is invisible to the GC and cudaMalloc/cudaFree synchronise the device, so buffers are never freed while
/// the backend lives (unless <see cref="Trim"/> is called). Size classes and the oversize rule are CpuMemoryPool's
/// (eight classes per power of two; an idle block up to 2× the request is reused). Returning a buffer while kernels that
/// use it are still queued is safe: every launch and copy goes through the one stream, so a later user is ordered after.
/// </remarks>
public sealed class IlgpuMemoryPool : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly Dictionary<long, Stack<MemoryBuffer1D<byte, Stride1D.Dense>>> _free = new();
    private readonly List<long> _classes = new(); // sorted keys of _free
    private readonly HashSet<MemoryBuffer1D<byte, Stride1D.Dense>> _all = new(ReferenceEqualityComparer.Instance);
    private readonly object _lock = new();
    private bool _disposed;

    public IlgpuMemoryPool(Accelerator accelerator) => _accelerator = accelerator;

    /// <summary>Bytes currently handed out.</summary>
    public long BytesInUse { get; private set; }

    /// <summary>Bytes held by the pool (in use + idle).</summary>
    public long BytesReserved { get; private set; }

    /// <summary>Bytes ever allocated on the device (grows only when the pool misses).</summary>
    public long FreshBytes { get; private set; }

    /// <summary>Device allocations ever made.</summary>
    public long FreshBlocks { get; private set; }

    /// <summary>A buffer of at least <paramref name="bytes"/> bytes (contents are garbage).</summary>
    public MemoryBuffer1D<byte, Stride1D.Dense> Rent(long bytes)
    {
        long want = CpuMemoryPool.SizeClass(Math.Max(bytes, 1));
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int i = _classes.BinarySearch(want);
            if (i < 0) i = ~i;
            for (; i < _classes.Count && _classes[i] <= want * CpuMemoryPool.MaxOversize; i++)
            {
                var stack = _free[_classes[i]];
                if (stack.Count == 0) continue;
                BytesInUse += _classes[i];
                return stack.Pop();
            }
            MemoryBuffer1D<byte, Stride1D.Dense> buffer;
            try
            {
                buffer = _accelerator.Allocate1D<byte>(want);
            }
            catch (Exception) when (BytesReserved > BytesInUse)
            {
                // Out of device memory while idle buffers of other sizes are held: free them and try once more.
                TrimLocked();
                buffer = _accelerator.Allocate1D<byte>(want);
            }
            _all.Add(buffer);
            BytesInUse += want;
            BytesReserved += want;
            FreshBytes += want;
            FreshBlocks++;
            return buffer;
        }
    }

    /// <summary>Gives a buffer back for reuse.</summary>
    public void Return(MemoryBuffer1D<byte, Stride1D.Dense> buffer)
    {
        lock (_lock)
        {
            if (_disposed) return; // the backend is gone and freed everything already
            long size = buffer.Length;
            BytesInUse -= size;
            if (!_free.TryGetValue(size, out var stack))
            {
                _free[size] = stack = new Stack<MemoryBuffer1D<byte, Stride1D.Dense>>();
                int i = _classes.BinarySearch(size);
                _classes.Insert(~i, size);
            }
            stack.Push(buffer);
        }
    }

    /// <summary>Frees every idle buffer on the device.</summary>
    public void Trim()
    {
        lock (_lock) TrimLocked();
    }

    private void TrimLocked()
    {
        // Idle buffers may still be read by queued kernels (they were returned before those ran): wait for the device.
        if (BytesReserved > BytesInUse) _accelerator.Synchronize();
        foreach (var (size, stack) in _free)
            while (stack.Count > 0)
            {
                var b = stack.Pop();
                _all.Remove(b);
                b.Dispose();
                BytesReserved -= size;
            }
    }

    /// <summary>Frees every buffer, idle or not (storages still alive become unusable); the caller has synchronised the device.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var b in _all) b.Dispose();
            _all.Clear();
            _free.Clear();
            _classes.Clear();
            BytesInUse = BytesReserved = 0;
        }
    }
}

/// <summary>Storage in a pooled device buffer: raw bytes, viewed as float/int/ushort by the kernels.</summary>
public sealed class IlgpuStorage : Storage
{
    private readonly IlgpuMemoryPool _pool;
    private MemoryBuffer1D<byte, Stride1D.Dense>? _buffer;

    internal IlgpuStorage(IlgpuBackend backend, IlgpuMemoryPool pool, long elements, DType dtype) : base(backend, elements, dtype)
    {
        _pool = pool;
        _buffer = pool.Rent(elements * dtype.SizeOf());
    }

    /// <summary>The storage's bytes (exactly <see cref="Storage.ByteLength"/> of them).</summary>
    public ArrayView<byte> Bytes
    {
        get
        {
            var b = _buffer ?? throw new ObjectDisposedException(nameof(IlgpuStorage), "device storage used after it was freed");
            return ((ArrayView<byte>)b.View).SubView(0, ByteLength);
        }
    }

    /// <summary>The storage as elements of <typeparamref name="T"/> (float for F32, int for I32, ushort for BF16/F16).</summary>
    public ArrayView<T> View<T>() where T : unmanaged => Bytes.Cast<T>();

    protected override void Free()
    {
        var b = Interlocked.Exchange(ref _buffer, null);
        if (b is not null) _pool.Return(b);
    }
}
