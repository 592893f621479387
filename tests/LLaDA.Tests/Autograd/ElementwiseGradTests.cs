using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Finite-difference checks of the elementwise ops of F (broadcasting binary ops, unary maps, Where).</summary>
public class ElementwiseGradTests
{
    // ---------------------------------------------------------------- binary (broadcasting)

    [Fact]
    public void Add_SameShapeStridedLeft_GradCheckPasses()
    {
        using var a = Rng.Strided(101, 3, 5);
        using var b = Rng.Tensor(102, 3, 5);
        GradAssert.Passes(v => F.Add(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Add_BroadcastBothSides_GradCheckPasses()
    {
        // (3, 1, 5) + (7, 1) → (3, 7, 5): each operand is broadcast along a different dim.
        using var a = Rng.Tensor(103, 3, 1, 5);
        using var b = Rng.Tensor(104, 7, 1);
        GradAssert.Passes(v => F.Add(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Sub_BroadcastLowerRankLeft_GradCheckPasses()
    {
        using var a = Rng.Tensor(105, 5);
        using var b = Rng.Strided(106, 3, 5);
        GradAssert.Passes(v => F.Sub(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Mul_BroadcastRowStrided_GradCheckPasses()
    {
        using var a = Rng.Strided(107, 3, 5);
        using var b = Rng.Tensor(108, 1, 5);
        GradAssert.Passes(v => F.Mul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Mul_ScalarOperand_GradCheckPasses()
    {
        // A 0-d operand broadcast to (3, 5): its gradient is the full sum.
        using var a = Rng.Tensor(109, 3, 5);
        using var b = Tensor.Scalar(0.7f);
        GradAssert.Passes(v => F.Mul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Mul_SameVariableBothOperands_GradCheckPasses()
    {
        using var a = Rng.Strided(110, 5, 3);
        GradAssert.Passes(v => F.Mul(v[0], v[0]), [a]);
    }

    [Fact]
    public void Div_BroadcastDenominatorAwayFromZero_GradCheckPasses()
    {
        // |b| ≥ 0.5 keeps 1/b and a/b² well conditioned under a ±0.01 step.
        using var a = Rng.Strided(111, 3, 5);
        using var b = TestData.FromLogical(TestData.AwayFromZero(3, 112, 0.5f), [3, 1]);
        GradAssert.Passes(v => F.Div(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Div_SameShape_GradCheckPasses()
    {
        using var a = Rng.Tensor(113, 1, 7);
        using var b = TestData.Uniform(114, 0.5f, 2f, 1, 7);
        GradAssert.Passes(v => F.Div(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Maximum_NoTiesStrided_GradCheckPasses()
    {
        // b = a ± [0.1, 1): the winner never changes within a ±0.01 step of either operand.
        var av = Rng.Floats(15, 115);
        var d = TestData.AwayFromZero(15, 116, 0.1f);
        var bv = av.Select((x, i) => x + d[i]).ToArray();
        using var a = TestData.FromLogical(av, [3, 5], strided: true);
        using var b = TestData.FromLogical(bv, [3, 5]);
        GradAssert.Passes(v => F.Maximum(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Maximum_Broadcast_GradCheckPasses()
    {
        // b (5) broadcast over 3 rows; a[i, j] = b[j] ± [0.1, 1), so both operands win somewhere and nothing ties.
        var bv = Rng.Floats(5, 117);
        var d = TestData.AwayFromZero(15, 118, 0.1f);
        var av = new float[15];
        for (int i = 0; i < 15; i++) av[i] = bv[i % 5] + d[i];
        using var a = TestData.FromLogical(av, [3, 5]);
        using var b = TestData.FromLogical(bv, [5]);
        GradAssert.Passes(v => F.Maximum(v[0], v[1]), [a, b]);
    }

    // ---------------------------------------------------------------- unary

    [Fact]
    public void Neg_Strided_GradCheckPasses()
    {
        using var x = Rng.Strided(120, 3, 5);
        GradAssert.Passes(v => F.Neg(v[0]), [x]);
    }

    [Fact]
    public void Scale_Strided_GradCheckPasses()
    {
        using var x = Rng.Strided(121, 5, 3);
        GradAssert.Passes(v => F.Scale(v[0], -2.5f), [x]);
    }

    [Fact]
    public void AddScalar_Strided_GradCheckPasses()
    {
        // The output must not alias the gradient wrongly: square it so the gradient depends on x.
        using var x = Rng.Strided(122, 3, 5);
        GradAssert.Passes(v => F.Square(F.AddScalar(v[0], 0.75f)), [x]);
        GradAssert.Passes(v => F.AddScalar(v[0], 0.75f), [x]);
    }

    [Fact]
    public void Exp_Strided_GradCheckPasses()
    {
        using var x = Rng.Strided(123, 5, 3);
        GradAssert.Passes(v => F.Exp(v[0]), [x]);
    }

    [Fact]
    public void Log_PositiveInput_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(124, 0.5f, 2f, 3, 5);
        GradAssert.Passes(v => F.Log(v[0]), [x]);
    }

    [Fact]
    public void Sqrt_PositiveInput_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(125, 0.5f, 2f, 3, 5);
        GradAssert.Passes(v => F.Sqrt(v[0]), [x]);
    }

    [Fact]
    public void Square_Strided_GradCheckPasses()
    {
        using var x = Rng.Strided(126, 3, 7);
        GradAssert.Passes(v => F.Square(v[0]), [x]);
    }

    [Theory]
    [InlineData(2.5f)]
    [InlineData(-1.5f)]
    [InlineData(3f)]
    public void Pow_PositiveInput_GradCheckPasses(float p)
    {
        using var x = TestData.StridedUniform(127, 0.5f, 2f, 3, 5);
        GradAssert.Passes(v => F.Pow(v[0], p), [x]);
    }

    [Fact]
    public void Tanh_Strided_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(128, -2f, 2f, 3, 5);
        GradAssert.Passes(v => F.Tanh(v[0]), [x]);
    }

    [Fact]
    public void Sigmoid_Strided_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(129, -3f, 3f, 3, 5);
        GradAssert.Passes(v => F.Sigmoid(v[0]), [x]);
    }

    [Fact]
    public void Silu_Strided_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(130, -3f, 3f, 5, 3);
        GradAssert.Passes(v => F.Silu(v[0]), [x]);
    }

    [Fact]
    public void Relu_AwayFromZeroStrided_GradCheckPasses()
    {
        // |x| ≥ 0.1: no element crosses the kink at 0 within a ±0.01 step; both branches occur.
        var xv = TestData.AwayFromZero(15, 131, 0.1f);
        Assert.Contains(xv, x => x > 0);
        Assert.Contains(xv, x => x < 0);
        using var x = TestData.FromLogical(xv, [3, 5], strided: true);
        GradAssert.Passes(v => F.Relu(v[0]), [x]);
    }

    // ---------------------------------------------------------------- where

    [Fact]
    public void Where_IntCondBroadcastB_GradCheckPasses()
    {
        // cond (3, 5) mixes both branches; b (5) is broadcast, so db sums over the rows where cond is 0.
        using var cond = TestData.Ints([1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1], 3, 5);
        using var a = Rng.Strided(132, 3, 5);
        using var b = Rng.Tensor(133, 5);
        GradAssert.Passes(v => F.Where(cond, v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Where_FloatCondBroadcastCond_GradCheckPasses()
    {
        // An F32 condition (3, 1) broadcast over columns; it is a constant, not checked.
        using var cond = Tensor.FromArray([1f, 0f, 2f], [3, 1]);
        using var a = Rng.Tensor(134, 3, 5);
        using var b = Rng.Strided(135, 3, 5);
        GradAssert.Passes(v => F.Where(cond, v[0], v[1]), [a, b]);
    }

    [Fact]
    public void Where_BothBranchesSmallerThanCond_GradCheckPasses()
    {
        // cond (3, 5) sets the output shape; a (1, 5) and a 0-d b are broadcast up and their gradients summed back.
        using var cond = TestData.Ints([0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1], 3, 5);
        using var a = Rng.Tensor(136, 1, 5);
        using var b = Tensor.Scalar(-0.4f);
        GradAssert.Passes(v => F.Where(cond, v[0], v[1]), [a, b]);
    }
}
