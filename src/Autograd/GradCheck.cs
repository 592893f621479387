using System.Globalization;
using System.Text;
using LLaDA.Tensors;
using LLaDA.Tensors.Random;

namespace LLaDA.Autograd;

/// <summary>Finite-difference gradient check: compares the tape's gradient of L = Σ r⊙f(x) with central differences (L(x+h) − L(x−h))/2h.</summary>
/// <remarks>
/// r is a fixed Philox projection so every output element matters. Losses are summed in double on the host; in fp32,
/// h ≈ 1e-2 balances truncation (O(h²)) against rounding (O(ε·|L|/h)).
/// </remarks>
public static class GradCheck
{
    /// <summary>One compared element.</summary>
    public readonly record struct Entry(int Input, long Index, double Analytic, double Numeric)
    {
        public double AbsError => Math.Abs(Analytic - Numeric);
    }

    /// <summary>The comparisons of one check, worst first in <see cref="ToString"/>.</summary>
    public sealed class Report(List<Entry> entries, double atol, double rtol)
    {
        public IReadOnlyList<Entry> Entries => entries;

        /// <summary>Largest |analytic − numeric| / (atol + rtol·max(|analytic|, |numeric|)); ≤ 1 passes (NaN counts as +∞).</summary>
        public double WorstRatio => entries.Count == 0 ? 0 : entries.Max(Ratio);

        /// <summary>True when at least one element was compared and every ratio is ≤ 1.</summary>
        public bool Passed => entries.Count > 0 && WorstRatio <= 1.0;

        // Enumerable.Max skips NaN, so a NaN gradient must map to +∞ to fail the check.
        private double Ratio(Entry e)
        {
            double r = e.AbsError / (atol + rtol * Math.Max(Math.Abs(e.Analytic), Math.Abs(e.Numeric)));
            return double.IsNaN(r) ? double.PositiveInfinity : r;
        }

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"gradcheck: {entries.Count} elements, worst ratio {WorstRatio:G4} (atol {atol}, rtol {rtol})\n");
            foreach (var e in entries.OrderByDescending(Ratio).Take(6))
                sb.Append(CultureInfo.InvariantCulture, $"  input {e.Input} [{e.Index}]: analytic {e.Analytic:G7} numeric {e.Numeric:G7} |diff| {e.AbsError:G4}\n");
            return sb.ToString();
        }
    }

    /// <summary>Checks every floating-point input that <paramref name="wantsGrad"/> selects (default: all F32 inputs).</summary>
    /// <param name="f">The function under test; it must be deterministic.</param>
    /// <param name="inputs">Input values; F32 ones are copied (keeping a strided layout strided) and perturbed, others pass through as constants.</param>
    /// <param name="maxPerInput">Elements compared per input (a Philox sample when the input is larger).</param>
    public static Report Run(Func<Variable[], Variable> f, IReadOnlyList<Tensor> inputs, bool[]? wantsGrad = null,
                             double h = 1e-2, double atol = 1e-3, double rtol = 1e-2, int maxPerInput = 48, ulong seed = 7)
    {
        int n = inputs.Count;
        var xs = new Tensor[n];
        var grad = new bool[n];
        for (int i = 0; i < n; i++)
        {
            grad[i] = (wantsGrad?[i] ?? true) && inputs[i].DType == DType.F32;
            xs[i] = grad[i] ? CloneKeepingLayout(inputs[i]).Detach() : inputs[i];
        }
        try
        {
            // Analytic gradient of Σ r⊙y: backward seeded with r.
            Tensor[] analytic = new Tensor[n];
            float[] r;
            using (var scope = new TensorScope())
            {
                var vars = new Variable[n];
                for (int i = 0; i < n; i++) vars[i] = new Variable(xs[i], grad[i], $"input{i}");
                using var tape = new Tape();
                var y = f(vars);
                r = Projection(y.Data.Numel, seed);
                if (!y.RequiresGrad) throw new InvalidOperationException("gradcheck: the output does not depend on any checked input");
                using var rt = Tensor.FromArray(r, y.Data.Shape, y.Data.Backend);
                tape.Backward(y, rt);
                for (int i = 0; i < n; i++)
                    if (grad[i])
                    {
                        analytic[i] = vars[i].Grad?.Clone().Detach() ?? Tensor.ZerosLike(xs[i]).Detach();
                        vars[i].ZeroGrad();
                    }
            }

            var entries = new List<Entry>();
            for (int i = 0; i < n; i++)
            {
                if (!grad[i]) continue;
                var host = xs[i].ToArray();
                var an = analytic[i].ToArray();
                analytic[i].Dispose();
                foreach (long idx in Sample(host.Length, maxPerInput, seed + (ulong)i))
                {
                    float orig = host[idx];
                    host[idx] = (float)(orig + h);
                    double lp = Loss(f, xs, i, host, r);
                    host[idx] = (float)(orig - h);
                    double lm = Loss(f, xs, i, host, r);
                    host[idx] = orig;
                    Write(xs[i], host);
                    // Use the step actually representable in fp32.
                    double step = (double)(float)(orig + h) - (float)(orig - h);
                    entries.Add(new Entry(i, idx, an[idx], (lp - lm) / step));
                }
            }
            return new Report(entries, atol, rtol);
        }
        finally
        {
            for (int i = 0; i < n; i++)
                if (grad[i]) xs[i].Dispose();
        }
    }

    private static double Loss(Func<Variable[], Variable> f, Tensor[] xs, int i, float[] host, float[] r)
    {
        Write(xs[i], host);
        using var scope = new TensorScope();
        var vars = new Variable[xs.Length];
        for (int j = 0; j < xs.Length; j++) vars[j] = new Variable(xs[j]);
        var y = f(vars).Data.ToArray();
        double s = 0;
        for (int k = 0; k < y.Length; k++) s += (double)y[k] * r[k];
        return s;
    }

    /// <summary>A private copy with the same dim order in memory (a transposed view stays transposed), so strided inputs are checked as strided.</summary>
    private static Tensor CloneKeepingLayout(Tensor t)
    {
        if (t.IsContiguous) return t.Clone();
        int r = t.Rank;
        var strides = t.Strides.ToArray();
        var perm = Enumerable.Range(0, r).OrderByDescending(d => strides[d]).ToArray();
        var inv = new int[r];
        for (int d = 0; d < r; d++) inv[perm[d]] = d;
        using var p = t.Permute(perm);
        using var c = p.Clone();
        return c.Permute(inv);
    }

    /// <summary>Writes row-major host values into a tensor of any layout.</summary>
    private static void Write(Tensor x, float[] host)
    {
        if (x.IsContiguous)
        {
            x.Backend.Upload<float>(host, x);
            return;
        }
        using var tmp = Tensor.FromArray(host, x.Shape, x.Backend);
        x.CopyFrom(tmp);
    }

    /// <summary>A fixed random projection in [-1, 1).</summary>
    private static float[] Projection(long n, ulong seed)
    {
        var r = new float[n];
        Philox.FillUniform(r, seed, 1000);
        for (int k = 0; k < r.Length; k++) r[k] = 2f * r[k] - 1f;
        return r;
    }

    private static IEnumerable<long> Sample(long count, int max, ulong seed)
    {
        if (count <= max)
        {
            for (long k = 0; k < count; k++) yield return k;
            yield break;
        }
        var seen = new HashSet<long>();
        for (long k = 0; seen.Count < max; k++)
        {
            long idx = Philox.Word(seed, 77, k) % count;
            if (seen.Add(idx)) yield return idx;
        }
    }
}
