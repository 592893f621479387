using LLaDA.Tensors;

namespace LLaDA.Autograd.Ops;

// Elementwise ops. Binary ops broadcast (NumPy rules); their backward sums the broadcast dims away (SumTo).

/// <summary>y = a + b; da = dy, db = dy (summed to each shape).</summary>
internal sealed class AddOp : Op
{
    public override string Name => "Add";
    public override Tensor Forward() => Inputs[0].Data.Add(Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = g.SumTo(Inputs[0].Shape);
        if (NeedsGrad(1)) grads[1] = g.SumTo(Inputs[1].Shape);
    }
}

/// <summary>y = a − b; da = dy, db = −dy.</summary>
internal sealed class SubOp : Op
{
    public override string Name => "Sub";
    public override Tensor Forward() => Inputs[0].Data.Sub(Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = g.SumTo(Inputs[0].Shape);
        if (NeedsGrad(1))
        {
            using var s = g.SumTo(Inputs[1].Shape);
            grads[1] = s.Neg();
        }
    }
}

/// <summary>y = a·b; da = dy·b, db = dy·a.</summary>
internal sealed class MulOp : Op
{
    public override string Name => "Mul";
    public override Tensor Forward() => Inputs[0].Data.Mul(Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        var a = Inputs[0].Data;
        var b = Inputs[1].Data;
        if (NeedsGrad(0))
        {
            using var t = g.Mul(b);
            grads[0] = t.SumTo(a.Shape);
        }
        if (NeedsGrad(1))
        {
            using var t = g.Mul(a);
            grads[1] = t.SumTo(b.Shape);
        }
    }
}

/// <summary>y = a/b; da = dy/b, db = −dy·a/b².</summary>
internal sealed class DivOp : Op
{
    public override string Name => "Div";
    public override Tensor Forward() => Inputs[0].Data.Div(Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        var a = Inputs[0].Data;
        var b = Inputs[1].Data;
        using var gb = g.Div(b);
        if (NeedsGrad(0)) grads[0] = gb.SumTo(a.Shape);
        if (NeedsGrad(1))
        {
            using var t = gb.Mul(a);
            using var t2 = t.Div(b);
            using var s = t2.SumTo(b.Shape);
            grads[1] = s.Neg();
        }
    }
}

/// <summary>y = max(a, b) elementwise; the gradient goes to a where a ≥ b, else to b.</summary>
internal sealed class MaximumOp : Op
{
    public override string Name => "Maximum";
    public override Tensor Forward() => Inputs[0].Data.Maximum(Inputs[1].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        var a = Inputs[0].Data;
        var b = Inputs[1].Data;
        using var takeB = b.Gt(a); // 1 where b wins
        using var zero = Tensor.Zeros([], DType.F32, g.Backend);
        if (NeedsGrad(0))
        {
            using var t = Tensor.Where(takeB, zero, g);
            grads[0] = t.SumTo(a.Shape);
        }
        if (NeedsGrad(1))
        {
            using var t = Tensor.Where(takeB, g, zero);
            grads[1] = t.SumTo(b.Shape);
        }
    }
}

/// <summary>y = f(x) for a unary function whose derivative is expressed through x and y.</summary>
internal abstract class UnaryOp : Op
{
    private Tensor? _y;

    protected Tensor X => Inputs[0].Data;
    protected Tensor Y => _y!;

    /// <summary>Whether Backward needs the output (then it is kept alive).</summary>
    protected virtual bool SavesOutput => false;

    protected abstract Tensor Apply(Tensor x);

    /// <summary>dx from dy (x and y available).</summary>
    protected abstract Tensor Derivative(Tensor g);

    public override Tensor Forward()
    {
        var y = Apply(X);
        if (SavesOutput) _y = Save(y.View(y.Layout));
        return y;
    }

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        if (NeedsGrad(0)) grads[0] = Derivative(g);
    }
}

/// <summary>y = −x.</summary>
internal sealed class NegOp : UnaryOp
{
    public override string Name => "Neg";
    protected override Tensor Apply(Tensor x) => x.Neg();
    protected override Tensor Derivative(Tensor g) => g.Neg();
}

/// <summary>y = s·x.</summary>
internal sealed class ScaleOp(float s) : UnaryOp
{
    public override string Name => "Scale";
    protected override Tensor Apply(Tensor x) => x.Scale(s);
    protected override Tensor Derivative(Tensor g) => g.Scale(s);
}

/// <summary>y = x + c.</summary>
internal sealed class AddScalarOp(float c) : UnaryOp
{
    public override string Name => "AddScalar";
    protected override Tensor Apply(Tensor x) => x.AddScalar(c);
    protected override Tensor Derivative(Tensor g) => g.View(g.Layout);
}

/// <summary>y = eˣ; dx = dy·y.</summary>
internal sealed class ExpOp : UnaryOp
{
    public override string Name => "Exp";
    protected override bool SavesOutput => true;
    protected override Tensor Apply(Tensor x) => x.Exp();
    protected override Tensor Derivative(Tensor g) => g.Mul(Y);
}

/// <summary>y = ln x; dx = dy/x.</summary>
internal sealed class LogOp : UnaryOp
{
    public override string Name => "Log";
    protected override Tensor Apply(Tensor x) => x.Log();
    protected override Tensor Derivative(Tensor g) => g.Div(X);
}

/// <summary>y = √x; dx = dy/(2y).</summary>
internal sealed class SqrtOp : UnaryOp
{
    public override string Name => "Sqrt";
    protected override bool SavesOutput => true;
    protected override Tensor Apply(Tensor x) => x.Sqrt();

    protected override Tensor Derivative(Tensor g)
    {
        using var t = g.Div(Y);
        return t.Scale(0.5f);
    }
}

/// <summary>y = x²; dx = 2x·dy.</summary>
internal sealed class SquareOp : UnaryOp
{
    public override string Name => "Square";
    protected override Tensor Apply(Tensor x) => x.Square();

    protected override Tensor Derivative(Tensor g)
    {
        using var t = g.Mul(X);
        return t.Scale(2f);
    }
}

/// <summary>y = xᵖ; dx = p·xᵖ⁻¹·dy.</summary>
internal sealed class PowScalarOp(float p) : UnaryOp
{
    public override string Name => "Pow";
    protected override Tensor Apply(Tensor x) => x.Pow(p);

    protected override Tensor Derivative(Tensor g)
    {
        using var t = X.Pow(p - 1f);
        using var u = t.Mul(g);
        return u.Scale(p);
    }
}

/// <summary>y = tanh x; dx = (1 − y²)·dy.</summary>
internal sealed class TanhOp : UnaryOp
{
    public override string Name => "Tanh";
    protected override bool SavesOutput => true;
    protected override Tensor Apply(Tensor x) => x.Tanh();

    protected override Tensor Derivative(Tensor g)
    {
        using var y2 = Y.Square();
        using var d = y2.Neg();
        using var d1 = d.AddScalar(1f);
        return g.Mul(d1);
    }
}

/// <summary>y = σ(x); dx = y(1 − y)·dy.</summary>
internal sealed class SigmoidOp : UnaryOp
{
    public override string Name => "Sigmoid";
    protected override bool SavesOutput => true;
    protected override Tensor Apply(Tensor x) => x.Sigmoid();

    protected override Tensor Derivative(Tensor g)
    {
        using var one = Y.Neg();
        using var om = one.AddScalar(1f);
        using var d = om.Mul(Y);
        return g.Mul(d);
    }
}

/// <summary>y = x·σ(x); dx = σ(x)(1 + x(1 − σ(x)))·dy.</summary>
internal sealed class SiluOp : UnaryOp
{
    public override string Name => "Silu";
    protected override Tensor Apply(Tensor x) => x.Silu();

    protected override Tensor Derivative(Tensor g)
    {
        using var s = X.Sigmoid();
        using var oms = s.Neg();
        using var oms1 = oms.AddScalar(1f);
        using var xo = X.Mul(oms1);
        using var xo1 = xo.AddScalar(1f);
        using var d = s.Mul(xo1);
        return g.Mul(d);
    }
}

/// <summary>y = max(x, 0); dx = dy where x &gt; 0.</summary>
internal sealed class ReluOp : UnaryOp
{
    public override string Name => "Relu";
    protected override Tensor Apply(Tensor x) => x.Relu();

    protected override Tensor Derivative(Tensor g)
    {
        using var step = X.Map(new LLaDA.Tensors.Ops.StepOp(), "ReluBackward");
        return g.Mul(step);
    }
}

/// <summary>y = cond ? a : b; da = dy where cond, db = dy elsewhere (cond is a constant).</summary>
internal sealed class WhereOp : Op
{
    public override string Name => "Where";
    public override Tensor Forward() => Tensor.Where(Inputs[0].Data, Inputs[1].Data, Inputs[2].Data);

    public override void Backward(Tensor g, Tensor?[] grads)
    {
        using var zero = Tensor.Zeros([], DType.F32, g.Backend);
        if (NeedsGrad(1))
        {
            using var t = Tensor.Where(Inputs[0].Data, g, zero);
            grads[1] = t.SumTo(Inputs[1].Shape);
        }
        if (NeedsGrad(2))
        {
            using var t = Tensor.Where(Inputs[0].Data, zero, g);
            grads[2] = t.SumTo(Inputs[2].Shape);
        }
    }
}
