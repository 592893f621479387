using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>y = Σ x over one dim (or all dims when dim is null); dx = dy broadcast back.</summary>
internal sealed class SumOp(int? dim, bool keepDim, bool mean) : Op
{
    public override string Name => mean ? "Mean" : "Sum";

    public override Tensor Forward()
    {
        var x = Inputs[0].Data;
        if (dim is null) return mean ? x.Mean() : x.Sum();
        return mean ? x.Mean(dim.Value, keepDim) : x.Sum(dim.Value, keepDim);
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (!NeedsGrad(0)) return;
        var x = Inputs[0].Data;
        long count;
        Tensor gk;
        if (dim is null)
        {
            count = x.Numel;
            var ones = new int[x.Rank];
            Array.Fill(ones, 1);
            gk = g.Reshape(ones);
        }
        else
        {
            int d = Check.Dim(Name, dim.Value, x.Rank);
            count = x.Dim(d);
            gk = keepDim ? g.View(g.Layout) : g.Unsqueeze(d);
        }
        using (gk)
        using (var e = gk.Expand(x.ShapeArray()))
        {
            grads[0] = mean ? e.Scale(1f / count) : e.Contiguous();
        }
    }
}

/// <summary>y = max x over one dim; the gradient goes to the first maximum of each slice.</summary>
internal sealed class MaxOp(int dim, bool keepDim) : Op
{
    private Tensor? _argmax;

    public override string Name => "Max";

    public override Tensor Forward()
    {
        var x = Inputs[0].Data;
        _argmax = Save(x.ArgMax(dim, keepDim: true));
        return x.Max(dim, keepDim);
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (!NeedsGrad(0)) return;
        var x = Inputs[0].Data;
        int d = Check.Dim(Name, dim, x.Rank);
        using var gk = keepDim ? g.View(g.Layout) : g.Unsqueeze(d);
        // Scatter along the last dim after moving dim there.
        using var dxT = Tensor.Zeros(Moved(x.Shape, d), DType.F32, g.Backend);
        using var idxT = _argmax!.Transpose(d, -1);
        using var gT = gk.Transpose(d, -1);
        dxT.ScatterAdd(idxT, gT);
        using var back = dxT.Transpose(d, -1);
        grads[0] = back.Contiguous();
    }

    private static int[] Moved(ReadOnlySpan<int> shape, int d)
    {
        var s = shape.ToArray();
        (s[d], s[^1]) = (s[^1], s[d]);
        return s;
    }
}

/// <summary>y[…, j] = x[…, index[…, j]] along the last dim; dx = scatter-add of dy (index is a constant).</summary>
internal sealed class GatherOp : Op
{
    public override string Name => "Gather";
    public override Tensor Forward() => Inputs[0].Data.Gather(Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (!NeedsGrad(0)) return;
        var dx = Tensor.Zeros(Inputs[0].Shape, DType.F32, g.Backend);
        dx.ScatterAdd(Inputs[1].Data, g);
        grads[0] = dx;
    }
}
