using LLaDA.Tensors;

namespace LLaDA.Kernels;

// The sampler's per-step primitives: logits stay on the device, only (B, W) results are written.
public sealed partial class IlgpuBackend
{
    public void SampleTokens(Tensor logits, in TokenSampling s, Tensor tokens, Tensor scores)
        => SamplingKernels.SampleTokens(Kernels, F(logits), I(tokens), View<double>(scores), tokens.Dim(0), tokens.Dim(1), logits.Dim(2), s);

    public void SampleTokensHead(Tensor hidden, Tensor weight, Tensor? bias, Tensor sites, int vocab, in TokenSampling s, int tile, Tensor tokens, Tensor scores)
    {
        int n = sites.Dim(0), rows = hidden.Dim(0);
        var a = HeadSampleArgs.From(s, vocab);
        int words = (System.Runtime.CompilerServices.Unsafe.SizeOf<HeadSampleState>() + 7) / 8;
        using var stateBuf = Tensor.Empty([n * words], DType.F64, this);
        var states = View<double>(stateBuf).Cast<HeadSampleState>();
        HeadSamplingKernels.Init(Kernels, states, n);
        using var h3 = hidden.Unsqueeze(0);                                   // (1, R·N, C)
        using var scratch = Tensor.Empty([rows * tile], DType.F32, this);     // one tile of every row
        var bv = bias is null ? ILGPU.ArrayView<float>.Empty : F(bias);
        for (int v0 = 0; v0 < vocab; v0 += tile)
        {
            int tw = Math.Min(tile, vocab - v0);
            using (var wt = weight.Narrow(0, v0, tw))
            using (var b3 = wt.MT.Unsqueeze(0))
            using (var c3 = scratch.Narrow(0, 0, rows * tw).View(1, rows, tw))
                MatMul(h3, b3, c3, 1f, 0f);
            HeadSamplingKernels.Tile(Kernels, F(scratch), bv, I(sites), states, a, n, v0, tw, bias is not null);
        }
        HeadSamplingKernels.Finish(Kernels, states, I(tokens), View<double>(scores), a, n);
    }

    public void SelectTransfer(Tensor scores, Tensor? thresholdValues, Tensor candidates, Tensor quota, in TransferRule rule, Tensor take)
    {
        int b = scores.Dim(0), w = scores.Dim(1);
        using var order = Tensor.Empty([b, w], DType.I32, this);
        var sc = View<double>(scores);
        SamplingKernels.SelectTransfer(Kernels, sc, thresholdValues is null ? sc : View<double>(thresholdValues), I(candidates), I(quota), I(order), I(take), b, w, rule,
                                       rule.ExpScale && thresholdValues is null);
    }
}
