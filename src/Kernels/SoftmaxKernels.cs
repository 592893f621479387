using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>Softmax and log-softmax over the last dim of a contiguous (rows, n) tensor, and their backward; one group per row, fp32 statistics.</summary>
/// <remarks>
/// Forward reads the row three times (max, Σ e^(x−max), write); rows up to a 128 K vocabulary stay in L2 between passes,
/// which is cheaper than carrying a (max, sum) pair through every reduction step of an online softmax.
/// </remarks>
public static class SoftmaxKernels
{
    /// <summary>y = e^(x − m)/Σ, or (log) y = x − m − log Σ, with m = max(x) per row.</summary>
    [Kernel]
    internal static void ForwardKernel(ArrayView<float> x, ArrayView<float> y, long rows, int n, int log)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long s0 = row * n;
            float m = float.NegativeInfinity;
            for (int j = Group.IdxX; j < n; j += Group.DimX) m = GroupReduce.MaxNaN(m, x[s0 + j]);
            m = GroupReduce.Max(m, scratch);
            float sum = 0f;
            for (int j = Group.IdxX; j < n; j += Group.DimX) sum += MathF.Exp(x[s0 + j] - m);
            sum = GroupReduce.Sum(sum, scratch);
            if (log != 0)
            {
                float lse = MathF.Log(sum);
                for (int j = Group.IdxX; j < n; j += Group.DimX) y[s0 + j] = x[s0 + j] - m - lse;
            }
            else
            {
                float inv = 1f / sum;
                for (int j = Group.IdxX; j < n; j += Group.DimX) y[s0 + j] = MathF.Exp(x[s0 + j] - m) * inv;
            }
        }
    }

    /// <summary>softmax: dx = y ⊙ (dy − Σ dy⊙y); log-softmax: dx = dy − e^y · Σ dy.</summary>
    [Kernel]
    internal static void BackwardKernel(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, long rows, int n, int log)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long s0 = row * n;
            float acc = 0f;
            if (log != 0)
                for (int j = Group.IdxX; j < n; j += Group.DimX) acc += dy[s0 + j];
            else
                for (int j = Group.IdxX; j < n; j += Group.DimX) acc += dy[s0 + j] * y[s0 + j];
            acc = GroupReduce.Sum(acc, scratch);
            if (log != 0)
                for (int j = Group.IdxX; j < n; j += Group.DimX) dx[s0 + j] = MathF.Exp(y[s0 + j]) * -acc + dy[s0 + j];
            else
                for (int j = Group.IdxX; j < n; j += Group.DimX) dx[s0 + j] = (dy[s0 + j] - acc) * y[s0 + j];
        }
    }

    public static void Forward(KernelContext k, ArrayView<float> x, ArrayView<float> y, long rows, int n, bool log)
    {
        if (rows == 0 || n == 0) return;
        k.Kernel("Softmax.Forward", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, long, int, int>>(a, ForwardKernel))
            (k.Stream, Launch.Rows(k, rows, n), x, y, rows, n, log ? 1 : 0);
    }

    public static void Backward(KernelContext k, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, long rows, int n, bool log)
    {
        if (rows == 0 || n == 0) return;
        k.Kernel("Softmax.Backward", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int, int>>(a, BackwardKernel))
            (k.Stream, Launch.Rows(k, rows, n), y, dy, dx, rows, n, log ? 1 : 0);
    }
}
