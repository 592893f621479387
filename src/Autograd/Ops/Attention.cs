using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

/// <summary>Fused attention softmax(q·kᵀ·scale + mask)·v (flash-style, no T×T matrix kept); saves o and lse for the backward.</summary>
internal sealed class AttentionOp(AttnMask mask, Tensor? keyPadding, float? scale) : Op
{
    private Tensor? _o, _lse;

    public override string Name => "Attention";

    public override Tensor Forward()
    {
        var (o, lse) = Tensor.Attention(Inputs[0].Data, Inputs[1].Data, Inputs[2].Data, mask, keyPadding, scale);
        _o = Save(o.View(o.Layout));
        _lse = Save(lse);
        return o;
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        var (dq, dk, dv) = Tensor.AttentionBackward(Inputs[0].Data, Inputs[1].Data, Inputs[2].Data, _o!, _lse!, g, mask, keyPadding, scale);
        grads[0] = NeedsGrad(0) ? dq : Drop(dq);
        grads[1] = NeedsGrad(1) ? dk : Drop(dk);
        grads[2] = NeedsGrad(2) ? dv : Drop(dv);
    }

    private static Tensor? Drop(Tensor t)
    {
        t.Dispose();
        return null;
    }
}
