using LLaDA.Tensors.Cpu;

namespace LLaDA.Tensors;

/// <summary>An n-dimensional view (shape, strides, offset, dtype) over reference-counted backend storage.</summary>
/// <remarks>
/// Views share storage and cost O(rank). Dispose releases this view's reference; the storage returns to its backend's
/// pool when the last view goes. Tensors created while a <see cref="TensorScope"/> is open belong to it.
/// </remarks>
public sealed partial class Tensor : IDisposable
{
    private Storage? _storage;

    internal TensorScope? Owner;

    /// <summary>Wraps storage in a view; takes over one reference to <paramref name="storage"/> unless <paramref name="retain"/> adds one.</summary>
    internal Tensor(Storage storage, Layout layout, bool retain)
    {
        if (retain) storage.Retain();
        _storage = storage;
        Layout = layout;
        TensorScope.Current?.Add(this);
    }

    public Layout Layout { get; }

    public DType DType => Storage.DType;

    /// <summary>The storage; throws when the tensor was disposed.</summary>
    public Storage Storage => _storage ?? throw new ObjectDisposedException(nameof(Tensor), $"tensor {Check.Fmt(Layout.Shape)} was used after Dispose (or after its TensorScope closed; use KeepAlive to move it out)");

    public IBackend Backend => Storage.Backend;

    public ReadOnlySpan<int> Shape => Layout.Shape;

    public ReadOnlySpan<long> Strides => Layout.Strides;

    public int Rank => Layout.Rank;

    public long Numel => Layout.Numel;

    public bool IsContiguous => Layout.IsContiguous;

    public bool IsDisposed => _storage is null;

    /// <summary>Size of one dim (negative counts from the end).</summary>
    public int Dim(int dim) => Layout.ShapeArr[Check.Dim("Dim", dim, Rank)];

    /// <summary>The shape seen as (outer, size of <paramref name="dim"/>, inner): how backends walk a reduction along one dim.</summary>
    public (long Outer, int Size, long Inner) SplitAt(int dim)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= Shape[i];
        for (int i = dim + 1; i < Rank; i++) inner *= Shape[i];
        return (outer, Shape[dim], inner);
    }

    /// <summary>A copy of the shape.</summary>
    public int[] ShapeArray() => (int[])Layout.ShapeArr.Clone();

    public void Dispose()
    {
        var s = Interlocked.Exchange(ref _storage, null);
        s?.Release();
    }

    /// <summary>Moves this tensor out of its scope into the enclosing one (or to no scope) so it survives the scope's end.</summary>
    public Tensor KeepAlive()
    {
        var owner = Owner;
        if (owner is null) return this;
        Owner = null;
        owner.Parent?.Add(this);
        return this;
    }

    /// <summary>Removes this tensor from every scope: the caller disposes it.</summary>
    public Tensor Detach()
    {
        Owner = null;
        return this;
    }

    // ---------------------------------------------------------------- creation

    /// <summary>An uninitialised contiguous tensor.</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.F32, IBackend? backend = null)
    {
        backend ??= CpuBackend.Default;
        var layout = Layout.Contiguous(shape);
        return new Tensor(backend.Allocate(layout.Numel, dtype), layout, retain: false);
    }

    /// <summary>A contiguous tensor over existing storage (e.g. <see cref="CpuBackend.Wrap"/>); takes over the caller's reference.</summary>
    public static Tensor FromStorage(Storage storage, ReadOnlySpan<int> shape)
    {
        var layout = Layout.Contiguous(shape);
        if (layout.Numel > storage.Elements)
            throw new TensorException($"FromStorage: shape {Check.Fmt(shape)} needs {layout.Numel} elements but the storage holds {storage.Elements}");
        return new Tensor(storage, layout, retain: false);
    }

    /// <summary>An uninitialised tensor with the shape, dtype and backend of <paramref name="like"/>.</summary>
    public static Tensor EmptyLike(Tensor like, DType? dtype = null) => Empty(like.Shape, dtype ?? like.DType, like.Backend);

    /// <summary>A tensor filled with one value.</summary>
    public static Tensor Full(ReadOnlySpan<int> shape, float value, DType dtype = DType.F32, IBackend? backend = null)
    {
        var t = Empty(shape, dtype, backend);
        t.Backend.Fill(t, value);
        return t;
    }

    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.F32, IBackend? backend = null) => Full(shape, 0f, dtype, backend);

    public static Tensor Ones(ReadOnlySpan<int> shape, DType dtype = DType.F32, IBackend? backend = null) => Full(shape, 1f, dtype, backend);

    public static Tensor ZerosLike(Tensor like) => Full(like.Shape, 0f, like.DType, like.Backend);

    /// <summary>A 0-d (scalar) F32 tensor.</summary>
    public static Tensor Scalar(float value, IBackend? backend = null) => Full([], value, DType.F32, backend);

    /// <summary>An F32 tensor holding a copy of <paramref name="data"/> (row-major) with the given shape.</summary>
    public static Tensor FromArray(float[] data, ReadOnlySpan<int> shape, IBackend? backend = null) => FromSpan<float>(data, shape, DType.F32, backend);

    /// <summary>An I32 tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    public static Tensor FromArray(int[] data, ReadOnlySpan<int> shape, IBackend? backend = null) => FromSpan<int>(data, shape, DType.I32, backend);

    /// <summary>A 1-d F32 tensor.</summary>
    public static Tensor FromArray(float[] data, IBackend? backend = null) => FromArray(data, [data.Length], backend);

    /// <summary>A 1-d I32 tensor.</summary>
    public static Tensor FromArray(int[] data, IBackend? backend = null) => FromArray(data, [data.Length], backend);

    /// <summary>A tensor of the given dtype from raw host values whose element size matches the dtype (ushort for BF16/F16).</summary>
    public static Tensor FromSpan<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> shape, DType dtype, IBackend? backend = null) where T : unmanaged
    {
        if (System.Runtime.CompilerServices.Unsafe.SizeOf<T>() != dtype.SizeOf())
            throw new TensorException($"FromSpan: {typeof(T).Name} does not match dtype {dtype}");
        var t = Empty(shape, dtype, backend);
        if (data.Length != t.Numel)
        {
            t.Dispose();
            throw new TensorException($"FromSpan: {data.Length} values given for shape {Check.Fmt(shape)} ({t.Numel} elements)");
        }
        t.Backend.Upload(data, t);
        return t;
    }

    /// <summary>0, 1, …, n−1 as F32 (or I32).</summary>
    public static Tensor Arange(int n, DType dtype = DType.F32, IBackend? backend = null)
    {
        if (dtype == DType.I32)
        {
            var a = new int[n];
            for (int i = 0; i < n; i++) a[i] = i;
            return FromSpan<int>(a, [n], DType.I32, backend);
        }
        var f = new float[n];
        for (int i = 0; i < n; i++) f[i] = i;
        return FromSpan<float>(f, [n], DType.F32, backend);
    }

    /// <summary>U[0,1) from Philox (seed, counter offset): the same numbers on every backend.</summary>
    public static Tensor Rand(ReadOnlySpan<int> shape, ulong seed, ulong offset = 0, IBackend? backend = null)
    {
        var t = Empty(shape, DType.F32, backend);
        t.Backend.RandomUniform(t, seed, offset);
        return t;
    }

    /// <summary>N(0,1) from Philox (seed, counter offset): the same numbers on every backend.</summary>
    public static Tensor Randn(ReadOnlySpan<int> shape, ulong seed, ulong offset = 0, IBackend? backend = null)
    {
        var t = Empty(shape, DType.F32, backend);
        t.Backend.RandomNormal(t, seed, offset);
        return t;
    }

    // ---------------------------------------------------------------- reading back

    /// <summary>All elements in row-major order as F32 (I32/BF16/F16 converted).</summary>
    public float[] ToArray()
    {
        var res = new float[Numel];
        if (DType == DType.F32 && IsContiguous) Backend.Download<float>(this, res);
        else
        {
            using var c = Contiguous(DType.F32);
            c.Backend.Download<float>(c, res);
        }
        return res;
    }

    /// <summary>All elements of an I32 tensor in row-major order.</summary>
    public int[] ToIntArray()
    {
        var res = new int[Numel];
        if (DType == DType.I32 && IsContiguous) Backend.Download<int>(this, res);
        else
        {
            using var c = Contiguous(DType.I32);
            c.Backend.Download<int>(c, res);
        }
        return res;
    }

    /// <summary>The single value of a one-element tensor.</summary>
    public float Item()
    {
        if (Numel != 1) throw new TensorException($"Item: tensor has shape {Check.Fmt(Shape)}, not one element");
        return ToArray()[0];
    }

    /// <summary>Copies into another backend (or returns this when it already lives there).</summary>
    public Tensor To(IBackend backend)
    {
        if (ReferenceEquals(backend, Backend)) return View(Layout);
        using var c = Contiguous();
        var dst = Empty(Shape, DType, backend);
        switch (DType)
        {
            case DType.F32:
            {
                var h = new float[Numel];
                c.Backend.Download<float>(c, h);
                backend.Upload<float>(h, dst);
                break;
            }
            case DType.I32:
            {
                var h = new int[Numel];
                c.Backend.Download<int>(c, h);
                backend.Upload<int>(h, dst);
                break;
            }
            default:
            {
                var h = new ushort[Numel];
                c.Backend.Download<ushort>(c, h);
                backend.Upload<ushort>(h, dst);
                break;
            }
        }
        return dst;
    }

    public override string ToString()
    {
        if (IsDisposed) return $"Tensor(disposed, {Check.Fmt(Layout.Shape)})";
        var head = $"Tensor({Check.Fmt(Shape)}, {DType}, {Backend.Name})";
        if (Numel > 64) return head;
        var v = ToArray();
        return head + " [" + string.Join(", ", v.Select(x => x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture))) + "]";
    }
}
