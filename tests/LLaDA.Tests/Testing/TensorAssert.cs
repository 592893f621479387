using System.Globalization;
using System.Text;
using LLaDA.Tensors;
using Xunit.Sdk;

namespace LLaDA.Tests.Testing;

/// <summary>Numeric assertions whose failure message shows the shape, max abs diff, worst index and a few pairs.</summary>
public static class TensorAssert
{
    /// <summary>Asserts |expected − actual| ≤ atol + rtol·|expected| elementwise.</summary>
    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double atol = 1e-5, double rtol = 1e-4, string what = "")
    {
        if (expected.Length != actual.Length)
            throw new XunitException($"{what}: length {actual.Length} != expected {expected.Length}");
        int worst = -1;
        double worstRatio = 0, maxAbs = 0;
        int bad = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double diff = Math.Abs(e - a);
            bool ok = diff <= atol + rtol * Math.Abs(e) || (double.IsNaN(e) && double.IsNaN(a)) || (double.IsInfinity(e) && e == a);
            if (!double.IsNaN(diff)) maxAbs = Math.Max(maxAbs, diff);
            double ratio = double.IsNaN(diff) ? double.PositiveInfinity : diff / (atol + rtol * Math.Abs(e));
            if (!ok)
            {
                bad++;
                if (ratio > worstRatio || worst < 0)
                {
                    worstRatio = ratio;
                    worst = i;
                }
            }
        }
        if (bad == 0) return;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{what}: {bad} of {expected.Length} elements differ (atol {atol}, rtol {rtol}); max |diff| {maxAbs:G4}; worst at [{worst}]: expected {expected[worst]:G9}, actual {actual[worst]:G9}\n  first pairs (expected, actual):");
        for (int i = 0; i < Math.Min(6, expected.Length); i++)
            sb.Append(CultureInfo.InvariantCulture, $" ({expected[i]:G6}, {actual[i]:G6})");
        throw new XunitException(sb.ToString());
    }

    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol = 1e-5, double rtol = 1e-4, string what = "")
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        Close(e, actual, atol, rtol, what);
    }

    /// <summary>Compares a tensor (any layout/dtype) with expected values and shape.</summary>
    public static void Close(Tensor actual, ReadOnlySpan<double> expected, ReadOnlySpan<int> shape, double atol = 1e-5, double rtol = 1e-4, string what = "")
    {
        if (!actual.Shape.SequenceEqual(shape))
            throw new XunitException($"{what}: shape {Check.Fmt(actual.Shape)} != expected {Check.Fmt(shape)}");
        Close(expected, actual.ToArray(), atol, rtol, what);
    }

    /// <summary>Compares two tensors of equal shape.</summary>
    public static void Close(Tensor expected, Tensor actual, double atol = 1e-5, double rtol = 1e-4, string what = "")
    {
        if (!actual.Shape.SequenceEqual(expected.Shape))
            throw new XunitException($"{what}: shape {Check.Fmt(actual.Shape)} != expected {Check.Fmt(expected.Shape)}");
        Close(expected.ToArray(), actual.ToArray(), atol, rtol, what);
    }
}
