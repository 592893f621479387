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

/// <summary>The mask predictor as an <see cref="ILogitsModel"/> (forward with no tape: nothing is recorded).</summary>
public sealed class MaskPredictorLogits(MaskPredictor model) : ILogitsModel
{
    public int VocabSize => model.Config.VocabSize;
    public IBackend Backend => model.Backend;

    public Tensor Logits(Tensor ids, Tensor? keyPadding)
        => Tape.NoGrad(() => model.Forward(ids, keyPadding)).Data;
}
