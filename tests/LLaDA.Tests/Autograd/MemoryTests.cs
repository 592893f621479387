using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>No leaks: after a training step inside a TensorScope, only the leaf gradients remain allocated.</summary>
/// <remarks>Each test uses its own CpuBackend so the pool counters are not disturbed by tests running in parallel.</remarks>
public class MemoryTests
{
    private sealed class Model(CpuBackend be) : IDisposable
    {
        public const int V = 11, C = 8, Hid = 12, B = 2, T = 5, H = 2;

        private Tensor P(int seed, params int[] shape)
            => Tensor.FromArray(Rng.Floats(shape.Aggregate(1, (a, s) => a * s), seed, -0.5f, 0.5f), shape, be);

        public readonly List<Variable> Params = new();
        public Variable Emb = null!, Norm = null!, Wq = null!, Wg = null!, Wu = null!, Wd = null!, Wo = null!;
        public Tensor Ids = null!, Targets = null!, Weights = null!, Cond = null!, Index = null!;

        public Model Build()
        {
            Variable Add(Variable v)
            {
                Params.Add(v);
                return v;
            }
            Emb = Add(new Variable(P(1, V, C), true, "emb"));
            Norm = Add(new Variable(Tensor.FromArray(Rng.Floats(C, 2, 0.5f, 1.5f), [C], be), true, "norm"));
            Wq = Add(new Variable(P(3, C, C), true, "wq"));
            Wg = Add(new Variable(P(4, Hid, C), true, "wg"));
            Wu = Add(new Variable(P(5, Hid, C), true, "wu"));
            Wd = Add(new Variable(P(6, C, Hid), true, "wd"));
            Wo = Add(new Variable(P(7, V, C), true, "wo"));
            Ids = Tensor.FromArray(Rng.Ints(B * T, 8, 0, V), [B, T], be);
            var t = Rng.Ints(B * T, 9, 0, V);
            t[3] = -1;
            Targets = Tensor.FromArray(t, [B * T], be);
            Weights = Tensor.FromArray(Rng.Floats(B * T, 10, 0f, 2f), [B * T], be);
            Cond = Tensor.FromArray(Rng.Ints(B * T * C, 11, 0, 2), [B, T, C], be);
            Index = Tensor.FromArray(Rng.Ints(B * T * 3, 12, 0, C), [B, T, 3], be);
            return this;
        }

        /// <summary>A forward touching every op except Attention, and its scalar loss.</summary>
        public Variable Loss()
        {
            var h = F.Embedding(Emb, Ids);                                        // (B, T, C)
            var n = F.RmsNorm(h, Norm, 1e-5f);
            var q = F.Rope(F.Reshape(F.Linear(n, Wq), B, T, H, C / H), 10000f, 2);
            var qh = F.Contiguous(F.Permute(q, 0, 2, 1, 3));                      // (B, H, T, HS)
            var scores = F.Softmax(F.Scale(F.MatMul(qh, F.Transpose(qh, -1, -2)), 0.5f));
            var mixed = F.Reshape(F.Transpose(F.MatMul(scores, qh), 1, 2), B, T, C);
            var mlp = F.Linear(F.SiluGate(F.Linear(mixed, Wg), F.Linear(mixed, Wu)), Wd);
            var x = F.Add(h, mlp);
            var act = F.Where(Cond, F.Tanh(x), F.Sigmoid(x));
            var act2 = F.Maximum(F.Relu(act), F.Neg(F.Silu(x)));
            var extra = F.Mean(F.Max(F.Gather(act2, Index), -1));
            var cat = F.Cat([F.Narrow(act2, -1, 0, 3), F.Narrow(x, -1, 3, C - 3)], -1);
            var e = F.Expand(F.Sum(cat, 1, keepDim: true), B, T, C);
            var y = F.Add(cat, F.Div(e, F.AddScalar(F.Exp(F.Square(e)), 1f)));
            var ls = F.Mean(F.LogSoftmax(y, 1));
            var logits = F.Reshape(F.Linear(y, Wo), B * T, V);
            var ce = F.Mean(F.CrossEntropy(logits, Targets, Weights));
            var p = F.Pow(F.Sqrt(F.Log(F.AddScalar(F.Exp(F.Sub(ce, ls)), 1f))), 2f);
            return F.Add(p, extra);
        }

        public void Dispose()
        {
            foreach (var v in Params) v.Dispose();
            foreach (var t in new[] { Ids, Targets, Weights, Cond, Index }) t.Dispose();
        }
    }

    private static long GradBytes(IEnumerable<Variable> ps)
        => ps.Sum(p => CpuMemoryPool.SizeClass(p.Data.Numel * sizeof(float)));

    [Fact]
    public void Step_ScopeDisposed_PoolReturnsToBaselinePlusLeafGrads()
    {
        using var be = new CpuBackend();
        using var model = new Model(be).Build();
        long baseline = be.Pool.BytesInUse;
        Assert.True(baseline > 0);

        using (new TensorScope())
        using (var tape = new Tape())
        {
            var loss = model.Loss();
            Assert.True(float.IsFinite(loss.Data.Item()));
            tape.Backward(loss);
        }

        foreach (var p in model.Params)
        {
            Assert.NotNull(p.Grad);
            Assert.False(p.Grad!.IsDisposed);
            Assert.Contains(p.Grad.ToArray(), g => g != 0f);
        }
        AssertGradBytes(baseline, model.Params, be.Pool.BytesInUse);

        foreach (var p in model.Params) p.ZeroGrad();
        Assert.Equal(baseline, be.Pool.BytesInUse);
    }

    /// <summary>In use = baseline + the leaf gradients' blocks; the pool may hand out an idle block up to MaxOversize × the size class.</summary>
    private static void AssertGradBytes(long baseline, IReadOnlyList<Variable> ps, long inUse)
    {
        long grads = GradBytes(ps);
        Assert.InRange(inUse - baseline, grads, (long)(grads * CpuMemoryPool.MaxOversize));
    }

    [Fact]
    public void TwoSteps_GradsAccumulateInPlace_NoGrowth()
    {
        using var be = new CpuBackend();
        using var model = new Model(be).Build();
        long baseline = be.Pool.BytesInUse;
        var first = new List<float[]>();
        for (int step = 0; step < 2; step++)
        {
            using (new TensorScope())
            using (var tape = new Tape())
                tape.Backward(model.Loss());
            AssertGradBytes(baseline, model.Params, be.Pool.BytesInUse);
            if (step == 0) first.AddRange(model.Params.Select(p => p.Grad!.ToArray()));
        }
        // The same step twice: every gradient is exactly doubled (x + x is exact in fp32).
        for (int i = 0; i < model.Params.Count; i++)
            Assert.Equal(first[i].Select(g => 2 * g).ToArray(), model.Params[i].Grad!.ToArray());
        foreach (var p in model.Params) p.ZeroGrad();
        Assert.Equal(baseline, be.Pool.BytesInUse);
    }

    [Fact]
    public void Model_Disposed_PoolIsEmpty()
    {
        using var be = new CpuBackend();
        using (var model = new Model(be).Build())
        {
            using (new TensorScope())
            using (var tape = new Tape())
                tape.Backward(model.Loss());
        }
        Assert.Equal(0, be.Pool.BytesInUse);
    }

    [Fact]
    public void GradCheck_Run_LeavesNothingAllocated()
    {
        using var be = new CpuBackend();
        using var x = Tensor.FromArray(Rng.Floats(15, 821), [5, 3], be);
        using var xs = x.Transpose(0, 1); // strided input: exercises the layout-keeping copy and write-back
        using var w = Tensor.FromArray(Rng.Floats(5, 822), [5], be);
        long baseline = be.Pool.BytesInUse;
        var rep = GradCheck.Run(v => F.Softmax(F.Mul(v[0], v[1])), [xs, w]);
        Assert.True(rep.Passed, rep.ToString());
        Assert.Equal(baseline, be.Pool.BytesInUse);
    }
}
