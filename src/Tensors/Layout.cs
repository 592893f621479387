namespace LLaDA.Tensors;

/// <summary>Shape, strides (in elements) and offset of a tensor view; every view op is O(rank) and copies no data.</summary>
public sealed class Layout
{
    internal readonly int[] ShapeArr;
    internal readonly long[] StridesArr;

    /// <summary>Offset of element (0, …, 0) from the start of the storage, in elements.</summary>
    public long Offset { get; }

    /// <summary>Number of elements.</summary>
    public long Numel { get; }

    public Layout(int[] shape, long[] strides, long offset)
    {
        if (shape.Length != strides.Length) throw new ArgumentException("shape and strides differ in rank");
        long n = 1;
        foreach (int s in shape)
        {
            if (s < 0) throw new TensorException($"negative dimension in shape {Check.Fmt(shape)}");
            n *= s;
        }
        ShapeArr = shape;
        StridesArr = strides;
        Offset = offset;
        Numel = n;
    }

    public ReadOnlySpan<int> Shape => ShapeArr;
    public ReadOnlySpan<long> Strides => StridesArr;
    public int Rank => ShapeArr.Length;

    /// <summary>Row-major (C order) layout of the given shape.</summary>
    public static Layout Contiguous(ReadOnlySpan<int> shape, long offset = 0)
    {
        var sh = shape.ToArray();
        return new Layout(sh, ContiguousStrides(sh), offset);
    }

    /// <summary>Row-major strides: stride[i] = Π shape[i+1..].</summary>
    public static long[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var st = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            st[i] = s;
            s *= shape[i];
        }
        return st;
    }

    /// <summary>True when the elements are laid out row-major without gaps (size-1 dims may have any stride).</summary>
    public bool IsContiguous
    {
        get
        {
            long s = 1;
            for (int i = ShapeArr.Length - 1; i >= 0; i--)
            {
                if (ShapeArr[i] == 1) continue;
                if (StridesArr[i] != s) return false;
                s *= ShapeArr[i];
            }
            return true;
        }
    }

    /// <summary>Reorders dims: result dim i is source dim perm[i].</summary>
    public Layout Permute(ReadOnlySpan<int> perm)
    {
        int r = Rank;
        if (perm.Length != r) throw new TensorException($"Permute: {perm.Length} dims given for shape {Check.Fmt(Shape)}");
        var seen = new bool[r];
        var sh = new int[r];
        var st = new long[r];
        for (int i = 0; i < r; i++)
        {
            int p = Check.Dim("Permute", perm[i], r);
            if (seen[p]) throw new TensorException($"Permute: dim {p} repeated in permutation");
            seen[p] = true;
            sh[i] = ShapeArr[p];
            st[i] = StridesArr[p];
        }
        return new Layout(sh, st, Offset);
    }

    /// <summary>Swaps two dims.</summary>
    public Layout Transpose(int d0, int d1)
    {
        d0 = Check.Dim("Transpose", d0, Rank);
        d1 = Check.Dim("Transpose", d1, Rank);
        var perm = new int[Rank];
        for (int i = 0; i < perm.Length; i++) perm[i] = i;
        (perm[d0], perm[d1]) = (perm[d1], perm[d0]);
        return Permute(perm);
    }

    /// <summary>Keeps indices [start, start+length) of one dim.</summary>
    public Layout Narrow(int dim, int start, int length)
    {
        dim = Check.Dim("Narrow", dim, Rank);
        if (start < 0 || length < 0 || start + length > ShapeArr[dim])
            throw new TensorException($"Narrow: range [{start}, {start + length}) is out of bounds for dim {dim} of shape {Check.Fmt(Shape)}");
        var sh = (int[])ShapeArr.Clone();
        sh[dim] = length;
        return new Layout(sh, (long[])StridesArr.Clone(), Offset + start * StridesArr[dim]);
    }

    /// <summary>Picks one index of a dim and removes that dim.</summary>
    public Layout Select(int dim, int index)
    {
        dim = Check.Dim("Select", dim, Rank);
        if (index < 0) index += ShapeArr[dim];
        if (index < 0 || index >= ShapeArr[dim])
            throw new TensorException($"Select: index {index} is out of bounds for dim {dim} of shape {Check.Fmt(Shape)}");
        var sh = new int[Rank - 1];
        var st = new long[Rank - 1];
        for (int i = 0, j = 0; i < Rank; i++)
        {
            if (i == dim) continue;
            sh[j] = ShapeArr[i];
            st[j++] = StridesArr[i];
        }
        return new Layout(sh, st, Offset + index * StridesArr[dim]);
    }

    /// <summary>Inserts a size-1 dim at position dim (negative counts from the end of the new rank).</summary>
    public Layout Unsqueeze(int dim)
    {
        dim = Check.Dim("Unsqueeze", dim, Rank + 1);
        var sh = new List<int>(ShapeArr);
        var st = new List<long>(StridesArr);
        long stride = dim < Rank ? StridesArr[dim] * ShapeArr[dim] : 1;
        sh.Insert(dim, 1);
        st.Insert(dim, stride);
        return new Layout(sh.ToArray(), st.ToArray(), Offset);
    }

    /// <summary>Removes a size-1 dim.</summary>
    public Layout Squeeze(int dim)
    {
        dim = Check.Dim("Squeeze", dim, Rank);
        if (ShapeArr[dim] != 1) throw new TensorException($"Squeeze: dim {dim} of shape {Check.Fmt(Shape)} is not 1");
        return Select(dim, 0);
    }

    /// <summary>Broadcasts to a larger shape by giving expanded dims stride 0 (NumPy rules, aligned on the right).</summary>
    public Layout BroadcastTo(ReadOnlySpan<int> target, string op = "Expand")
    {
        int r = target.Length;
        if (r < Rank) throw new TensorException($"{op}: cannot broadcast {Check.Fmt(Shape)} to {Check.Fmt(target)}");
        var sh = target.ToArray();
        var st = new long[r];
        for (int i = 0; i < r; i++)
        {
            int j = i - (r - Rank);
            if (j < 0) { st[i] = 0; continue; }
            if (ShapeArr[j] == target[i]) st[i] = ShapeArr[j] == 1 ? 0 : StridesArr[j];
            else if (ShapeArr[j] == 1) st[i] = 0;
            else throw new TensorException($"{op}: cannot broadcast {Check.Fmt(Shape)} to {Check.Fmt(target)}");
        }
        return new Layout(sh, st, Offset);
    }

    /// <summary>Reshapes without copying when the strides allow it (PyTorch view rules); returns null when a copy is needed.</summary>
    public Layout? TryReshape(ReadOnlySpan<int> newShape)
    {
        long n = 1;
        foreach (int s in newShape) n *= s;
        if (n != Numel) throw new TensorException($"Reshape: cannot reshape {Check.Fmt(Shape)} ({Numel} elements) to {Check.Fmt(newShape)} ({n} elements)");
        if (IsContiguous) return new Layout(newShape.ToArray(), ContiguousStrides(newShape), Offset);
        if (Numel == 0) return new Layout(newShape.ToArray(), ContiguousStrides(newShape), Offset);
        // Walk old dims in chunks that are contiguous among themselves; each chunk must map onto whole new dims.
        var newStrides = new long[newShape.Length];
        int viewD = newShape.Length - 1;
        long chunkBase = StridesArr[Rank - 1];
        long tensorNumel = 1, viewNumel = 1;
        for (int d = Rank - 1; d >= 0; d--)
        {
            tensorNumel *= ShapeArr[d];
            if (d == 0 || (ShapeArr[d - 1] != 1 && StridesArr[d - 1] != tensorNumel * chunkBase))
            {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1))
                {
                    newStrides[viewD] = viewNumel * chunkBase;
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (d > 0)
                {
                    chunkBase = StridesArr[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        if (viewD != -1) return null;
        return new Layout(newShape.ToArray(), newStrides, Offset);
    }

    /// <summary>Resolves one -1 entry of a requested shape from the element count.</summary>
    public static int[] InferShape(ReadOnlySpan<int> shape, long numel)
    {
        var sh = shape.ToArray();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < sh.Length; i++)
        {
            if (sh[i] == -1)
            {
                if (infer >= 0) throw new TensorException($"Reshape: more than one -1 in {Check.Fmt(shape)}");
                infer = i;
            }
            else if (sh[i] < 0) throw new TensorException($"Reshape: negative size in {Check.Fmt(shape)}");
            else known *= sh[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new TensorException($"Reshape: cannot infer -1 in {Check.Fmt(shape)} for {numel} elements");
            sh[infer] = (int)(numel / known);
        }
        return sh;
    }

    /// <summary>The broadcast shape of two shapes (NumPy rules), or an error naming the op and both shapes.</summary>
    public static int[] BroadcastShapes(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int r = Math.Max(a.Length, b.Length);
        var res = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da == db || db == 1) res[i] = da;
            else if (da == 1) res[i] = db;
            else throw new TensorException($"{op}: shapes {Check.Fmt(a)} and {Check.Fmt(b)} cannot be broadcast together (dim {i}: {da} vs {db})");
        }
        return res;
    }

    public override string ToString() => $"shape {Check.Fmt(Shape)} strides {Check.Fmt(Array.ConvertAll(StridesArr, s => (int)s))} offset {Offset}";
}
