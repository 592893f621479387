using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Nn;

/// <summary>LLaDA's mask predictor: a LLaMA-style transformer without a causal mask (or with one, for the autoregressive baseline).</summary>
/// <remarks>
/// h = wte[ids]; N × [h += Attn(RmsNorm h); h += Mlp(RmsNorm h)]; logits = ff_out(ln_f h). No timestep input, no biases,
/// untied head unless weight_tying. Parameter names are LLaDA's checkpoint names (SPEC §4.4).
/// </remarks>
public sealed partial class MaskPredictor : Module
{
    private readonly List<TransformerBlock> _blocks = new();

    public MaskPredictor(MaskPredictorConfig config, ulong seed = 0, IBackend? backend = null)
    {
        Config = config.Validate();
        Backend = backend ?? LLaDA.Tensors.Cpu.CpuBackend.Default;
        Wte = new Embedding("model.transformer.wte", config.Rows, config.DModel, config.InitStd, seed, 1, Backend);
        for (int i = 0; i < config.NLayers; i++) _blocks.Add(new TransformerBlock(i, config, seed, Backend));
        LnF = new RmsNorm("model.transformer.ln_f", config.DModel, config.RmsNormEps, Backend);
        if (!config.WeightTying)
            Head = new Linear("model.transformer.ff_out", config.DModel, config.Rows, config.InitStd, seed, 2, Backend);
    }

    public MaskPredictorConfig Config { get; }
    public IBackend Backend { get; }
    public Embedding Wte { get; }
    public IReadOnlyList<TransformerBlock> Blocks => _blocks;
    public RmsNorm LnF { get; }

    /// <summary>The LM head; null when tied to the embedding.</summary>
    public Linear? Head { get; }

    /// <summary>Final hidden states (B, T, C) after ln_f for I32 ids (B, T).</summary>
    public Variable Hidden(Tensor ids, Tensor? keyPadding = null, int positionOffset = 0)
    {
        if (ids.Rank != 2 || ids.DType != DType.I32)
            throw new TensorException($"MaskPredictor: ids must be I32 (B, T), got {ids.DType} {Check.Fmt(ids.Shape)}");
        var ctx = new AttentionContext(Config.Causal ? AttnMask.Causal : AttnMask.None, keyPadding, positionOffset);
        var h = Wte.Forward(ids); // (B, T, C)
        foreach (var block in _blocks) h = block.Forward(h, ctx);
        return LnF.Forward(h);
    }

    /// <summary>Logits (…, V) of hidden states (…, C).</summary>
    public Variable Logits(Variable hidden) => Head is not null ? Head.Forward(hidden) : F.Linear(hidden, Wte.Weight);

    /// <summary>Logits (B, T, V) for I32 ids (B, T).</summary>
    public Variable Forward(Tensor ids, Tensor? keyPadding = null) => Logits(Hidden(ids, keyPadding));

    public override IEnumerable<(string Name, Variable Parameter)> NamedParameters()
    {
        foreach (var p in Wte.NamedParameters()) yield return p;
        foreach (var b in _blocks)
            foreach (var p in b.NamedParameters()) yield return p;
        foreach (var p in LnF.NamedParameters()) yield return p;
        if (Head is not null)
            foreach (var p in Head.NamedParameters()) yield return p;
    }
}
