using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>RMSNorm over the last dim of x (N, C): forward saving rstd, and the backward (dx per row, dweight by a deterministic two-stage sum).</summary>
/// <remarks>LLaDA RMSLayerNorm: statistics in fp32, y = x·rsqrt(mean(x²) + eps)·w (same operation order as CpuBackend).</remarks>
public static class RmsNormKernels
{
    /// <summary>Row chunks of the dweight partial sums: fixed by the row count only, so results never depend on the device.</summary>
    public static int DweightChunks(long rows) => (int)Math.Clamp(rows, 1, 32);

    /// <summary>rstd[r] = 1/√(Σx²/C + eps); y = x·rstd·w. One group per row.</summary>
    [Kernel]
    internal static void ForwardKernel(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, ArrayView<float> rstd, long rows, int c, float eps)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long s0 = row * c;
            float ss = 0f;
            for (int j = Group.IdxX; j < c; j += Group.DimX)
            {
                float v = x[s0 + j];
                ss += v * v;
            }
            ss = GroupReduce.Sum(ss, scratch);
            float rs = 1f / MathF.Sqrt(ss / c + eps);
            if (Group.IsFirstThread) rstd[row] = rs;
            for (int j = Group.IdxX; j < c; j += Group.DimX) y[s0 + j] = x[s0 + j] * rs * w[j];
        }
    }

    /// <summary>g = dy⊙w; dx = (g − x·rstd²·mean(g⊙x))·rstd. One group per row.</summary>
    [Kernel]
    internal static void BackwardDxKernel(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> w, ArrayView<float> rstd, ArrayView<float> dx, long rows, int c)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long s0 = row * c;
            float rs = rstd[row];
            float dot = 0f;
            for (int j = Group.IdxX; j < c; j += Group.DimX) dot += dy[s0 + j] * w[j] * x[s0 + j];
            dot = GroupReduce.Sum(dot, scratch);
            float coef = dot * rs * rs / c;
            for (int j = Group.IdxX; j < c; j += Group.DimX) dx[s0 + j] = (x[s0 + j] * -coef + dy[s0 + j] * w[j]) * rs;
        }
    }

    /// <summary>partial[ch, j] = Σ over rows r of chunk ch of dy[r, j]·x[r, j]·rstd[r]; one thread per (ch, j), rows walked in order.</summary>
    [Kernel]
    internal static void DweightPartialKernel(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> rstd, ArrayView<float> partial, long rows, int c, int chunks)
    {
        long n = (long)chunks * c;
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            long ch = i / c, j = i - ch * c;
            long r0 = rows * ch / chunks, r1 = rows * (ch + 1) / chunks;
            float acc = 0f;
            for (long r = r0; r < r1; r++) acc = dy[r * c + j] * x[r * c + j] * rstd[r] + acc;
            partial[i] = acc;
        }
    }

    /// <summary>dw[j] = Σ over chunks in order of partial[ch, j].</summary>
    [Kernel]
    internal static void DweightFinalKernel(ArrayView<float> partial, ArrayView<float> dw, int c, int chunks)
    {
        for (long j = Idx.Global; j < c; j += Idx.Stride)
        {
            float acc = 0f;
            for (int ch = 0; ch < chunks; ch++) acc += partial[(long)ch * c + j];
            dw[j] = acc;
        }
    }

    public static void Forward(KernelContext k, ArrayView<float> x, ArrayView<float> w, float eps, ArrayView<float> y, ArrayView<float> rstd, long rows, int c)
    {
        if (rows == 0) return;
        k.Kernel("RmsNorm.Forward", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int, float>>(a, ForwardKernel))
            (k.Stream, Launch.Rows(k, rows, c), x, w, y, rstd, rows, c, eps);
    }

    /// <summary>dx (rows, c) and dw (c); <paramref name="partial"/> is scratch of <see cref="DweightChunks"/>(rows)·c floats.</summary>
    public static void Backward(KernelContext k, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> w, ArrayView<float> rstd,
                                ArrayView<float> dx, ArrayView<float> dw, ArrayView<float> partial, long rows, int c)
    {
        if (c == 0) return;
        if (rows > 0)
            k.Kernel("RmsNorm.BackwardDx", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int>>(a, BackwardDxKernel))
                (k.Stream, Launch.Rows(k, rows, c), dy, x, w, rstd, dx, rows, c);
        int chunks = DweightChunks(rows);
        k.Kernel("RmsNorm.DweightPartial", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int, int>>(a, DweightPartialKernel))
            (k.Stream, Launch.Elementwise(k, (long)chunks * c), dy, x, rstd, partial, rows, c, chunks);
        k.Kernel("RmsNorm.DweightFinal", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int>>(a, DweightFinalKernel))
            (k.Stream, Launch.Elementwise(k, c), partial, dw, c, chunks);
    }
}
