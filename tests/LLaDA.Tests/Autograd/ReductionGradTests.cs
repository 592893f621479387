using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Finite-difference checks of Sum, Mean, Max(dim) and Gather.</summary>
public class ReductionGradTests
{
    [Fact]
    public void Sum_All_GradCheckPasses()
    {
        using var x = Rng.Strided(201, 3, 5);
        GradAssert.Passes(v => F.Sum(v[0]), [x]);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(1, false)]
    [InlineData(-1, true)]
    [InlineData(-1, false)]
    public void Sum_Dim_GradCheckPasses(int dim, bool keepDim)
    {
        using var x = Rng.Strided(202, 3, 5, 7);
        GradAssert.Passes(v => F.Sum(v[0], dim, keepDim), [x]);
    }

    [Fact]
    public void Sum_SizeOneDim_GradCheckPasses()
    {
        using var x = Rng.Tensor(203, 3, 1, 5);
        GradAssert.Passes(v => F.Sum(v[0], 1), [x]);
    }

    [Fact]
    public void Mean_All_GradCheckPasses()
    {
        using var x = Rng.Strided(204, 5, 3);
        GradAssert.Passes(v => F.Mean(v[0]), [x]);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(-1, true)]
    public void Mean_Dim_GradCheckPasses(int dim, bool keepDim)
    {
        using var x = Rng.Strided(205, 3, 5, 7);
        GradAssert.Passes(v => F.Mean(v[0], dim, keepDim), [x]);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(-1, false)]
    [InlineData(-1, true)]
    public void Max_DimNoTies_GradCheckPasses(int dim, bool keepDim)
    {
        // All 105 values are distinct multiples of 0.05, so no maximum changes within a ±0.01 step.
        using var x = TestData.FromLogical(TestData.Distinct(105, 206, 0.05f), [3, 5, 7], strided: true);
        GradAssert.Passes(v => F.Max(v[0], dim, keepDim), [x]);
    }

    [Fact]
    public void Max_Dim_GradientGoesToArgmaxOnly()
    {
        // x = [[1, 3, 2], [5, 4, 0]]: max over dim 1 picks columns 1 and 0, so dx = [[0, s0, 0], [s1, 0, 0]].
        using var xt = Tensor.FromArray([1f, 3f, 2f, 5f, 4f, 0f], [2, 3]);
        var x = new Variable(xt, requiresGrad: true);
        using var tape = new Tape();
        var y = F.Max(x, 1);
        using var seed = Tensor.FromArray([10f, 20f], [2]);
        tape.Backward(y, seed);
        TensorAssert.Close(x.Grad!, [0, 10, 0, 20, 0, 0], [2, 3], what: "dx");
        x.ZeroGrad();
    }

    [Fact]
    public void Gather_RepeatedIndices_GradCheckPasses()
    {
        // Row 0 gathers column 2 twice: its gradient is the sum of both picks.
        using var x = Rng.Strided(207, 3, 7);
        using var idx = TestData.Ints([2, 2, 0, 6, 1, 5, 5, 5, 3, 4, 0, 3], 3, 4);
        GradAssert.Passes(v => F.Gather(v[0], idx), [x]);
    }

    [Fact]
    public void Gather_Rank3_GradCheckPasses()
    {
        using var x = Rng.Tensor(208, 2, 3, 5);
        using var idx = TestData.Ints([4, 0, 1, 1, 3, 2, 0, 0, 2, 4, 3, 1], 2, 3, 2);
        GradAssert.Passes(v => F.Gather(v[0], idx), [x]);
    }
}
