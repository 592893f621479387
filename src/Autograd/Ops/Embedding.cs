using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>y = W[ids] for W (V, C) and I32 ids; dW = scatter-add of dy into the rows of ids.</summary>
internal sealed class EmbeddingOp : Op
{
    public override string Name => "Embedding";
    public override Tensor Forward() => Tensor.Embedding(Inputs[0].Data, Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (!NeedsGrad(0)) return;
        var dw = Tensor.Zeros(Inputs[0].Shape, DType.F32, g.Backend);
        dw.IndexAdd(Inputs[1].Data, g);
        grads[0] = dw;
    }
}
