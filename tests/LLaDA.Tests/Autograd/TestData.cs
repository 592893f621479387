using LLaDA.Tensors;
using LLaDA.Tests.Testing;

namespace LLaDA.Tests.Autograd;

/// <summary>Seeded inputs for gradient checks: ranges that keep away from kinks, and strided (non-contiguous) layouts.</summary>
internal static class TestData
{
    private static int Numel(int[] shape)
    {
        int n = 1;
        foreach (int s in shape) n *= s;
        return n;
    }

    /// <summary>A tensor holding <paramref name="logical"/> (row-major values of <paramref name="shape"/>); when strided, it is a
    /// transposed view of (…, last, second-last) storage (rank ≥ 2), so the values are the same but the layout is not contiguous.</summary>
    public static Tensor FromLogical(float[] logical, int[] shape, bool strided = false, IBackend? backend = null)
    {
        if (!strided) return Tensor.FromArray(logical, shape, backend);
        int r = shape.Length, rows = shape[r - 2], cols = shape[r - 1], batch = Numel(shape) / Math.Max(1, rows * cols);
        var swapped = (int[])shape.Clone();
        (swapped[^1], swapped[^2]) = (swapped[^2], swapped[^1]);
        var store = new float[logical.Length];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    store[b * rows * cols + j * rows + i] = logical[b * rows * cols + i * cols + j];
        using var t = Tensor.FromArray(store, swapped, backend);
        var v = t.Transpose(-1, -2);
        if (v.IsContiguous) throw new InvalidOperationException($"shape ({string.Join(", ", shape)}) cannot be made non-contiguous by a transpose");
        return v;
    }

    /// <summary>U[lo, hi) values.</summary>
    public static Tensor Uniform(int seed, float lo, float hi, params int[] shape)
        => FromLogical(Rng.Floats(Numel(shape), seed, lo, hi), shape);

    /// <summary>U[lo, hi) values in a transposed (non-contiguous) layout.</summary>
    public static Tensor StridedUniform(int seed, float lo, float hi, params int[] shape)
        => FromLogical(Rng.Floats(Numel(shape), seed, lo, hi), shape, strided: true);

    /// <summary>Values with min ≤ |x| &lt; 1 and random sign: no zero crossing within a finite-difference step.</summary>
    public static float[] AwayFromZero(int n, int seed, float min)
    {
        var mag = Rng.Floats(n, seed, min, 1f);
        var sign = Rng.Ints(n, seed + 1000, 0, 2);
        for (int i = 0; i < n; i++) if (sign[i] == 0) mag[i] = -mag[i];
        return mag;
    }

    /// <summary>All-distinct values: a seeded shuffle of {0, gap, 2·gap, …} shifted to be centred on 0 (no ties for max).</summary>
    public static float[] Distinct(int n, int seed, float gap)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (i - n / 2) * gap;
        new System.Random(seed).Shuffle(a);
        return a;
    }

    /// <summary>An I32 tensor.</summary>
    public static Tensor Ints(int[] values, params int[] shape) => Tensor.FromArray(values, shape);
}
