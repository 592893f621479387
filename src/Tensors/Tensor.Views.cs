namespace LLaDA.Tensors;

// Views: each shares this tensor's storage (one more reference) and costs O(rank); nothing here copies data except
// Contiguous/Reshape of a non-viewable layout and Cast.
public sealed partial class Tensor
{
    /// <summary>A new view of the same storage with another layout.</summary>
    internal Tensor View(Layout layout) => new(Storage, layout, retain: true);

    /// <summary>Reshape that never copies; throws when the strides do not allow a view (use <see cref="Reshape"/>).</summary>
    public Tensor View(params int[] shape)
    {
        var sh = Layout.InferShape(shape, Numel);
        var l = Layout.TryReshape(sh)
                ?? throw new TensorException($"View: shape {Check.Fmt(Shape)} with strides {Check.Fmt(Array.ConvertAll(Layout.StridesArr, s => (int)s))} cannot be viewed as {Check.Fmt(sh)}; call Reshape (copies) or Contiguous first");
        return View(l);
    }

    /// <summary>Reshape: a view when possible, else a contiguous copy. One entry may be −1.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var sh = Layout.InferShape(shape, Numel);
        var l = Layout.TryReshape(sh);
        if (l is not null) return View(l);
        using var c = Contiguous();
        return c.View(Layout.Contiguous(sh, c.Layout.Offset));
    }

    /// <summary>Reorders dims (result dim i = source dim perm[i]).</summary>
    public Tensor Permute(params int[] perm) => View(Layout.Permute(perm));

    /// <summary>Swaps two dims.</summary>
    public Tensor Transpose(int d0, int d1) => View(Layout.Transpose(d0, d1));

    /// <summary>Transpose of the last two dims.</summary>
    public Tensor MT => Transpose(-2, -1);

    /// <summary>Indices [start, start + length) of one dim.</summary>
    public Tensor Narrow(int dim, int start, int length) => View(Layout.Narrow(dim, start, length));

    /// <summary>One index of a dim, removing the dim.</summary>
    public Tensor Select(int dim, int index) => View(Layout.Select(dim, index));

    /// <summary>Inserts a size-1 dim.</summary>
    public Tensor Unsqueeze(int dim) => View(Layout.Unsqueeze(dim));

    /// <summary>Removes a size-1 dim.</summary>
    public Tensor Squeeze(int dim) => View(Layout.Squeeze(dim));

    /// <summary>Broadcasts to a larger shape with stride-0 dims (no copy).</summary>
    public Tensor Expand(params int[] shape) => View(Layout.BroadcastTo(shape));

    /// <summary>Flattens dims [start, end] into one.</summary>
    public Tensor Flatten(int start = 0, int end = -1)
    {
        start = Check.Dim("Flatten", start, Math.Max(Rank, 1));
        end = Check.Dim("Flatten", end, Math.Max(Rank, 1));
        if (Rank == 0) return Reshape(1);
        var sh = new List<int>();
        for (int i = 0; i < start; i++) sh.Add(Layout.ShapeArr[i]);
        int prod = 1;
        for (int i = start; i <= end; i++) prod *= Layout.ShapeArr[i];
        sh.Add(prod);
        for (int i = end + 1; i < Rank; i++) sh.Add(Layout.ShapeArr[i]);
        return Reshape(sh.ToArray());
    }

    /// <summary>A contiguous tensor with the same values: a new view of this one when already contiguous, else a copy.</summary>
    public Tensor Contiguous()
    {
        if (IsContiguous) return View(Layout);
        var dst = EmptyLike(this);
        Backend.Copy(this, dst);
        return dst;
    }

    /// <summary>A contiguous tensor of the given dtype (a view when nothing changes, else a converting copy).</summary>
    public Tensor Contiguous(DType dtype)
    {
        if (dtype == DType) return Contiguous();
        var dst = Empty(Shape, dtype, Backend);
        Backend.Copy(this, dst);
        return dst;
    }

    /// <summary>Converts the dtype (always a new contiguous tensor unless nothing changes).</summary>
    public Tensor Cast(DType dtype) => Contiguous(dtype);

    /// <summary>A contiguous copy that never shares storage with this tensor.</summary>
    public Tensor Clone()
    {
        var dst = EmptyLike(this);
        Backend.Copy(this, dst);
        return dst;
    }

    /// <summary>Copies values from <paramref name="src"/> (same shape, any strides/dtype) into this tensor in place.</summary>
    public void CopyFrom(Tensor src)
    {
        Check.SameBackend("CopyFrom", this, src);
        Check.SameShape("CopyFrom", src, this, "src", "dst");
        Backend.Copy(src, this);
    }

    /// <summary>F32 contents, upcasting BF16/F16 storage (a view when already F32).</summary>
    internal Tensor AsF32(string op)
    {
        if (DType == DType.F32) return View(Layout);
        if (DType == DType.I32) throw new TensorException($"{op}: expected a floating-point tensor but got I32 with shape {Check.Fmt(Shape)}");
        return Contiguous(DType.F32);
    }
}

public sealed partial class Tensor
{
    /// <summary>Concatenates tensors of one dtype along a dim (all other dims equal) into a new contiguous tensor.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim)
    {
        const string op = "Cat";
        if (tensors.Count == 0) throw new TensorException($"{op}: no tensors given");
        var first = tensors[0];
        int d = Check.Dim(op, dim, first.Rank);
        var shape = first.ShapeArray();
        int total = 0;
        foreach (var t in tensors)
        {
            Check.SameBackend(op, first, t);
            if (t.DType != first.DType) throw new TensorException($"{op}: dtypes differ ({first.DType} vs {t.DType})");
            if (t.Rank != first.Rank) throw new TensorException($"{op}: ranks differ, {Check.Fmt(first.Shape)} vs {Check.Fmt(t.Shape)}");
            for (int i = 0; i < t.Rank; i++)
                if (i != d && t.Shape[i] != shape[i])
                    throw new TensorException($"{op}: shapes {Check.Fmt(first.Shape)} and {Check.Fmt(t.Shape)} differ outside dim {d}");
            total += t.Shape[d];
        }
        shape[d] = total;
        var y = Empty(shape, first.DType, first.Backend);
        int start = 0;
        foreach (var t in tensors)
        {
            using var slot = y.Narrow(d, start, t.Shape[d]);
            y.Backend.Copy(t, slot);
            start += t.Shape[d];
        }
        return y;
    }
}
