using LLaDA.Autograd;
using LLaDA.Nn;
using LLaDA.Tensors;

namespace LLaDA.Diffusion.Sampling;

/// <summary>Anything that maps token ids (B, L) to logits (B, L, V): the mask predictor, or an oracle in tests.</summary>
public interface ILogitsModel
{
    int VocabSize { get; }
    IBackend Backend { get; }

    /// <summary>Logits (B, L, V) for I32 ids (B, L); keyPadding (B, L) I32 with 1 for real tokens, or null.</summary>
    Tensor Logits(Tensor ids, Tensor? keyPadding);
}

/// <summary>A model that can reuse keys and values across sampler steps (Fast-dLLM prefix and dual caches).</summary>
public interface ICachedLogitsModel : ILogitsModel
{
    /// <summary>Logits (B, Lq, V) of a window starting at absolute position <paramref name="start"/> (see <see cref="KvWindow"/>).</summary>
    Tensor Logits(Tensor ids, int start, KvCache? cache, CacheMode mode, Action<KvCache>? record, Tensor? keyPadding);
}

/// <summary>A model whose logits are hidden·headᵀ: the sampler and the likelihood gather the hidden rows of the positions they need and apply the head only there (fused with sampling in <see cref="Tensor.SampleTokensHead"/>), so no (B, L, V) logits tensor is made.</summary>
public interface IHiddenStatesModel : ICachedLogitsModel
{
    /// <summary>Final-normed hidden states (B, Lq, C) of the same forward as <see cref="ICachedLogitsModel.Logits(Tensor, int, KvCache?, CacheMode, Action{KvCache}?, Tensor?)"/>.</summary>
    Tensor Hidden(Tensor ids, int start, KvCache? cache, CacheMode mode, Action<KvCache>? record, Tensor? keyPadding);

    /// <summary>The LM head (rows ≥ VocabSize, C) as stored (out, in); logits of vocabulary entry t are hidden·HeadWeight[t]ᵀ.</summary>
    Tensor HeadWeight { get; }
}

/// <summary>The mask predictor as a sampler model: its one forward, untaped (no tape even inside a training step), with key/value caching.</summary>
public sealed class MaskPredictorLogits(MaskPredictor model) : IHiddenStatesModel
{
    public MaskPredictor Model => model;
    public int VocabSize => model.Config.VocabSize;
    public IBackend Backend => model.Backend;

    public Tensor Logits(Tensor ids, Tensor? keyPadding) => Logits(ids, 0, null, CacheMode.None, null, keyPadding);

    public Tensor Logits(Tensor ids, int start, KvCache? cache, CacheMode mode, Action<KvCache>? record, Tensor? keyPadding)
        => VocabOnly(Tape.NoGrad(() => model.Forward(ids, keyPadding, new KvWindow(start, cache, mode, record))).Data);

    public Tensor Hidden(Tensor ids, int start, KvCache? cache, CacheMode mode, Action<KvCache>? record, Tensor? keyPadding)
        => Tape.NoGrad(() => model.Hidden(ids, keyPadding, new KvWindow(start, cache, mode, record))).Data;

    public Tensor HeadWeight => model.HeadWeight;

    /// <summary>(B, L, embedding_size) → (B, L, vocab_size): padded embedding rows are not tokens, so no sampler or likelihood may see them.</summary>
    private Tensor VocabOnly(Tensor logits)
    {
        if (model.Config.Rows == VocabSize) return logits;
        using (logits)
        using (var vocab = logits.Narrow(2, 0, VocabSize))
            return vocab.Clone();
    }
}
