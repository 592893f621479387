namespace LLaDA.Tensors.Cpu;

// The sampler's per-step primitives: the float64 reference (TokenSampler, TransferRules) run row by row.
public sealed unsafe partial class CpuBackend
{
    public void SampleTokens(Tensor logits, in TokenSampling s, Tensor tokens, Tensor scores)
    {
        int b = tokens.Dim(0), w = tokens.Dim(1), v = logits.Dim(2);
        float* pl = F(logits);
        int* pt = I(tokens);
        double* ps = (double*)Addr(scores);
        var ts = s;
        // Every (row, position) is independent, so the positions are split over the workers; the results do not depend on the split.
        CpuParallel.For((long)b * w, 8L * v, (lo, hi) =>
        {
            var scratch = new double[v];
            for (long k = lo; k < hi; k++)
            {
                int i = (int)(k / w), j = (int)(k - (long)i * w);
                var cond = new ReadOnlySpan<float>(pl + k * v, v);
                var uncond = ts.CfgScale > 0 ? new ReadOnlySpan<float>(pl + ((long)(b + i) * w + j) * v, v) : default;
                (pt[k], ps[k]) = TokenSampler.Sample(cond, uncond, ts, i, (long)ts.Start + j, scratch);
            }
        });
    }

    public void SelectTransfer(Tensor scores, Tensor? thresholdValues, Tensor candidates, Tensor quota, in TransferRule rule, Tensor take)
    {
        int b = scores.Dim(0), w = scores.Dim(1);
        var sc = Span<double>(scores).ToArray();
        var tv = thresholdValues is null ? sc : Span<double>(thresholdValues).ToArray();
        var cand = Span<int>(candidates);
        var q = Span<int>(quota);
        var tk = Span<int>(take);
        tk.Clear();
        var order = new List<int>(w);
        for (int i = 0; i < b; i++)
        {
            order.Clear();
            for (int j = 0; j < w; j++)
                if (cand[i * w + j] != 0) order.Add(j);
            int row = i * w;
            order.Sort((x, y) => x == y ? 0 : TransferRules.Before(sc[row + x], x, sc[row + y], y) ? -1 : 1);
            var sorted = new Ranked(tv, row, order, rule.ExpScale && thresholdValues is null);
            int n = TransferRules.Count(sorted, order.Count, rule.Kind, rule.Value, q[i]);
            for (int k = 0; k < n; k++) tk[row + order[k]] = 1;
        }
    }

    /// <summary>Threshold values of a row's candidates in sorted order.</summary>
    private readonly struct Ranked(double[] values, int row, List<int> order, bool exp) : IRankedValues
    {
        public double At(int rank)
        {
            double x = values[row + order[rank]];
            return exp ? Math.Exp(x) : x;
        }
    }
}
