using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LLaDA.Tensors.Ops;

/// <summary>Elementwise (float, float) → float math written once for every backend.</summary>
public interface IBinaryOp
{
    float Apply(float a, float b);
    Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
}

/// <summary>y = a + b.</summary>
public readonly struct AddOp : IBinaryOp
{
    public float Apply(float a, float b) => a + b;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a + b;
}

/// <summary>y = a − b.</summary>
public readonly struct SubOp : IBinaryOp
{
    public float Apply(float a, float b) => a - b;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a - b;
}

/// <summary>y = a·b.</summary>
public readonly struct MulOp : IBinaryOp
{
    public float Apply(float a, float b) => a * b;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a * b;
}

/// <summary>y = a/b.</summary>
public readonly struct DivOp : IBinaryOp
{
    public float Apply(float a, float b) => a / b;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a / b;
}

/// <summary>y = max(a, b).</summary>
public readonly struct MaximumOp : IBinaryOp
{
    public float Apply(float a, float b) => a >= b ? a : b;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, b), a, b);
}

/// <summary>y = min(a, b).</summary>
public readonly struct MinimumOp : IBinaryOp
{
    public float Apply(float a, float b) => a <= b ? a : b;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(Vector256.LessThanOrEqual(a, b), a, b);
}

/// <summary>y = aᵇ.</summary>
public readonly struct PowOp : IBinaryOp
{
    public float Apply(float a, float b) => MathF.Pow(a, b);

    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b)
    {
        Unsafe.SkipInit(out Vector256<float> r);
        for (int i = 0; i < Vector256<float>.Count; i++) r = r.WithElement(i, MathF.Pow(a.GetElement(i), b.GetElement(i)));
        return r;
    }
}

/// <summary>y = 1 if a == b else 0.</summary>
public readonly struct EqualOp : IBinaryOp
{
    public float Apply(float a, float b) => a == b ? 1f : 0f;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b) & Vector256<float>.One;
}

/// <summary>y = 1 if a &gt; b else 0.</summary>
public readonly struct GreaterOp : IBinaryOp
{
    public float Apply(float a, float b) => a > b ? 1f : 0f;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b) & Vector256<float>.One;
}

/// <summary>y = 1 if a &lt; b else 0.</summary>
public readonly struct LessOp : IBinaryOp
{
    public float Apply(float a, float b) => a < b ? 1f : 0f;
    public Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b) & Vector256<float>.One;
}
