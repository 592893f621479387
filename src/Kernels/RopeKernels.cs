using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>Rotary embedding in the half-rotation layout over x (B, T, H, D) contiguous, reading the fp32 cos/sin tables of LLaDA.Tensors.Cpu.RopeTable (uploaded once per θ, D).</summary>
/// <remarks>x' = x·cos + rotate_half(x)·sin with rotate_half = (−x₂, x₁); the inverse (backward) negates sin.</remarks>
public static class RopeKernels
{
    /// <summary>One thread per (b·t, h, i &lt; D/2) pair: positions are offset + t; tables are (positions, D/2) row-major.</summary>
    [Kernel]
    internal static void RopeKernel(ArrayView<float> x, ArrayView<float> y, ArrayView<float> cos, ArrayView<float> sin, long bt, int t, int h, int d, int positionOffset, float sign)
    {
        int half = d / 2;
        long n = bt * h * half;
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            long rest = i / half;
            int hi = (int)(i - rest * half);
            long row = rest;              // (b·t)·h + hh: the (B, T, H) row of D values
            long btIdx = rest / h;
            long pos = positionOffset + btIdx % t;
            float c = cos[pos * half + hi], sn = sign * sin[pos * half + hi];
            long p = row * d + hi;
            float x1 = x[p], x2 = x[p + half];
            y[p] = x1 * c - x2 * sn;
            y[p + half] = x2 * c + x1 * sn;
        }
    }

    /// <summary>y = rope(x) (or its inverse) for x, y (B, T, H, D) contiguous; cos/sin tables hold ≥ positionOffset + T rows.</summary>
    public static void Apply(KernelContext k, ArrayView<float> x, ArrayView<float> y, ArrayView<float> cos, ArrayView<float> sin,
                             int b, int t, int h, int d, int positionOffset, bool inverse)
    {
        long n = (long)b * t * h * (d / 2);
        if (n == 0) return;
        k.Kernel("Rope", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int, int, int, int, float>>(a, RopeKernel))
            (k.Stream, Launch.Elementwise(k, n), x, y, cos, sin, (long)b * t, t, h, d, positionOffset, inverse ? -1f : 1f);
    }
}
