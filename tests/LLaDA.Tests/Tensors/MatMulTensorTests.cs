using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class MatMulTensorTests
{
    private static double[] BatchedNaive(Tensor a, Tensor b)
    {
        // Broadcast batch dims through contiguous copies, then a double-precision triple loop per batch.
        int m = a.Dim(-2), k = a.Dim(-1), n = b.Dim(-1);
        var batch = LLaDA.Tensors.Layout.BroadcastShapes("ref", a.Shape[..^2], b.Shape[..^2]);
        int nb = batch.Aggregate(1, (p, s) => p * s);
        using var ae = a.Expand([.. batch, m, k]);
        using var be = b.Expand([.. batch, k, n]);
        var av = ae.ToArray();
        var bv = be.ToArray();
        var res = new List<double>();
        for (int i = 0; i < nb; i++)
            res.AddRange(Naive.MatMul(av[(i * m * k)..((i + 1) * m * k)], bv[(i * k * n)..((i + 1) * k * n)], m, k, n));
        return res.ToArray();
    }

    public static TheoryData<int[], int[], bool, bool> Cases => new()
    {
        { new[] { 1, 1 }, new[] { 1, 1 }, false, false },
        { new[] { 3, 5 }, new[] { 5, 7 }, false, false },
        { new[] { 5, 300 }, new[] { 300, 3 }, true, false },   // K > M, A transposed view
        { new[] { 33, 17 }, new[] { 17, 65 }, false, true },   // B transposed view
        { new[] { 2, 3, 4, 5 }, new[] { 5, 6 }, false, false }, // batch folded into M
        { new[] { 2, 3, 4, 5 }, new[] { 5, 6 }, true, true },
        { new[] { 4, 7, 9 }, new[] { 4, 9, 3 }, true, false },  // batched
        { new[] { 1, 7, 9 }, new[] { 4, 9, 3 }, false, true },  // broadcast batch of A
        { new[] { 2, 1, 7, 9 }, new[] { 3, 9, 2 }, false, false }, // broadcast batch dims both ways
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatMul_ShapesAndTransposedViews_MatchNaive(int[] sa, int[] sb, bool transA, bool transB)
    {
        using var a = transA ? Rng.Strided(1, sa) : Rng.Tensor(1, sa);
        using var b = transB ? Rng.Strided(2, sb) : Rng.Tensor(2, sb);
        using var c = a.MatMul(b);
        var expected = BatchedNaive(a, b);
        TensorAssert.Close(expected, c.ToArray(), 1e-5, 1e-4);
    }

    [Fact]
    public void MatMulInto_AlphaBeta_Accumulates()
    {
        using var a = Rng.Tensor(1, 6, 4);
        using var b = Rng.Strided(2, 4, 5);
        using var c = Rng.Tensor(3, 6, 5);
        var c0 = c.ToArray();
        c.MatMulInto(a, b, alpha: 0.5f, beta: 2f);
        var ab = Naive.MatMul(a.ToArray(), b.ToArray(), 6, 4, 5);
        TensorAssert.Close(ab.Select((v, i) => 0.5 * v + 2 * c0[i]).ToArray(), c.ToArray(), 1e-5, 1e-5);
    }

    [Fact]
    public void MatMul_InnerMismatch_ErrorNamesShapes()
    {
        using var a = Tensor.Zeros([2, 3]);
        using var b = Tensor.Zeros([4, 5]);
        var ex = Assert.Throws<TensorException>(() => a.MatMul(b));
        Assert.Contains("MatMul", ex.Message);
        Assert.Contains("(2, 3)", ex.Message);
        Assert.Contains("(4, 5)", ex.Message);
    }
}
