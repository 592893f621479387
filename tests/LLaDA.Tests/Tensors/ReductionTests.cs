using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class ReductionTests
{
    private static double[] NaiveReduce(float[] x, int[] shape, int dim, Func<IEnumerable<double>, double> f)
    {
        int outer = shape[..dim].Aggregate(1, (p, s) => p * s), r = shape[dim], inner = shape[(dim + 1)..].Aggregate(1, (p, s) => p * s);
        var y = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
                y[o * inner + i] = f(Enumerable.Range(0, r).Select(k => (double)x[(o * r + k) * inner + i]));
        return y;
    }

    [Theory]
    [InlineData(new[] { 7 }, 0)]
    [InlineData(new[] { 3, 5, 7 }, 0)]
    [InlineData(new[] { 3, 5, 7 }, 1)]
    [InlineData(new[] { 3, 5, 7 }, 2)]
    [InlineData(new[] { 1, 1, 33 }, -1)]
    [InlineData(new[] { 129, 1, 3 }, 0)]
    public void SumMeanMaxMin_AnyDim_MatchNaive(int[] shape, int dim)
    {
        int n = shape.Aggregate(1, (p, s) => p * s);
        var x = Rng.Floats(n, 5, -3, 3);
        using var t = Tensor.FromArray(x, shape);
        int d = dim < 0 ? dim + shape.Length : dim;
        var outShape = shape.Where((_, i) => i != d).ToArray();
        using var s = t.Sum(dim);
        TensorAssert.Close(s, NaiveReduce(x, shape, d, v => v.Sum()), outShape, 1e-5, 1e-5, "sum");
        using var m = t.Mean(dim, keepDim: true);
        Assert.Equal(1, m.Dim(d));
        TensorAssert.Close(NaiveReduce(x, shape, d, v => v.Average()), m.ToArray(), 1e-6, 1e-5, "mean");
        using var mx = t.Max(dim);
        TensorAssert.Close(mx, NaiveReduce(x, shape, d, v => v.Max()), outShape, 0, 0, "max");
        using var mn = t.Min(dim);
        TensorAssert.Close(mn, NaiveReduce(x, shape, d, v => v.Min()), outShape, 0, 0, "min");
    }

    [Fact]
    public void SumAll_NonContiguous_MatchesNaive()
    {
        using var t = Rng.Strided(3, 31, 65);
        var v = t.ToArray();
        using var s = t.Sum();
        Assert.Equal(0, s.Rank);
        Assert.Equal(v.Sum(x => (double)x), s.Item(), 4);
    }

    [Fact]
    public void ArgMax_Ties_PicksFirst_AnyDim()
    {
        using var t = Tensor.FromArray(new float[] { 1, 5, 5, 2, 7, 7, 7, 0 }, [2, 4]);
        Assert.Equal(new[] { 1, 0 }, t.ArgMax(-1).ToIntArray());
        using var t2 = Tensor.FromArray(new float[] { 3, 1, 3, 2 }, [2, 2]);
        Assert.Equal(new[] { 0, 1 }, t2.ArgMax(0).ToIntArray());
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(17, 5)]
    [InlineData(300, 100)]
    [InlineData(64, 64)]
    public void TopK_MatchesStableSort(int n, int k)
    {
        // Values drawn from a small set so ties occur: ties must come back in index order.
        var x = Rng.Ints(3 * n, 9, 0, 10).Select(v => (float)v).ToArray();
        using var t = Tensor.FromArray(x, [3, n]);
        var (vals, idx) = t.TopK(k);
        using (vals)
        using (idx)
        {
            var vv = vals.ToArray();
            var ii = idx.ToIntArray();
            for (int r = 0; r < 3; r++)
            {
                var expected = Enumerable.Range(0, n).OrderByDescending(j => x[r * n + j]).ThenBy(j => j).Take(k).ToArray();
                for (int j = 0; j < k; j++)
                {
                    Assert.Equal(expected[j], ii[r * k + j]);
                    Assert.Equal(x[r * n + expected[j]], vv[r * k + j]);
                }
            }
        }
    }

    [Fact]
    public void TopK_KOutOfRange_Throws()
    {
        using var t = Tensor.Zeros([2, 3]);
        var ex = Assert.Throws<TensorException>(() => t.TopK(4));
        Assert.Contains("TopK", ex.Message);
    }

    [Fact]
    public void SumTo_UndoesBroadcast()
    {
        using var g = Tensor.Ones([2, 3, 4]);
        using var s = g.SumTo([3, 1]);
        Assert.Equal([3, 1], s.ShapeArray());
        Assert.All(s.ToArray(), v => Assert.Equal(8f, v));
    }
}

public class ReductionChunkedTests
{
    [Theory]
    [InlineData(1, 130, 300)]
    [InlineData(3, 77, 257)]
    [InlineData(2, 1000, 512)]
    public void SumMeanMaxMin_LongMiddleDim_MatchNaive(int outer, int r, int inner)
    {
        // r ≥ 64 and inner ≥ 256 take the chunked path (partials per row chunk, combined in order).
        var x = Testing.Rng.Floats(outer * r * inner, 11, -2, 2);
        using var t = LLaDA.Tensors.Tensor.FromArray(x, [outer, r, inner]);
        var sum = new double[outer * inner];
        var max = Enumerable.Repeat(double.NegativeInfinity, outer * inner).ToArray();
        var min = Enumerable.Repeat(double.PositiveInfinity, outer * inner).ToArray();
        for (int o = 0; o < outer; o++)
            for (int k = 0; k < r; k++)
                for (int i = 0; i < inner; i++)
                {
                    double v = x[(o * r + k) * inner + i];
                    sum[o * inner + i] += v;
                    max[o * inner + i] = Math.Max(max[o * inner + i], v);
                    min[o * inner + i] = Math.Min(min[o * inner + i], v);
                }
        using var s = t.Sum(1);
        using var m = t.Mean(1);
        using var mx = t.Max(1);
        using var mn = t.Min(1);
        Testing.TensorAssert.Close(sum, s.ToArray(), 1e-4, 1e-5, "sum");
        Testing.TensorAssert.Close(sum.Select(v => v / r).ToArray(), m.ToArray(), 1e-6, 1e-5, "mean");
        Testing.TensorAssert.Close(max, mx.ToArray(), 0, 0, "max");
        Testing.TensorAssert.Close(min, mn.ToArray(), 0, 0, "min");
    }
}
