using LLaDA.Autograd;
using LLaDA.Diffusion;
using LLaDA.Kernels;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>The autograd stack end to end on IlgpuBackend (CPU accelerator): forward values and input gradients equal CpuBackend's.</summary>
[Collection(IlgpuCollection.Name)]
public class AutogradOnIlgpuTests(IlgpuFixture fx)
{
    /// <summary>Runs f forward and backward on a backend; returns the output value and the gradients of the inputs that require grad.</summary>
    private static (float[] Y, float[][] Grads) Run(IBackend backend, Func<Variable[], Tensor[], Variable> f, Tensor[] floats, Tensor[] consts)
    {
        using var scope = new TensorScope();
        var vars = floats.Select((t, i) => new Variable(t.To(backend), true, $"p{i}")).ToArray();
        var cs = consts.Select(t => t.To(backend)).ToArray();
        using var tape = new Tape();
        var y = f(vars, cs);
        tape.Backward(y);
        var grads = vars.Select(v => v.Grad!.ToArray()).ToArray();
        return (y.Data.ToArray(), grads);
    }

    private void AssertSameOnBothBackends(Func<Variable[], Tensor[], Variable> f, Tensor[] floats, Tensor[] consts, double atol = 1e-5, double rtol = 1e-4)
    {
        var (yc, gc) = Run(CpuBackend.Default, f, floats, consts);
        var (yg, gg) = Run(fx.Gpu, f, floats, consts);
        TensorAssert.Close(yc, yg, atol, rtol, "output");
        for (int i = 0; i < gc.Length; i++)
        {
            Assert.Contains(gc[i], g => g != 0f);
            TensorAssert.Close(gc[i], gg[i], atol, rtol, $"gradient of input {i}");
        }
    }

    [Fact]
    public void FusedAndElementwiseOps_ForwardBackward_MatchCpu()
    {
        // Embedding → + tanh(strided x) → RMSNorm → RoPE → SiLU gate → softmax / log-softmax → max → cross-entropy,
        // with gather, cat, narrow, permute, where and broadcasting in between: every backward kernel runs on the device.
        using var emb = Tensor.FromArray(Rng.Floats(11 * 8, 1), [11, 8]);
        using var w = Tensor.FromArray(Rng.Floats(8, 2, 0.5f, 1.5f), [8]);
        using var x = Rng.Strided(3, 2, 5, 8);
        using var ids = Tensor.FromArray(Rng.Ints(10, 4, 0, 11), [2, 5]);
        using var targets = Tensor.FromArray(Rng.Ints(10, 5, -1, 8), [10]);
        using var weights = Tensor.FromArray(Rng.Floats(10, 6, 0f, 1f), [10]);
        using var gidx = Tensor.FromArray(Rng.Ints(30, 7, 0, 8), [2, 5, 3]);
        using var cond = Tensor.FromArray(Rng.Ints(80, 8, 0, 2), [8, 2, 5]);
        AssertSameOnBothBackends((v, c) =>
        {
            var e = F.Embedding(v[0], c[0]);                                    // (2, 5, 8)
            var h = F.Add(e, F.Tanh(v[2]));
            var n = F.RmsNorm(h, v[1], 1e-5f);
            var r = F.Reshape(F.Rope(F.Reshape(n, 2, 5, 2, 4), 10000f, 3), 2, 5, 8);
            var g = F.SiluGate(r, F.Sigmoid(h));
            var z = F.Add(F.Mul(F.Softmax(g, -1), F.LogSoftmax(g, 1)), F.Div(g, F.AddScalar(F.Square(g), 1f)));
            var z2 = F.Sub(z, F.Max(z, 2, keepDim: true));                      // broadcast (2, 5, 1)
            var ce = F.CrossEntropy(F.Reshape(z2, 10, 8), c[1], c[2]);           // (10,)
            var picked = F.Gather(z2, c[3]);                                     // (2, 5, 3)
            var cat = F.Cat([F.Narrow(z2, 2, 5, 3), F.Narrow(z2, 2, 0, 5)], 2);
            var p = F.Permute(cat, 2, 0, 1);                                     // (8, 2, 5)
            var sel = F.Where(c[4], p, F.Neg(F.Exp(F.Scale(p, 0.1f))));
            return F.Add(F.Add(F.Sum(ce), F.Mean(F.Pow(picked, 2f))), F.Mean(F.Maximum(sel, F.Sqrt(F.AddScalar(F.Relu(p), 0.5f)))));
        }, [emb, w, x], [ids, targets, weights, gidx, cond]);
    }

    [Fact]
    public void Reductions_ForwardBackward_MatchCpu()
    {
        using var x = Tensor.FromArray(Rng.Floats(3 * 33, 9), [3, 33]);
        AssertSameOnBothBackends((v, _) =>
            F.Add(F.Sum(F.Mean(v[0], 0)), F.Add(F.Sum(F.Max(v[0], 1)), F.Sum(F.Log(F.AddScalar(F.Square(v[0]), 1f))))),
            [x], []);
    }

    [Fact]
    public void MaskPredictor_LossAndGradients_MatchCpu()
    {
        // The whole training step's math: embedding, 2 blocks (RMSNorm, attention, SwiGLU, RoPE), LM head, masked CE.
        var cfg = Presets.Tiny(vocab: 16, mask: 15, eos: 14) with { DModel = 16, MlpHiddenSize = 32, NLayers = 1 };
        var ids = Rng.Ints(2 * 9, 10, 0, 14);
        (float Loss, Dictionary<string, float[]> Grads) Step(IBackend b)
        {
            using var scope = new TensorScope();
            var model = new MaskPredictor(cfg, seed: 3, backend: b);
            using var batch = ForwardProcess.Pretrain(ids, 2, 9, cfg.MaskTokenId, seed: 4, step: 1, new NoiseConfig { RandomLengthProb = 0 }, b);
            using var tape = new Tape();
            var loss = Losses.Masked(model, batch)!;
            tape.Backward(loss);
            return (loss.Data.Item(), model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad!.ToArray()));
        }
        var (lc, gc) = Step(CpuBackend.Default);
        var (lg, gg) = Step(fx.Gpu);
        Assert.Equal(lc, lg, 4);
        foreach (var (name, g) in gc) TensorAssert.Close(g, gg[name], 1e-5, 1e-3, name);
    }
}
