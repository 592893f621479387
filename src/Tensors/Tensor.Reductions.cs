namespace LLaDA.Tensors;

// Reductions along one dim (keepDim keeps it as size 1), argmax and top-k.
public sealed partial class Tensor
{
    private Tensor ReduceDim(ReduceOp op, int dim, bool keepDim, string name)
    {
        int d = Check.Dim(name, dim, Rank);
        using var x = AsF32(name);
        using var c = x.Contiguous();
        var outShape = ShapeArray();
        outShape[d] = 1;
        var y = Empty(outShape, DType.F32, Backend);
        Backend.Reduce(op, c, d, y);
        if (keepDim) return y;
        using (y) return y.Squeeze(d);
    }

    private Tensor ReduceAll(ReduceOp op, string name)
    {
        using var flat = Reshape(-1);
        using var r = flat.ReduceDim(op, 0, true, name);
        return r.Reshape();
    }

    /// <summary>Σ over one dim.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => ReduceDim(ReduceOp.Sum, dim, keepDim, "Sum");

    /// <summary>Σ over every element (0-d result).</summary>
    public Tensor Sum() => ReduceAll(ReduceOp.Sum, "Sum");

    public Tensor Mean(int dim, bool keepDim = false) => ReduceDim(ReduceOp.Mean, dim, keepDim, "Mean");

    public Tensor Mean() => ReduceAll(ReduceOp.Mean, "Mean");

    public Tensor Max(int dim, bool keepDim = false) => ReduceDim(ReduceOp.Max, dim, keepDim, "Max");

    public Tensor Max() => ReduceAll(ReduceOp.Max, "Max");

    public Tensor Min(int dim, bool keepDim = false) => ReduceDim(ReduceOp.Min, dim, keepDim, "Min");

    public Tensor Min() => ReduceAll(ReduceOp.Min, "Min");

    /// <summary>Sums broadcast dims away so the result has <paramref name="shape"/> (the backward of broadcasting).</summary>
    public Tensor SumTo(ReadOnlySpan<int> shape)
    {
        if (Shape.SequenceEqual(shape)) return View(Layout);
        int lead = Rank - shape.Length;
        if (lead < 0) throw new TensorException($"SumTo: cannot reduce {Check.Fmt(Shape)} to larger rank {Check.Fmt(shape)}");
        var cur = View(Layout);
        // Leading dims: flatten them into one and sum it.
        if (lead > 0)
        {
            var flatShape = new int[shape.Length + 1];
            flatShape[0] = -1;
            for (int i = 0; i < shape.Length; i++) flatShape[i + 1] = Layout.ShapeArr[lead + i];
            var prev = cur;
            using (var f = prev.Reshape(flatShape)) cur = f.Sum(0);
            prev.Dispose();
        }
        for (int i = 0; i < shape.Length; i++)
        {
            if (cur.Shape[i] == shape[i]) continue;
            if (shape[i] != 1) throw new TensorException($"SumTo: cannot reduce {Check.Fmt(Shape)} to {Check.Fmt(shape)}");
            var before = cur;
            cur = before.Sum(i, keepDim: true);
            before.Dispose();
        }
        return cur;
    }

    /// <summary>Index (I32) of the first maximum along a dim.</summary>
    public Tensor ArgMax(int dim = -1, bool keepDim = false)
    {
        int d = Check.Dim("ArgMax", dim, Rank);
        using var x = AsF32("ArgMax");
        using var c = x.Contiguous();
        var outShape = ShapeArray();
        outShape[d] = 1;
        var y = Empty(outShape, DType.I32, Backend);
        Backend.ArgMax(c, d, y);
        if (keepDim) return y;
        using (y) return y.Squeeze(d);
    }

    /// <summary>The k largest values along the last dim, descending (ties: lower index first), and their I32 indices.</summary>
    public (Tensor Values, Tensor Indices) TopK(int k)
    {
        if (Rank == 0) throw new TensorException("TopK: needs at least one dim");
        int n = Dim(-1);
        if (k < 0 || k > n) throw new TensorException($"TopK: k = {k} is out of range for last dim {n} of shape {Check.Fmt(Shape)}");
        using var x = AsF32("TopK");
        using var c = x.Contiguous();
        var outShape = ShapeArray();
        outShape[^1] = k;
        var values = Empty(outShape, DType.F32, Backend);
        var indices = Empty(outShape, DType.I32, Backend);
        if (k > 0) Backend.TopK(c, k, values, indices);
        return (values, indices);
    }
}
