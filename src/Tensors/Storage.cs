namespace LLaDA.Tensors;

/// <summary>A block of backend memory shared by reference-counted tensor views; freed (returned to the pool) when the last view is disposed.</summary>
public abstract class Storage
{
    private int _refs = 1;

    protected Storage(IBackend backend, long elements, DType dtype)
    {
        Backend = backend;
        Elements = elements;
        DType = dtype;
    }

    public IBackend Backend { get; }

    /// <summary>Capacity in elements of <see cref="DType"/>.</summary>
    public long Elements { get; }

    public DType DType { get; }

    public long ByteLength => Elements * DType.SizeOf();

    /// <summary>Live references (views) to this storage.</summary>
    public int RefCount => Volatile.Read(ref _refs);

    internal void Retain()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
            throw new ObjectDisposedException(nameof(Storage), "retained a storage that was already freed");
    }

    internal void Release()
    {
        int r = Interlocked.Decrement(ref _refs);
        if (r == 0) Free();
        else if (r < 0) throw new ObjectDisposedException(nameof(Storage), "released a storage more times than it was retained");
    }

    /// <summary>Returns the memory to the backend (pool).</summary>
    protected abstract void Free();
}
