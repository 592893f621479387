using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Gradients added in place into the tape's accumulator (<see cref="Op.Accumulators"/>): Linear's dx = dy·W
/// through a GEMM with β = 1 when its input feeds several projections, against the unfused sum and finite differences.</summary>
public class GradAccumulationTests
{
    /// <summary>y = x that records whether each backward received a contiguous gradient.</summary>
    private sealed class LayoutProbeOp(List<bool> contiguous) : Op
    {
        public override string Name => "GradLayoutProbe";
        public override Tensor Forward() => Inputs[0].Data.Clone();

        public override void Backward(Tensor g, Tensor?[] grads)
        {
            contiguous.Add(g.IsContiguous);
            grads[0] = g.Clone();
        }
    }

    [Fact]
    public void Tape_PassesAStridedFirstGradientOnAsTheView_AndTheGradientStaysExact()
    {
        // probe(tanh x)ᵀ·2: the transpose's backward hands the probe a strided view; the tape keeps it (no copy) and the
        // gradient of x still matches finite differences.
        using var x = Rng.Tensor(731, 4, 6);
        var seen = new List<bool>();
        Variable Graph(Variable[] v) => F.Scale(F.Transpose(F.Apply(new LayoutProbeOp(seen), F.Tanh(v[0])), 0, 1), 2f);
        Grads(Graph, [x]);
        Assert.Equal([false], seen);
        GradAssert.Passes(Graph, [x]);
    }

    /// <summary>y = 3x that records the accumulator the tape offered for each input and, when asked, adds its gradient into it.</summary>
    private sealed class ProbeOp(List<bool[]> seen, bool addInPlace) : Op
    {
        public override string Name => "Probe";
        public override Tensor Forward() => Inputs[0].Data.Scale(3f);

        public override void Backward(Tensor g, Tensor?[] grads)
        {
            var offered = new bool[Inputs.Length];
            for (int i = 0; i < offered.Length; i++) offered[i] = Accumulators?[i] is not null;
            seen.Add(offered);
            if (addInPlace && Accumulators?[0] is { } acc)
            {
                using var d = g.Scale(3f);
                acc.ZipInPlace(new LLaDA.Tensors.Ops.AddOp(), d);
                return; // grads[0] stays null: the tape keeps the accumulator
            }
            grads[0] = g.Scale(3f);
        }
    }

    /// <summary>Σ r ⊙ [h·W1ᵀ | h·W2ᵀ | h·W3ᵀ] for h = tanh(x): h is a non-leaf feeding three projections (like q/k/v).</summary>
    private static Variable ThreeProjections(Variable[] v, bool fused)
    {
        var h = F.Tanh(v[0]);
        Variable Proj(Variable w) => fused ? F.Linear(h, w) : F.MatMul(h, F.Transpose(w, 0, 1));
        return F.Cat([Proj(v[1]), Proj(v[2]), Proj(v[3])], -1);
    }

    private static Tensor[] Inputs() => [Rng.Strided(701, 2, 5, 6), Rng.Tensor(702, 4, 6), Rng.Tensor(703, 3, 6), Rng.Tensor(704, 7, 6)];

    /// <summary>Backward with a fixed seed gradient; returns every input's gradient.</summary>
    private static float[][] Grads(Func<Variable[], Variable> f, Tensor[] inputs)
    {
        using var scope = new TensorScope();
        var vars = inputs.Select((t, i) => new Variable(t, true, $"input{i}")).ToArray();
        using var tape = new Tape();
        var y = f(vars);
        using var seed = Tensor.FromArray(Rng.Floats((int)y.Data.Numel, 705), y.Shape);
        tape.Backward(y, seed);
        var grads = vars.Select(v => v.Grad!.ToArray()).ToArray();
        foreach (var v in vars) v.ZeroGrad();
        return grads;
    }

    [Fact]
    public void Linear_SharedInput_AccumulatedByTheGemm_MatchesUnfusedSum()
    {
        var inputs = Inputs();
        try
        {
            // Unfused reference: MatMul with a transposed view never uses the accumulator, so dx is three GEMMs and two adds.
            var reference = Grads(v => ThreeProjections(v, fused: false), inputs);
            var fused = Grads(v => ThreeProjections(v, fused: true), inputs);
            for (int i = 0; i < reference.Length; i++)
            {
                Assert.Contains(reference[i], g => g != 0f);
                TensorAssert.Close(reference[i], fused[i], 1e-5, 1e-4, $"gradient {i}");
            }
        }
        finally
        {
            foreach (var t in inputs) t.Dispose();
        }
    }

    [Fact]
    public void Linear_SharedInput_GradCheckPasses()
    {
        var inputs = Inputs();
        try
        {
            GradAssert.Passes(v => ThreeProjections(v, fused: true), inputs);
        }
        finally
        {
            foreach (var t in inputs) t.Dispose();
        }
    }

    [Fact]
    public void Linear_SharedInput_IsDeterministic()
    {
        var inputs = Inputs();
        try
        {
            var a = Grads(v => ThreeProjections(v, fused: true), inputs);
            var b = Grads(v => ThreeProjections(v, fused: true), inputs);
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
        }
        finally
        {
            foreach (var t in inputs) t.Dispose();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Tape_OffersTheAccumulatedGradient_OfANonLeafAlreadyReached(bool addInPlace)
    {
        // h = tanh(x) feeds the probe (recorded first) and a Linear (recorded second): backward runs the Linear first, so
        // the probe finds h's gradient already there; whether it adds into it or returns its own, dx is the same.
        using var x = Rng.Tensor(711, 3, 4);
        using var w = Rng.Tensor(712, 5, 4);
        var seen = new List<bool[]>();
        Variable Graph(Variable[] v, bool probe)
        {
            var h = F.Tanh(v[0]);
            var p = probe ? F.Apply(new ProbeOp(seen, addInPlace), h) : F.Scale(h, 3f);
            return F.Cat([p, F.Linear(h, v[1])], -1);
        }
        var withProbe = Grads(v => Graph(v, probe: true), [x, w]);
        var plain = Grads(v => Graph(v, probe: false), [x, w]);
        Assert.Equal([true], Assert.Single(seen));
        for (int i = 0; i < plain.Length; i++) TensorAssert.Close(plain[i], withProbe[i], 1e-6, 1e-5, $"gradient {i}");
    }

    [Fact]
    public void Tape_OffersNoAccumulator_ToLeavesOrToAnInputPassedTwice()
    {
        using var x = Rng.Tensor(721, 3, 4);
        var seen = new List<bool[]>();
        // Leaf x: the probe runs after x already has a gradient from the Scale, but leaves keep their own path.
        Grads(v => F.Cat([F.Apply(new ProbeOp(seen, false), v[0]), F.Scale(v[0], 2f)], -1), [x]);
        // A non-leaf passed twice to one op: one in-place add would alias the other slot.
        Grads(v =>
        {
            var h = F.Tanh(v[0]);
            return F.Cat([F.Apply(new ProbeOp(seen, false), h, h), F.Scale(h, 2f)], -1);
        }, [x]);
        Assert.Equal(2, seen.Count);
        Assert.All(seen, s => Assert.All(s, offered => Assert.False(offered)));
    }
}
