namespace LLaDA.Tests.Testing;

/// <summary>Slow, obviously correct references in double precision on row-major arrays.</summary>
public static class Naive
{
    /// <summary>C (M, N) = A (M, K) · B (K, N).</summary>
    public static double[] MatMul(float[] a, float[] b, int m, int k, int n)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    /// <summary>Row-major strides of a shape.</summary>
    public static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    /// <summary>Multi-index of a flat row-major position.</summary>
    public static int[] Unravel(long flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            idx[i] = (int)(flat % shape[i]);
            flat /= shape[i];
        }
        return idx;
    }

    /// <summary>Value of a row-major array of <paramref name="shape"/> at a (broadcast) multi-index aligned on the right.</summary>
    public static float At(float[] data, int[] shape, int[] index)
    {
        int off = index.Length - shape.Length;
        long flat = 0;
        for (int i = 0; i < shape.Length; i++)
        {
            int ix = shape[i] == 1 ? 0 : index[i + off];
            flat = flat * shape[i] + ix;
        }
        return data[flat];
    }
}
