using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>Philox4x32-10 fills identical to CpuBackend: element i of a tensor filled at (seed, offset) uses word i % 4 of block offset + i/4.</summary>
/// <remarks>One thread per Philox block (four elements). Uniform draws are bit-identical to the CPU; normals go through
/// device log/sin/cos and agree to a few ulps.</remarks>
public static class RandomKernels
{
    /// <summary>y[i] = (word ≫ 8)·2⁻²⁴ ∈ [0, 1).</summary>
    [Kernel]
    internal static void UniformKernel(ArrayView<float> y, long n, ulong seed, ulong offset)
    {
        long blocks = (n + 3) / 4;
        for (long b = Idx.Global; b < blocks; b += Idx.Stride)
        {
            DevicePhilox.Block(seed, offset + (ulong)b, out uint w0, out uint w1, out uint w2, out uint w3);
            long i = b * 4;
            y[i] = DevicePhilox.ToUniform(w0);
            if (i + 1 < n) y[i + 1] = DevicePhilox.ToUniform(w1);
            if (i + 2 < n) y[i + 2] = DevicePhilox.ToUniform(w2);
            if (i + 3 < n) y[i + 3] = DevicePhilox.ToUniform(w3);
        }
    }

    /// <summary>Block k gives normals 4k, 4k+1 from words (0, 1) and 4k+2, 4k+3 from words (2, 3) by Box–Muller.</summary>
    [Kernel]
    internal static void NormalKernel(ArrayView<float> y, long n, ulong seed, ulong offset)
    {
        long blocks = (n + 3) / 4;
        for (long b = Idx.Global; b < blocks; b += Idx.Stride)
        {
            DevicePhilox.Block(seed, offset + (ulong)b, out uint w0, out uint w1, out uint w2, out uint w3);
            DevicePhilox.ToNormal(w0, w1, out float n0, out float n1);
            DevicePhilox.ToNormal(w2, w3, out float n2, out float n3);
            long i = b * 4;
            y[i] = n0;
            if (i + 1 < n) y[i + 1] = n1;
            if (i + 2 < n) y[i + 2] = n2;
            if (i + 3 < n) y[i + 3] = n3;
        }
    }

    public static void Uniform(KernelContext k, ArrayView<float> y, long n, ulong seed, ulong offset)
    {
        if (n == 0) return;
        k.Kernel("Random.Uniform", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, long, ulong, ulong>>(a, UniformKernel))
            (k.Stream, Launch.Elementwise(k, (n + 3) / 4), y, n, seed, offset);
    }

    public static void Normal(KernelContext k, ArrayView<float> y, long n, ulong seed, ulong offset)
    {
        if (n == 0) return;
        k.Kernel("Random.Normal", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, long, ulong, ulong>>(a, NormalKernel))
            (k.Stream, Launch.Elementwise(k, (n + 3) / 4), y, n, seed, offset);
    }
}
