using LLaDA.Autograd.Ops;
using LLaDA.Tensors;

namespace LLaDA.Autograd;

/// <summary>The differentiable API: each call makes one <see cref="Op"/>, runs its forward and records it when a tape is open and an input needs grad.</summary>
public static class F
{
    /// <summary>Runs an op on its inputs and records it on the current tape when gradients are wanted.</summary>
    public static Variable Apply(Op op, params Variable[] inputs)
    {
        op.Inputs = inputs;
        long t0 = OpProfiler.Start();
        var y = op.Forward();
        OpProfiler.Stop(op.Name, t0);
        var tape = Tape.Current;
        bool record = false;
        if (tape is not null)
            foreach (var v in inputs)
                if (v.RequiresGrad)
                {
                    record = true;
                    break;
                }
        if (!record)
        {
            op.Dispose();
            return new Variable(y);
        }
        var output = new Variable(y, requiresGrad: true) { Creator = op };
        op.Output = output;
        tape!.Record(op);
        return output;
    }

    // ---------------------------------------------------------------- arithmetic (broadcasting)

    public static Variable Add(Variable a, Variable b) => Apply(new AddOp(), a, b);
    public static Variable Sub(Variable a, Variable b) => Apply(new SubOp(), a, b);
    public static Variable Mul(Variable a, Variable b) => Apply(new MulOp(), a, b);
    public static Variable Div(Variable a, Variable b) => Apply(new DivOp(), a, b);
    public static Variable Maximum(Variable a, Variable b) => Apply(new MaximumOp(), a, b);
    public static Variable Neg(Variable x) => Apply(new NegOp(), x);
    public static Variable Scale(Variable x, float s) => Apply(new ScaleOp(s), x);
    public static Variable AddScalar(Variable x, float c) => Apply(new AddScalarOp(c), x);
    public static Variable Exp(Variable x) => Apply(new ExpOp(), x);
    public static Variable Log(Variable x) => Apply(new LogOp(), x);
    public static Variable Sqrt(Variable x) => Apply(new SqrtOp(), x);
    public static Variable Square(Variable x) => Apply(new SquareOp(), x);
    public static Variable Pow(Variable x, float p) => Apply(new PowScalarOp(p), x);
    public static Variable Tanh(Variable x) => Apply(new TanhOp(), x);
    public static Variable Sigmoid(Variable x) => Apply(new SigmoidOp(), x);
    public static Variable Silu(Variable x) => Apply(new SiluOp(), x);
    public static Variable Relu(Variable x) => Apply(new ReluOp(), x);

    /// <summary>cond ≠ 0 ? a : b (cond is a constant F32/I32 tensor).</summary>
    public static Variable Where(Tensor cond, Variable a, Variable b) => Apply(new WhereOp(), cond, a, b);

    // ---------------------------------------------------------------- reductions

    public static Variable Sum(Variable x) => Apply(new SumOp(null, false, false), x);
    public static Variable Sum(Variable x, int dim, bool keepDim = false) => Apply(new SumOp(dim, keepDim, false), x);
    public static Variable Mean(Variable x) => Apply(new SumOp(null, false, true), x);
    public static Variable Mean(Variable x, int dim, bool keepDim = false) => Apply(new SumOp(dim, keepDim, true), x);
    public static Variable Max(Variable x, int dim, bool keepDim = false) => Apply(new MaxOp(dim, keepDim), x);

    /// <summary>y[…, j] = x[…, index[…, j]] along the last dim (index is a constant I32 tensor).</summary>
    public static Variable Gather(Variable x, Tensor index) => Apply(new GatherOp(), x, index);

    // ---------------------------------------------------------------- shapes

    public static Variable Reshape(Variable x, params int[] shape) => Apply(new ReshapeOp(shape), x);
    public static Variable Permute(Variable x, params int[] perm) => Apply(new PermuteOp(perm), x);

    public static Variable Transpose(Variable x, int d0, int d1)
    {
        int r = x.Data.Rank;
        var perm = new int[r];
        for (int i = 0; i < r; i++) perm[i] = i;
        d0 = Check.Dim("Transpose", d0, r);
        d1 = Check.Dim("Transpose", d1, r);
        (perm[d0], perm[d1]) = (perm[d1], perm[d0]);
        return Permute(x, perm);
    }

    public static Variable Narrow(Variable x, int dim, int start, int length) => Apply(new NarrowOp(dim, start, length), x);
    public static Variable Expand(Variable x, params int[] shape) => Apply(new ExpandOp(shape), x);
    public static Variable Contiguous(Variable x) => Apply(new ContiguousOp(), x);
    public static Variable Cat(IReadOnlyList<Variable> xs, int dim) => Apply(new CatOp(dim), xs.ToArray());

    // ---------------------------------------------------------------- linear algebra

    /// <summary>(…, M, K)·(…, K, N) with broadcast batch dims.</summary>
    public static Variable MatMul(Variable a, Variable b) => Apply(new MatMulOp(), a, b);

    /// <summary>x·Wᵀ for W (out, in) — nn.Linear without bias.</summary>
    public static Variable Linear(Variable x, Variable weight) => Apply(new LinearOp(), x, weight);

    // ---------------------------------------------------------------- fused transformer ops

    public static Variable Softmax(Variable x, int dim = -1) => Apply(new SoftmaxOp(dim, false), x);
    public static Variable LogSoftmax(Variable x, int dim = -1) => Apply(new SoftmaxOp(dim, true), x);

    /// <summary>x·rsqrt(mean(x²) + eps)·weight over the last dim.</summary>
    public static Variable RmsNorm(Variable x, Variable weight, float eps) => Apply(new RmsNormOp(eps), x, weight);

    /// <summary>Rotary embedding of x (B, T, H, HS), half-rotation layout, positions offset + t.</summary>
    public static Variable Rope(Variable x, float theta, int positionOffset = 0) => Apply(new RopeOp(theta, positionOffset), x);

    /// <summary>silu(gate)·up.</summary>
    public static Variable SiluGate(Variable gate, Variable up) => Apply(new SiluGateOp(), gate, up);

    /// <summary>Per-row w·CE(logits (N, V), targets (N)); weights default to 1; negative targets are ignored.</summary>
    public static Variable CrossEntropy(Variable logits, Tensor targets, Tensor? weights = null)
        => weights is null ? Apply(new CrossEntropyOp(), logits, targets) : Apply(new CrossEntropyOp(), logits, targets, weights);

    /// <summary>Fused attention over (B, NH, T, HS) views; k/v may have fewer (grouped) heads; returns o (B, NH, Tq, HS).</summary>
    public static Variable Attention(Variable q, Variable k, Variable v, AttnMask mask = AttnMask.None, Tensor? keyPadding = null, float? scale = null)
        => Apply(new AttentionOp(mask, keyPadding, scale), q, k, v);

    /// <summary>Rows of weight (V, C) picked by I32 ids.</summary>
    public static Variable Embedding(Variable weight, Tensor ids) => Apply(new EmbeddingOp(), weight, ids);
}
