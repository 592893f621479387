using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>y = softmax(x) (or log-softmax) along a dim; backward from the saved output y.</summary>
internal sealed class SoftmaxOp(int dim, bool log) : Op
{
    private Tensor? _y;

    public override string Name => log ? "LogSoftmax" : "Softmax";

    public override Tensor Forward()
    {
        var y = log ? Inputs[0].Data.LogSoftmax(dim) : Inputs[0].Data.Softmax(dim);
        _y = Save(y.View(y.Layout));
        return y;
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = Tensor.SoftmaxBackward(_y!, g, log, dim);
    }
}
