using System.Runtime.InteropServices;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Tensors;

/// <summary>The exponent-bit scan against the obvious reference (float.IsFinite on each decoded value).</summary>
public sealed class NonFiniteTests
{
    private static long Naive(float[] x) => Array.FindIndex(x, v => !float.IsFinite(v));

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(1000)]
    public void F32_PlantedAnywhere_FoundAtTheFirst(int n)
    {
        var rng = new Random(n);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, BitConverter.UInt32BitsToSingle(0x7FC00001) })
            for (int pos = 0; pos < n; pos += Math.Max(1, n / 7))
            {
                // Finite extremes around it: max float (exponent 0xFE), subnormals, −0.
                var x = Enumerable.Range(0, n).Select(i => (i % 4) switch { 0 => float.MaxValue, 1 => -float.Epsilon, 2 => -0f, _ => (float)rng.NextDouble() }).ToArray();
                Assert.Equal(-1, NonFinite.FirstIndex(x));
                x[pos] = bad;
                if (pos + 3 < n) x[pos + 3] = float.NaN;
                Assert.Equal(Naive(x), NonFinite.FirstIndex(x));
                Assert.Equal(Naive(x), NonFinite.FirstIndex(MemoryMarshal.AsBytes(x.AsSpan()), DType.F32));
            }
    }

    [Fact]
    public void F16AndBF16_EveryBitPattern_MatchDecodedReference()
    {
        // All 65,536 16-bit patterns, one at a time at index 40 of 128 finite ones (inside a vector on every width up to 512 bits).
        var buf = new ushort[128];
        for (int bits = 0; bits < 65536; bits++)
        {
            buf[40] = (ushort)bits;
            var bytes = MemoryMarshal.AsBytes(buf.AsSpan());
            bool f16Finite = Half.IsFinite(BitConverter.UInt16BitsToHalf((ushort)bits));
            bool bf16Finite = float.IsFinite(BitConverter.UInt32BitsToSingle((uint)bits << 16));
            Assert.Equal(f16Finite ? -1 : 40, NonFinite.FirstIndex(bytes, DType.F16));
            Assert.Equal(bf16Finite ? -1 : 40, NonFinite.FirstIndex(bytes, DType.BF16));
        }
    }

    [Fact]
    public void I32_NeverNonFinite() => Assert.Equal(-1, NonFinite.FirstIndex(MemoryMarshal.AsBytes(new[] { -1, 0x7F800000 }.AsSpan()), DType.I32));
}
