using LLaDA.Autograd;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Runs <see cref="GradCheck.Run"/> and asserts that it passed AND that it compared what it should have.</summary>
internal static class GradAssert
{
    /// <summary>
    /// Gradient-checks <paramref name="f"/> and asserts: every checked input had min(numel, maxPerInput) elements
    /// compared (a check that compares nothing fails), at least one compared derivative per input is non-zero
    /// (a check that only compares zeros proves little), and the report passed.
    /// </summary>
    public static GradCheck.Report Passes(Func<Variable[], Variable> f, IReadOnlyList<Tensor> inputs, bool[]? wantsGrad = null,
                                          double h = 1e-2, double atol = 1e-3, double rtol = 1e-2, int maxPerInput = 48)
    {
        var rep = GradCheck.Run(f, inputs, wantsGrad, h, atol, rtol, maxPerInput);
        long expected = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            if (!Checked(inputs, wantsGrad, i)) continue;
            expected += Math.Min(inputs[i].Numel, maxPerInput);
            Assert.True(rep.Entries.Any(e => e.Input == i && Math.Abs(e.Numeric) > atol),
                $"input {i}: every compared derivative is ~0, so the check proves nothing\n{rep}");
        }
        Assert.True(expected > 0, "no input is checked");
        Assert.Equal(expected, rep.Entries.Count);
        Assert.True(rep.Passed, rep.ToString());
        return rep;
    }

    private static bool Checked(IReadOnlyList<Tensor> inputs, bool[]? wantsGrad, int i)
        => (wantsGrad?[i] ?? true) && inputs[i].DType == DType.F32;
}
