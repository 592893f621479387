namespace LLaDA.Tensors;

// The attention contract every implementation shares (CpuAttention, the ILGPU AttentionKernels): sizes, operand
// layouts and the head-size limit, defined here once.

/// <summary>Strides (in elements) of a 4-D attention operand indexed (b, h, t, d): element = base + b·StrideB + h·StrideH + t·StrideT + d; d is always contiguous (stride 1).</summary>
/// <param name="StrideB">Elements between consecutive batch entries.</param>
/// <param name="StrideH">Elements between consecutive heads.</param>
/// <param name="StrideT">Elements between consecutive time steps (rows).</param>
public readonly record struct AttnLayout(long StrideB, long StrideH, long StrideT)
{
    /// <summary>Heads-major layout (B, NH, T, HS): StrideB = NH·T·HS, StrideH = T·HS, StrideT = HS.</summary>
    public static AttnLayout Bhtd(int nh, int t, int hs) => new((long)nh * t * hs, (long)t * hs, hs);   // (B, NH, T, HS)

    /// <summary>Time-major layout (B, T, NH, HS), what a linear projection produces: StrideB = T·NH·HS, StrideH = HS, StrideT = NH·HS.</summary>
    public static AttnLayout Bthd(int nh, int t, int hs) => new((long)t * nh * hs, hs, (long)nh * hs);  // (B, T, NH, HS)

    /// <summary>The layout of a 4-D attention tensor (b, h, t, d) from its strides (the last one must be 1).</summary>
    public static AttnLayout Of(Tensor t) => new(t.Strides[0], t.Strides[1], t.Strides[2]);
}

/// <summary>Sizes of one attention call: o (B, NH, Tq, HS) = softmax(q·kᵀ·Scale + mask)·v with k, v (B, NKV, Tk, HS).</summary>
/// <remarks>
/// B batch, NH query heads, NKV key/value heads (NH % NKV == 0; query head h reads kv head h / (NH/NKV), i.e. kv heads
/// are repeat-interleaved as in Hugging Face's repeat_kv), Tq queries, Tk keys, HS head size (1..<see cref="MaxHeadSize"/>), Scale usually
/// 1/sqrt(HS). Causal: query i sits at absolute position Tk − Tq + i and sees keys j ≤ that position (so with Tq &lt; Tk
/// the queries are the last Tq positions). The optional per-call key padding int[B·Tk] marks real keys with 1 and
/// padded keys with 0; a padded key is never attended.
/// </remarks>
public readonly record struct AttentionShape(int B, int NH, int NKV, int Tq, int Tk, int HS, float Scale, AttnMask Mask)
{
    /// <summary>The largest head size any attention implementation (CPU or device kernel) and any model config accepts.</summary>
    public const int MaxHeadSize = 256;

    /// <summary>The sizes of q (B, NH, Tq, HS) against k (B, NKV, Tk, HS).</summary>
    public static AttentionShape Of(Tensor q, Tensor k, AttnMask mask, float scale)
        => new(q.Shape[0], q.Shape[1], k.Shape[1], q.Shape[2], k.Shape[2], q.Shape[3], scale, mask);

    /// <summary>Throws an ArgumentException (parameter "s") naming the first size, head split, head size (1..<see cref="MaxHeadSize"/>),
    /// scale or mask that attention cannot run.</summary>
    public void Validate()
    {
        if (B < 1 || NH < 1 || NKV < 1 || Tq < 1 || Tk < 1)
            throw new ArgumentException($"Attention sizes must be ≥ 1, got B={B}, NH={NH}, NKV={NKV}, Tq={Tq}, Tk={Tk}.", "s");
        if (NH % NKV != 0)
            throw new ArgumentException($"NH % NKV must be 0 (each kv head serves NH/NKV query heads), got NH={NH}, NKV={NKV}.", "s");
        if (HS < 1 || HS > MaxHeadSize)
            throw new ArgumentException($"HS must be in 1..{MaxHeadSize}, got {HS}.", "s");
        if (!float.IsFinite(Scale))
            throw new ArgumentException($"Scale must be finite, got {Scale}.", "s");
        if (Mask is not (AttnMask.None or AttnMask.Causal))
            throw new ArgumentException($"Unknown mask {Mask}.", "s");
    }
}
