using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Nn;

/// <summary>Per-call attention inputs: the mask kind, optional key padding (B, Lk) I32 over the keys attended (1 = real token), the window (first query position and key/value cache) and, when the pass records a cache, where each layer stores its keys and values.</summary>
public sealed record AttentionContext(AttnMask Mask = AttnMask.None, Tensor? KeyPadding = null, KvWindow Window = default, KvCache? Recording = null);

/// <summary>Multi-head self-attention with rotary embeddings, optional grouped K/V heads and no biases (LLaDA's LLaDALlamaBlock attention).</summary>
public sealed class SelfAttention : Module
{
    private readonly MaskPredictorConfig _cfg;

    public SelfAttention(string prefix, int layer, MaskPredictorConfig cfg, ulong seed, ulong stream, IBackend backend)
    {
        _cfg = cfg;
        Layer = layer;
        int c = cfg.DModel, kv = cfg.KvHeads * cfg.HeadSize;
        Q = new Linear(prefix + ".q_proj", c, c, cfg.InitStd, seed, stream, backend);
        K = new Linear(prefix + ".k_proj", c, kv, cfg.InitStd, seed, stream + 1, backend);
        V = new Linear(prefix + ".v_proj", c, kv, cfg.InitStd, seed, stream + 2, backend);
        Out = new Linear(prefix + ".attn_out", c, c, cfg.InitStd, seed, stream + 3, backend);
    }

    public Linear Q { get; }
    public Linear K { get; }
    public Linear V { get; }
    public Linear Out { get; }

    /// <summary>Index of the block this attention belongs to (its slot in a <see cref="KvCache"/>).</summary>
    public int Layer { get; }

    /// <summary>x (B, T, C) of the window → (B, T, C); queries at positions Window.Start + t, keys and values from the window and its cache.</summary>
    public Variable Forward(Variable x, AttentionContext ctx)
    {
        int b = x.Data.Dim(0), t = x.Data.Dim(1), c = _cfg.DModel, nh = _cfg.NHeads, nkv = _cfg.KvHeads, hs = _cfg.HeadSize;
        int start = ctx.Window.Start;
        var q = F.Rope(F.Reshape(Q.Forward(x), b, t, nh, hs), _cfg.RopeTheta, start);  // (B, T, NH, HS)
        var k = F.Rope(F.Reshape(K.Forward(x), b, t, nkv, hs), _cfg.RopeTheta, start); // (B, T, NKV, HS)
        var v = F.Reshape(V.Forward(x), b, t, nkv, hs);                                 // (B, T, NKV, HS)
        ctx.Recording?.Store(Layer, k.Data, v.Data);
        var (keys, values) = ctx.Window.KeysValues(Layer, k, v);                        // (B, Lk, NKV, HS)
        // The kernel reads (B, T, H, HS) storage through (B, H, T, HS) views and writes o the same way: no copies.
        var o = F.Attention(F.Transpose(q, 1, 2), F.Transpose(keys, 1, 2), F.Transpose(values, 1, 2), ctx.Mask, ctx.KeyPadding); // (B, NH, T, HS)
        var merged = F.Reshape(F.Transpose(o, 1, 2), b, t, c);                         // (B, T, C)
        return Out.Forward(merged);
    }

    public override IEnumerable<(string Name, Variable Parameter)> NamedParameters()
        => Q.NamedParameters().Concat(K.NamedParameters()).Concat(V.NamedParameters()).Concat(Out.NamedParameters());
}

/// <summary>LLaMA's SiLU-gated MLP: ff_out(silu(ff_proj x) ⊙ up_proj x).</summary>
public sealed class SwiGluMlp : Module
{
    public SwiGluMlp(string prefix, MaskPredictorConfig cfg, ulong seed, ulong stream, IBackend backend)
    {
        Gate = new Linear(prefix + ".ff_proj", cfg.DModel, cfg.MlpHiddenSize, cfg.InitStd, seed, stream, backend);
        Up = new Linear(prefix + ".up_proj", cfg.DModel, cfg.MlpHiddenSize, cfg.InitStd, seed, stream + 1, backend);
        Down = new Linear(prefix + ".ff_out", cfg.MlpHiddenSize, cfg.DModel, cfg.InitStd, seed, stream + 2, backend);
    }

    public Linear Gate { get; }
    public Linear Up { get; }
    public Linear Down { get; }

    /// <summary>(B, T, C) → (B, T, C).</summary>
    public Variable Forward(Variable x) => Down.Forward(F.SiluGate(Gate.Forward(x), Up.Forward(x)));

    public override IEnumerable<(string Name, Variable Parameter)> NamedParameters()
        => Gate.NamedParameters().Concat(Up.NamedParameters()).Concat(Down.NamedParameters());
}

/// <summary>Pre-norm transformer block: x + Attn(RmsNorm x), then + Mlp(RmsNorm x).</summary>
public sealed class TransformerBlock : Module
{
    public TransformerBlock(int index, MaskPredictorConfig cfg, ulong seed, IBackend backend)
    {
        string p = $"model.transformer.blocks.{index}";
        ulong stream = 16 + (ulong)index * 16;
        AttnNorm = new RmsNorm(p + ".attn_norm", cfg.DModel, cfg.RmsNormEps, backend);
        Attention = new SelfAttention(p, index, cfg, seed, stream, backend);
        FfNorm = new RmsNorm(p + ".ff_norm", cfg.DModel, cfg.RmsNormEps, backend);
        Mlp = new SwiGluMlp(p, cfg, seed, stream + 8, backend);
    }

    public RmsNorm AttnNorm { get; }
    public SelfAttention Attention { get; }
    public RmsNorm FfNorm { get; }
    public SwiGluMlp Mlp { get; }

    public Variable Forward(Variable x, AttentionContext ctx)
    {
        x = F.Add(x, Attention.Forward(AttnNorm.Forward(x), ctx));
        return F.Add(x, Mlp.Forward(FfNorm.Forward(x)));
    }

    // Checkpoint order of LLaDA's index: attn_norm, q/k/v, attn_out, ff_norm, ff_proj, up_proj, ff_out.
    public override IEnumerable<(string Name, Variable Parameter)> NamedParameters()
        => AttnNorm.NamedParameters().Concat(Attention.NamedParameters()).Concat(FfNorm.NamedParameters()).Concat(Mlp.NamedParameters());
}
