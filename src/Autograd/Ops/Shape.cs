using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

// View and layout ops: the backward of a view is the inverse view of the gradient (or a scatter into zeros).

/// <summary>y = reshape(x); dx = reshape(dy) back.</summary>
internal sealed class ReshapeOp(int[] shape) : Op
{
    public override string Name => "Reshape";
    public override Tensor Forward() => Inputs[0].Data.Reshape(shape);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = g.Reshape(Inputs[0].Data.ShapeArray());
    }
}

/// <summary>y = permute(x, perm); dx = permute(dy, perm⁻¹).</summary>
internal sealed class PermuteOp(int[] perm) : Op
{
    public override string Name => "Permute";
    public override Tensor Forward() => Inputs[0].Data.Permute(perm);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (!NeedsGrad(0)) return;
        int r = perm.Length;
        var inv = new int[r];
        for (int i = 0; i < r; i++) inv[perm[i] < 0 ? perm[i] + r : perm[i]] = i;
        grads[0] = g.Permute(inv);
    }
}

/// <summary>y = x[…, start:start+len, …] along dim; dx = dy placed into zeros.</summary>
internal sealed class NarrowOp(int dim, int start, int length) : Op
{
    public override string Name => "Narrow";
    public override Tensor Forward() => Inputs[0].Data.Narrow(dim, start, length);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (!NeedsGrad(0)) return;
        var dx = Tensor.ZerosLike(Inputs[0].Data);
        if (dx.DType != DType.F32)
        {
            dx.Dispose();
            dx = Tensor.Zeros(Inputs[0].Shape, DType.F32, g.Backend);
        }
        using (var slot = dx.Narrow(dim, start, length)) slot.CopyFrom(g);
        grads[0] = dx;
    }
}

/// <summary>y = broadcast(x) to a larger shape; dx = Σ dy over the broadcast dims.</summary>
internal sealed class ExpandOp(int[] shape) : Op
{
    public override string Name => "Expand";
    public override Tensor Forward() => Inputs[0].Data.Expand(shape);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = g.SumTo(Inputs[0].Shape);
    }
}

/// <summary>y = contiguous copy of x; dx = dy.</summary>
internal sealed class ContiguousOp : Op
{
    public override string Name => "Contiguous";
    public override Tensor Forward() => Inputs[0].Data.Contiguous();

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = g.View(g.Layout);
    }
}

/// <summary>y = concatenation of the inputs along dim; each dx is the matching slice of dy.</summary>
internal sealed class CatOp(int dim) : Op
{
    public override string Name => "Cat";

    public override Tensor Forward()
    {
        var ts = new Tensor[Inputs.Length];
        for (int i = 0; i < ts.Length; i++) ts[i] = Inputs[i].Data;
        return Tensor.Cat(ts, dim);
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        int d = dim < 0 ? dim + g.Rank : dim;
        int start = 0;
        for (int i = 0; i < Inputs.Length; i++)
        {
            int len = Inputs[i].Data.Dim(d);
            if (NeedsGrad(i)) grads[i] = g.Narrow(d, start, len);
            start += len;
        }
    }
}
