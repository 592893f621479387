using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>Per-row weighted cross-entropy over logits (N, V): loss = w·(lse − logit[target]) and its backward; one group per row, fp32 statistics.</summary>
/// <remarks>Rows with target &lt; 0 or weight 0 cost nothing (loss = lse = 0, zero gradient): LLaDA's loss looks only at masked positions.</remarks>
public static class CrossEntropyKernels
{
    [Kernel]
    internal static void ForwardKernel(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> weights, ArrayView<float> loss, ArrayView<float> lse,
                                       long rows, int v, ArrayView<int> errors)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            int t = targets[row];
            float w = weights[row];
            if (t >= v)
            {
                if (Group.IsFirstThread) ErrorSlots.Report(errors, row, t);
                continue;
            }
            if (t < 0 || w == 0f)
            {
                if (Group.IsFirstThread)
                {
                    loss[row] = 0f;
                    lse[row] = 0f;
                }
                continue;
            }
            long s0 = row * v;
            float m = float.NegativeInfinity;
            for (int j = Group.IdxX; j < v; j += Group.DimX) m = GroupReduce.MaxNaN(m, logits[s0 + j]);
            m = GroupReduce.Max(m, scratch);
            float sum = 0f;
            for (int j = Group.IdxX; j < v; j += Group.DimX) sum += MathF.Exp(logits[s0 + j] - m);
            sum = GroupReduce.Sum(sum, scratch);
            if (Group.IsFirstThread)
            {
                float l = m + MathF.Log(sum);
                lse[row] = l;
                loss[row] = w * (l - logits[s0 + t]);
            }
        }
    }

    /// <summary>dlogits[r, j] = s·(e^(x − lse) − [j = target]) with s = dloss[r]·w[r]; zero rows where s = 0 or target &lt; 0.</summary>
    [Kernel]
    internal static void BackwardKernel(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> weights, ArrayView<float> lse, ArrayView<float> dloss,
                                        ArrayView<float> dlogits, long rows, int v)
    {
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            int t = targets[row];
            float scale = dloss[row] * weights[row];
            long s0 = row * v;
            if (t < 0 || scale == 0f)
            {
                for (int j = Group.IdxX; j < v; j += Group.DimX) dlogits[s0 + j] = 0f;
                continue;
            }
            float l = lse[row];
            for (int j = Group.IdxX; j < v; j += Group.DimX)
            {
                float g = scale * MathF.Exp(logits[s0 + j] - l);
                dlogits[s0 + j] = j == t ? g - scale : g;
            }
        }
    }

    public static void Forward(KernelContext k, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> weights, ArrayView<float> loss, ArrayView<float> lse,
                               long rows, int v, ArrayView<int> errors)
    {
        if (rows == 0) return;
        k.Kernel("CrossEntropy.Forward", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int, ArrayView<int>>>(a, ForwardKernel))
            (k.Stream, Launch.Rows(k, rows, v), logits, targets, weights, loss, lse, rows, v, errors);
    }

    public static void Backward(KernelContext k, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> weights, ArrayView<float> lse, ArrayView<float> dloss,
                                ArrayView<float> dlogits, long rows, int v)
    {
        if (rows == 0 || v == 0) return;
        k.Kernel("CrossEntropy.Backward", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int>>(a, BackwardKernel))
            (k.Stream, Launch.Rows(k, rows, v), logits, targets, weights, lse, dloss, dlogits, rows, v);
    }
}
