using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>y = x·rsqrt(mean(x²) + eps)·w over the last dim (fp32 statistics); saves rstd.</summary>
internal sealed class RmsNormOp(float eps) : Op
{
    private Tensor? _rstd;

    public override string Name => "RmsNorm";

    public override Tensor Forward()
    {
        var (y, rstd) = Inputs[0].Data.RmsNorm(Inputs[1].Data, eps);
        _rstd = Save(rstd);
        return y;
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        var (dx, dw) = Tensor.RmsNormBackward(g, Inputs[0].Data, Inputs[1].Data, _rstd!);
        if (NeedsGrad(0)) grads[0] = dx;
        else dx.Dispose();
        if (NeedsGrad(1)) grads[1] = dw;
        else dw.Dispose();
    }
}
