using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Tape and Variable semantics: broadcasting undone, accumulation, no-grad, shared paths, errors, recording order.</summary>
public class SemanticsTests
{
    /// <summary>The seed s[i, j] = 5i + j + 1, i.e. [[1..5], [6..10], [11..15]].</summary>
    private static Tensor Seed3x5() => Tensor.FromArray(Enumerable.Range(1, 15).Select(x => (float)x).ToArray(), [3, 5]);

    // ---------------------------------------------------------------- broadcasting

    [Fact]
    public void Add_BroadcastOperands_GradsHaveInputShapesAndSummedSeed()
    {
        // y = a (3, 1) + b (1, 5) + c () → (3, 5); with seed s:
        // da[i] = Σ_j s[i, j] = [15, 40, 65]; db[j] = Σ_i s[i, j] = [18, 21, 24, 27, 30]; dc = Σ s = 120.
        using var at = Rng.Tensor(801, 3, 1);
        using var bt = Rng.Tensor(802, 1, 5);
        using var ct = Tensor.Scalar(0.5f);
        var a = new Variable(at, true, "a");
        var b = new Variable(bt, true, "b");
        var c = new Variable(ct, true, "c");
        using var tape = new Tape();
        var y = F.Add(F.Add(a, b), c);
        Assert.Equal([3, 5], y.Shape.ToArray());
        using var s = Seed3x5();
        tape.Backward(y, s);
        TensorAssert.Close(a.Grad!, [15, 40, 65], [3, 1], what: "da");
        TensorAssert.Close(b.Grad!, [18, 21, 24, 27, 30], [1, 5], what: "db");
        TensorAssert.Close(c.Grad!, [120], [], what: "dc");
        a.ZeroGrad();
        b.ZeroGrad();
        c.ZeroGrad();
    }

    [Fact]
    public void Mul_BroadcastLowerRank_GradIsSeedTimesOtherSummedOverLeadingDims()
    {
        // y = a (2, 3, 5) ⊙ b (5) with a ≡ 2 and seed ≡ 1: db[j] = Σ_{i,k} 1·2 = 2·6 = 12; da = b broadcast.
        using var at = Tensor.Full([2, 3, 5], 2f);
        using var bt = Tensor.FromArray([1f, 2f, 3f, 4f, 5f]);
        var a = new Variable(at, true, "a");
        var b = new Variable(bt, true, "b");
        using var tape = new Tape();
        var y = F.Mul(a, b);
        using var s = Tensor.Ones([2, 3, 5]);
        tape.Backward(y, s);
        TensorAssert.Close(b.Grad!, [12, 12, 12, 12, 12], [5], what: "db");
        var expectA = Enumerable.Range(0, 30).Select(i => (double)(i % 5 + 1)).ToArray();
        TensorAssert.Close(a.Grad!, expectA, [2, 3, 5], what: "da");
        a.ZeroGrad();
        b.ZeroGrad();
    }

    [Fact]
    public void Sub_BroadcastRightOperand_GradIsNegatedSum()
    {
        // y = a (3, 5) − b (3, 1) with seed s: db[i] = −Σ_j s[i, j] = [−15, −40, −65].
        using var at = Rng.Tensor(803, 3, 5);
        using var bt = Rng.Tensor(804, 3, 1);
        var a = new Variable(at, true, "a");
        var b = new Variable(bt, true, "b");
        using var tape = new Tape();
        var y = F.Sub(a, b);
        using var s = Seed3x5();
        tape.Backward(y, s);
        TensorAssert.Close(b.Grad!, [-15, -40, -65], [3, 1], what: "db");
        TensorAssert.Close(s, a.Grad!, what: "da");
        a.ZeroGrad();
        b.ZeroGrad();
    }

    // ---------------------------------------------------------------- accumulation

    [Fact]
    public void Backward_TwoTapes_GradsAccumulateUntilZeroGrad()
    {
        // L = Σ 3x ⇒ dL/dx = 3 per step: 3, then 6; after ZeroGrad, 3 again.
        using var xt = Rng.Tensor(805, 5);
        var x = new Variable(xt, true, "x");
        for (int step = 1; step <= 2; step++)
        {
            using var tape = new Tape();
            tape.Backward(F.Sum(F.Scale(x, 3f)));
            TensorAssert.Close(x.Grad!, Enumerable.Repeat(3.0 * step, 5).ToArray(), [5], what: $"step {step}");
        }
        x.ZeroGrad();
        Assert.Null(x.Grad);
        using (var tape = new Tape())
            tape.Backward(F.Sum(F.Scale(x, 3f)));
        TensorAssert.Close(x.Grad!, Enumerable.Repeat(3.0, 5).ToArray(), [5], what: "after ZeroGrad");
        x.ZeroGrad();
    }

    [Fact]
    public void Backward_SameTapeTwice_GradsDouble()
    {
        // L = Σ x² ⇒ dL/dx = 2x; twice ⇒ 4x.
        using var xt = Tensor.FromArray([1f, -2f, 0.5f]);
        var x = new Variable(xt, true, "x");
        using var tape = new Tape();
        var loss = F.Sum(F.Square(x));
        tape.Backward(loss);
        tape.Backward(loss);
        TensorAssert.Close(x.Grad!, [4, -8, 2], [3], what: "dx");
        x.ZeroGrad();
    }

    [Fact]
    public void Add_TwoLeaves_GradsDoNotShareStorage()
    {
        // Both inputs of Add receive views of one gradient; in-place accumulation must not leak from one leaf into the other.
        using var at = Rng.Tensor(806, 3, 5);
        using var bt = Rng.Tensor(807, 3, 5);
        var a = new Variable(at, true, "a");
        var b = new Variable(bt, true, "b");
        using var tape = new Tape();
        var loss = F.Sum(F.Add(a, b));
        tape.Backward(loss);
        Assert.NotSame(a.Grad!.Storage, b.Grad!.Storage);
        tape.Backward(loss);
        TensorAssert.Close(a.Grad!, Enumerable.Repeat(2.0, 15).ToArray(), [3, 5], what: "da");
        TensorAssert.Close(b.Grad!, Enumerable.Repeat(2.0, 15).ToArray(), [3, 5], what: "db");
        a.ZeroGrad();
        b.ZeroGrad();
    }

    [Fact]
    public void Backward_ViewGradientIntoLeaf_LeafGradIsContiguousAndOwned()
    {
        // Cat's backward hands each input a Narrow view of dy; the leaf keeps its own contiguous copy.
        using var at = Rng.Tensor(808, 3, 2);
        using var bt = Rng.Tensor(809, 3, 5);
        var a = new Variable(at, true, "a");
        var b = new Variable(bt, true, "b");
        using var tape = new Tape();
        var y = F.Cat([a, b], 1);
        using var s = Tensor.FromArray(Enumerable.Range(0, 21).Select(i => (float)i).ToArray(), [3, 7]);
        tape.Backward(y, s);
        Assert.True(a.Grad!.IsContiguous);
        Assert.True(b.Grad!.IsContiguous);
        Assert.Equal(1, a.Grad.Storage.RefCount);
        Assert.Equal(1, b.Grad.Storage.RefCount);
        TensorAssert.Close(a.Grad, [0, 1, 7, 8, 14, 15], [3, 2], what: "da");
        TensorAssert.Close(b.Grad, [2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20], [3, 5], what: "db");
        a.ZeroGrad();
        b.ZeroGrad();
    }

    // ---------------------------------------------------------------- no-grad

    [Fact]
    public void F_NoTapeOpen_RecordsNothing()
    {
        using var xt = Rng.Tensor(810, 3);
        var x = new Variable(xt, true, "x");
        Assert.Null(Tape.Current);
        var y = F.Mul(x, x);
        Assert.False(y.RequiresGrad);
        Assert.True(y.IsLeaf);
        y.Dispose();
        using var tape = new Tape();
        Assert.Equal(0, tape.Count);
    }

    [Fact]
    public void F_InsideNoGrad_RecordsNothing()
    {
        using var xt = Rng.Tensor(811, 3);
        var x = new Variable(xt, true, "x");
        using var tape = new Tape();
        var y = Tape.NoGrad(() => F.Exp(F.Mul(x, x)));
        Assert.False(y.RequiresGrad);
        Assert.Equal(0, tape.Count);
        Assert.Same(tape, Tape.Current);
        y.Dispose();
    }

    [Fact]
    public void F_TapeOpenButOnlyConstants_RecordsNothing()
    {
        using var xt = Rng.Tensor(812, 3);
        using var tape = new Tape();
        using var y = F.Exp(xt).Data;
        Assert.Equal(0, tape.Count);
    }

    [Fact]
    public void F_TapeOpen_RecordsEachOpInOrder()
    {
        using var xt = Rng.Tensor(813, 3);
        using var ct = Rng.Tensor(814, 3);
        var x = new Variable(xt, true, "x");
        using var tape = new Tape();
        var e = F.Exp(x);
        Assert.Equal(1, tape.Count);
        var m = F.Mul(e, ct); // ct is a constant, e requires grad: recorded
        Assert.Equal(2, tape.Count);
        using (F.Neg(ct).Data) Assert.Equal(2, tape.Count); // constants only: not recorded
        var s = F.Sum(m);
        Assert.Equal(3, tape.Count);
        Assert.Equal("Exp", e.Creator!.Name);
        Assert.Equal("Mul", m.Creator!.Name);
        Assert.Equal("Sum", s.Creator!.Name);
        Assert.Same(e, m.Creator.Inputs[0]);
        Assert.Same(m, s.Creator.Inputs[0]);
        Assert.True(x.IsLeaf);
    }

    // ---------------------------------------------------------------- shared paths and constants

    [Fact]
    public void Variable_UsedTwice_GetsSumOfBothPaths()
    {
        // y = x² + 3x ⇒ dy/dx = 2x + 3; x = [1, −2, 0.5] ⇒ [5, −1, 4].
        using var xt = Tensor.FromArray([1f, -2f, 0.5f]);
        var x = new Variable(xt, true, "x");
        using var tape = new Tape();
        tape.Backward(F.Sum(F.Add(F.Mul(x, x), F.Scale(x, 3f))));
        TensorAssert.Close(x.Grad!, [5, -1, 4], [3], what: "dx");
        x.ZeroGrad();
    }

    [Fact]
    public void Intermediate_UsedTwice_GetsSumOfBothPaths()
    {
        // h = eˣ, y = h² + h ⇒ dy/dx = (2h + 1)·h; x = [0, ln 2] ⇒ h = [1, 2] ⇒ [3, 10].
        using var xt = Tensor.FromArray([0f, MathF.Log(2f)]);
        var x = new Variable(xt, true, "x");
        using var tape = new Tape();
        var h = F.Exp(x);
        tape.Backward(F.Sum(F.Add(F.Mul(h, h), h)));
        TensorAssert.Close(x.Grad!, [3, 10], [2], atol: 1e-5, what: "dx");
        Assert.Null(h.Grad); // non-leaf: no stored gradient
        x.ZeroGrad();
    }

    [Fact]
    public void ConstantInput_GetsNoGrad()
    {
        // y = Σ x⊙c ⇒ dx = c; c is a constant (RequiresGrad false) and keeps Grad null.
        using var xt = Rng.Tensor(815, 4);
        using var ct = Tensor.FromArray([1f, 2f, 3f, 4f]);
        var x = new Variable(xt, true, "x");
        var c = new Variable(ct, requiresGrad: false, "c");
        using var tape = new Tape();
        tape.Backward(F.Sum(F.Mul(x, c)));
        Assert.Null(c.Grad);
        TensorAssert.Close(x.Grad!, [1, 2, 3, 4], [4], what: "dx");
        x.ZeroGrad();
    }

    [Fact]
    public void Backward_LossIsLeaf_GradIsOne()
    {
        using var xt = Tensor.Scalar(2.5f);
        var x = new Variable(xt, true, "x");
        using var tape = new Tape();
        tape.Backward(x);
        TensorAssert.Close(x.Grad!, [1], [], what: "dx");
        x.ZeroGrad();
    }

    // ---------------------------------------------------------------- errors

    [Fact]
    public void Backward_NonScalarWithoutSeed_ThrowsClearMessage()
    {
        using var xt = Rng.Tensor(816, 3, 5);
        var x = new Variable(xt, true, "x");
        using var tape = new Tape();
        var y = F.Square(x);
        var ex = Assert.Throws<TensorException>(() => tape.Backward(y));
        Assert.Contains("(3, 5)", ex.Message);
        Assert.Contains("not a scalar", ex.Message);
        Assert.Contains("seed", ex.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Backward_SeedShapeMismatch_Throws()
    {
        using var xt = Rng.Tensor(817, 3, 5);
        var x = new Variable(xt, true, "x");
        using var tape = new Tape();
        var y = F.Square(x);
        using var seed = Tensor.Ones([5, 3]);
        var ex = Assert.Throws<TensorException>(() => tape.Backward(y, seed));
        Assert.Contains("seed", ex.Message);
    }

    [Fact]
    public void Backward_NothingRequiresGrad_Throws()
    {
        using var xt = Rng.Tensor(818, 3);
        using var tape = new Tape();
        var y = F.Sum(F.Exp(xt));
        var ex = Assert.Throws<InvalidOperationException>(() => tape.Backward(y));
        Assert.Contains("requires grad", ex.Message);
        y.Dispose();
    }

    [Fact]
    public void Backward_ForwardRanWithoutTape_Throws()
    {
        using var xt = Rng.Tensor(819, 3);
        var x = new Variable(xt, true, "x");
        var y = F.Sum(F.Exp(x)); // no tape open: nothing recorded
        using var tape = new Tape();
        Assert.Throws<InvalidOperationException>(() => tape.Backward(y));
        y.Dispose();
    }

    [Fact]
    public void Backward_AfterTapeDisposed_Throws()
    {
        using var xt = Rng.Tensor(820, 3);
        var x = new Variable(xt, true, "x");
        var tape = new Tape();
        var y = F.Sum(F.Exp(x));
        tape.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tape.Backward(y));
        Assert.Null(Tape.Current);
    }

    [Fact]
    public void Tape_DisposedOutOfOrder_Throws()
    {
        var outer = new Tape();
        var inner = new Tape();
        Assert.Throws<InvalidOperationException>(() => outer.Dispose());
        inner.Dispose();
        outer.Dispose();
        Assert.Null(Tape.Current);
    }
}
