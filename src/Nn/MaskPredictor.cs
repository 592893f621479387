using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Nn;

/// <summary>LLaDA's mask predictor: a LLaMA-style transformer without a causal mask (or with one, for the autoregressive baseline).</summary>
/// <remarks>
/// h = wte[ids]; N × [h += Attn(RmsNorm h); h += Mlp(RmsNorm h)]; logits = ff_out(ln_f h). No timestep input, no biases,
/// untied head unless weight_tying. Parameter names are LLaDA's checkpoint names (SPEC §4.4).
/// </remarks>
public sealed class MaskPredictor : Module
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

    /// <summary>Final hidden states (B, Lq, C) after ln_f for I32 ids (B, Lq) of a window of the sequence: the model's one forward.</summary>
    /// <param name="keyPadding">(B, Lk) I32 over the keys attended (1 = real token): the whole sequence without a cache or with a dual cache, prefix + window with a prefix cache; or null.</param>
    /// <param name="window">Where the ids start and how keys/values are cached (default: the whole sequence, no cache).</param>
    /// <remarks>
    /// Taped when a <see cref="Tape"/> is open (training: every op is recorded for Backward, so activations live until
    /// the caller's scope ends); untaped otherwise (inference: values only, each layer's temporaries freed as it ends).
    /// Both run the same ops in the same order, so they give the same floats.
    /// </remarks>
    public Variable Hidden(Tensor ids, Tensor? keyPadding = null, KvWindow window = default)
    {
        if (ids.Rank != 2 || ids.DType != DType.I32)
            throw new TensorException($"MaskPredictor: ids must be I32 (B, T), got {ids.DType} {Check.Fmt(ids.Shape)}");
        window.Validate(ids.Dim(1));
        bool taped = Tape.Current is not null;
        var recording = window.Record is null ? null : new KvCache(new Tensor[_blocks.Count], new Tensor[_blocks.Count]);
        var ctx = new AttentionContext(Config.Causal ? AttnMask.Causal : AttnMask.None, keyPadding, window, recording);
        var h = Wte.Forward(ids); // (B, Lq, C)
        foreach (var block in _blocks)
        {
            if (taped)
            {
                h = block.Forward(h, ctx);
                continue;
            }
            Variable next;
            using (new TensorScope())
            {
                next = block.Forward(h, ctx);
                next.Data.KeepAlive(); // the layer's output outlives its temporaries
            }
            h.Data.Dispose();
            h = next;
        }
        if (recording is not null) window.Record!(recording);
        var y = LnF.Forward(h);
        if (!taped) h.Data.Dispose();
        return y;
    }

    /// <summary>The LM head as stored, (Rows, C) (out, in): ff_out's weight, or the embedding when tied; <see cref="Logits(Variable)"/> is hidden·HeadWeightᵀ (what a fused head reads, e.g. IBackend.SampleTokensHead).</summary>
    public Tensor HeadWeight => (Head?.Weight ?? Wte.Weight).Data;

    /// <summary>Logits (…, V) of hidden states (…, C).</summary>
    public Variable Logits(Variable hidden) => Head is not null ? Head.Forward(hidden) : F.Linear(hidden, Wte.Weight);

    /// <summary>Logits (B, Lq, V) for I32 ids (B, Lq): <see cref="Logits(Variable)"/> of <see cref="Hidden"/> (taped or untaped, see there).</summary>
    public Variable Forward(Tensor ids, Tensor? keyPadding = null, KvWindow window = default)
    {
        var h = Hidden(ids, keyPadding, window);
        var logits = Logits(h);
        if (Tape.Current is null) h.Data.Dispose(); // untaped: nothing reads the hidden states again
        return logits;
    }

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
