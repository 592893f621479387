using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>The gradient checker itself: it must fail on wrong gradients, NaN and empty comparisons.</summary>
public class GradCheckTests
{
    /// <summary>y = x² with a deliberately wrong backward dx = dy·x (the factor 2 is missing).</summary>
    private sealed class WrongSquareOp : Op
    {
        public override string Name => "WrongSquare";
        public override Tensor Forward() => Inputs[0].Data.Square();
        public override void Backward(Tensor g, Tensor?[] grads) => grads[0] = g.Mul(Inputs[0].Data);
    }

    /// <summary>y = x² that records whether each forward saw a contiguous input.</summary>
    private sealed class LayoutProbeOp(List<bool> seen) : Op
    {
        public override string Name => "LayoutProbe";

        public override Tensor Forward()
        {
            seen.Add(Inputs[0].Data.IsContiguous);
            return Inputs[0].Data.Square();
        }

        public override void Backward(Tensor g, Tensor?[] grads)
        {
            using var t = g.Mul(Inputs[0].Data);
            grads[0] = t.Scale(2f);
        }
    }

    [Fact]
    public void Run_StridedInput_FunctionSeesStridedLayoutEveryTime()
    {
        using var x = Rng.Strided(15, 3, 5);
        Assert.False(x.IsContiguous);
        var seen = new List<bool>();
        GradAssert.Passes(v => F.Apply(new LayoutProbeOp(seen), v[0]), [x]);
        // 1 analytic pass + 2 evaluations per element, all on the transposed layout.
        Assert.Equal(1 + 2 * 15, seen.Count);
        Assert.All(seen, Assert.False);
    }

    [Fact]
    public void Run_StridedInput_LeavesCallerTensorUntouched()
    {
        using var x = Rng.Strided(16, 3, 5);
        var before = x.ToArray();
        GradAssert.Passes(v => F.Square(v[0]), [x]);
        Assert.Equal(before, x.ToArray());
    }

    [Fact]
    public void Run_WrongBackward_Fails()
    {
        using var x = Rng.Tensor(11, 3, 5);
        var rep = GradCheck.Run(v => F.Apply(new WrongSquareOp(), v[0]), [x]);
        Assert.Equal(15, rep.Entries.Count);
        Assert.False(rep.Passed, rep.ToString());
    }

    [Fact]
    public void Run_CorrectBackward_Passes()
    {
        using var x = Rng.Tensor(11, 3, 5);
        GradAssert.Passes(v => F.Square(v[0]), [x]);
    }

    [Fact]
    public void Report_NaNAnalytic_Fails()
    {
        // Enumerable.Max skips NaN: a NaN gradient next to good ones must still fail.
        var rep = new GradCheck.Report([new(0, 0, 1.0, 1.0), new(0, 1, double.NaN, 2.0), new(0, 2, 3.0, 3.0)], 1e-3, 1e-2);
        Assert.False(rep.Passed, rep.ToString());
        Assert.Equal(double.PositiveInfinity, rep.WorstRatio);
    }

    [Fact]
    public void Report_NoEntries_Fails()
    {
        var rep = new GradCheck.Report([], 1e-3, 1e-2);
        Assert.False(rep.Passed);
    }

    [Fact]
    public void Run_ZeroElementsPerInput_ComparesNothingAndFails()
    {
        using var x = Rng.Tensor(12, 4);
        var rep = GradCheck.Run(v => F.Square(v[0]), [x], maxPerInput: 0);
        Assert.Empty(rep.Entries);
        Assert.False(rep.Passed);
    }

    [Fact]
    public void Run_NothingRequiresGrad_Throws()
    {
        using var x = Rng.Tensor(13, 4);
        Assert.Throws<InvalidOperationException>(() => GradCheck.Run(v => F.Square(v[0]), [x], wantsGrad: [false]));
    }

    [Fact]
    public void Run_LargeInput_SamplesMaxPerInputDistinctElements()
    {
        using var x = Rng.Tensor(14, 7, 11); // 77 elements > 48
        var rep = GradAssert.Passes(v => F.Tanh(v[0]), [x]);
        Assert.Equal(48, rep.Entries.Select(e => e.Index).Distinct().Count());
    }
}
