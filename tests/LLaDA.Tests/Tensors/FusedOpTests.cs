using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class FusedOpTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(5, 33)]
    [InlineData(2, 1000)]
    public void SoftmaxAndLogSoftmax_MatchDoubleFormula(int rows, int n)
    {
        var x = Rng.Floats(rows * n, 4, -20, 20);
        using var t = Tensor.FromArray(x, [rows, n]);
        using var s = t.Softmax();
        using var ls = t.LogSoftmax();
        var es = new double[rows * n];
        var els = new double[rows * n];
        for (int r = 0; r < rows; r++)
        {
            double m = x.Skip(r * n).Take(n).Max();
            double sum = x.Skip(r * n).Take(n).Sum(v => Math.Exp(v - m));
            for (int j = 0; j < n; j++)
            {
                es[r * n + j] = Math.Exp(x[r * n + j] - m) / sum;
                els[r * n + j] = x[r * n + j] - m - Math.Log(sum);
            }
        }
        TensorAssert.Close(es, s.ToArray(), 1e-7, 1e-5, "softmax");
        TensorAssert.Close(els, ls.ToArray(), 1e-5, 1e-6, "log-softmax");
    }

    [Fact]
    public void Softmax_MiddleDim_MatchesTransposedLastDim()
    {
        using var t = Rng.Tensor(1, 3, 4, 5);
        using var a = t.Softmax(1);
        using var tt = t.Transpose(1, 2);
        using var b0 = tt.Softmax(-1);
        using var b = b0.Transpose(1, 2);
        TensorAssert.Close(b, a, 1e-7, 1e-6);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 7)]
    [InlineData(4, 96)]
    [InlineData(3, 53)]
    public void RmsNorm_ForwardBackward_MatchDoubleFormula(int rows, int c)
    {
        const float eps = 1e-5f;
        var x = Rng.Floats(rows * c, 1, -2, 2);
        var w = Rng.Floats(c, 2, 0.5f, 1.5f);
        var dy = Rng.Floats(rows * c, 3);
        using var tx = Tensor.FromArray(x, [rows, c]);
        using var tw = Tensor.FromArray(w, [c]);
        using var tdy = Tensor.FromArray(dy, [rows, c]);
        var (y, rstd) = tx.RmsNorm(tw, eps);
        var (dx, dw) = Tensor.RmsNormBackward(tdy, tx, tw, rstd);
        using (y) using (rstd) using (dx) using (dw)
        {
            var ey = new double[rows * c];
            var edx = new double[rows * c];
            var edw = new double[c];
            for (int r = 0; r < rows; r++)
            {
                double ms = 0;
                for (int j = 0; j < c; j++) ms += (double)x[r * c + j] * x[r * c + j];
                double rs = 1 / Math.Sqrt(ms / c + eps);
                double dot = 0;
                for (int j = 0; j < c; j++) dot += (double)dy[r * c + j] * w[j] * x[r * c + j];
                for (int j = 0; j < c; j++)
                {
                    ey[r * c + j] = x[r * c + j] * rs * w[j];
                    // dx_j = rs·(dy_j·w_j − x_j·rs²·Σ_k dy_k w_k x_k / C)
                    edx[r * c + j] = rs * (dy[r * c + j] * w[j] - x[r * c + j] * rs * rs * dot / c);
                    edw[j] += dy[r * c + j] * x[r * c + j] * rs;
                }
            }
            TensorAssert.Close(ey, y.ToArray(), 1e-5, 1e-5, "y");
            TensorAssert.Close(edx, dx.ToArray(), 1e-5, 1e-4, "dx");
            TensorAssert.Close(edw, dw.ToArray(), 1e-5, 1e-4, "dw");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(37)]
    public void Rope_HalfRotation_MatchesFormula_AndInverseRoundTrips(int offset)
    {
        const float theta = 10000f;
        int b = 2, t = 5, h = 3, d = 8;
        var x = Rng.Floats(b * t * h * d, 6);
        using var tx = Tensor.FromArray(x, [b, t, h, d]);
        using var y = tx.Rope(theta, offset);
        var e = new double[x.Length];
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < t; ti++)
                for (int hi = 0; hi < h; hi++)
                {
                    int o = ((bi * t + ti) * h + hi) * d;
                    for (int i = 0; i < d / 2; i++)
                    {
                        // x' = x·cos + rotate_half(x)·sin, rotate_half(x) = (−x₂, x₁), angle = pos / θ^(2i/d)
                        double ang = (offset + ti) / Math.Pow(theta, 2.0 * i / d);
                        double c = Math.Cos(ang), s = Math.Sin(ang);
                        e[o + i] = x[o + i] * c - x[o + i + d / 2] * s;
                        e[o + i + d / 2] = x[o + i + d / 2] * c + x[o + i] * s;
                    }
                }
        TensorAssert.Close(e, y.ToArray(), 2e-5, 1e-4, "rope");
        using var back = y.RopeBackward(theta, offset);
        TensorAssert.Close(x, back.ToArray(), 1e-5, 1e-5, "inverse");
    }

    [Fact]
    public void Rope_OddHeadSize_Throws()
    {
        using var t = Tensor.Zeros([1, 2, 1, 5]);
        Assert.Throws<TensorException>(() => t.Rope(10000f));
    }

    [Fact]
    public void SiluGate_ForwardBackward_MatchFormula()
    {
        var g = Rng.Floats(77, 1, -6, 6);
        var u = Rng.Floats(77, 2, -2, 2);
        var dy = Rng.Floats(77, 3);
        using var tg = Tensor.FromArray(g, [7, 11]);
        using var tu = Tensor.FromArray(u, [7, 11]);
        using var tdy = Tensor.FromArray(dy, [7, 11]);
        using var y = Tensor.SiluGate(tg, tu);
        var (dg, du) = Tensor.SiluGateBackward(tg, tu, tdy);
        using (dg) using (du)
        {
            double Sig(double z) => 1 / (1 + Math.Exp(-z));
            TensorAssert.Close(g.Select((z, i) => z * Sig(z) * u[i]).ToArray(), y.ToArray(), 1e-6, 1e-5, "y");
            TensorAssert.Close(g.Select((z, i) => dy[i] * u[i] * Sig(z) * (1 + z * (1 - Sig(z)))).ToArray(), dg.ToArray(), 1e-6, 1e-5, "dg");
            TensorAssert.Close(g.Select((z, i) => dy[i] * z * Sig(z)).ToArray(), du.ToArray(), 1e-6, 1e-5, "du");
        }
    }

    [Fact]
    public void CrossEntropy_Hand2x3_MatchesHandComputed()
    {
        // logits [[0, ln 2, ln 3], [1, 1, 1]], targets [2, 0], weights [1, 2]:
        // row 0: lse = ln(1+2+3) = ln 6, loss = ln 6 − ln 3 = ln 2
        // row 1: lse = 1 + ln 3, loss = 2·(1 + ln 3 − 1) = 2 ln 3
        using var logits = Tensor.FromArray(new float[] { 0, MathF.Log(2), MathF.Log(3), 1, 1, 1 }, [2, 3]);
        using var targets = Tensor.FromArray(new[] { 2, 0 });
        using var weights = Tensor.FromArray(new float[] { 1, 2 });
        var (loss, lse) = Tensor.CrossEntropy(logits, targets, weights);
        using (loss) using (lse)
        {
            TensorAssert.Close(new[] { Math.Log(2), 2 * Math.Log(3) }, loss.ToArray(), 1e-6, 1e-6, "loss");
            TensorAssert.Close(new[] { Math.Log(6), 1 + Math.Log(3) }, lse.ToArray(), 1e-6, 1e-6, "lse");
            // dlogits = dloss·w·(softmax − onehot): row 0 softmax (1/6, 2/6, 3/6), row 1 (1/3, 1/3, 1/3), dloss = 1.
            using var dloss = Tensor.Ones([2]);
            using var d = Tensor.CrossEntropyBackward(logits, targets, weights, lse, dloss);
            TensorAssert.Close(new[] { 1.0 / 6, 2.0 / 6, 3.0 / 6 - 1, 2 * (1.0 / 3 - 1), 2.0 / 3, 2.0 / 3 }, d.ToArray(), 1e-6, 1e-6, "dlogits");
        }
    }

    [Fact]
    public void CrossEntropy_IgnoredAndZeroWeightRows_GiveZeroLossAndGrad()
    {
        using var logits = Rng.Tensor(1, 3, 5);
        using var targets = Tensor.FromArray(new[] { -100, 2, 4 });
        using var weights = Tensor.FromArray(new float[] { 1, 0, 1 });
        var (loss, lse) = Tensor.CrossEntropy(logits, targets, weights);
        using (loss) using (lse)
        {
            var l = loss.ToArray();
            Assert.Equal(0f, l[0]);
            Assert.Equal(0f, l[1]);
            Assert.True(l[2] > 0);
            using var dloss = Tensor.Ones([3]);
            using var d = Tensor.CrossEntropyBackward(logits, targets, weights, lse, dloss);
            var dv = d.ToArray();
            Assert.All(dv[..10], v => Assert.Equal(0f, v));
            Assert.Equal(0.0, dv[10..].Sum(v => (double)v), 5); // softmax − onehot sums to zero
        }
    }

    [Fact]
    public void CrossEntropy_TargetOutOfRange_Throws()
    {
        using var logits = Tensor.Zeros([2, 3]);
        using var targets = Tensor.FromArray(new[] { 0, 3 });
        var ex = Assert.Throws<TensorException>(() => Tensor.CrossEntropy(logits, targets));
        Assert.Contains("target 3", ex.Message);
    }

    [Fact]
    public void EmbeddingAndIndexAdd_RepeatedIds_Accumulate()
    {
        using var w = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), [4, 3]);
        using var ids = Tensor.FromArray(new[] { 3, 1, 3 }, [1, 3]);
        using var e = Tensor.Embedding(w, ids);
        Assert.Equal([1, 3, 3], e.ShapeArray());
        Assert.Equal(new float[] { 9, 10, 11, 3, 4, 5, 9, 10, 11 }, e.ToArray());
        using var dw = Tensor.Zeros([4, 3]);
        using var g = Tensor.Ones([1, 3, 3]);
        dw.IndexAdd(ids, g);
        Assert.Equal(new float[] { 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2 }, dw.ToArray());
        using var bad = Tensor.FromArray(new[] { 4 });
        Assert.Throws<TensorException>(() => Tensor.Embedding(w, bad));
    }

    [Fact]
    public void GatherScatterAdd_LastDim()
    {
        using var x = Tensor.FromArray(new float[] { 10, 11, 12, 20, 21, 22 }, [2, 3]);
        using var idx = Tensor.FromArray(new[] { 2, 2, 0, 1 }, [2, 2]);
        using var y = x.Gather(idx);
        Assert.Equal(new float[] { 12, 12, 20, 21 }, y.ToArray());
        using var d = Tensor.Zeros([2, 3]);
        using var src = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, [2, 2]);
        d.ScatterAdd(idx, src);
        Assert.Equal(new float[] { 0, 0, 3, 3, 4, 0 }, d.ToArray());
    }

    [Fact]
    public void AdamW_ThreeSteps_MatchScalarReference()
    {
        const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
        var p0 = Rng.Floats(37, 1);
        using var p = Tensor.FromArray(p0);
        using var m = Tensor.Zeros([37]);
        using var v = Tensor.Zeros([37]);
        var ep = p0.Select(x => (double)x).ToArray();
        var em = new double[37];
        var ev = new double[37];
        for (int step = 1; step <= 3; step++)
        {
            var g = Rng.Floats(37, 10 + step);
            using var tg = Tensor.FromArray(g);
            p.AdamWStep(tg, m, v, new AdamWStep(lr, b1, b2, eps, wd, step));
            for (int i = 0; i < 37; i++)
            {
                // PyTorch AdamW: decay, moments, bias correction, update.
                ep[i] *= 1 - lr * wd;
                em[i] = b1 * em[i] + (1 - b1) * g[i];
                ev[i] = b2 * ev[i] + (1 - b2) * g[i] * g[i];
                double mh = em[i] / (1 - Math.Pow(b1, step)), vh = ev[i] / (1 - Math.Pow(b2, step));
                ep[i] -= lr * mh / (Math.Sqrt(vh) + eps);
            }
        }
        TensorAssert.Close(ep, p.ToArray(), 1e-6, 1e-5, "param");
        TensorAssert.Close(em, m.ToArray(), 1e-7, 1e-5, "m");
    }

    [Fact]
    public void ExpSiluAndSiluGate_LargeOutputs_NonTemporalPath_MatchScalarFormula()
    {
        // Outputs ≥ 16 MiB take the streaming-store path (16-lane loop after an alignment head, 8-lane and scalar tails);
        // the input is a view at a 12-byte offset, the length leaves a tail of 13.
        int n = (4 << 20) + 13;
        var x = Rng.Floats(n + 3, 11, -30, 30);
        var u = Rng.Floats(n, 12, -2, 2);
        using var all = Tensor.FromArray(x, [n + 3]);
        using var t = all.Narrow(0, 3, n);
        using var up = Tensor.FromArray(u, [n]);
        using var e = t.Exp();
        using var si = t.Silu();
        using var sg = Tensor.SiluGate(t, up);
        float[] ge = e.ToArray(), gs = si.ToArray(), gg = sg.ToArray();
        for (int i = 0; i < n; i++)
        {
            double v = x[i + 3], ex = Math.Exp(v), silu = v / (1 + Math.Exp(-v));
            Assert.True(Math.Abs(ge[i] - ex) <= 2e-7 * ex, $"exp at {i}: {ge[i]} vs {ex}");
            Assert.True(Math.Abs(gs[i] - silu) <= 1e-6 * (1 + Math.Abs(silu)), $"silu at {i}: {gs[i]} vs {silu}");
            Assert.True(Math.Abs(gg[i] - silu * u[i]) <= 1e-6 * (1 + Math.Abs(silu * u[i])), $"silu gate at {i}");
        }
    }
}
