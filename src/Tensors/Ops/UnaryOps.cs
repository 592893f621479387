using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LLaDA.Tensors.Ops;

/// <summary>Elementwise float → float math written once: the CPU backend runs the Vector512 overload where AVX-512 is
/// accelerated and the Vector256 one otherwise, GPU kernels the scalar one.</summary>
public interface IUnaryOp
{
    float Apply(float x);
    Vector256<float> Apply(Vector256<float> x);
    Vector512<float> Apply(Vector512<float> x);
}

/// <summary>y = −x.</summary>
public readonly struct NegOp : IUnaryOp
{
    public float Apply(float x) => -x;
    public Vector256<float> Apply(Vector256<float> x) => -x;
    public Vector512<float> Apply(Vector512<float> x) => -x;
}

/// <summary>y = |x|.</summary>
public readonly struct AbsOp : IUnaryOp
{
    public float Apply(float x) => MathF.Abs(x);
    public Vector256<float> Apply(Vector256<float> x) => Vector256.Abs(x);
    public Vector512<float> Apply(Vector512<float> x) => Vector512.Abs(x);
}

/// <summary>y = eˣ.</summary>
public readonly struct ExpOp : IUnaryOp
{
    public float Apply(float x) => MathF.Exp(x);
    public Vector256<float> Apply(Vector256<float> x) => VectorMath.Exp(x);
    public Vector512<float> Apply(Vector512<float> x) => VectorMath.Exp(x);
}

/// <summary>y = ln x.</summary>
public readonly struct LogOp : IUnaryOp
{
    public float Apply(float x) => MathF.Log(x);
    public Vector256<float> Apply(Vector256<float> x) => Vector256.Log(x);
    public Vector512<float> Apply(Vector512<float> x) => Vector512.Log(x);
}

/// <summary>y = √x.</summary>
public readonly struct SqrtOp : IUnaryOp
{
    public float Apply(float x) => MathF.Sqrt(x);
    public Vector256<float> Apply(Vector256<float> x) => Vector256.Sqrt(x);
    public Vector512<float> Apply(Vector512<float> x) => Vector512.Sqrt(x);
}

/// <summary>y = 1/√x.</summary>
public readonly struct RsqrtOp : IUnaryOp
{
    public float Apply(float x) => 1f / MathF.Sqrt(x);
    public Vector256<float> Apply(Vector256<float> x) => Vector256<float>.One / Vector256.Sqrt(x);
    public Vector512<float> Apply(Vector512<float> x) => Vector512<float>.One / Vector512.Sqrt(x);
}

/// <summary>y = x².</summary>
public readonly struct SquareOp : IUnaryOp
{
    public float Apply(float x) => x * x;
    public Vector256<float> Apply(Vector256<float> x) => x * x;
    public Vector512<float> Apply(Vector512<float> x) => x * x;
}

/// <summary>y = 1/x.</summary>
public readonly struct ReciprocalOp : IUnaryOp
{
    public float Apply(float x) => 1f / x;
    public Vector256<float> Apply(Vector256<float> x) => Vector256<float>.One / x;
    public Vector512<float> Apply(Vector512<float> x) => Vector512<float>.One / x;
}

/// <summary>y = tanh x.</summary>
public readonly struct TanhOp : IUnaryOp
{
    public float Apply(float x) => MathF.Tanh(x);

    public Vector256<float> Apply(Vector256<float> x)
    {
        // No vector tanh in the BCL; per lane keeps the scalar accuracy (tanh is not on a hot path of the model).
        Unsafe.SkipInit(out Vector256<float> r);
        for (int i = 0; i < Vector256<float>.Count; i++) r = r.WithElement(i, MathF.Tanh(x.GetElement(i)));
        return r;
    }

    public Vector512<float> Apply(Vector512<float> x) => Vector512.Create(Apply(x.GetLower()), Apply(x.GetUpper()));
}

/// <summary>y = σ(x) = 1/(1+e⁻ˣ).</summary>
public readonly struct SigmoidOp : IUnaryOp
{
    public float Apply(float x) => 1f / (1f + MathF.Exp(-x));
    public Vector256<float> Apply(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + VectorMath.ExpFast(-x));
    public Vector512<float> Apply(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + VectorMath.ExpFast(-x));
}

/// <summary>y = x·σ(x) (SiLU / swish).</summary>
public readonly struct SiluOp : IUnaryOp
{
    public float Apply(float x) => x / (1f + MathF.Exp(-x));
    public Vector256<float> Apply(Vector256<float> x) => x / (Vector256<float>.One + VectorMath.ExpFast(-x));
    public Vector512<float> Apply(Vector512<float> x) => x / (Vector512<float>.One + VectorMath.ExpFast(-x));
}

/// <summary>y = max(x, 0).</summary>
public readonly struct ReluOp : IUnaryOp
{
    public float Apply(float x) => x > 0f ? x : 0f;
    public Vector256<float> Apply(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    public Vector512<float> Apply(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
}

/// <summary>y = 1 if x &gt; 0 else 0 (the derivative of ReLU).</summary>
public readonly struct StepOp : IUnaryOp
{
    public float Apply(float x) => x > 0f ? 1f : 0f;
    public Vector256<float> Apply(Vector256<float> x) => Vector256.GreaterThan(x, Vector256<float>.Zero) & Vector256<float>.One;
    public Vector512<float> Apply(Vector512<float> x) => Vector512.GreaterThan(x, Vector512<float>.Zero) & Vector512<float>.One;
}

/// <summary>y = s·x.</summary>
public readonly struct ScaleOp(float s) : IUnaryOp
{
    public readonly float S = s;
    public float Apply(float x) => S * x;
    public Vector256<float> Apply(Vector256<float> x) => Vector256.Create(S) * x;
    public Vector512<float> Apply(Vector512<float> x) => Vector512.Create(S) * x;
}

/// <summary>y = x + c.</summary>
public readonly struct AddScalarOp(float c) : IUnaryOp
{
    public readonly float C = c;
    public float Apply(float x) => x + C;
    public Vector256<float> Apply(Vector256<float> x) => x + Vector256.Create(C);
    public Vector512<float> Apply(Vector512<float> x) => x + Vector512.Create(C);
}

/// <summary>y = xᵖ (x ≥ 0 unless p is an integer).</summary>
public readonly struct PowScalarOp(float p) : IUnaryOp
{
    public readonly float P = p;
    public float Apply(float x) => MathF.Pow(x, P);

    public Vector256<float> Apply(Vector256<float> x)
    {
        Unsafe.SkipInit(out Vector256<float> r);
        for (int i = 0; i < Vector256<float>.Count; i++) r = r.WithElement(i, MathF.Pow(x.GetElement(i), P));
        return r;
    }

    public Vector512<float> Apply(Vector512<float> x) => Vector512.Create(Apply(x.GetLower()), Apply(x.GetUpper()));
}

/// <summary>y = min(max(x, lo), hi).</summary>
public readonly struct ClampOp(float lo, float hi) : IUnaryOp
{
    public readonly float Lo = lo, Hi = hi;
    public float Apply(float x) => x < Lo ? Lo : x > Hi ? Hi : x;
    public Vector256<float> Apply(Vector256<float> x) => Vector256.Min(Vector256.Max(x, Vector256.Create(Lo)), Vector256.Create(Hi));
    public Vector512<float> Apply(Vector512<float> x) => Vector512.Min(Vector512.Max(x, Vector512.Create(Lo)), Vector512.Create(Hi));
}

/// <summary>y = x (used to make a strided tensor contiguous).</summary>
public readonly struct IdentityOp : IUnaryOp
{
    public float Apply(float x) => x;
    public Vector256<float> Apply(Vector256<float> x) => x;
    public Vector512<float> Apply(Vector512<float> x) => x;
}
