using LLaDA.Tensors.Ops;

namespace LLaDA.Tensors;

/// <summary>Reduction applied along one dim.</summary>
public enum ReduceOp
{
    Sum,
    Mean,
    Max,
    Min,
}

/// <summary>Attention mask kind; key padding is passed separately and combines with either.</summary>
public enum AttnMask
{
    /// <summary>Every query sees every key (LLaDA's bidirectional mask predictor).</summary>
    None,

    /// <summary>Query i sits at absolute position Tk − Tq + i and sees keys j ≤ that position (autoregressive baseline).</summary>
    Causal,
}

/// <summary>Hyper-parameters of one AdamW update (decoupled weight decay, bias-corrected moments).</summary>
public readonly record struct AdamWStep(float LearningRate, float Beta1, float Beta2, float Eps, float WeightDecay, int Step);

/// <summary>Owns memory and runs the closed set of primitives the model needs; every implementation (CPU, ILGPU) passes the same tests.</summary>
/// <remarks>
/// Conventions: outputs are pre-allocated by the <see cref="Tensor"/> layer, contiguous and of the right shape unless a
/// method says otherwise; inputs may be strided views where the method says so; shapes and dtypes were already checked
/// by the caller, so implementations only assert cheaply. Every tensor passed lives on this backend.
/// </remarks>
public interface IBackend : IDisposable
{
    /// <summary>Short name used in messages ("cpu", "ilgpu-cuda", …).</summary>
    string Name { get; }

    /// <summary>Uninitialised storage for the given element count (pooled: contents are garbage).</summary>
    Storage Allocate(long elements, DType dtype);

    /// <summary>Copies host values into a contiguous tensor of the matching element size.</summary>
    void Upload<T>(ReadOnlySpan<T> src, Tensor dst) where T : unmanaged;

    /// <summary>Copies a contiguous tensor to host memory.</summary>
    void Download<T>(Tensor src, Span<T> dst) where T : unmanaged;

    /// <summary>dst = src elementwise for equal shapes; any strides on both sides; converts between dtypes (F32 ↔ BF16/F16/I32).</summary>
    void Copy(Tensor src, Tensor dst);

    /// <summary>Sets every element of a contiguous tensor (I32 receives the value truncated to int).</summary>
    void Fill(Tensor dst, float value);

    /// <summary>y = op(x); x F32 of y's shape with any strides, y contiguous.</summary>
    void Unary<TOp>(TOp op, Tensor x, Tensor y) where TOp : struct, IUnaryOp;

    /// <summary>y = op(a, b); a and b are views already broadcast to y's shape (stride 0 on expanded dims), y contiguous.</summary>
    void Binary<TOp>(TOp op, Tensor a, Tensor b, Tensor y) where TOp : struct, IBinaryOp;

    /// <summary>y = cond ≠ 0 ? a : b; all three broadcast to y's shape; a, b and y share a 4-byte dtype (F32 or I32); cond F32 or I32.</summary>
    void Where(Tensor cond, Tensor a, Tensor b, Tensor y);

    /// <summary>y = reduce(x) along dim; x contiguous F32; y contiguous with x's shape minus dim.</summary>
    void Reduce(ReduceOp op, Tensor x, int dim, Tensor y);

    /// <summary>y = index of the first maximum along dim; x contiguous F32, y I32 with x's shape minus dim.</summary>
    void ArgMax(Tensor x, int dim, Tensor y);

    /// <summary>The k largest values along the last dim in descending order (ties: lower index first) and their indices (I32).</summary>
    void TopK(Tensor x, int k, Tensor values, Tensor indices);

    /// <summary>c[b] = alpha·a[b]·b[b] + beta·c[b]; a (Bt, M, K), b (Bt, K, N) with row- or column-major last two dims and any batch stride (0 = shared); c contiguous (Bt, M, N).</summary>
    /// <remarks>a and c are F32; b is F32, or BF16/F16 (a weight used as stored), widened to f32 inside the kernel.</remarks>
    void MatMul(Tensor a, Tensor b, Tensor c, float alpha, float beta);

    /// <summary>Softmax (or log-softmax) over the last dim of a contiguous F32 tensor.</summary>
    void Softmax(Tensor x, Tensor y, bool log);

    /// <summary>dx from y = softmax(x) (or log-softmax) and dy: dx = y⊙(dy − Σ dy⊙y), log: dx = dy − eʸ·Σ dy.</summary>
    void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, bool log);

    /// <summary>y = x·rsqrt(mean(x²) + eps)·weight over the last dim of x (N, C); saves rstd (N).</summary>
    void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd);

    /// <summary>Gradients of RmsNorm: dx (N, C) overwritten, dweight (C) overwritten.</summary>
    void RmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd, Tensor dx, Tensor dweight);

    /// <summary>Rotary embedding, half-rotation layout: x (B, T, H, D) contiguous, position of t is positionOffset + t, inv_freq[i] = θ^(−2i/D); inverse rotates back (the backward).</summary>
    void Rope(Tensor x, Tensor y, float theta, int positionOffset, bool inverse);

    /// <summary>y = silu(gate)·up, elementwise over contiguous tensors of equal shape.</summary>
    void SiluGate(Tensor gate, Tensor up, Tensor y);

    /// <summary>dgate = dy·up·silu'(gate), dup = dy·silu(gate).</summary>
    void SiluGateBackward(Tensor gate, Tensor up, Tensor dy, Tensor dgate, Tensor dup);

    /// <summary>Per-row weighted cross-entropy: loss[i] = w[i]·(lse[i] − logits[i, target[i]]) for logits (N, V), targets I32 (N), weights (N); target &lt; 0 or w = 0 gives 0.</summary>
    void CrossEntropy(Tensor logits, Tensor targets, Tensor weights, Tensor loss, Tensor lse);

    /// <summary>dlogits[i] = dloss[i]·w[i]·(softmax(logits[i]) − onehot(target[i])).</summary>
    void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor weights, Tensor lse, Tensor dloss, Tensor dlogits);

    /// <summary>Fused attention o = softmax(q·kᵀ·scale + mask)·v over (B, NH, T, HS) views (HS contiguous, any other strides; k/v may have fewer heads); saves lse (B, NH, Tq); keyPadding I32 (B, Tk), 1 keeps a key.</summary>
    void Attention(Tensor q, Tensor k, Tensor v, Tensor? keyPadding, AttnMask mask, float scale, Tensor o, Tensor lse);

    /// <summary>Gradients of <see cref="Attention"/> given dO; dq, dk, dv are overwritten and have the shapes (and may have the strides) of q, k, v.</summary>
    void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? keyPadding, AttnMask mask, float scale, Tensor o, Tensor lse, Tensor dO, Tensor dq, Tensor dk, Tensor dv);

    /// <summary>y[i, :] = src[ids[i], :] for src (V, C), ids I32 (N), y (N, C) (embedding lookup); src F32, or BF16/F16 (rows widened).</summary>
    void IndexSelect(Tensor src, Tensor ids, Tensor y);

    /// <summary>dst[ids[i], :] += src[i, :] (embedding backward); repeated ids accumulate.</summary>
    void IndexAdd(Tensor src, Tensor ids, Tensor dst);

    /// <summary>y[..., j] = x[..., index[..., j]] along the last dim; x, index (I32) and y contiguous with equal leading dims.</summary>
    void Gather(Tensor x, Tensor index, Tensor y);

    /// <summary>dst[..., index[..., j]] += src[..., j] along the last dim (the backward of Gather).</summary>
    void ScatterAdd(Tensor src, Tensor index, Tensor dst);

    /// <summary>One in-place AdamW step on contiguous param, grad, m, v of equal shape.</summary>
    void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step);

    /// <summary>One sampler step's token choice per position: tokens (B, W) I32 = x0 (Gumbel-max in float64) and scores (B, W) F64 = its <see cref="TokenSampling.Score"/>, from logits (R, W, V) F32 contiguous with R = B, or 2B under CFG (conditional rows first).</summary>
    /// <remarks>Bit-identical to <see cref="TokenSampler.Sample"/> per position (a broken raw row gives its status code). Only these B·W values need to leave the device; a fused LM-head path may write them directly.</remarks>
    void SampleTokens(Tensor logits, in TokenSampling s, Tensor tokens, Tensor scores);

    /// <summary>SampleTokens fused with the LM head: tokens (N) I32 and scores (N) F64 of N decision sites, equal to <see cref="SampleTokens"/> of logits = hidden·weight[0..vocab)ᵀ (+ bias), computed <paramref name="tile"/> vocabulary columns at a time so that no (N, V) logits tensor exists.</summary>
    /// <remarks>
    /// hidden (R·N, C) F32 contiguous: the final-normed hidden states of the sites, R = 1, or 2 under CFG (conditional rows,
    /// then the unconditional ones); weight (rows ≥ vocab, C) F32/BF16/F16 contiguous (the head as stored (out, in), or the
    /// tied embedding); bias (vocab) F32 or null (added to every logit, e.g. the sampler's ban row); sites (N, 2) I32 contiguous:
    /// (batch row b, block column j), keying the noise as SampleTokens' (b, Start + j). Per tile: a GEMM into an (R·N, tile)
    /// scratch, then <see cref="HeadSampler.Update"/> over the tile's tokens in order. x0 and the status codes are
    /// SampleTokens' bit for bit; the scores equal them to float64 rounding (online partition, see <see cref="HeadSampler"/>).
    /// </remarks>
    void SampleTokensHead(Tensor hidden, Tensor weight, Tensor? bias, Tensor sites, int vocab, in TokenSampling s, int tile, Tensor tokens, Tensor scores);

    /// <summary>take (B, W) I32 = 1 where the step commits: the candidates (B, W) I32 ≠ 0, sorted by scores (B, W) F64 (higher first, ties: lower column), of which <see cref="TransferRules.Count{T}"/> commits the first; the rule reads thresholdValues (B, W) F64 when given, else the scores (exp of them with ExpScale); quota (B) I32.</summary>
    void SelectTransfer(Tensor scores, Tensor? thresholdValues, Tensor candidates, Tensor quota, in TransferRule rule, Tensor take);

    /// <summary>The forward process's per-token noising of training step <paramref name="step"/>: for ids (B, L) I32, pMask (B) F32 and the token draw u[i, j] (<see cref="TokenMasking"/>'s Philox layout), token (i, j &lt; L') is masked when j ≥ promptLengths[i] and u &lt; pMask[i]; noisy (B, L') I32 = masked ? maskId : id, weights (B, L') F32 = masked ? 1/(p·B·L') (pre-training, promptLengths null) or 1/(p·(L − prompt)·B) (SFT) : 0.</summary>
    /// <remarks>Bit-identical to <see cref="TokenMasking.Reference"/>; all tensors contiguous, promptLengths (B) I32 in [0, L) and L' = L when given.</remarks>
    void MaskTokens(Tensor ids, Tensor pMask, Tensor? promptLengths, int maskId, ulong seed, ulong step, Tensor noisy, Tensor weights);

    /// <summary>Fills a contiguous F32 tensor with U[0,1) numbers from Philox4x32-10 at (seed, counter offset + element index / 4).</summary>
    void RandomUniform(Tensor dst, ulong seed, ulong offset);

    /// <summary>Fills a contiguous F32 tensor with N(0,1) numbers (Box–Muller over Philox uniforms), same counter convention.</summary>
    void RandomNormal(Tensor dst, ulong seed, ulong offset);
}
