using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>C = A·B with broadcast batch dims; dA = dC·Bᵀ, dB = Aᵀ·dC (summed over broadcast batches). Transposes are GEMM flags, not copies.</summary>
internal sealed class MatMulOp : Op
{
    public override string Name => "MatMul";
    public override Tensor Forward() => Inputs[0].Data.MatMul(Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        var a = Inputs[0].Data;
        var b = Inputs[1].Data;
        if (NeedsGrad(0))
        {
            using var bt = b.MT;
            using var da = g.MatMul(bt); // (…, M, N)·(…, N, K) → (…, M, K)
            grads[0] = da.SumTo(a.Shape);
        }
        if (NeedsGrad(1))
        {
            if (b.Rank == 2)
            {
                // Shared right operand: one GEMM over all rows, (K, M′)·(M′, N), no batched temporary.
                int k = a.Dim(-1), n = g.Dim(-1);
                using var a2 = a.Reshape(-1, k);
                using var g2 = g.Reshape(-1, n);
                using var a2t = a2.MT;
                grads[1] = a2t.MatMul(g2);
            }
            else
            {
                using var at = a.MT;
                using var db = at.MatMul(g); // (…, K, M)·(…, M, N) → (…, K, N)
                grads[1] = db.SumTo(b.Shape);
            }
        }
    }
}

/// <summary>y = x·Wᵀ for x (…, K) and W (N, K) stored as nn.Linear's [out, in]; dx = dy·W, dW = dyᵀ·x (no copies of W).</summary>
/// <remarks>When the tape already holds x's gradient (x feeds several projections: q/k/v, gate/up), dx is added into it
/// by the GEMM itself (β = 1): no temporary and no separate add pass over the activations.</remarks>
internal sealed class LinearOp : Op
{
    public override string Name => "Linear";

    public override Tensor Forward()
    {
        var x = Inputs[0].Data;
        var w = Inputs[1].Data;
        Check.Rank(Name, "weight", w, 2);
        if (x.Dim(-1) != w.Dim(1))
            throw new TensorException($"Linear: input {Check.Fmt(x.Shape)} has {x.Dim(-1)} features but weight {Check.Fmt(w.Shape)} expects {w.Dim(1)}");
        using var wt = w.MT;
        return x.MatMul(wt);
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        var x = Inputs[0].Data;
        var w = Inputs[1].Data;
        if (NeedsGrad(0))
        {
            if (Accumulators?[0] is { } acc && w.DType == DType.F32 && x.Dim(-1) > 0)
            {
                // acc (…, K) += dy·W: one GEMM with β = 1 over all rows.
                int rows = (int)(acc.Numel / x.Dim(-1));
                using var acc2 = acc.Reshape(rows, x.Dim(-1));
                using var gRows = g.Reshape(rows, w.Dim(0));
                acc2.MatMulInto(gRows, w, 1f, 1f);
            }
            else grads[0] = g.MatMul(w); // (…, N)·(N, K)
        }
        if (NeedsGrad(1))
        {
            int k = x.Dim(-1), n = w.Dim(0);
            using var g2 = g.Reshape(-1, n);
            using var x2 = x.Reshape(-1, k);
            using var g2t = g2.MT;
            grads[1] = g2t.MatMul(x2); // (N, M′)·(M′, K)
        }
    }
}
