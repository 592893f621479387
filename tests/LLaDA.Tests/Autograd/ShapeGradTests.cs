using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Finite-difference checks of the view and layout ops (their backward is the inverse view or a scatter).</summary>
public class ShapeGradTests
{
    [Fact]
    public void Reshape_Contiguous_GradCheckPasses()
    {
        using var x = Rng.Tensor(301, 3, 5, 7);
        GradAssert.Passes(v => F.Reshape(v[0], 7, -1), [x]);
    }

    [Fact]
    public void Reshape_StridedNeedsCopy_GradCheckPasses()
    {
        using var x = Rng.Strided(302, 3, 5, 7);
        GradAssert.Passes(v => F.Reshape(v[0], 15, 7), [x]);
    }

    [Fact]
    public void Reshape_ThenSquare_GradCheckPasses()
    {
        using var x = Rng.Strided(303, 5, 3);
        GradAssert.Passes(v => F.Square(F.Reshape(v[0], 3, 1, 5)), [x]);
    }

    [Fact]
    public void Permute_Rank3_GradCheckPasses()
    {
        using var x = Rng.Strided(304, 3, 5, 7);
        GradAssert.Passes(v => F.Permute(v[0], 2, 0, 1), [x]);
    }

    [Fact]
    public void Permute_NegativeDimsThenSquare_GradCheckPasses()
    {
        using var x = Rng.Tensor(305, 3, 5, 7);
        GradAssert.Passes(v => F.Square(F.Permute(v[0], -1, -3, -2)), [x]);
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(-1, -2)]
    [InlineData(1, 1)]
    public void Transpose_GradCheckPasses(int d0, int d1)
    {
        using var x = Rng.Strided(306, 3, 5, 7);
        GradAssert.Passes(v => F.Mul(F.Transpose(v[0], d0, d1), F.Transpose(v[0], d0, d1)), [x]);
    }

    [Theory]
    [InlineData(1, 1, 3)]
    [InlineData(-1, 4, 3)]
    [InlineData(0, 2, 1)]
    public void Narrow_Strided_GradCheckPasses(int dim, int start, int length)
    {
        using var x = Rng.Strided(307, 3, 5, 7);
        GradAssert.Passes(v => F.Narrow(v[0], dim, start, length), [x]);
    }

    [Fact]
    public void Expand_SizeOneAndNewLeadingDims_GradCheckPasses()
    {
        // (3, 1, 5) → (2, 3, 7, 5): a new leading dim and a size-1 dim, both summed away in backward.
        using var x = Rng.Tensor(308, 3, 1, 5);
        GradAssert.Passes(v => F.Expand(v[0], 2, 3, 7, 5), [x]);
    }

    [Fact]
    public void Expand_StridedThenMul_GradCheckPasses()
    {
        using var x = Rng.Strided(309, 5, 1);
        using var w = Rng.Tensor(310, 5, 3);
        GradAssert.Passes(v => F.Mul(F.Expand(v[0], 5, 3), v[1]), [x, w]);
    }

    [Fact]
    public void Contiguous_Strided_GradCheckPasses()
    {
        using var x = Rng.Strided(311, 3, 5);
        GradAssert.Passes(v => F.Contiguous(v[0]), [x]);
    }

    [Fact]
    public void Contiguous_OfNarrowThenSquare_GradCheckPasses()
    {
        using var x = Rng.Tensor(312, 3, 7);
        GradAssert.Passes(v => F.Square(F.Contiguous(F.Narrow(v[0], 1, 2, 5))), [x]);
    }

    [Fact]
    public void Cat_LastDimMixedWidths_GradCheckPasses()
    {
        using var a = Rng.Tensor(313, 3, 2);
        using var b = Rng.Strided(314, 3, 5);
        using var c = Rng.Tensor(315, 3, 1);
        GradAssert.Passes(v => F.Cat([v[0], v[1], v[2]], -1), [a, b, c]);
    }

    [Fact]
    public void Cat_Dim0SameInputTwice_GradCheckPasses()
    {
        // a appears twice: its gradient is the sum of both slices.
        using var a = Rng.Strided(316, 3, 5);
        using var b = Rng.Tensor(317, 1, 5);
        GradAssert.Passes(v => F.Square(F.Cat([v[0], v[1], v[0]], 0)), [a, b]);
    }

    [Fact]
    public void Cat_MiddleDim_GradCheckPasses()
    {
        using var a = Rng.Tensor(318, 2, 3, 5);
        using var b = Rng.Tensor(319, 2, 1, 5);
        GradAssert.Passes(v => F.Cat([v[0], v[1]], 1), [a, b]);
    }
}
