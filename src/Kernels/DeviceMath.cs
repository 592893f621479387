using ILGPU;

namespace LLaDA.Kernels;

/// <summary>Bit-exact F32 ↔ BF16/F16 conversions for kernels (the 16-bit types travel as ushort bits; ILGPU has no BFloat16).</summary>
/// <remarks>Same results as LLaDA.Tensors.Cpu.Half16 (round-to-nearest-even, NaN stays NaN, overflow → ±∞, F16 subnormals exact).</remarks>
public static class DeviceHalf
{
    /// <summary>BF16 → F32: the 16 bits are the high half of the float.</summary>
    public static float FromBf16(ushort b) => Interop.IntAsFloat((uint)b << 16);

    /// <summary>F32 → BF16, round-to-nearest-even; NaN → quiet NaN.</summary>
    public static ushort ToBf16(float f)
    {
        uint u = Interop.FloatAsInt(f);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((u >> 16) | 0x40u);
        u += 0x7FFFu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }

    /// <summary>F16 bits → F32 (exact, subnormals included).</summary>
    public static float FromF16(ushort h)
    {
        uint sign = ((uint)h & 0x8000u) << 16;
        uint exp = ((uint)h >> 10) & 0x1Fu;
        uint mant = (uint)h & 0x3FFu;
        if (exp == 0x1Fu) return Interop.IntAsFloat(sign | 0x7F800000u | (mant << 13));
        if (exp == 0)
        {
            // Zero or subnormal: mant·2⁻²⁴ is exact in F32.
            float m = mant * (1f / 16777216f);
            return Interop.IntAsFloat(Interop.FloatAsInt(m) | sign);
        }
        return Interop.IntAsFloat(sign | ((exp + 112u) << 23) | (mant << 13));
    }

    /// <summary>F32 → F16 bits, round-to-nearest-even (after F. Giesen's float_to_half_fast3_rtne).</summary>
    public static ushort ToF16(float f)
    {
        uint u = Interop.FloatAsInt(f);
        uint sign = (u >> 16) & 0x8000u;
        u &= 0x7FFFFFFFu;
        uint h;
        if (u >= 0x47800000u)
        {
            // ≥ 65536 (rounds to ∞), ∞ or NaN.
            h = u > 0x7F800000u ? 0x7E00u : 0x7C00u;
        }
        else if (u < 0x38800000u)
        {
            // Below the smallest normal 2⁻¹⁴: adding 0.5 puts the subnormal's bits at the bottom of the mantissa,
            // and the float add rounds to nearest even for us.
            float t = Interop.IntAsFloat(u) + 0.5f;
            h = Interop.FloatAsInt(t) - 0x3F000000u;
        }
        else
        {
            uint odd = (u >> 13) & 1u;
            u += 0xC8000FFFu; // rebias exponent (15 − 127) << 23, plus the rounding bias 0xFFF
            u += odd;
            h = u >> 13;
        }
        return (ushort)(h | sign);
    }
}

/// <summary>Philox4x32-10 on the device: the same (seed, counter) → words as LLaDA.Tensors.Random.Philox, so every backend draws identical numbers.</summary>
/// <remarks>Key = (seed low, seed high), counter = (c low, c high, 0, 0); element i of a stream at offset o is word i % 4 of block o + i / 4.</remarks>
public static class DevicePhilox
{
    /// <summary>The four words of block <paramref name="counter"/> under <paramref name="seed"/> (Philox's own rounds).</summary>
    public static void Block(ulong seed, ulong counter, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        r0 = (uint)counter; r1 = (uint)(counter >> 32); r2 = 0; r3 = 0;
        LLaDA.Tensors.Random.Philox.Rounds(ref r0, ref r1, ref r2, ref r3, (uint)seed, (uint)(seed >> 32));
    }

    /// <summary>Word i % 4 of block offset + i / 4: the i-th number of the stream (seed, offset).</summary>
    public static uint Word(ulong seed, ulong offset, long i)
    {
        Block(seed, offset + (ulong)(i >> 2), out uint a, out uint b, out uint c, out uint d);
        int lane = (int)(i & 3);
        return lane == 0 ? a : lane == 1 ? b : lane == 2 ? c : d;
    }

    /// <summary>U[0,1) with 24 bits: (u ≫ 8)·2⁻²⁴ (as Philox.ToUniform).</summary>
    public static float ToUniform(uint u) => (u >> 8) * (1f / 16777216f);

    /// <summary>U(0,1]: ((u ≫ 8) + 1)·2⁻²⁴ (as Philox.ToUniformOpen).</summary>
    public static float ToUniformOpen(uint u) => ((u >> 8) + 1) * (1f / 16777216f);

    /// <summary>Two N(0,1) numbers by Box–Muller from two words (as Philox.ToNormal).</summary>
    public static void ToNormal(uint a, uint b, out float n0, out float n1)
    {
        float u1 = ToUniformOpen(a);
        float u2 = ToUniform(b);
        float r = MathF.Sqrt(-2f * MathF.Log(u1));
        float angle = 2f * MathF.PI * u2;
        n0 = r * MathF.Cos(angle);
        n1 = r * MathF.Sin(angle);
    }
}
