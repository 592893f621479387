using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Tests.Autograd;

/// <summary>Attention composed from primitives: softmax(q·kᵀ·scale + additive mask)·v, the reference for F.Attention.</summary>
internal static class AttentionReference
{
    /// <summary>Masked scores get this additive bias: exp(−1e9 − max) is exactly 0 in fp32.</summary>
    public const float Masked = -1e9f;

    /// <summary>
    /// The additive mask (B, 1, G·Tq, Tk) for grouped queries laid out as rows r = g·Tq + i (see <see cref="Compose"/>):
    /// causal hides keys j &gt; Tk − Tq + i; key padding hides keys whose keyPadding[b, j] is 0.
    /// </summary>
    public static Tensor Mask(int b, int groups, int tq, int tk, AttnMask mask, int[]? keyPadding)
    {
        var m = new float[b * groups * tq * tk];
        for (int bb = 0; bb < b; bb++)
            for (int g = 0; g < groups; g++)
                for (int i = 0; i < tq; i++)
                    for (int j = 0; j < tk; j++)
                    {
                        bool hidden = (mask == AttnMask.Causal && j > tk - tq + i) || (keyPadding is not null && keyPadding[bb * tk + j] == 0);
                        m[((bb * groups + g) * tq + i) * tk + j] = hidden ? Masked : 0f;
                    }
        return Tensor.FromArray(m, [b, 1, groups * tq, tk]);
    }

    /// <summary>
    /// o (B, NH, Tq, HS) for q (B, NH, Tq, HS) and k, v (B, NKV, Tk, HS). Query head h uses key/value head h / G
    /// (G = NH / NKV), so q is regrouped as (B, NKV, G·Tq, HS) and each key/value head serves G·Tq query rows.
    /// </summary>
    public static Variable Compose(Variable q, Variable k, Variable v, Tensor additiveMask, float? scale = null)
    {
        int b = q.Shape[0], nh = q.Shape[1], tq = q.Shape[2], hs = q.Shape[3];
        int nkv = k.Shape[1], groups = nh / nkv;
        float sc = scale ?? 1f / MathF.Sqrt(hs);
        var q2 = F.Reshape(q, b, nkv, groups * tq, hs);
        var s = F.Scale(F.MatMul(q2, F.Transpose(k, -1, -2)), sc);
        var p = F.Softmax(F.Add(s, additiveMask), -1);
        var o = F.MatMul(p, v);
        return F.Reshape(o, b, nh, tq, hs);
    }
}
