using LLaDA.Tensors;

namespace LLaDA.Tests.Testing;

/// <summary>Seeded test data (System.Random with explicit seeds; never Random.Shared or the clock).</summary>
public static class Rng
{
    public static float[] Floats(int n, int seed, float lo = -1f, float hi = 1f)
    {
        var r = new System.Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (float)r.NextDouble() * (hi - lo);
        return a;
    }

    public static int[] Ints(int n, int seed, int lo, int hiExclusive)
    {
        var r = new System.Random(seed);
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = r.Next(lo, hiExclusive);
        return a;
    }

    /// <summary>A random F32 tensor of the given shape on the CPU backend.</summary>
    public static Tensor Tensor(int seed, params int[] shape)
    {
        long n = 1;
        foreach (int s in shape) n *= s;
        return LLaDA.Tensors.Tensor.FromArray(Floats((int)n, seed), shape);
    }

    /// <summary>A random F32 tensor laid out non-contiguously: a transposed view of (…, last, second-last) storage.</summary>
    public static Tensor Strided(int seed, params int[] shape)
    {
        var swapped = (int[])shape.Clone();
        (swapped[^1], swapped[^2]) = (swapped[^2], swapped[^1]);
        using var t = Tensor(seed, swapped);
        return t.Transpose(-1, -2);
    }
}
