using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;

namespace LLaDA.Kernels;

/// <summary>One in-place AdamW step over contiguous param, grad, m, v (PyTorch semantics, the arithmetic of CpuBackend.AdamW).</summary>
public static class AdamWKernels
{
    /// <summary>Scalars of one step, computed once on the host: bias corrections folded into stepSize and invSqrtBc2.</summary>
    public struct Hyper
    {
        public float Beta1, Beta2, Eps, Decay, StepSize, InvSqrtBc2;

        /// <summary>decay = 1 − lr·wd; stepSize = lr/(1 − β₁ᵗ); invSqrtBc2 = 1/√(1 − β₂ᵗ).</summary>
        public static Hyper From(AdamWStep h) => new()
        {
            Beta1 = h.Beta1,
            Beta2 = h.Beta2,
            Eps = h.Eps,
            Decay = 1f - h.LearningRate * h.WeightDecay,
            StepSize = h.LearningRate / (1f - MathF.Pow(h.Beta1, h.Step)),
            InvSqrtBc2 = 1f / MathF.Sqrt(1f - MathF.Pow(h.Beta2, h.Step)),
        };
    }

    /// <summary>m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p·decay − stepSize·m/(√v·invSqrtBc2 + ε).</summary>
    [Kernel]
    internal static void StepKernel(ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, long n, Hyper h)
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            float gi = g[i];
            float mi = h.Beta1 * m[i] + (1f - h.Beta1) * gi;
            float vi = h.Beta2 * v[i] + (1f - h.Beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = p[i] * h.Decay - h.StepSize * mi / (MathF.Sqrt(vi) * h.InvSqrtBc2 + h.Eps);
        }
    }

    public static void Step(KernelContext k, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, long n, AdamWStep step)
    {
        if (n == 0) return;
        k.Kernel("AdamW.Step", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, Hyper>>(a, StepKernel))
            (k.Stream, Launch.Elementwise(k, n), p, g, m, v, n, Hyper.From(step));
    }
}
