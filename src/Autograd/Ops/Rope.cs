using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>Rotary embedding of x (B, T, H, HS); the backward is the inverse rotation of dy.</summary>
internal sealed class RopeOp(float theta, int positionOffset) : Op
{
    public override string Name => "Rope";
    public override Tensor Forward() => Inputs[0].Data.Rope(theta, positionOffset);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = g.RopeBackward(theta, positionOffset);
    }
}
