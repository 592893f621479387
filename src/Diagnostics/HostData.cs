namespace LLaDA.Diagnostics;

/// <summary>Seeded host inputs of the kernel checks and timings.</summary>
internal static class HostData
{
    /// <summary>n floats uniform in (−amplitude, amplitude).</summary>
    public static float[] RandomFloats(Random rng, int n, float amplitude = 1f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = amplitude * (2f * rng.NextSingle() - 1f);
        return x;
    }

    /// <summary>Rounds in place to f16 or bf16 (round to nearest even), so a CPU reference sees the exact kernel inputs, and returns the 16-bit patterns.</summary>
    public static ushort[] Round16(float[] x, bool f16)
    {
        var bits = new ushort[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            if (f16)
            {
                Half h = (Half)x[i];
                bits[i] = BitConverter.HalfToUInt16Bits(h);
                x[i] = (float)h;
            }
            else
            {
                uint u = BitConverter.SingleToUInt32Bits(x[i]);
                bits[i] = (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
                x[i] = BitConverter.UInt32BitsToSingle((uint)bits[i] << 16);
            }
        }
        return bits;
    }
}
