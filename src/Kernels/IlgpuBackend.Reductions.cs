using LLaDA.Tensors;

namespace LLaDA.Kernels;

// Reductions along one dim (viewed as (outer, R, inner)), argmax and top-k.
public sealed partial class IlgpuBackend
{
    private static (long Outer, int R, long Inner) Split(Tensor x, int dim) => x.SplitAt(dim);

    public void Reduce(ReduceOp op, Tensor x, int dim, Tensor y)
    {
        var (outer, r, inner) = Split(x, dim);
        ReduceKernels.Reduce(Kernels, op, F(x), F(y), outer, r, inner);
    }

    public void ArgMax(Tensor x, int dim, Tensor y)
    {
        var (outer, r, inner) = Split(x, dim);
        if (r == 0) throw new TensorException($"ArgMax: dim {dim} of shape {Check.Fmt(x.Shape)} is empty");
        TopKKernels.ArgMax(Kernels, F(x), I(y), outer, r, inner);
    }

    public void TopK(Tensor x, int k, Tensor values, Tensor indices)
    {
        int n = x.Dim(-1);
        long rows = x.Numel / Math.Max(n, 1);
        TopKKernels.TopK(Kernels, F(x), F(values), I(indices), rows, n, k);
    }
}
