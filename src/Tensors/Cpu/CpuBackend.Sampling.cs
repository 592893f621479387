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

    public void SampleTokensHead(Tensor hidden, Tensor weight, Tensor? bias, Tensor sites, int vocab, in TokenSampling s, int tile, Tensor tokens, Tensor scores)
    {
        int n = sites.Dim(0), rows = hidden.Dim(0), c = hidden.Dim(1);
        var a = HeadSampleArgs.From(s, vocab);
        var st = new HeadSampleState[n];
        var offsets = new ulong[n];
        var pos = new long[n];
        var site = Span<int>(sites);
        for (int k = 0; k < n; k++)
        {
            st[k] = HeadSampler.Start();
            offsets[k] = TokenSampler.StepOffset(s.Step, site[2 * k]);
            pos[k] = (long)s.Start + site[2 * k + 1];
        }
        float* pb = bias is null ? null : F(bias);
        using var h3 = hidden.Unsqueeze(0);                                   // (1, R·N, C)
        using var scratch = Tensor.Empty([rows * tile], DType.F32, this);     // the only logits: one tile of every row
        for (int v0 = 0; v0 < vocab; v0 += tile)
        {
            int tw = Math.Min(tile, vocab - v0);
            using (var wt = weight.Narrow(0, v0, tw))                         // (tw, C) rows of the head
            using (var b3 = wt.MT.Unsqueeze(0))                               // (1, C, tw), transposed operand
            using (var c3 = scratch.Narrow(0, 0, rows * tw).View(1, rows, tw))
                MatMul(h3, b3, c3, 1f, 0f);
            float* pl = F(scratch);
            // Every site is independent; each walks the tile's tokens in order (the first-maximum and first-broken-token rules).
            CpuParallel.For(n, 24L * tw, (lo, hi) =>
            {
                for (long k = lo; k < hi; k++)
                {
                    ref var sk = ref st[k];
                    float* cr = pl + k * tw, ur = pl + (n + k) * tw;
                    for (int t = 0; t < tw; t++)
                    {
                        float cv = cr[t], uv = a.Cfg != 0 ? ur[t] : 0f;
                        if (pb != null)
                        {
                            cv += pb[v0 + t];
                            uv += pb[v0 + t];
                        }
                        HeadSampler.Update(ref sk, a, offsets[k], pos[k], v0 + t, cv, uv);
                    }
                }
            });
        }
        int* pt = I(tokens);
        double* ps = (double*)Addr(scores);
        for (int k = 0; k < n; k++)
        {
            HeadSampler.Finish(st[k], a, out int tok, out double score);
            pt[k] = tok;
            ps[k] = score;
        }
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
