using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class ViewTests
{
    private static float[] Iota(int n) => Enumerable.Range(0, n).Select(i => (float)i).ToArray();

    [Fact]
    public void Transpose_IsViewWithSwappedStrides_ValuesMatchIndexMath()
    {
        using var a = Tensor.FromArray(Iota(6), [2, 3]);
        using var t = a.Transpose(0, 1);
        Assert.Equal([3, 2], t.ShapeArray());
        Assert.Same(a.Storage, t.Storage);
        Assert.False(t.IsContiguous);
        // t[i, j] = a[j, i] = 3j + i
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, t.ToArray());
    }

    [Fact]
    public void Narrow_Select_OffsetsAndValues()
    {
        using var a = Tensor.FromArray(Iota(24), [2, 3, 4]);
        using var n = a.Narrow(2, 1, 2); // [:, :, 1:3]
        Assert.Equal([2, 3, 2], n.ShapeArray());
        Assert.Equal(new float[] { 1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22 }, n.ToArray());
        using var s = a.Select(1, 2); // [:, 2, :]
        Assert.Equal(new float[] { 8, 9, 10, 11, 20, 21, 22, 23 }, s.ToArray());
        using var neg = a.Select(0, -1);
        Assert.Equal(Iota(24)[12..], neg.ToArray());
    }

    [Fact]
    public void Reshape_Contiguous_IsView_NonViewable_Copies()
    {
        using var a = Tensor.FromArray(Iota(12), [3, 4]);
        using var r = a.Reshape(2, -1);
        Assert.Same(a.Storage, r.Storage);
        Assert.Equal([2, 6], r.ShapeArray());
        using var t = a.Transpose(0, 1); // (4, 3), not viewable as (12)
        Assert.Throws<TensorException>(() => t.View(12));
        using var flat = t.Reshape(12);
        Assert.NotSame(a.Storage, flat.Storage);
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, flat.ToArray());
    }

    [Fact]
    public void View_SplitDimOfTransposed_NoCopy()
    {
        // (B=2, T=3, C=4) → transpose(0,1) → (3, 2, 4); splitting C into (2, 2) is a view.
        using var a = Tensor.FromArray(Iota(24), [2, 3, 4]);
        using var t = a.Transpose(0, 1);
        using var v = t.View(3, 2, 2, 2);
        Assert.Same(a.Storage, v.Storage);
        using var vc = v.Contiguous();
        using var tc = t.Contiguous();
        Assert.Equal(tc.ToArray(), vc.ToArray());
    }

    [Fact]
    public void Expand_BroadcastsWithStrideZero()
    {
        using var a = Tensor.FromArray(new float[] { 1, 2, 3 }, [3, 1]);
        using var e = a.Expand(2, 3, 4);
        Assert.Equal(0, e.Strides[0]);
        Assert.Equal(0, e.Strides[2]);
        var v = e.ToArray();
        for (int i = 0; i < 24; i++) Assert.Equal(1 + (i / 4) % 3, v[i]);
        Assert.Throws<TensorException>(() => a.Expand(2, 4, 4));
    }

    [Fact]
    public void UnsqueezeSqueezePermute_RoundTrip()
    {
        using var a = Rng.Tensor(1, 2, 3, 5);
        using var u = a.Unsqueeze(1);
        Assert.Equal([2, 1, 3, 5], u.ShapeArray());
        using var s = u.Squeeze(1);
        Assert.Equal(a.ToArray(), s.ToArray());
        using var p = a.Permute(2, 0, 1);
        Assert.Equal([5, 2, 3], p.ShapeArray());
        using var back = p.Permute(1, 2, 0);
        Assert.Equal(a.ToArray(), back.ToArray());
        Assert.Throws<TensorException>(() => a.Permute(0, 0, 1));
    }

    [Fact]
    public void Cat_AlongMiddleDim_MatchesPieces()
    {
        using var a = Rng.Tensor(1, 2, 1, 3);
        using var b = Rng.Strided(2, 2, 3, 3);
        using var c = Tensor.Cat([a, b], 1);
        Assert.Equal([2, 4, 3], c.ShapeArray());
        using var c0 = c.Narrow(1, 0, 1);
        using var c1 = c.Narrow(1, 1, 3);
        Assert.Equal(a.ToArray(), c0.ToArray());
        Assert.Equal(b.ToArray(), c1.ToArray());
    }

    [Fact]
    public void Cast_Bf16_RoundsToNearestEven_AndUpcastsExactly()
    {
        // 1 + 2^-8 lies exactly between BF16 neighbours 1 and 1 + 2^-7 → ties to even (1).
        // 1 + 3·2^-8 lies between 1 + 2^-7 and 1 + 2^-6 → ties to even mantissa (1 + 2^-6).
        using var a = Tensor.FromArray(new float[] { 1f + 1f / 256, 1f + 3f / 256, -2.5f, 3.14159f });
        using var b = a.Cast(DType.BF16);
        Assert.Equal(DType.BF16, b.DType);
        var back = b.ToArray();
        Assert.Equal(1f, back[0]);
        Assert.Equal(1f + 1f / 64, back[1]);
        Assert.Equal(-2.5f, back[2]);
        Assert.Equal(3.140625f, back[3]);
        using var h = a.Cast(DType.F16);
        Assert.Equal((float)(Half)3.14159f, h.ToArray()[3]);
    }

    [Fact]
    public void Bf16Storage_UpcastsOnRead_InOps()
    {
        using var a = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, [2, 2]);
        using var b = a.Cast(DType.BF16);
        using var s = b.Add(b);
        Assert.Equal(DType.F32, s.DType);
        Assert.Equal(new float[] { 2, 4, 6, 8 }, s.ToArray());
        using var m = b.MatMul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, m.ToArray());
    }

    [Fact]
    public void I32_CastToF32_AndBack()
    {
        using var a = Tensor.FromArray(new[] { -3, 0, 7 });
        using var f = a.Cast(DType.F32);
        Assert.Equal(new float[] { -3, 0, 7 }, f.ToArray());
        using var i = f.Cast(DType.I32);
        Assert.Equal(new[] { -3, 0, 7 }, i.ToIntArray());
    }
}
