using LLaDA.Tensors;

namespace LLaDA.Kernels;

// The sampler's per-step primitives: logits stay on the device, only (B, W) results are written.
public sealed partial class IlgpuBackend
{
    public void SampleTokens(Tensor logits, in TokenSampling s, Tensor tokens, Tensor scores)
        => SamplingKernels.SampleTokens(Kernels, F(logits), I(tokens), View<double>(scores), tokens.Dim(0), tokens.Dim(1), logits.Dim(2), s);

    public void SelectTransfer(Tensor scores, Tensor? thresholdValues, Tensor candidates, Tensor quota, in TransferRule rule, Tensor take)
    {
        int b = scores.Dim(0), w = scores.Dim(1);
        using var order = Tensor.Empty([b, w], DType.I32, this);
        var sc = View<double>(scores);
        SamplingKernels.SelectTransfer(Kernels, sc, thresholdValues is null ? sc : View<double>(thresholdValues), I(candidates), I(quota), I(order), I(take), b, w, rule,
                                       rule.ExpScale && thresholdValues is null);
    }
}
