using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LLaDA.Tensors.Ops;
using LLaDA.Tensors.Random;

namespace LLaDA.Tensors.Cpu;

// The transformer's fused primitives with their backward passes, next to each other.
public sealed unsafe partial class CpuBackend
{
    // ---------------------------------------------------------------- matmul

    public void MatMul(Tensor a, Tensor b, Tensor c, float alpha, float beta)
    {
        var oa = GemmOperand.TryGet(a) ?? throw new TensorException($"MatMul: operand a {a.Layout} is not a GEMM layout");
        var ob = GemmOperand.TryGet(b) ?? throw new TensorException($"MatMul: operand b {b.Layout} is not a GEMM layout");
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2], k = a.Shape[2];
        if (b.DType is DType.BF16 or DType.F16)
        {
            // A 16-bit weight operand is widened inside the kernel, never as a whole matrix.
            CpuMixedGemm.Gemm(batch, m, n, k, alpha,
                F(a), oa.Ld, oa.BatchStride, oa.Transposed,
                (ushort*)Addr(b), b.DType, ob.Ld, ob.BatchStride, ob.Transposed,
                beta, F(c), Math.Max(n, 1), (long)m * n);
            return;
        }
        CpuMatMul.Sgemm(batch, m, n, k, alpha,
            F(a), oa.Ld, oa.BatchStride, oa.Transposed,
            F(b), ob.Ld, ob.BatchStride, ob.Transposed,
            beta, F(c), Math.Max(n, 1), (long)m * n);
    }

    // ---------------------------------------------------------------- softmax

    public void Softmax(Tensor x, Tensor y, bool log)
    {
        int n = x.Dim(-1);
        long rows = x.Numel / Math.Max(n, 1);
        float* px = F(x), py = F(y);
        CpuParallel.For(rows, n * 4L, (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* xr = px + r * n, yr = py + r * n;
                float m = TensorPrimitives.Max(new ReadOnlySpan<float>(xr, n));
                if (!log)
                {
                    // y = e^(x − m) / Σ: one pass writes the exponentials and sums them, one pass scales.
                    var vm = Vector256.Create(m);
                    var acc = Vector256<float>.Zero;
                    int i = 0;
                    if (Vector512.IsHardwareAccelerated)
                    {
                        var vm16 = Vector512.Create(m);
                        var acc16 = Vector512<float>.Zero;
                        for (; i <= n - 16; i += 16)
                        {
                            var ev = VectorMath.ExpFast(Vector512.Load(xr + i) - vm16);
                            acc16 += ev;
                            ev.Store(yr + i);
                        }
                        acc = acc16.GetLower() + acc16.GetUpper();
                    }
                    for (; i <= n - 8; i += 8)
                    {
                        var ev = VectorMath.ExpFast(Vector256.Load(xr + i) - vm);
                        acc += ev;
                        ev.Store(yr + i);
                    }
                    float sum = Vector256.Sum(acc);
                    for (; i < n; i++) sum += yr[i] = MathF.Exp(xr[i] - m);
                    TensorPrimitives.Multiply(new ReadOnlySpan<float>(yr, n), 1f / sum, new Span<float>(yr, n));
                }
                else
                {
                    // y = x − (m + log Σ e^(x − m))
                    float lse = m + MathF.Log(SumExp(xr, n, m));
                    TensorPrimitives.Subtract(new ReadOnlySpan<float>(xr, n), lse, new Span<float>(yr, n));
                }
            }
        });
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, bool log)
    {
        int n = y.Dim(-1);
        long rows = y.Numel / Math.Max(n, 1);
        float* py = F(y), pdy = F(dy), pdx = F(dx);
        CpuParallel.For(rows, n * 4L, (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                var yr = new ReadOnlySpan<float>(py + r * n, n);
                var gr = new ReadOnlySpan<float>(pdy + r * n, n);
                var dr = new Span<float>(pdx + r * n, n);
                if (!log)
                {
                    // dx = y ⊙ (dy − Σ dy⊙y)
                    float dot = TensorPrimitives.Dot(gr, yr);
                    TensorPrimitives.Subtract(gr, dot, dr);
                    TensorPrimitives.Multiply(dr, yr, dr);
                }
                else
                {
                    // dx = dy − softmax(x)·Σ dy, softmax(x) = e^y
                    float sum = TensorPrimitives.Sum(gr);
                    float* yp = py + r * n, gp = pdy + r * n, dp = pdx + r * n;
                    var vs = Vector256.Create(sum);
                    int i = 0;
                    if (Vector512.IsHardwareAccelerated)
                    {
                        var vs16 = Vector512.Create(sum);
                        for (; i <= n - 16; i += 16) (Vector512.Load(gp + i) - vs16 * VectorMath.ExpFast(Vector512.Load(yp + i))).Store(dp + i);
                    }
                    for (; i <= n - 8; i += 8) (Vector256.Load(gp + i) - vs * VectorMath.ExpFast(Vector256.Load(yp + i))).Store(dp + i);
                    for (; i < n; i++) dp[i] = gp[i] - sum * MathF.Exp(yp[i]);
                }
            }
        });
    }

    /// <summary>Σ exp(x[i] − m) with a vector exp, no temporary.</summary>
    internal static float SumExp(float* x, int n, float m)
    {
        var vm = Vector256.Create(m);
        var acc = Vector256<float>.Zero;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm16 = Vector512.Create(m);
            var acc16 = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16) acc16 += VectorMath.ExpFast(Vector512.Load(x + i) - vm16);
            acc = acc16.GetLower() + acc16.GetUpper();
        }
        for (; i <= n - 8; i += 8) acc += VectorMath.ExpFast(Vector256.Load(x + i) - vm);
        float s = Vector256.Sum(acc);
        for (; i < n; i++) s += MathF.Exp(x[i] - m);
        return s;
    }

    // ---------------------------------------------------------------- RMSNorm

    public void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd)
    {
        int c = x.Dim(-1);
        long rows = x.Numel / Math.Max(c, 1);
        float* px = F(x), pw = F(weight), py = F(y), pr = F(rstd);
        CpuParallel.For(rows, c * 3L, (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                var xr = new ReadOnlySpan<float>(px + r * c, c);
                var yr = new Span<float>(py + r * c, c);
                // LLaDA RMSLayerNorm: statistics in fp32, x · rsqrt(mean(x²) + eps) · weight.
                float rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xr) / c + eps);
                pr[r] = rs;
                float* xp = px + r * c, yp = py + r * c;
                var vrs = Vector256.Create(rs);
                int i = 0;
                for (; i <= c - 8; i += 8) (Vector256.Load(xp + i) * vrs * Vector256.Load(pw + i)).Store(yp + i);
                for (; i < c; i++) yp[i] = xp[i] * rs * pw[i];
            }
        });
    }

    public void RmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd, Tensor dx, Tensor dweight)
    {
        int c = x.Dim(-1);
        long rows = x.Numel / Math.Max(c, 1);
        float* px = F(x), pw = F(weight), pdy = F(dy), pr = F(rstd), pdx = F(dx), pdw = F(dweight);
        // dweight sums over rows. Rows are cut into a fixed number of chunks (independent of the thread count), each
        // chunk writes its own partial, and partials are added in chunk order: bit-identical results on every run.
        int chunks = (int)Math.Min(rows, 8);
        var partials = new float[Math.Max(chunks, 1) * c];
        fixed (float* pp = partials)
        {
            float* ppart = pp;
            CpuParallel.For(chunks, rows / Math.Max(chunks, 1) * c * 6L, (c0, c1) =>
            {
                for (long ch = c0; ch < c1; ch++)
                {
                    float* part = ppart + ch * c;
                    long r0 = rows * ch / chunks, r1 = rows * (ch + 1) / chunks;
                    for (long r = r0; r < r1; r++)
                    {
                        float* xr = px + r * c, dyr = pdy + r * c, dxr = pdx + r * c;
                        if (Vector512.IsHardwareAccelerated) RmsNormBackwardRow<Vector512<float>, Simd512>(xr, dyr, pw, dxr, part, pr[r], c);
                        else if (Vector256.IsHardwareAccelerated) RmsNormBackwardRow<Vector256<float>, Simd256>(xr, dyr, pw, dxr, part, pr[r], c);
                        else RmsNormBackwardRow<Vector128<float>, Simd128>(xr, dyr, pw, dxr, part, pr[r], c);
                    }
                }
            });
        }
        var dwSpan = new Span<float>(pdw, c);
        dwSpan.Clear();
        for (int ch = 0; ch < chunks; ch++) TensorPrimitives.Add(dwSpan, new ReadOnlySpan<float>(partials, ch * c, c), dwSpan);
    }

    /// <summary>One row of the RMSNorm backward in two passes over the row: g = dy ⊙ w; dx = rs·(g − x·rs²·mean(g ⊙ x));
    /// part += dy ⊙ x · rs (this chunk's share of dweight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RmsNormBackwardRow<TV, TS>(float* x, float* dy, float* w, float* dx, float* part, float rs, int c)
        where TV : struct where TS : ISimd<TV>
    {
        int width = TS.Width, i = 0;
        TV acc0 = default, acc1 = default;
        for (; i <= c - 2 * width; i += 2 * width)
        {
            acc0 = TS.Fma(TS.Mul(TS.Load(dy + i), TS.Load(w + i)), TS.Load(x + i), acc0);
            acc1 = TS.Fma(TS.Mul(TS.Load(dy + i + width), TS.Load(w + i + width)), TS.Load(x + i + width), acc1);
        }
        for (; i <= c - width; i += width) acc0 = TS.Fma(TS.Mul(TS.Load(dy + i), TS.Load(w + i)), TS.Load(x + i), acc0);
        float dot = TS.Sum(TS.Add(acc0, acc1));
        for (; i < c; i++) dot += dy[i] * w[i] * x[i];
        float coef = dot * rs * rs / c;
        TV vrs = TS.Broadcast(rs), vneg = TS.Broadcast(-coef);
        for (i = 0; i <= c - width; i += width)
        {
            TV d = TS.Load(dy + i), xv = TS.Load(x + i);
            TS.Store(dx + i, TS.Mul(TS.Fma(xv, vneg, TS.Mul(d, TS.Load(w + i))), vrs));
            TS.Store(part + i, TS.Fma(TS.Mul(d, xv), vrs, TS.Load(part + i)));
        }
        for (; i < c; i++)
        {
            dx[i] = (dy[i] * w[i] - x[i] * coef) * rs;
            part[i] += dy[i] * x[i] * rs;
        }
    }

    // ---------------------------------------------------------------- RoPE

    public void Rope(Tensor x, Tensor y, float theta, int positionOffset, bool inverse)
    {
        int b = x.Shape[0], t = x.Shape[1], h = x.Shape[2], d = x.Shape[3], half = d / 2;
        var (cos, sin) = RopeTable.Get(theta, d, positionOffset + t);
        float* px = F(x), py = F(y);
        float sign = inverse ? -1f : 1f;
        CpuParallel.For((long)b * t, (long)h * d * 3, (s, e) =>
        {
            for (long bt = s; bt < e; bt++)
            {
                int pos = positionOffset + (int)(bt % t);
                fixed (float* pc = &cos[pos * half], ps = &sin[pos * half])
                    for (int hh = 0; hh < h; hh++)
                    {
                        float* xi = px + (bt * h + hh) * d, yi = py + (bt * h + hh) * d;
                        // Half-rotation layout (GPT-NeoX/HF-Llama): x' = x·cos + rotate_half(x)·sin, rotate_half = (−x₂, x₁).
                        int i = 0;
                        var vsign = Vector256.Create(sign);
                        for (; i <= half - 8; i += 8)
                        {
                            var c = Vector256.Load(pc + i);
                            var sn = vsign * Vector256.Load(ps + i);
                            var x1 = Vector256.Load(xi + i);
                            var x2 = Vector256.Load(xi + i + half);
                            (x1 * c - x2 * sn).Store(yi + i);
                            (x2 * c + x1 * sn).Store(yi + i + half);
                        }
                        for (; i < half; i++)
                        {
                            float c = pc[i], sn = sign * ps[i];
                            float x1 = xi[i], x2 = xi[i + half];
                            yi[i] = x1 * c - x2 * sn;
                            yi[i + half] = x2 * c + x1 * sn;
                        }
                    }
            }
        });
    }

    // ---------------------------------------------------------------- SiLU-gated product

    public void SiluGate(Tensor gate, Tensor up, Tensor y)
    {
        float* pg = F(gate), pu = F(up), py = F(y);
        bool nt = CpuStream.Use(y.Numel * 4);
        CpuParallel.For(y.Numel, 16, (s, e) =>
        {
            long i = s;
            if (Vector512.IsHardwareAccelerated)
            {
                if (nt)
                    for (long h = s + CpuStream.Head64(py + s, e - s); i < h; i++) py[i] = pg[i] / (1f + MathF.Exp(-pg[i])) * pu[i];
                for (; i <= e - 16; i += 16)
                {
                    var g = Vector512.Load(pg + i);
                    CpuStream.Store(g / (Vector512<float>.One + VectorMath.ExpFast(-g)) * Vector512.Load(pu + i), py + i, nt);
                }
            }
            else if (nt)
                for (long h = s + CpuStream.Head(py + s, e - s); i < h; i++) py[i] = pg[i] / (1f + MathF.Exp(-pg[i])) * pu[i];
            for (; i <= e - 8; i += 8)
            {
                var g = Vector256.Load(pg + i);
                CpuStream.Store(g / (Vector256<float>.One + VectorMath.ExpFast(-g)) * Vector256.Load(pu + i), py + i, nt);
            }
            for (; i < e; i++) py[i] = pg[i] / (1f + MathF.Exp(-pg[i])) * pu[i];
            CpuStream.Fence(nt);
        });
    }

    public void SiluGateBackward(Tensor gate, Tensor up, Tensor dy, Tensor dgate, Tensor dup)
    {
        float* pg = F(gate), pu = F(up), pdy = F(dy), pdg = F(dgate), pdu = F(dup);
        CpuParallel.For(gate.Numel, 24, (s, e) =>
        {
            long i = Vector512.IsHardwareAccelerated ? SiluGateBackwardLanes<Vector512<float>, Simd512>(pg, pu, pdy, pdg, pdu, s, e) : s;
            i = SiluGateBackwardLanes<Vector256<float>, Simd256>(pg, pu, pdy, pdg, pdu, i, e);
            for (; i < e; i++)
            {
                float g = pg[i], sg = 1f / (1f + MathF.Exp(-g));
                pdg[i] = pdy[i] * pu[i] * sg * (1f + g * (1f - sg));
                pdu[i] = pdy[i] * g * sg;
            }
        });
    }

    /// <summary>SiLU-gate backward on whole vectors from <paramref name="i"/>; returns where the scalar tail starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long SiluGateBackwardLanes<TV, TS>(float* pg, float* pu, float* pdy, float* pdg, float* pdu, long i, long e)
        where TV : struct where TS : ISimd<TV>
    {
        var one = TS.Broadcast(1f);
        for (; i <= e - TS.Width; i += TS.Width)
        {
            // σ = 1/(1+e⁻ᵍ), silu = g·σ, silu' = σ·(1 + g·(1 − σ))
            var g = TS.Load(pg + i);
            var sg = TS.Div(one, TS.Add(one, SimdMath.Exp<TV, TS>(TS.Sub(default, g))));
            var d = TS.Load(pdy + i);
            TS.Store(pdg + i, TS.Mul(TS.Mul(TS.Mul(d, TS.Load(pu + i)), sg), TS.Fma(g, TS.Sub(one, sg), one)));
            TS.Store(pdu + i, TS.Mul(TS.Mul(d, g), sg));
        }
        return i;
    }

    // ---------------------------------------------------------------- cross-entropy

    public void CrossEntropy(Tensor logits, Tensor targets, Tensor weights, Tensor loss, Tensor lse)
    {
        int v = logits.Dim(-1);
        long rows = logits.Numel / Math.Max(v, 1);
        float* pl = F(logits), pw = F(weights), ploss = F(loss), plse = F(lse);
        int* pt = I(targets);
        for (long r = 0; r < rows; r++)
            if (pt[r] >= v) throw new TensorException(Check.TargetOutOfRange(pt[r], r, v));
        CpuParallel.For(rows, v * 3L, (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                int t = pt[r];
                float w = pw[r];
                if (t < 0 || w == 0f)
                {
                    // Unweighted rows (unmasked tokens) cost nothing: the LLaDA loss only looks at masked positions.
                    ploss[r] = 0f;
                    plse[r] = 0f;
                    continue;
                }
                float* row = pl + r * v;
                float m = TensorPrimitives.Max(new ReadOnlySpan<float>(row, v));
                float l = m + MathF.Log(SumExp(row, v, m));
                plse[r] = l;
                ploss[r] = w * (l - row[t]);
            }
        });
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor weights, Tensor lse, Tensor dloss, Tensor dlogits)
    {
        int v = logits.Dim(-1);
        long rows = logits.Numel / Math.Max(v, 1);
        float* pl = F(logits), pw = F(weights), plse = F(lse), pdl = F(dloss), pd = F(dlogits);
        int* pt = I(targets);
        CpuParallel.For(rows, v * 3L, (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                int t = pt[r];
                float scale = pdl[r] * pw[r];
                float* dst = pd + r * v;
                if (t < 0 || scale == 0f)
                {
                    new Span<float>(dst, v).Clear();
                    continue;
                }
                // dlogits = scale·(softmax − onehot), softmax = exp(x − lse)
                float* row = pl + r * v;
                var vl = Vector256.Create(plse[r]);
                var vs = Vector256.Create(scale);
                int i = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    var vl16 = Vector512.Create(plse[r]);
                    var vs16 = Vector512.Create(scale);
                    for (; i <= v - 16; i += 16) Vector512.Store(vs16 * VectorMath.ExpFast(Vector512.Load(row + i) - vl16), dst + i);
                }
                for (; i <= v - 8; i += 8) Vector256.Store(vs * VectorMath.ExpFast(Vector256.Load(row + i) - vl), dst + i);
                for (; i < v; i++) dst[i] = scale * MathF.Exp(row[i] - plse[r]);
                dst[t] -= scale;
            }
        });
    }

    // ---------------------------------------------------------------- attention

    public void Attention(Tensor q, Tensor k, Tensor v, Tensor? keyPadding, AttnMask mask, float scale, Tensor o, Tensor lse)
    {
        var s = AttentionShape.Of(q, k, mask, scale);
        CpuAttention.Forward(s, F(q), AttnLayout.Of(q), F(k), AttnLayout.Of(k), F(v), AttnLayout.Of(v),
            keyPadding is null ? null : I(keyPadding), F(o), AttnLayout.Of(o), F(lse));
    }

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? keyPadding, AttnMask mask, float scale, Tensor o, Tensor lse, Tensor dO, Tensor dq, Tensor dk, Tensor dv)
    {
        var s = AttentionShape.Of(q, k, mask, scale);
        CpuAttention.Backward(s, F(q), AttnLayout.Of(q), F(k), AttnLayout.Of(k), F(v), AttnLayout.Of(v),
            keyPadding is null ? null : I(keyPadding), F(o), AttnLayout.Of(o), F(lse), F(dO), AttnLayout.Of(dO),
            F(dq), F(dk), F(dv));
    }

    // ---------------------------------------------------------------- embedding, gather, scatter

    public void IndexSelect(Tensor src, Tensor ids, Tensor y)
    {
        int v = src.Shape[0], c = src.Shape[1];
        long n = ids.Numel;
        int* pi = I(ids);
        float* ps = F(src), py = F(y);
        for (long i = 0; i < n; i++)
            if ((uint)pi[i] >= (uint)v) throw new TensorException(Check.IdOutOfRange("IndexSelect", pi[i], i, v));
        if (src.DType is DType.BF16 or DType.F16)
        {
            // A 16-bit table (a mapped checkpoint's embedding): only the selected rows are widened.
            ushort* ph = (ushort*)Addr(src);
            bool bf = src.DType == DType.BF16;
            CpuParallel.For(n, c, (s, e) =>
            {
                for (long i = s; i < e; i++)
                {
                    ushort* row = ph + (long)pi[i] * c;
                    float* yr = py + i * c;
                    for (int j = 0; j < c; j++) yr[j] = bf ? Half16.FromBf16(row[j]) : Half16.FromF16(row[j]);
                }
            });
            return;
        }
        CpuParallel.For(n, c, (s, e) =>
        {
            for (long i = s; i < e; i++) new ReadOnlySpan<float>(ps + (long)pi[i] * c, c).CopyTo(new Span<float>(py + i * c, c));
        });
    }

    public void IndexAdd(Tensor src, Tensor ids, Tensor dst)
    {
        int v = dst.Shape[0], c = dst.Shape[1];
        long n = ids.Numel;
        int* pi = I(ids);
        float* ps = F(src), pd = F(dst);
        for (long i = 0; i < n; i++)
            if ((uint)pi[i] >= (uint)v) throw new TensorException(Check.IdOutOfRange("IndexAdd", pi[i], i, v));
        // Split the columns between workers so repeated ids never race.
        CpuParallel.For(c, n, (c0, c1) =>
        {
            int w = (int)(c1 - c0);
            for (long i = 0; i < n; i++)
            {
                var row = new Span<float>(pd + (long)pi[i] * c + c0, w);
                TensorPrimitives.Add(row, new ReadOnlySpan<float>(ps + i * c + c0, w), row);
            }
        });
    }

    public void Gather(Tensor x, Tensor index, Tensor y)
    {
        int n = x.Dim(-1), m = index.Dim(-1);
        long rows = index.Numel / Math.Max(m, 1);
        float* px = F(x), py = F(y);
        int* pi = I(index);
        CheckIndices("Gather", pi, index.Numel, n);
        CpuParallel.For(rows, m, (s, e) =>
        {
            for (long r = s; r < e; r++)
                for (int j = 0; j < m; j++) py[r * m + j] = px[r * n + pi[r * m + j]];
        });
    }

    public void ScatterAdd(Tensor src, Tensor index, Tensor dst)
    {
        int n = dst.Dim(-1), m = index.Dim(-1);
        long rows = index.Numel / Math.Max(m, 1);
        float* ps = F(src), pd = F(dst);
        int* pi = I(index);
        CheckIndices("ScatterAdd", pi, index.Numel, n);
        CpuParallel.For(rows, m, (s, e) =>
        {
            for (long r = s; r < e; r++)
                for (int j = 0; j < m; j++) pd[r * n + pi[r * m + j]] += ps[r * m + j];
        });
    }

    /// <summary>Every index of Gather/ScatterAdd in 0..n−1, else a TensorException naming the op, the value and its flat position.</summary>
    private static void CheckIndices(string op, int* pi, long count, int n)
    {
        for (long i = 0; i < count; i++)
            if ((uint)pi[i] >= (uint)n) throw new TensorException(Check.IndexOutOfRange(op, pi[i], i, n));
    }

    // ---------------------------------------------------------------- optimizer

    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep h)
    {
        float* pp = F(param), pg = F(grad), pm = F(m), pv = F(v);
        // PyTorch AdamW: p ← p·(1 − lr·wd); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr·m̂/(√v̂ + ε).
        float bc1 = 1f - MathF.Pow(h.Beta1, h.Step), bc2 = 1f - MathF.Pow(h.Beta2, h.Step);
        float decay = 1f - h.LearningRate * h.WeightDecay, stepSize = h.LearningRate / bc1, invSqrtBc2 = 1f / MathF.Sqrt(bc2);
        float b1 = h.Beta1, b2 = h.Beta2, eps = h.Eps;
        CpuParallel.For(param.Numel, 32, (s, e) =>
        {
            long i = s;
            var vb1 = Vector256.Create(b1);
            var vb1c = Vector256.Create(1f - b1);
            var vb2 = Vector256.Create(b2);
            var vb2c = Vector256.Create(1f - b2);
            var vdecay = Vector256.Create(decay);
            var vstep = Vector256.Create(stepSize);
            var vbc2 = Vector256.Create(invSqrtBc2);
            var veps = Vector256.Create(eps);
            for (; i <= e - 8; i += 8)
            {
                var g = Vector256.Load(pg + i);
                var mm = vb1 * Vector256.Load(pm + i) + vb1c * g;
                var vv = vb2 * Vector256.Load(pv + i) + vb2c * g * g;
                Vector256.Store(mm, pm + i);
                Vector256.Store(vv, pv + i);
                var p = Vector256.Load(pp + i) * vdecay;
                Vector256.Store(p - vstep * mm / (Vector256.Sqrt(vv) * vbc2 + veps), pp + i);
            }
            for (; i < e; i++)
            {
                float g = pg[i];
                pm[i] = b1 * pm[i] + (1f - b1) * g;
                pv[i] = b2 * pv[i] + (1f - b2) * g * g;
                pp[i] = pp[i] * decay - stepSize * pm[i] / (MathF.Sqrt(pv[i]) * invSqrtBc2 + eps);
            }
        });
    }

    // ---------------------------------------------------------------- random

    public void RandomUniform(Tensor dst, ulong seed, ulong offset)
    {
        float* p = F(dst);
        long n = dst.Numel;
        CpuParallel.For((n + 3) / 4, 40, (s, e) =>
        {
            long i0 = s * 4, i1 = Math.Min(n, e * 4);
            Philox.FillUniform(new Span<float>(p + i0, (int)(i1 - i0)), seed, offset, i0);
        });
    }

    public void RandomNormal(Tensor dst, ulong seed, ulong offset)
    {
        float* p = F(dst);
        long n = dst.Numel;
        CpuParallel.For((n + 3) / 4, 80, (s, e) =>
        {
            long i0 = s * 4, i1 = Math.Min(n, e * 4);
            Philox.FillNormal(new Span<float>(p + i0, (int)(i1 - i0)), seed, offset, i0);
        });
    }
}
