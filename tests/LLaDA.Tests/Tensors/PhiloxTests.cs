using LLaDA.Tensors;
using LLaDA.Tensors.Random;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class PhiloxTests
{
    // Known-answer vectors of Random123's kat_vectors (philox4x32, 10 rounds): counter[4] key[2] → output[4].
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Block_KnownAnswerVectors_Match(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        var (a, b, c, d) = Philox.Block(c0, c1, c2, c3, k0, k1);
        Assert.Equal((e0, e1, e2, e3), (a, b, c, d));
    }

    [Fact]
    public void FillUniform_AnyStartOffset_MatchesWordStream()
    {
        var all = new float[37];
        Philox.FillUniform(all, 42, 5);
        for (int start = 0; start < 9; start++)
        {
            var part = new float[37 - start];
            Philox.FillUniform(part, 42, 5, start);
            for (int j = 0; j < part.Length; j++) Assert.Equal(all[start + j], part[j]);
        }
        for (int i = 0; i < all.Length; i++) Assert.Equal(Philox.ToUniform(Philox.Word(42, 5, i)), all[i]);
    }

    [Fact]
    public void Rand_LargeTensor_UniformMomentsWithinSigma()
    {
        // U[0,1): mean 1/2, variance 1/12. With n = 2^20 the standard error of the mean is √(1/12/n) ≈ 2.8e-4.
        int n = 1 << 20;
        using var t = Tensor.Rand([n], seed: 1234);
        var v = t.ToArray();
        double mean = v.Average(x => (double)x);
        double var_ = v.Average(x => (x - mean) * (x - mean));
        Assert.InRange(mean, 0.5 - 5 * 2.8e-4, 0.5 + 5 * 2.8e-4);
        Assert.InRange(var_, 1.0 / 12 - 0.002, 1.0 / 12 + 0.002);
        Assert.All(v, x => Assert.InRange(x, 0f, 0.99999995f));
    }

    [Fact]
    public void Randn_LargeTensor_NormalMomentsWithinSigma()
    {
        // N(0,1): standard error of the mean 1/√n ≈ 9.8e-4 for n = 2^20; of the variance ≈ √(2/n) ≈ 1.4e-3.
        int n = 1 << 20;
        using var t = Tensor.Randn([n], seed: 99);
        var v = t.ToArray();
        double mean = v.Average(x => (double)x);
        double var_ = v.Average(x => (x - mean) * (x - mean));
        Assert.InRange(mean, -5 * 9.8e-4, 5 * 9.8e-4);
        Assert.InRange(var_, 1 - 5 * 1.4e-3, 1 + 5 * 1.4e-3);
        Assert.All(v, x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void Rand_SameSeedAndOffset_IsReproducible_DifferentSeedDiffers()
    {
        using var a = Tensor.Rand([3, 333], seed: 7, offset: 11);
        using var b = Tensor.Rand([3, 333], seed: 7, offset: 11);
        using var c = Tensor.Rand([3, 333], seed: 8, offset: 11);
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.NotEqual(a.ToArray(), c.ToArray());
    }
}
