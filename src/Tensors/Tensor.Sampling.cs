namespace LLaDA.Tensors;

// The masked-diffusion sampler's per-step primitives (IBackend.SampleTokens, IBackend.SelectTransfer) with their checks.
public sealed partial class Tensor
{
    /// <summary>(tokens (B, W) I32, scores (B, W) F64) of logits (R, W, V) (any float dtype and strides) with R = B, or 2B under CFG; see <see cref="IBackend.SampleTokens"/>.</summary>
    public static (Tensor Tokens, Tensor Scores) SampleTokens(Tensor logits, int batch, in TokenSampling s)
    {
        if (logits.Rank != 3 || !logits.DType.IsFloat()) throw new TensorException($"SampleTokens: logits must be floating-point (rows, W, V), got {logits.DType} {Check.Fmt(logits.Shape)}");
        int rows = s.CfgScale > 0 ? 2 * batch : batch, w = logits.Dim(1), v = logits.Dim(2);
        if (batch < 1 || logits.Dim(0) != rows) throw new TensorException($"SampleTokens: {logits.Dim(0)} logit rows for batch {batch}{(s.CfgScale > 0 ? " under CFG (2B rows)" : "")}");
        if (v < 1) throw new TensorException("SampleTokens: the vocabulary is empty");
        foreach (int id in (ReadOnlySpan<int>)[s.BanId, s.SuppressId, s.SuppressId2])
            if (id < -1 || id >= v) throw new TensorException($"SampleTokens: token id {id} is outside the vocabulary of {v}");
        if (!(s.Temperature >= 0 && double.IsFinite(s.Temperature))) throw new TensorException($"SampleTokens: temperature {s.Temperature} must be finite and ≥ 0");
        using var c = logits.Contiguous(DType.F32); // BF16/F16 logits are widened exactly
        var tokens = Empty([batch, w], DType.I32, logits.Backend);
        var scores = Empty([batch, w], DType.F64, logits.Backend);
        logits.Backend.SampleTokens(c, s, tokens, scores);
        return (tokens, scores);
    }

    /// <summary>take (B, W) I32: 1 for the candidates this step commits; see <see cref="IBackend.SelectTransfer"/>.</summary>
    public static Tensor SelectTransfer(Tensor scores, Tensor? thresholdValues, Tensor candidates, Tensor quota, in TransferRule rule)
    {
        if (scores.Rank != 2 || scores.DType != DType.F64 || !scores.IsContiguous) throw new TensorException($"SelectTransfer: scores must be contiguous F64 (B, W), got {scores.DType} {Check.Fmt(scores.Shape)}");
        int b = scores.Dim(0), w = scores.Dim(1);
        if (thresholdValues is not null && (thresholdValues.DType != DType.F64 || !thresholdValues.IsContiguous || thresholdValues.Dim(0) != b || thresholdValues.Dim(1) != w || thresholdValues.Rank != 2))
            throw new TensorException($"SelectTransfer: threshold values must be contiguous F64 {Check.Fmt(scores.Shape)}");
        if (candidates.DType != DType.I32 || !candidates.IsContiguous || candidates.Rank != 2 || candidates.Dim(0) != b || candidates.Dim(1) != w)
            throw new TensorException($"SelectTransfer: candidates must be contiguous I32 {Check.Fmt(scores.Shape)}");
        if (quota.DType != DType.I32 || !quota.IsContiguous || quota.Rank != 1 || quota.Dim(0) != b) throw new TensorException($"SelectTransfer: quota must be I32 ({b})");
        var take = Empty([b, w], DType.I32, scores.Backend);
        scores.Backend.SelectTransfer(scores, thresholdValues, candidates, quota, rule, take);
        return take;
    }
}
