using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LLaDA.Tensors.Ops;

/// <summary>Float-only vector exp for the CPU kernels, about 2× faster than Vector256.Exp (which widens to double); the
/// Vector512 overloads are another ~1.5× on AVX-512 (measured single-threaded: 1.5 → 2.4 Gelem/s).</summary>
/// <remarks>
/// e^x = 2^n·e^r with n = round(x·log₂e) and r = x − n·ln2 (Cody–Waite: ln2 split into an exact head and a tail), e^r by
/// its Taylor series to r⁷ (truncation ≤ 5e−9), 2^n built in the exponent field. Relative error ≤ 1e−7 (tested by a dense
/// sweep against Math.Exp).
/// </remarks>
public static class VectorMath
{
    private const float Underflow = -87.33654f;   // ln 2^−126: below, return 0 (masked scores −∞ weigh exactly 0)
    private const float FastMax = 88f;            // n ≤ 127 so 2^n stays a normal float
    private const float Overflow = 88.7228391f;   // ln(float.MaxValue): above, e^x is +∞
    private const float Log2E = 1.44269504f;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    private const float RoundShifter = 12582912f; // 1.5·2^23: (t + s) − s rounds |t| < 2^22 to an integer

    /// <summary>e^x with IEEE edges: x &lt; −87.3 (and −∞) → 0, x &gt; 88.72 → +∞, NaN → NaN (x ∈ (88, 88.72] gives e^88).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var r = ExpFast(x);
        r = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(Overflow)), Vector256.Create(float.PositiveInfinity), r);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), r, x); // NaN lanes pass through
    }

    /// <summary>e^x for the kernels' own arguments (x − max, −g): x &lt; −87.3 (and −∞) → 0, x ≥ 88 saturates at e^88, NaN is not propagated (1.5× faster than <see cref="Exp"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpFast(Vector256<float> x)
    {
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(Underflow)), Vector256.Create(FastMax));
        var shifter = Vector256.Create(RoundShifter);
        var n = Vector256.FusedMultiplyAdd(xc, Vector256.Create(Log2E), shifter) - shifter;
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.Create(1f / 5040f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 720f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 120f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var pow2 = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Underflow)), Vector256<float>.Zero, p * pow2);
    }

    /// <summary>The same on 16 lanes (AVX-512): e^x with IEEE edges: x &lt; −87.3 (and −∞) → 0, x &gt; 88.72 → +∞, NaN → NaN (x ∈ (88, 88.72] gives e^88).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var r = ExpFast(x);
        r = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Overflow)), Vector512.Create(float.PositiveInfinity), r);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), r, x); // NaN lanes pass through
    }

    /// <summary>The same on 16 lanes: e^x for the kernels' own arguments (x − max, −g): x &lt; −87.3 (and −∞) → 0, x ≥ 88 saturates at e^88, NaN is not propagated (1.5× faster than <see cref="Exp"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpFast(Vector512<float> x)
    {
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(Underflow)), Vector512.Create(FastMax));
        var shifter = Vector512.Create(RoundShifter);
        var n = Vector512.FusedMultiplyAdd(xc, Vector512.Create(Log2E), shifter) - shifter;
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.Create(1f / 5040f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 720f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var pow2 = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Underflow)), Vector512<float>.Zero, p * pow2);
    }
}
