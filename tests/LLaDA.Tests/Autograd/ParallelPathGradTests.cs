using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>
/// Gradient checks at sizes above CpuParallel.InlineCost, so forward and backward run split across worker threads
/// (chunk boundaries inside rows, merged partials). A sample of 16 elements per input keeps each check fast.
/// </summary>
public class ParallelPathGradTests
{
    private const int Sample = 16;

    [Fact]
    public void Softmax_ManyRows_GradCheckPasses()
    {
        using var x = TestData.Uniform(901, -3f, 3f, 1031, 13);
        GradAssert.Passes(v => F.Softmax(v[0]), [x], maxPerInput: Sample);
    }

    [Fact]
    public void LogSoftmax_ManyRowsMiddleDim_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(902, -3f, 3f, 97, 11, 13);
        GradAssert.Passes(v => F.LogSoftmax(v[0], 1), [x], maxPerInput: Sample);
    }

    [Fact]
    public void CrossEntropy_ManyRows_GradCheckPasses()
    {
        const int n = 1031, vocab = 37;
        using var logits = TestData.Uniform(903, -3f, 3f, n, vocab);
        var t = Rng.Ints(n, 904, -1, vocab);
        using var targets = TestData.Ints(t, n);
        using var weights = TestData.Uniform(905, 0f, 2f, n);
        GradAssert.Passes(v => F.CrossEntropy(v[0], targets, weights), [logits], maxPerInput: Sample);
    }

    [Fact]
    public void Embedding_ManyRepeatedIds_GradCheckPasses()
    {
        // 613 ids over 17 rows × 67 columns: the column-split IndexAdd runs on several workers.
        using var w = Rng.Tensor(906, 17, 67);
        using var ids = TestData.Ints(Rng.Ints(613, 907, 0, 17), 613);
        GradAssert.Passes(v => F.Embedding(v[0], ids), [w], maxPerInput: Sample);
    }

    [Fact]
    public void Gather_ManyRows_GradCheckPasses()
    {
        using var x = Rng.Tensor(908, 4099, 9);
        using var idx = TestData.Ints(Rng.Ints(4099 * 5, 909, 0, 9), 4099, 5);
        GradAssert.Passes(v => F.Gather(v[0], idx), [x], maxPerInput: Sample);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Sum_LargeTensorEachDim_GradCheckPasses(int dim)
    {
        using var x = Rng.Strided(910, 37, 41, 29);
        GradAssert.Passes(v => F.Square(F.Sum(v[0], dim)), [x], maxPerInput: Sample);
    }

    [Fact]
    public void Max_ManyShortRowsNoTies_GradCheckPasses()
    {
        // Rows of 5 so that a fifth of the sampled elements are maxima (with a non-zero derivative).
        using var x = TestData.FromLogical(TestData.Distinct(8209 * 5, 911, 0.05f), [8209, 5], strided: true);
        GradAssert.Passes(v => F.Max(v[0], 1), [x], maxPerInput: Sample);
    }

    [Fact]
    public void Max_ShortLeadingDimNoTies_GradCheckPasses()
    {
        using var x = TestData.FromLogical(TestData.Distinct(5 * 8209, 912, 0.05f), [5, 8209]);
        GradAssert.Passes(v => F.Max(v[0], 0), [x], maxPerInput: Sample);
    }

    [Fact]
    public void Mul_LargeBroadcast_GradCheckPasses()
    {
        using var a = Rng.Strided(920, 67, 513);
        using var b = Rng.Tensor(913, 1, 513);
        GradAssert.Passes(v => F.Mul(v[0], v[1]), [a, b], maxPerInput: Sample);
    }

    [Fact]
    public void MatMul_LargeBatchedTransposed_GradCheckPasses()
    {
        using var a = Rng.Strided(914, 3, 37, 41);
        using var b = Rng.Tensor(915, 41, 43);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b], maxPerInput: Sample);
    }

    [Fact]
    public void Rope_ManyPositions_GradCheckPasses()
    {
        using var x = Rng.Tensor(916, 2, 257, 3, 16);
        GradAssert.Passes(v => F.Rope(v[0], 10000f, 5), [x], maxPerInput: Sample);
    }

    [Fact]
    public void SiluGate_Large_GradCheckPasses()
    {
        using var gate = TestData.Uniform(917, -4f, 4f, 129, 67);
        using var up = Rng.Strided(918, 129, 67);
        GradAssert.Passes(v => F.SiluGate(v[0], v[1]), [gate, up], maxPerInput: Sample);
    }

    [Fact]
    public void Unary_LargeStrided_GradCheckPasses()
    {
        using var x = TestData.StridedUniform(919, 0.5f, 2f, 131, 257);
        GradAssert.Passes(v => F.Log(F.Sigmoid(F.Tanh(v[0]))), [x], maxPerInput: Sample);
    }
}
