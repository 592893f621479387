using System.IO.MemoryMappedFiles;

namespace LLaDA.Nn.Serialization;

/// <summary>A safetensors file memory-mapped read-only: tensors are views into the page cache, used in place in their
/// stored dtype; the mapping lives while any tensor over it does (each holds a lease) and is closed with the last one.</summary>
/// <remarks>Nothing is read at mapping time: pages are faulted in by the first forward that touches them, and the kernel
/// may drop them again under memory pressure (they are file-backed, never swap). The weights are never written.</remarks>
internal sealed unsafe class MappedShard
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private int _leases;

    private MappedShard(MemoryMappedFile file, MemoryMappedViewAccessor view, byte* @base, long length)
    {
        _file = file;
        _view = view;
        _base = @base;
        Length = length;
    }

    /// <summary>Bytes mapped (the whole file).</summary>
    public long Length { get; }

    /// <summary>True once the last lease was returned and the mapping closed.</summary>
    public bool IsClosed { get; private set; }

    /// <summary>Maps a whole regular file of <paramref name="expectedLength"/> bytes (the length its header was validated
    /// against): a file that shrank since would fault on access, so a different length is an error here.</summary>
    public static MappedShard Open(string path, long expectedLength)
    {
        using var fs = InputFile.OpenRead(path, "safetensors file");
        if (fs.Length != expectedLength)
            throw new CheckpointException($"{path}: file is {fs.Length} bytes but its header was validated for {expectedLength} (changed while loading?)");
        var file = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        try
        {
            var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new MappedShard(file, view, p + view.PointerOffset, expectedLength);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Address of byte <paramref name="offset"/> with a lease that keeps the mapping open until disposed.</summary>
    public (nint Pointer, IDisposable Lease) Lease(long offset)
    {
        lock (this)
        {
            if (IsClosed) throw new ObjectDisposedException(nameof(MappedShard));
            _leases++;
        }
        return ((nint)(_base + offset), new LeaseHandle(this));
    }

    private void Return()
    {
        lock (this)
        {
            if (--_leases > 0) return;
            IsClosed = true;
        }
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    private sealed class LeaseHandle(MappedShard shard) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) shard.Return();
        }
    }
}
