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

    /// <summary>Vocabulary columns per tile of <see cref="SampleTokensHead"/> (an (R·N, 4096) f32 scratch: 16 KiB per row).</summary>
    public const int DefaultHeadTile = 4096;

    /// <summary>(tokens (N) I32, scores (N) F64) of N sites from their final-normed hidden states (R·N, C), R = 1 or 2 under CFG, and the LM head weight (rows ≥ vocab, C); see <see cref="IBackend.SampleTokensHead"/>.</summary>
    public static (Tensor Tokens, Tensor Scores) SampleTokensHead(Tensor hidden, Tensor weight, Tensor? bias, Tensor sites, int vocab, in TokenSampling s, int tile = DefaultHeadTile)
    {
        const string op = "SampleTokensHead";
        if (hidden.Rank != 2 || !hidden.DType.IsFloat()) throw new TensorException($"{op}: hidden must be floating-point (rows, C), got {hidden.DType} {Check.Fmt(hidden.Shape)}");
        if (sites.Rank != 2 || sites.Dim(1) != 2 || sites.DType != DType.I32) throw new TensorException($"{op}: sites must be I32 (N, 2), got {sites.DType} {Check.Fmt(sites.Shape)}");
        int n = sites.Dim(0), rows = s.CfgScale > 0 ? 2 * n : n, c = hidden.Dim(1);
        if (hidden.Dim(0) != rows) throw new TensorException($"{op}: {hidden.Dim(0)} hidden rows for {n} sites{(s.CfgScale > 0 ? " under CFG (2N rows)" : "")}");
        if (weight.Rank != 2 || weight.Dim(1) != c || weight.DType is not (DType.F32 or DType.BF16 or DType.F16))
            throw new TensorException($"{op}: the head weight must be F32/BF16/F16 (rows, {c}), got {weight.DType} {Check.Fmt(weight.Shape)}");
        if (vocab < 1 || vocab > weight.Dim(0)) throw new TensorException($"{op}: vocabulary {vocab} must be in 1..{weight.Dim(0)} (the head's rows)");
        if (bias is not null && (bias.Rank != 1 || bias.Dim(0) != vocab)) throw new TensorException($"{op}: bias must be ({vocab}), got {Check.Fmt(bias.Shape)}");
        if (tile < 1) throw new TensorException($"{op}: tile {tile} must be ≥ 1");
        foreach (int id in (ReadOnlySpan<int>)[s.BanId, s.SuppressId, s.SuppressId2])
            if (id < -1 || id >= vocab) throw new TensorException($"{op}: token id {id} is outside the vocabulary of {vocab}");
        if (!(s.Temperature >= 0 && double.IsFinite(s.Temperature))) throw new TensorException($"{op}: temperature {s.Temperature} must be finite and ≥ 0");
        Check.SameBackend(op, hidden, weight);
        using var h = hidden.Contiguous(DType.F32);
        using var wc = weight.Contiguous();
        using var bc = bias?.Contiguous(DType.F32);
        using var sc = sites.Contiguous();
        var tokens = Empty([n], DType.I32, hidden.Backend);
        var scores = Empty([n], DType.F64, hidden.Backend);
        if (n > 0) hidden.Backend.SampleTokensHead(h, wc, bc, sc, vocab, s, Math.Min(tile, vocab), tokens, scores);
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
