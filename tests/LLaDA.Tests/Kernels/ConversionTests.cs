using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>Every dtype conversion of Copy, bit for bit against CpuBackend (Half16), on the edge values of each format.</summary>
[Collection(IlgpuCollection.Name)]
public class ConversionTests(IlgpuFixture fx)
{
    private IlgpuBackend Gpu => fx.Gpu;

    /// <summary>Zeros, infinities, NaN, RNE ties and near-ties, overflow and subnormal boundaries of BF16 and F16.</summary>
    private static readonly float[] Edge =
    [
        0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon,
        1f, -1f, 1f + 1f / 2048, 1f + 3f / 2048, 1f + 1f / 2048 + 1f / 65536,                     // F16 ties: to even, up, just above
        BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000),  // BF16 ties (to even: down, up)
        BitConverter.UInt32BitsToSingle(0x3F808001), BitConverter.UInt32BitsToSingle(0x7F7F8000),  // BF16 just above a tie; rounds to ∞
        65504f, 65519f, 65520f, 65536f, 1e6f, -70000f,                                             // F16 max, last to round down, first to ∞
        6.103515625e-5f, 6.0975552e-5f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 8.940697e-8f, 1e-10f, -3e-6f, // F16 subnormals
        1e-40f, -1e-45f, 3.14159265f, -2.718281828f, 0.1f, 1e30f,
    ];

    private ushort[] Bits(Tensor t)
    {
        var r = new ushort[t.Numel];
        t.Backend.Download<ushort>(t, r);
        return r;
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void F32To16Bit_EdgeValues_MatchCpuBits(DType dtype)
    {
        using var cpu = Tensor.FromArray(Edge);
        using var dev = cpu.To(Gpu);
        using var c16 = cpu.Cast(dtype);
        using var d16 = dev.Cast(dtype);
        var expect = Bits(c16);
        var actual = Bits(d16);
        for (int i = 0; i < Edge.Length; i++)
            Assert.True(expect[i] == actual[i], $"{dtype} of {Edge[i]:G9} (0x{BitConverter.SingleToUInt32Bits(Edge[i]):X8}): cpu 0x{expect[i]:X4}, device 0x{actual[i]:X4}");
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void SixteenBitToF32_AllBitPatterns_MatchCpu(DType dtype)
    {
        var all = new ushort[65536];
        for (int i = 0; i < all.Length; i++) all[i] = (ushort)i;
        using var cpu = Tensor.FromSpan<ushort>(all, [65536], dtype);
        using var dev = Tensor.FromSpan<ushort>(all, [65536], dtype, Gpu);
        var e = cpu.ToArray();
        var a = dev.ToArray();
        for (int i = 0; i < all.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(e[i]) == BitConverter.SingleToUInt32Bits(a[i]) || (float.IsNaN(e[i]) && float.IsNaN(a[i])),
                $"{dtype} 0x{i:X4}: cpu {e[i]:G9}, device {a[i]:G9}");
    }

    [Fact]
    public void F32ToI32_TruncatesAndSaturatesLikeCpu()
    {
        float[] v = [0f, -0f, 2.7f, -2.7f, 1e10f, -1e10f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 2147483520f, -2147483648f];
        using var cpu = Tensor.FromArray(v);
        using var dev = cpu.To(Gpu);
        Assert.Equal(cpu.Cast(DType.I32).ToIntArray(), dev.Cast(DType.I32).ToIntArray());
    }

    [Fact]
    public void I32ToFloatTypes_RoundLikeCpu()
    {
        int[] v = [0, 1, -1, 16777217, -16777219, int.MaxValue, int.MinValue, 65505, 65520, 300000, 257];
        using var cpu = Tensor.FromArray(v);
        using var dev = cpu.To(Gpu);
        foreach (var dt in new[] { DType.F32, DType.BF16, DType.F16 })
        {
            using var c = cpu.Cast(dt);
            using var d = dev.Cast(dt);
            Assert.Equal(c.ToArray(), d.ToArray());
        }
    }

    [Fact]
    public void SixteenBitCrossConversions_MatchCpu()
    {
        using var cpu = Tensor.FromArray(Edge).Cast(DType.BF16);
        using var dev = Tensor.FromArray(Edge).To(Gpu).Cast(DType.BF16);
        Assert.Equal(Bits(cpu.Cast(DType.F16)), Bits(dev.Cast(DType.F16)));
        Assert.Equal(cpu.Cast(DType.I32).ToIntArray(), dev.Cast(DType.I32).ToIntArray());
    }

    [Fact]
    public void Fill_16BitAndInt_MatchCpu()
    {
        foreach (var dt in new[] { DType.BF16, DType.F16 })
        {
            using var c = Tensor.Full([3], 1f / 3, dt);
            using var d = Tensor.Full([3], 1f / 3, dt, Gpu);
            Assert.Equal(Bits(c), Bits(d));
        }
        using var i = Tensor.Full([2], -7.9f, DType.I32, Gpu);
        Assert.Equal(new[] { -7, -7 }, i.ToIntArray());
    }
}
