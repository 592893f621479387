using LLaDA.Nn;
using LLaDA.Tensors;

namespace LLaDA.Tests.Testing;

/// <summary>A real <see cref="MaskPredictor"/> whose weights are set so that the logits at a position are a chosen row M[x] of the token x there.</summary>
/// <remarks>
/// Every block parameter is zero, so each block adds nothing to the residual stream (attention and MLP outputs are
/// linear in their zero output projections): h = wte[x]. wte[k] = √C·e_k has RMS 1, so ln_f(h) = √C·e_k/√(1 + eps),
/// and the untied head W[t, k] = M[k][t]/√C gives logits[t] = M[k][t]/√(1 + eps) — M itself to about 5e-6 relative.
/// Needs V ≤ C (the tiny preset's C is 32).
/// </remarks>
public static class KnownLogitsModel
{
    /// <param name="rows">rows[k] = the logits (V) wherever the input token is k; one row per vocabulary id.</param>
    public static MaskPredictor Create(double[][] rows, int mask, int eos, bool causal = false)
    {
        int v = rows.Length;
        var cfg = Presets.Tiny(v, mask, eos) with { Causal = causal, WeightTying = false };
        int c = cfg.DModel;
        if (v > c) throw new ArgumentException($"KnownLogitsModel: vocab {v} exceeds d_model {c}");
        var model = new MaskPredictor(cfg, seed: 1);
        foreach (var b in model.Blocks)
            foreach (var (_, p) in b.NamedParameters())
                p.Data.CopyFrom(Tensor.ZerosLike(p.Data));
        var wte = new float[v * c];
        for (int k = 0; k < v; k++) wte[k * c + k] = MathF.Sqrt(c);
        model.Wte.Weight.Data.CopyFrom(Tensor.FromArray(wte, [v, c]));
        var head = new float[v * c]; // (V, C): head[t, k]
        for (int k = 0; k < v; k++)
            for (int t = 0; t < v; t++) head[t * c + k] = (float)(rows[k][t] / Math.Sqrt(c));
        model.Head!.Weight.Data.CopyFrom(Tensor.FromArray(head, [v, c]));
        return model;
    }
}
