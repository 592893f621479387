using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;

namespace LLaDA.Kernels;

/// <summary>The per-tile half of IBackend.SampleTokensHead on the device: the tile GEMM runs on the matmul kernels, then one thread per
/// site walks the tile's tokens in order through <see cref="HeadSampler.Update"/> (the code the CPU backend runs), so tokens, status
/// codes and scores equal the CPU's on ILGPU's CPU accelerator.</summary>
/// <remarks>One thread per site keeps the reference's token order (first maximum, first broken token) without a cross-thread
/// tie rule; a GPU with few sites per step would split the tile over a group and merge states (a faster layout, not done here).</remarks>
public static class HeadSamplingKernels
{
    [Kernel]
    internal static void InitKernel(ArrayView<HeadSampleState> states, int n)
    {
        for (long k = Idx.Global; k < n; k += Idx.Stride) states[k] = HeadSampler.Start();
    }

    /// <summary>Site k takes the tile's logits: rows k (conditional) and n + k (unconditional under CFG) of the (R·N, tw) scratch.</summary>
    [Kernel]
    internal static void TileKernel(ArrayView<float> logits, ArrayView<float> bias, ArrayView<int> sites, ArrayView<HeadSampleState> states,
                                    HeadSampleArgs a, int n, int v0, int tw, int hasBias)
    {
        for (long k = Idx.Global; k < n; k += Idx.Stride)
        {
            var st = states[k];
            ulong offset = ((ulong)a.Step << 40) ^ ((ulong)sites[2 * k] << 24);
            long pos = (long)a.Start + sites[2 * k + 1];
            long c0 = k * tw, u0 = (n + k) * tw;
            for (int t = 0; t < tw; t++)
            {
                float cv = logits[c0 + t], uv = a.Cfg != 0 ? logits[u0 + t] : 0f;
                if (hasBias != 0)
                {
                    cv += bias[v0 + t];
                    uv += bias[v0 + t];
                }
                HeadSampler.Update(ref st, a, offset, pos, v0 + t, cv, uv);
            }
            states[k] = st;
        }
    }

    [Kernel]
    internal static void FinishKernel(ArrayView<HeadSampleState> states, ArrayView<int> tokens, ArrayView<double> scores, HeadSampleArgs a, int n)
    {
        for (long k = Idx.Global; k < n; k += Idx.Stride)
        {
            var st = states[k];
            HeadSampler.Finish(st, a, out int tok, out double score);
            tokens[k] = tok;
            scores[k] = score;
        }
    }

    public static void Init(KernelContext k, ArrayView<HeadSampleState> states, int n)
        => k.Kernel("HeadSampling.Init", acc => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<HeadSampleState>, int>>(acc, InitKernel))
            (k.Stream, Launch.Elementwise(k, n), states, n);

    public static void Tile(KernelContext k, ArrayView<float> logits, ArrayView<float> bias, ArrayView<int> sites, ArrayView<HeadSampleState> states,
                            in HeadSampleArgs a, int n, int v0, int tw, bool hasBias)
        => k.Kernel("HeadSampling.Tile", acc => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<HeadSampleState>, HeadSampleArgs, int, int, int, int>>(acc, TileKernel))
            (k.Stream, Launch.Elementwise(k, n), logits, bias, sites, states, a, n, v0, tw, hasBias ? 1 : 0);

    public static void Finish(KernelContext k, ArrayView<HeadSampleState> states, ArrayView<int> tokens, ArrayView<double> scores, in HeadSampleArgs a, int n)
        => k.Kernel("HeadSampling.Finish", acc => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<HeadSampleState>, ArrayView<int>, ArrayView<double>, HeadSampleArgs, int>>(acc, FinishKernel))
            (k.Stream, Launch.Elementwise(k, n), states, tokens, scores, a, n);
}
