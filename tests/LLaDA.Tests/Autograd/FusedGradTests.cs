using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Finite-difference checks of the fused transformer ops: Softmax, LogSoftmax, RmsNorm, Rope, SiluGate, CrossEntropy, Embedding.</summary>
public class FusedGradTests
{
    // ---------------------------------------------------------------- softmax

    [Fact]
    public void Softmax_LastDimStrided_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(501, -2f, 2f, 3, 7);
        GradAssert.Passes(v => F.Softmax(v[0]), [x]);
    }

    [Fact]
    public void Softmax_MiddleDim_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(502, -2f, 2f, 3, 5, 7);
        GradAssert.Passes(v => F.Softmax(v[0], 1), [x]);
    }

    [Fact]
    public void Softmax_FirstDim_GradCheckPasses()
    {
        using var x = TestData.Uniform(503, -2f, 2f, 5, 3);
        GradAssert.Passes(v => F.Softmax(v[0], 0), [x]);
    }

    [Fact]
    public void LogSoftmax_LastDimStrided_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(504, -2f, 2f, 3, 7);
        GradAssert.Passes(v => F.LogSoftmax(v[0]), [x]);
    }

    [Fact]
    public void LogSoftmax_MiddleDim_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(505, -2f, 2f, 3, 5, 7);
        GradAssert.Passes(v => F.LogSoftmax(v[0], -2), [x]);
    }

    // ---------------------------------------------------------------- RMSNorm

    [Fact]
    public void RmsNorm_StridedInput_GradCheckPasses()
    {
        using var x = Rng.Strided(506, 3, 7);
        using var w = TestData.Uniform(507, 0.5f, 1.5f, 7);
        GradAssert.Passes(v => F.RmsNorm(v[0], v[1], 1e-5f), [x, w]);
    }

    [Fact]
    public void RmsNorm_Rank3LargeEps_GradCheckPasses()
    {
        // eps comparable to mean(x²) so a wrong eps placement would show.
        using var x = Rng.Tensor(508, 2, 3, 5);
        using var w = Rng.Tensor(509, 5);
        GradAssert.Passes(v => F.RmsNorm(v[0], v[1], 0.1f), [x, w]);
    }

    [Fact]
    public void RmsNorm_ManyRows_GradCheckPasses()
    {
        // 4096 rows × 8 exceeds the inline threshold, so the backward runs on several workers (merged dweight partials).
        using var x = Rng.Tensor(510, 4096, 8);
        using var w = TestData.Uniform(511, 0.5f, 1.5f, 8);
        GradAssert.Passes(v => F.RmsNorm(v[0], v[1], 1e-5f), [x, w], maxPerInput: 16);
    }

    // ---------------------------------------------------------------- RoPE

    [Theory]
    [InlineData(10000f, 0)]
    [InlineData(10f, 7)]
    public void Rope_GradCheckPasses(float theta, int offset)
    {
        using var x = Rng.Tensor(512, 1, 5, 3, 6);
        GradAssert.Passes(v => F.Rope(v[0], theta, offset), [x]);
    }

    [Fact]
    public void Rope_HeadMajorStorage_GradCheckPasses()
    {
        // x (B, T, H, HS) as a transposed view of (B, H, T, HS) storage — how q/k arrive after a head split.
        using var bhtd = Rng.Tensor(513, 2, 3, 5, 4);
        using var x = bhtd.Transpose(1, 2);
        Assert.False(x.IsContiguous);
        GradAssert.Passes(v => F.Rope(v[0], 10f, 3), [x]);
    }

    // ---------------------------------------------------------------- SiLU gate

    [Fact]
    public void SiluGate_StridedUp_GradCheckPasses()
    {
        using var gate = TestData.Uniform(514, -3f, 3f, 3, 7);
        using var up = Rng.Strided(515, 3, 7);
        GradAssert.Passes(v => F.SiluGate(v[0], v[1]), [gate, up]);
    }

    [Fact]
    public void SiluGate_LongRowsVectorPath_GradCheckPasses()
    {
        // 3 × 21 elements: the 8-wide vector loop and its scalar tail both run.
        using var gate = TestData.StridedUniform(516, -3f, 3f, 3, 21);
        using var up = Rng.Tensor(517, 3, 21);
        GradAssert.Passes(v => F.SiluGate(v[0], v[1]), [gate, up]);
    }

    // ---------------------------------------------------------------- cross-entropy

    [Fact]
    public void CrossEntropy_NoWeights_GradCheckPasses()
    {
        using var logits = TestData.Uniform(518, -2f, 2f, 5, 7);
        using var targets = TestData.Ints([3, 0, 6, 6, 1], 5);
        GradAssert.Passes(v => F.CrossEntropy(v[0], targets), [logits]);
    }

    [Fact]
    public void CrossEntropy_WeightsZeroWeightAndIgnoredTarget_GradCheckPasses()
    {
        // Row 2 has weight 0 and row 3 target −1: both contribute nothing; the others are weighted.
        using var logits = TestData.StridedUniform(519, -2f, 2f, 5, 7);
        using var targets = TestData.Ints([3, 0, 6, -1, 2], 5);
        using var weights = Tensor.FromArray([1f, 0.5f, 0f, 2f, 1.5f]);
        GradAssert.Passes(v => F.CrossEntropy(v[0], targets, weights), [logits]);
    }

    [Fact]
    public void CrossEntropy_ZeroWeightAndIgnoredRows_HaveZeroLossAndGradient()
    {
        using var lt = TestData.Uniform(520, -2f, 2f, 4, 5);
        using var targets = TestData.Ints([1, -1, 4, 0], 4);
        using var weights = Tensor.FromArray([1f, 1f, 0f, 2f]);
        var logits = new Variable(lt, requiresGrad: true);
        using var tape = new Tape();
        var loss = F.CrossEntropy(logits, targets, weights);
        var l = loss.Data.ToArray();
        Assert.Equal(0f, l[1]);
        Assert.Equal(0f, l[2]);
        Assert.True(l[0] > 0 && l[3] > 0);
        tape.Backward(F.Sum(loss));
        var g = logits.Grad!.ToArray();
        for (int j = 0; j < 5; j++)
        {
            Assert.Equal(0f, g[1 * 5 + j]);
            Assert.Equal(0f, g[2 * 5 + j]);
        }
        // Each kept row of w·(softmax − onehot) sums to 0 over the vocabulary.
        Assert.Equal(0.0, g.Take(5).Sum(), 5);
        Assert.Equal(0.0, g.Skip(15).Sum(), 5);
        logits.ZeroGrad();
    }

    // ---------------------------------------------------------------- embedding

    [Fact]
    public void Embedding_RepeatedIdsStridedWeight_GradCheckPasses()
    {
        // ids repeat rows 1 (×3) and 4 (×2): their gradients accumulate; rows 0, 2, 3, 5 stay zero.
        using var w = Rng.Strided(521, 7, 5);
        using var ids = TestData.Ints([1, 4, 1, 6, 4, 1], 2, 3);
        GradAssert.Passes(v => F.Embedding(v[0], ids), [w]);
    }

    [Fact]
    public void Embedding_RepeatedIds_GradientIsSumOfRows()
    {
        // dW[r] = Σ_{i: ids[i] = r} dy[i]; with dy[i] = (i+1)·[1, 1]: dW[1] = 1 + 3 = 4, dW[2] = 2, dW[0] = 0.
        using var wt = Rng.Tensor(522, 3, 2);
        using var ids = TestData.Ints([1, 2, 1], 3);
        var w = new Variable(wt, requiresGrad: true);
        using var tape = new Tape();
        var y = F.Embedding(w, ids);
        using var seed = Tensor.FromArray([1f, 1f, 2f, 2f, 3f, 3f], [3, 2]);
        tape.Backward(y, seed);
        TensorAssert.Close(w.Grad!, [0, 0, 4, 4, 2, 2], [3, 2], what: "dW");
        w.ZeroGrad();
    }
}
