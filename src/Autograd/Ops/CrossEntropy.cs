using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>Per-row weighted cross-entropy w·(lse − logit[target]) of logits (N, V); targets and weights are constants; saves lse.</summary>
internal sealed class CrossEntropyOp : Op
{
    private Tensor? _lse;

    public override string Name => "CrossEntropy";

    private Tensor? Weights => Inputs.Length > 2 ? Inputs[2].Data : null;

    public override Tensor Forward()
    {
        var (loss, lse) = Tensor.CrossEntropy(Inputs[0].Data, Inputs[1].Data, Weights);
        _lse = Save(lse);
        return loss;
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = Tensor.CrossEntropyBackward(Inputs[0].Data, Inputs[1].Data, Weights, _lse!, g);
    }
}
