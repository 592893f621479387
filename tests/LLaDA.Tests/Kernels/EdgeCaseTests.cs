using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>Special values through the row kernels (−∞ masks, NaN, ties) against CpuBackend.</summary>
[Collection(IlgpuCollection.Name)]
public class EdgeCaseTests(IlgpuFixture fx)
{
    private IlgpuBackend Gpu => fx.Gpu;

    private static float Inf => float.PositiveInfinity;

    [Fact]
    public void Softmax_WithMinusInfinityMask_MatchesCpu()
    {
        float[] x = [0f, -Inf, 1f, -Inf, 2f, /* row 2 */ -Inf, 3f, -Inf, -Inf, -Inf];
        using var c = Tensor.FromArray(x, [2, 5]);
        using var d = c.To(Gpu);
        TensorAssert.Close(c.Softmax().ToArray(), d.Softmax().ToArray(), 1e-7, 1e-6, "softmax");
        TensorAssert.Close(c.LogSoftmax().ToArray(), d.LogSoftmax().ToArray(), 1e-6, 1e-6, "log-softmax");
    }

    [Fact]
    public void Reductions_PropagateNaN_AndArgMaxPicksFirstNaN()
    {
        float[] x = [1f, float.NaN, 3f, float.NaN, /* row 2 */ 2f, 5f, 5f, -Inf];
        using var c = Tensor.FromArray(x, [2, 4]);
        using var d = c.To(Gpu);
        TensorAssert.Close(c.Max(1).ToArray(), d.Max(1).ToArray(), 0, 0, "max");
        TensorAssert.Close(c.Min(1).ToArray(), d.Min(1).ToArray(), 0, 0, "min");
        TensorAssert.Close(c.Sum(1).ToArray(), d.Sum(1).ToArray(), 0, 0, "sum");
        Assert.Equal(new[] { 1, 1 }, d.ArgMax(1).ToIntArray()); // first NaN; tie 5, 5 → lower index
        Assert.Equal(c.ArgMax(1).ToIntArray(), d.ArgMax(1).ToIntArray());
        Assert.Equal(c.ArgMax(0).ToIntArray(), d.ArgMax(0).ToIntArray());
        TensorAssert.Close(c.Max(0).ToArray(), d.Max(0).ToArray(), 0, 0, "max over rows");
    }

    [Fact]
    public void TopK_WithTiesNaNAndKEqualsN_MatchesCpu()
    {
        float[] x = [3f, 1f, 3f, float.NaN, -Inf, 1f, 2f];
        using var c = Tensor.FromArray(x, [1, 7]);
        using var d = c.To(Gpu);
        var (cv, ci) = c.TopK(7);
        var (dv, di) = d.TopK(7);
        Assert.Equal(new[] { 3, 0, 2, 6, 1, 5, 4 }, di.ToIntArray());
        Assert.Equal(ci.ToIntArray(), di.ToIntArray());
        TensorAssert.Close(cv.ToArray(), dv.ToArray(), 0, 0, "values");
    }

    [Fact]
    public void CrossEntropy_AllRowsIgnored_GivesZeroLossAndGradient()
    {
        using var logits = Tensor.FromArray(Rng.Floats(3 * 4, 3), [3, 4], Gpu);
        using var t = Tensor.FromArray(new[] { -1, 2, -100 }, Gpu);
        using var w = Tensor.FromArray(new[] { 1f, 0f, 1f }, Gpu);
        var (loss, lse) = Tensor.CrossEntropy(logits, t, w);
        Assert.Equal(new float[3], loss.ToArray());
        Assert.Equal(new float[3], lse.ToArray());
        using var dl = Tensor.CrossEntropyBackward(logits, t, w, lse, Tensor.Ones([3], DType.F32, Gpu));
        Assert.Equal(new float[12], dl.ToArray());
    }

    [Fact]
    public void RmsNormBackward_ManyRows_UsesAllChunksDeterministically()
    {
        // 70 rows > 32 chunks: several rows per chunk, and two runs give identical bits.
        using var x = Tensor.FromArray(Rng.Floats(70 * 5, 4), [70, 5]);
        using var w = Tensor.FromArray(Rng.Floats(5, 5, 0.5f, 1.5f), [5]);
        using var dy = Tensor.FromArray(Rng.Floats(70 * 5, 6), [70, 5]);
        var (_, rstd) = x.RmsNorm(w, 1e-5f);
        var (cdx, cdw) = Tensor.RmsNormBackward(dy, x, w, rstd);
        using var gx = x.To(Gpu);
        using var gw = w.To(Gpu);
        using var gdy = dy.To(Gpu);
        var (_, grstd) = gx.RmsNorm(gw, 1e-5f);
        TensorAssert.Close(rstd.ToArray(), grstd.ToArray(), 1e-6, 1e-5, "rstd"); // the forward's statistics first: a wrong dx then points at the backward
        var (gdx, gdw) = Tensor.RmsNormBackward(gdy, gx, gw, grstd);
        var (_, gdw2) = Tensor.RmsNormBackward(gdy, gx, gw, grstd);
        TensorAssert.Close(cdx.ToArray(), gdx.ToArray(), 1e-5, 1e-4, "dx");
        TensorAssert.Close(cdw.ToArray(), gdw.ToArray(), 1e-5, 1e-4, "dw");
        Assert.Equal(gdw.ToArray(), gdw2.ToArray());
    }

    [Fact]
    public void Rope_PositionsBeyondCachedTable_ReuploadsLongerTable()
    {
        using var x = Tensor.FromArray(Rng.Floats(1 * 3 * 1 * 4, 7), [1, 3, 1, 4]);
        using var g = x.To(Gpu);
        TensorAssert.Close(x.Rope(1234f).ToArray(), g.Rope(1234f).ToArray(), 0, 0, "short");
        TensorAssert.Close(x.Rope(1234f, 200).ToArray(), g.Rope(1234f, 200).ToArray(), 0, 0, "offset 200");
    }

    [Fact]
    public void Random_FarCounters_MatchCpuBitForBit()
    {
        foreach (var (seed, offset) in new[] { (0UL, 0UL), (42UL, 0xFFFF_FFFFUL), (ulong.MaxValue, ulong.MaxValue - 2) })
        {
            using var c = Tensor.Rand([9], seed, offset);
            using var d = Tensor.Rand([9], seed, offset, Gpu);
            Assert.Equal(c.ToArray(), d.ToArray());
        }
    }
}
