using System.Runtime.Intrinsics;
using LLaDA.Tensors.Ops;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class VectorMathTests
{
    [Fact]
    public void Exp_DenseSweep_WithinOneE7Relative_AndIeeeEdges()
    {
        // Every 1/1024 from −87 to 88 (the fast range): relative error against Math.Exp ≤ 1.5e−7 (a couple of float ulps).
        double worst = 0;
        for (double x0 = -87; x0 < 87.99; x0 += 8.0 / 1024)
        {
            var v = Vector256.Create((float)x0) + Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7) / Vector256.Create(1024f);
            var e = VectorMath.Exp(v);
            Assert.Equal(e, VectorMath.ExpFast(v));
            for (int i = 0; i < 8; i++)
            {
                double want = Math.Exp(v.GetElement(i));
                worst = Math.Max(worst, Math.Abs(e.GetElement(i) - want) / want);
            }
        }
        Assert.True(worst < 1.5e-7, $"worst relative error {worst:G3}");
        var edges = VectorMath.Exp(Vector256.Create(float.NegativeInfinity, -100f, 0f, 88.72f, 89f, float.PositiveInfinity, float.NaN, 1f));
        Assert.Equal(0f, edges.GetElement(0));
        Assert.Equal(0f, edges.GetElement(1));
        Assert.Equal(1f, edges.GetElement(2));
        Assert.True(float.IsFinite(edges.GetElement(3)) && edges.GetElement(3) > 1e38f); // (88, 88.72] saturates at e^88
        Assert.Equal(float.PositiveInfinity, edges.GetElement(4));
        Assert.Equal(float.PositiveInfinity, edges.GetElement(5));
        Assert.True(float.IsNaN(edges.GetElement(6)));
        Assert.Equal(MathF.E, edges.GetElement(7), 6);
    }

    [Fact]
    public void Exp512_EqualsTheEightLaneExp_OnADenseSweep_AndEdges()
    {
        // The 16-lane overloads run the same arithmetic as the 8-lane ones (validated against Math.Exp above): lane for lane
        // identical results, edges included.
        for (double x0 = -90; x0 < 90; x0 += 16.0 / 512)
        {
            var v = Vector512.Create((float)x0) + Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) / Vector512.Create(512f);
            Assert.Equal(Vector512.Create(VectorMath.Exp(v.GetLower()), VectorMath.Exp(v.GetUpper())), VectorMath.Exp(v));
            Assert.Equal(Vector512.Create(VectorMath.ExpFast(v.GetLower()), VectorMath.ExpFast(v.GetUpper())), VectorMath.ExpFast(v));
        }
        var e = Vector512.Create(float.NegativeInfinity, -100f, 0f, 88.72f, 89f, float.PositiveInfinity, float.NaN, 1f, -1f, 2f, 10f, -10f, 50f, -50f, 0.5f, -0.5f);
        var want = Vector512.Create(VectorMath.Exp(e.GetLower()), VectorMath.Exp(e.GetUpper()));
        var got = VectorMath.Exp(e);
        for (int i = 0; i < 16; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(want.GetElement(i)), BitConverter.SingleToInt32Bits(got.GetElement(i)));
    }
}
