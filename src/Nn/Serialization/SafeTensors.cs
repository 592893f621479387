using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LLaDA.Tensors;

namespace LLaDA.Nn.Serialization;

/// <summary>A malformed, truncated or inconsistent checkpoint file; the message names the file, the tensor and the problem.</summary>
public sealed class CheckpointException(string message) : Exception(message);

/// <summary>One tensor entry of a safetensors header.</summary>
public sealed record SafeTensorInfo(string Name, DType DType, int[] Shape, long Begin, long End)
{
    public long Numel => Shape.Aggregate(1L, (p, s) => p * s);
}

/// <summary>Reads a .safetensors file: 8-byte little-endian header length, a JSON header, then the byte buffer; every header value is validated against the file before anything is allocated from it.</summary>
/// <remarks>Format: https://github.com/huggingface/safetensors (offsets are relative to the end of the header; entries must tile the buffer with no gaps or overlaps).</remarks>
public sealed class SafeTensorsFile
{
    /// <summary>Largest header we accept (the format's own reference reader caps it at 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private MappedShard? _map;

    private SafeTensorsFile(string path, long fileLength, long dataStart, List<SafeTensorInfo> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        FileLength = fileLength;
        DataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
        _byName = entries.ToDictionary(e => e.Name);
    }

    public string Path { get; }

    /// <summary>File size the header was validated against.</summary>
    public long FileLength { get; }

    public long DataStart { get; }
    public IReadOnlyList<SafeTensorInfo> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafeTensorInfo this[string name] => _byName.TryGetValue(name, out var e) ? e : throw new CheckpointException($"{Path}: no tensor '{name}'");

    /// <summary>Parses and fully validates the header of a file.</summary>
    public static SafeTensorsFile Open(string path)
    {
        using var fs = InputFile.OpenRead(path, "safetensors file");
        long fileLength = fs.Length;
        if (fileLength < 8) throw new CheckpointException($"{path}: truncated file ({fileLength} bytes; a safetensors file starts with an 8-byte header length)");
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLen > MaxHeaderBytes) throw new CheckpointException($"{path}: header length {headerLen} exceeds the {MaxHeaderBytes}-byte limit (corrupt or not a safetensors file)");
        if ((long)headerLen > fileLength - 8) throw new CheckpointException($"{path}: header length {headerLen} runs past the end of the file ({fileLength} bytes): truncated");
        var header = new byte[headerLen];
        fs.ReadExactly(header);
        long dataStart = 8 + (long)headerLen;
        long dataLength = fileLength - dataStart;

        // JsonDocument does not check the UTF-8 inside strings (a tensor name would throw on reading); check the whole header first.
        try
        {
            new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(header);
        }
        catch (DecoderFallbackException e)
        {
            throw new CheckpointException($"{path}: header is not valid UTF-8 (byte {8 + e.Index})");
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: header is not valid JSON ({e.Message})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new CheckpointException($"{path}: header must be a JSON object");
            var entries = new List<SafeTensorInfo>();
            var metadata = new Dictionary<string, string>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (prop.Name == "__metadata__")
                    {
                        if (prop.Value.ValueKind != JsonValueKind.Object) throw new CheckpointException($"{path}: __metadata__ must be an object of strings");
                        foreach (var m in prop.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw new CheckpointException($"{path}: __metadata__ value '{m.Name}' is not a string");
                        continue;
                    }
                    if (!names.Add(prop.Name)) throw new CheckpointException($"{path}: tensor name '{prop.Name}' appears twice in the header");
                    entries.Add(ParseEntry(path, prop));
                }
            }
            catch (InvalidOperationException e)
            {
                // Valid JSON whose strings cannot become .NET strings: an escaped lone surrogate such as "\ud800".
                throw new CheckpointException($"{path}: header holds an invalid string ({e.Message})");
            }
            // Entries must tile [0, dataLength) exactly: no gaps, no overlaps, nothing past the end.
            var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
            long expect = 0;
            foreach (var e in sorted)
            {
                if (e.Begin != expect)
                    throw new CheckpointException(e.Begin < expect
                        ? $"{path}: tensor '{e.Name}' overlaps the previous tensor (offset {e.Begin} < {expect})"
                        : $"{path}: gap in the data buffer before tensor '{e.Name}' (offset {e.Begin}, expected {expect})");
                expect = e.End;
            }
            if (expect > dataLength)
            {
                var cut = sorted.First(e => e.End > dataLength);
                throw new CheckpointException($"{path}: truncated: tensor '{cut.Name}' needs bytes [{cut.Begin}, {cut.End}) of the data buffer but the file holds {dataLength}");
            }
            if (expect < dataLength) throw new CheckpointException($"{path}: {dataLength - expect} trailing bytes after the last tensor");
            return new SafeTensorsFile(path, fileLength, dataStart, entries, metadata);
        }
    }

    private static SafeTensorInfo ParseEntry(string path, JsonProperty prop)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new CheckpointException($"{path}: tensor '{name}': entry must be an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw new CheckpointException($"{path}: tensor '{name}': missing dtype");
        DType dtype = dt.GetString() switch
        {
            "F32" => DType.F32,
            "BF16" => DType.BF16,
            "F16" => DType.F16,
            "I32" => DType.I32,
            var other => throw new CheckpointException($"{path}: tensor '{name}': unsupported dtype '{other}' (supported: F32, BF16, F16, I32)"),
        };
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw new CheckpointException($"{path}: tensor '{name}': missing shape");
        var shape = new List<int>();
        long numel = 1;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0 || dim > int.MaxValue)
                throw new CheckpointException($"{path}: tensor '{name}': invalid dimension {d} in shape");
            shape.Add((int)dim);
            try { numel = checked(numel * dim); }
            catch (OverflowException) { throw new CheckpointException($"{path}: tensor '{name}': shape overflows"); }
        }
        if (shape.Count > 8) throw new CheckpointException($"{path}: tensor '{name}': rank {shape.Count} is too large");
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new CheckpointException($"{path}: tensor '{name}': data_offsets must be [begin, end]");
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new CheckpointException($"{path}: tensor '{name}': invalid data_offsets [{off[0]}, {off[1]}]");
        long bytes;
        try { bytes = checked(numel * dtype.SizeOf()); }
        catch (OverflowException) { throw new CheckpointException($"{path}: tensor '{name}': size overflows"); }
        if (end - begin != bytes)
            throw new CheckpointException($"{path}: tensor '{name}': shape [{string.Join(", ", shape)}] of {dtype} needs {bytes} bytes but data_offsets span {end - begin}");
        return new SafeTensorInfo(name, dtype, shape.ToArray(), begin, end);
    }

    /// <summary>One floating-point tensor in its stored dtype as a view into the memory-mapped file (nothing is copied; see
    /// <see cref="MappedShard"/>). Its values are scanned once for NaN/±Inf (one vectorized pass over the mapped bytes, which
    /// also faults in the pages the first forward needs): a non-finite weight is an error naming the tensor.</summary>
    public Tensor Map(string name, LLaDA.Tensors.Cpu.CpuBackend backend)
    {
        var e = this[name];
        if (!e.DType.IsFloat()) throw new CheckpointException($"{Path}: tensor '{name}' has dtype {e.DType}, expected a floating-point type");
        nint pointer;
        IDisposable lease;
        lock (_byName)
        {
            if (_map is null || _map.IsClosed) _map = MappedShard.Open(Path, FileLength);
            (pointer, lease) = _map.Lease(DataStart + e.Begin);
        }
        try
        {
            const long chunk = 1L << 30; // whole elements of every dtype
            for (long at = 0; at < e.End - e.Begin; at += chunk)
            {
                int len = (int)Math.Min(chunk, e.End - e.Begin - at);
                long bad;
                unsafe
                {
                    bad = NonFinite.FirstIndex(new ReadOnlySpan<byte>((byte*)pointer + at, len), e.DType);
                }
                if (bad >= 0) throw new CheckpointException($"{Path}: tensor '{name}' holds a non-finite value (NaN or ±Inf) at element {at / e.DType.SizeOf() + bad}: the checkpoint is corrupt or training diverged");
            }
            return Tensor.FromStorage(backend.Wrap(pointer, e.Numel, e.DType, lease), e.Shape);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>Reads one tensor in its stored dtype; a NaN or ±Inf in floating-point data is an error naming the tensor (one vectorized pass over the bytes).</summary>
    public Tensor Read(string name, IBackend? backend = null)
    {
        var e = this[name];
        var bytes = new byte[e.End - e.Begin];
        using (var fs = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            fs.Seek(DataStart + e.Begin, SeekOrigin.Begin);
            fs.ReadExactly(bytes);
        }
        long bad = NonFinite.FirstIndex(bytes, e.DType);
        if (bad >= 0) throw new CheckpointException($"{Path}: tensor '{name}' holds a non-finite value (NaN or ±Inf) at element {bad}: the checkpoint is corrupt or training diverged");
        // safetensors is little-endian, as are our targets.
        return e.DType switch
        {
            DType.F32 => Tensor.FromSpan<float>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes), e.Shape, DType.F32, backend),
            DType.I32 => Tensor.FromSpan<int>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(bytes), e.Shape, DType.I32, backend),
            _ => Tensor.FromSpan<ushort>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes), e.Shape, e.DType, backend),
        };
    }
}

/// <summary>A tensor to be written: its header entry now, its data only when the writer reaches it (so a checkpoint larger
/// than memory can be written one tensor at a time). <see cref="Produce"/> returns a tensor of <see cref="Shape"/> and
/// <see cref="DType"/>, which the writer disposes; or, when <see cref="Produce"/> is null, <see cref="Emit"/> writes the
/// tensor's <see cref="Bytes"/> little-endian bytes straight to the file in pieces of its choosing, so not even one
/// whole tensor is held in memory (the synthetic 8B's 1 GB embedding).</summary>
public sealed record PendingTensor(string Name, int[] Shape, DType DType, Func<Tensor>? Produce)
{
    public long Bytes => Shape.Aggregate(1L, (p, s) => p * s) * DType.SizeOf();

    /// <summary>Writes the data bytes to the stream (used when <see cref="Produce"/> is null); the writer checks the count.</summary>
    public Action<Stream>? Emit { get; init; }

    /// <summary>A tensor whose bytes <paramref name="emit"/> writes piece by piece.</summary>
    public static PendingTensor Streamed(string name, int[] shape, DType dtype, Action<Stream> emit) => new(name, shape, dtype, null) { Emit = emit };
}

/// <summary>Writes .safetensors files atomically (temp file + rename), optionally converting F32 tensors to BF16/F16.</summary>
public static class SafeTensorsWriter
{
    /// <summary>Writes the tensors in the given order; <paramref name="storeAs"/> converts floating-point tensors (null keeps each dtype).</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null, DType? storeAs = null)
        => Write(path, Pending(tensors, storeAs).ToList(), metadata);

    /// <summary>The pending form of existing tensors (converted to <paramref name="storeAs"/> when they are floating point).</summary>
    public static IEnumerable<PendingTensor> Pending(IEnumerable<(string Name, Tensor Tensor)> tensors, DType? storeAs = null)
    {
        foreach (var (name, t) in tensors)
        {
            var d = storeAs is { } s && t.DType.IsFloat() ? s : t.DType;
            yield return new PendingTensor(name, t.ShapeArray(), d, () => t.Contiguous(d));
        }
    }

    /// <summary>Writes pending tensors in the given order, producing each one's data only when it is written.</summary>
    public static void Write(string path, IReadOnlyList<PendingTensor> items, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var seen = new HashSet<string>();
        foreach (var item in items)
            if (!seen.Add(item.Name)) throw new CheckpointException($"{path}: tensor name '{item.Name}' appears twice");
        // Header: name → {dtype, shape, data_offsets}, then optional __metadata__.
        var sb = new StringBuilder("{");
        long offset = 0;
        bool first = true;
        if (metadata is { Count: > 0 })
        {
            sb.Append("\"__metadata__\":").Append(JsonSerializer.Serialize(metadata));
            first = false;
        }
        foreach (var item in items)
        {
            long bytes = item.Bytes;
            if (!first) sb.Append(',');
            first = false;
            sb.Append(JsonSerializer.Serialize(item.Name)).Append(":{\"dtype\":\"").Append(item.DType.Name()).Append("\",\"shape\":[")
              .Append(string.Join(",", item.Shape)).Append("],\"data_offsets\":[").Append(offset).Append(',').Append(offset + bytes).Append("]}");
            offset += bytes;
        }
        sb.Append('}');
        // Pad the header with spaces to a multiple of 8 so the buffer starts aligned.
        while ((Encoding.UTF8.GetByteCount(sb.ToString()) % 8) != 0) sb.Append(' ');
        var header = Encoding.UTF8.GetBytes(sb.ToString());

        AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            fs.Write(len);
            fs.Write(header);
            foreach (var item in items)
            {
                if (item.Produce is null)
                {
                    long start = fs.Position;
                    (item.Emit ?? throw new CheckpointException($"{path}: tensor '{item.Name}' has neither data nor an emitter"))(fs);
                    if (fs.Position - start != item.Bytes)
                        throw new CheckpointException($"{path}: tensor '{item.Name}' was announced as {item.Bytes} bytes but {fs.Position - start} were written");
                    continue;
                }
                using var c = item.Produce();
                if (c.DType != item.DType || !c.Shape.SequenceEqual(item.Shape) || !c.IsContiguous)
                    throw new CheckpointException($"{path}: tensor '{item.Name}' was announced as {item.DType} [{string.Join(", ", item.Shape)}] but produced {c.DType} [{string.Join(", ", c.ShapeArray())}]");
                long total = c.Numel * item.DType.SizeOf();
                var host = new byte[total];
                switch (item.DType)
                {
                    case DType.F32: c.Backend.Download(c, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(host.AsSpan())); break;
                    case DType.I32: c.Backend.Download(c, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(host.AsSpan())); break;
                    default: c.Backend.Download(c, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(host.AsSpan())); break;
                }
                fs.Write(host);
            }
        }, bufferSize: 1 << 20);
    }
}
