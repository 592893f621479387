using LLaDA.Tensors.Ops;

namespace LLaDA.Tensors;

// Elementwise math with NumPy broadcasting. Every result is a new contiguous F32 tensor (BF16/F16 inputs are upcast).
public sealed partial class Tensor
{
    /// <summary>y = op(x) for any unary functor.</summary>
    public Tensor Map<TOp>(TOp op, string name = "Map") where TOp : struct, IUnaryOp
    {
        using var x = AsF32(name);
        var y = Empty(Shape, DType.F32, Backend);
        Backend.Unary(op, x, y);
        return y;
    }

    /// <summary>y = op(a, b) with broadcasting, for any binary functor.</summary>
    public static Tensor Zip<TOp>(TOp op, Tensor a, Tensor b, string name = "Zip") where TOp : struct, IBinaryOp
    {
        Check.SameBackend(name, a, b);
        var shape = Layout.BroadcastShapes(name, a.Shape, b.Shape);
        using var fa = a.AsF32(name);
        using var fb = b.AsF32(name);
        using var ea = fa.View(fa.Layout.BroadcastTo(shape, name));
        using var eb = fb.View(fb.Layout.BroadcastTo(shape, name));
        var y = Empty(shape, DType.F32, a.Backend);
        a.Backend.Binary(op, ea, eb, y);
        return y;
    }

    /// <summary>this ← op(this, other) in place (other broadcast to this tensor's shape); this must be contiguous F32.</summary>
    public Tensor ZipInPlace<TOp>(TOp op, Tensor other, string name = "ZipInPlace") where TOp : struct, IBinaryOp
    {
        Check.SameBackend(name, this, other);
        Check.DType(name, "self", this, DType.F32);
        if (!IsContiguous) throw new TensorException($"{name}: in-place target {Check.Fmt(Shape)} must be contiguous");
        using var fo = other.AsF32(name);
        using var eo = fo.View(fo.Layout.BroadcastTo(Shape, name));
        Backend.Binary(op, this, eo, this);
        return this;
    }

    /// <summary>this ← op(this) in place; this must be contiguous F32.</summary>
    public Tensor MapInPlace<TOp>(TOp op, string name = "MapInPlace") where TOp : struct, IUnaryOp
    {
        Check.DType(name, "self", this, DType.F32);
        if (!IsContiguous) throw new TensorException($"{name}: in-place target {Check.Fmt(Shape)} must be contiguous");
        Backend.Unary(op, this, this);
        return this;
    }

    public Tensor Add(Tensor b) => Zip(new AddOp(), this, b, "Add");
    public Tensor Sub(Tensor b) => Zip(new SubOp(), this, b, "Sub");
    public Tensor Mul(Tensor b) => Zip(new MulOp(), this, b, "Mul");
    public Tensor Div(Tensor b) => Zip(new DivOp(), this, b, "Div");
    public Tensor Maximum(Tensor b) => Zip(new MaximumOp(), this, b, "Maximum");
    public Tensor Minimum(Tensor b) => Zip(new MinimumOp(), this, b, "Minimum");
    public Tensor Pow(Tensor b) => Zip(new PowOp(), this, b, "Pow");
    public Tensor Eq(Tensor b) => Zip(new EqualOp(), this, b, "Eq");
    public Tensor Gt(Tensor b) => Zip(new GreaterOp(), this, b, "Gt");
    public Tensor Lt(Tensor b) => Zip(new LessOp(), this, b, "Lt");

    public Tensor Neg() => Map(new NegOp(), "Neg");
    public Tensor Abs() => Map(new AbsOp(), "Abs");
    public Tensor Exp() => Map(new ExpOp(), "Exp");
    public Tensor Log() => Map(new LogOp(), "Log");
    public Tensor Sqrt() => Map(new SqrtOp(), "Sqrt");
    public Tensor Rsqrt() => Map(new RsqrtOp(), "Rsqrt");
    public Tensor Square() => Map(new SquareOp(), "Square");
    public Tensor Reciprocal() => Map(new ReciprocalOp(), "Reciprocal");
    public Tensor Tanh() => Map(new TanhOp(), "Tanh");
    public Tensor Sigmoid() => Map(new SigmoidOp(), "Sigmoid");
    public Tensor Silu() => Map(new SiluOp(), "Silu");
    public Tensor Relu() => Map(new ReluOp(), "Relu");
    public Tensor Scale(float s) => Map(new ScaleOp(s), "Scale");
    public Tensor AddScalar(float c) => Map(new AddScalarOp(c), "AddScalar");
    public Tensor Pow(float p) => Map(new PowScalarOp(p), "Pow");
    public Tensor Clamp(float lo, float hi) => Map(new ClampOp(lo, hi), "Clamp");

    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    public static Tensor operator -(Tensor a) => a.Neg();
    public static Tensor operator +(Tensor a, float c) => a.AddScalar(c);
    public static Tensor operator -(Tensor a, float c) => a.AddScalar(-c);
    public static Tensor operator *(Tensor a, float s) => a.Scale(s);
    public static Tensor operator *(float s, Tensor a) => a.Scale(s);
    public static Tensor operator /(Tensor a, float s) => a.Scale(1f / s);

    /// <summary>y = cond ≠ 0 ? a : b with broadcasting; a and b share a dtype (F32 or I32), cond is F32 or I32.</summary>
    public static Tensor Where(Tensor cond, Tensor a, Tensor b)
    {
        const string op = "Where";
        Check.SameBackend(op, cond, a);
        Check.SameBackend(op, a, b);
        if (a.DType != b.DType) throw new TensorException($"{op}: 'a' is {a.DType} but 'b' is {b.DType}");
        if (a.DType.SizeOf() != 4) throw new TensorException($"{op}: values must be F32 or I32, got {a.DType}");
        if (cond.DType.SizeOf() != 4) throw new TensorException($"{op}: 'cond' must be F32 or I32, got {cond.DType}");
        var shape = Layout.BroadcastShapes(op, Layout.BroadcastShapes(op, cond.Shape, a.Shape), b.Shape);
        using var ec = cond.View(cond.Layout.BroadcastTo(shape, op));
        using var ea = a.View(a.Layout.BroadcastTo(shape, op));
        using var eb = b.View(b.Layout.BroadcastTo(shape, op));
        var y = Empty(shape, a.DType, a.Backend);
        a.Backend.Where(ec, ea, eb, y);
        return y;
    }

    /// <summary>y = mask ≠ 0 ? value : this (mask broadcast to this tensor's shape).</summary>
    public Tensor MaskedFill(Tensor mask, float value)
    {
        using var v = Full([], value, DType, Backend);
        using var ev = v.View(v.Layout.BroadcastTo(Shape, "MaskedFill"));
        using var em = mask.View(mask.Layout.BroadcastTo(Shape, "MaskedFill"));
        return Where(em, ev, this);
    }
}
