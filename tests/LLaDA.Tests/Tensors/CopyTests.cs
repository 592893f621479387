using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class CopyTests
{
    [Theory]
    [InlineData(new[] { 1, 1 }, 0, 1)]
    [InlineData(new[] { 17, 33 }, 0, 1)]
    [InlineData(new[] { 3, 16, 31 }, 1, 2)]
    [InlineData(new[] { 2, 5, 40, 3 }, 1, 3)]
    [InlineData(new[] { 300, 257 }, 0, 1)]
    public void Contiguous_OfPermutedView_MatchesIndexMath(int[] shape, int d0, int d1)
    {
        int n = shape.Aggregate(1, (p, s) => p * s);
        var data = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        using var a = Tensor.FromArray(data, shape);
        using var t = a.Transpose(d0, d1);
        using var c = t.Contiguous();
        var ts = t.ShapeArray();
        var strides = Naive.Strides(shape);
        var expected = new double[n];
        for (int i = 0; i < n; i++)
        {
            var idx = Naive.Unravel(i, ts);
            (idx[d0], idx[d1]) = (idx[d1], idx[d0]);
            expected[i] = idx.Select((v, k) => v * strides[k]).Sum();
        }
        TensorAssert.Close(expected, c.ToArray(), 0, 0);
    }

    [Fact]
    public void CopyFrom_IntoStridedDestination_WritesOnlyTheView()
    {
        using var dst = Tensor.Zeros([4, 5]);
        using var slot = dst.Narrow(1, 1, 3); // columns 1..3
        using var src = Tensor.FromArray(Enumerable.Range(1, 12).Select(i => (float)i).ToArray(), [4, 3]);
        slot.CopyFrom(src);
        var v = dst.ToArray();
        for (int r = 0; r < 4; r++)
        {
            Assert.Equal(0f, v[r * 5]);
            Assert.Equal(0f, v[r * 5 + 4]);
            for (int c = 0; c < 3; c++) Assert.Equal(r * 3 + c + 1, v[r * 5 + c + 1]);
        }
    }
}
