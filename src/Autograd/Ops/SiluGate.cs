using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>y = silu(gate)·up (LLaMA MLP's gated product).</summary>
internal sealed class SiluGateOp : Op
{
    public override string Name => "SiluGate";
    public override Tensor Forward() => Tensor.SiluGate(Inputs[0].Data, Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        var (dg, du) = Tensor.SiluGateBackward(Inputs[0].Data, Inputs[1].Data, g);
        if (NeedsGrad(0)) grads[0] = dg;
        else dg.Dispose();
        if (NeedsGrad(1)) grads[1] = du;
        else du.Dispose();
    }
}
