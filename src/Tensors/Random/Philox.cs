using System.Runtime.CompilerServices;

namespace LLaDA.Tensors.Random;

/// <summary>Philox4x32-10 counter-based RNG (Salmon et al., SC'11): (key, counter) → four 32-bit words, stateless, so every backend draws identical numbers.</summary>
/// <remarks>
/// Our convention: key = (seed low 32, seed high 32); counter = (c low 32, c high 32, 0, 0) for a 64-bit counter c.
/// Element i of a tensor filled at counter offset o uses word i % 4 of block o + i / 4.
/// </remarks>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57; // round multipliers
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85; // Weyl key increments (golden ratio, √3 − 1)

    /// <summary>Ten Philox rounds on a full 128-bit counter and 64-bit key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint, uint, uint) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        Rounds(ref c0, ref c1, ref c2, ref c3, k0, k1);
        return (c0, c1, c2, c3);
    }

    /// <summary>The ten rounds in place, with no tuples: the form ILGPU kernels compile (DevicePhilox runs this code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rounds(ref uint c0, ref uint c1, ref uint c2, ref uint c3, uint k0, uint k1)
    {
        for (int r = 0; r < 10; r++)
        {
            if (r > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            uint n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
            c0 = n0;
            c1 = lo1;
            c2 = n2;
            c3 = lo0;
        }
    }

    /// <summary>The four words of block <paramref name="counter"/> under <paramref name="seed"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint, uint, uint) Block(ulong seed, ulong counter)
        => Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)seed, (uint)(seed >> 32));

    /// <summary>Word i % 4 of block offset + i / 4: the i-th number of a stream.</summary>
    public static uint Word(ulong seed, ulong offset, long i)
    {
        var (a, b, c, d) = Block(seed, offset + (ulong)(i >> 2));
        return (i & 3) switch { 0 => a, 1 => b, 2 => c, _ => d };
    }

    /// <summary>Maps 32 random bits to U[0,1) with 24 bits of precision: (u &gt;&gt; 8)·2⁻²⁴.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUniform(uint u) => (u >> 8) * (1f / 16777216f);

    /// <summary>Maps 32 random bits to U(0,1] (never 0, safe under log): ((u &gt;&gt; 8) + 1)·2⁻²⁴.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUniformOpen(uint u) => ((u >> 8) + 1) * (1f / 16777216f);

    /// <summary>A double in (0, 1) from two words (53 random bits: a ≫ 5 high, c ≫ 6 low): (bits + ½)·2⁻⁵³ rounded to the nearest
    /// double, never 0 or 1.</summary>
    /// <remarks>For bits ≥ 2⁵² the odd multiple of 2⁻⁵⁴ is not a double and rounds (ties to even); at bits = 2⁵³ − 1 it would round
    /// to 1, whose Gumbel noise −log(−log u) is +∞, so the result is capped at the largest double below 1. Every other value is
    /// unchanged, so recorded samples stay token-identical.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToUniformOpen53(uint a, uint c)
    {
        ulong bits = ((ulong)(a >> 5) << 26) | (c >> 6);
        return Math.Min((bits + 0.5) / 9007199254740992.0, OneBelow);
    }

    /// <summary>The largest double below 1 (1 − 2⁻⁵³).</summary>
    public const double OneBelow = 1.0 - 1.0 / 9007199254740992.0;

    /// <summary>Two N(0,1) numbers from two words by Box–Muller: r = √(−2 ln u₁), (r cos 2πu₂, r sin 2πu₂), u₁ ∈ (0,1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float, float) ToNormal(uint a, uint b)
    {
        float u1 = ToUniformOpen(a);
        float u2 = ToUniform(b);
        float r = MathF.Sqrt(-2f * MathF.Log(u1));
        var (s, c) = MathF.SinCos(2f * MathF.PI * u2);
        return (r * c, r * s);
    }

    /// <summary>Fills dst[j] = U[0,1) number (start + j) of the stream (seed, offset).</summary>
    public static void FillUniform(Span<float> dst, ulong seed, ulong offset, long start = 0)
    {
        for (int j = 0; j < dst.Length;)
        {
            long i = start + j;
            var (a, b, c, d) = Block(seed, offset + (ulong)(i >> 2));
            for (int lane = (int)(i & 3); lane < 4 && j < dst.Length; lane++, j++)
                dst[j] = ToUniform(lane switch { 0 => a, 1 => b, 2 => c, _ => d });
        }
    }

    /// <summary>Fills dst[j] = N(0,1) number (start + j) of the stream: block k gives normals 4k..4k+3 from words (0,1) and (2,3).</summary>
    public static void FillNormal(Span<float> dst, ulong seed, ulong offset, long start = 0)
    {
        for (int j = 0; j < dst.Length;)
        {
            long i = start + j;
            var (a, b, c, d) = Block(seed, offset + (ulong)(i >> 2));
            var (n0, n1) = ToNormal(a, b);
            var (n2, n3) = ToNormal(c, d);
            for (int lane = (int)(i & 3); lane < 4 && j < dst.Length; lane++, j++)
                dst[j] = lane switch { 0 => n0, 1 => n1, 2 => n2, _ => n3 };
        }
    }
}
