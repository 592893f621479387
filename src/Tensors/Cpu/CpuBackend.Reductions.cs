using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace LLaDA.Tensors.Cpu;

// Reductions along one dim, argmax and top-k. The input is viewed as (outer, R, inner) with R the reduced dim.
public sealed unsafe partial class CpuBackend
{
    private static (long Outer, long R, long Inner) Split(Tensor x, int dim) => x.SplitAt(dim);

    public void Reduce(ReduceOp op, Tensor x, int dim, Tensor y)
    {
        var (outer, r, inner) = Split(x, dim);
        float* px = F(x), py = F(y);
        if (inner == 1)
        {
            // Reduce contiguous rows: vectorised horizontal reductions.
            CpuParallel.For(outer, r, (s, e) =>
            {
                for (long o = s; o < e; o++)
                {
                    var row = new ReadOnlySpan<float>(px + o * r, (int)r);
                    py[o] = r == 0 ? Identity(op) : op switch
                    {
                        ReduceOp.Sum => TensorPrimitives.Sum(row),
                        ReduceOp.Mean => TensorPrimitives.Sum(row) / r,
                        ReduceOp.Max => TensorPrimitives.Max(row),
                        _ => TensorPrimitives.Min(row),
                    };
                }
            });
            return;
        }
        if (r >= 64 && inner >= 256)
        {
            ReduceRowsChunked(op, px, py, outer, r, inner);
            return;
        }
        // Reduce across rows of length inner: accumulate whole rows with vector adds / max.
        CpuParallel.For(outer * inner, r, (s, e) =>
        {
            // Work in (o, inner-range) chunks so each chunk stays inside one outer block.
            long i = s;
            while (i < e)
            {
                long o = i / inner, c0 = i % inner;
                long c1 = Math.Min(inner, c0 + (e - i));
                int n = (int)(c1 - c0);
                var acc = new Span<float>(py + o * inner + c0, n);
                if (r == 0) acc.Fill(Identity(op));
                else new ReadOnlySpan<float>(px + o * r * inner + c0, n).CopyTo(acc);
                for (long k = 1; k < r; k++)
                {
                    var row = new ReadOnlySpan<float>(px + (o * r + k) * inner + c0, n);
                    switch (op)
                    {
                        case ReduceOp.Sum or ReduceOp.Mean: TensorPrimitives.Add(acc, row, acc); break;
                        case ReduceOp.Max: TensorPrimitives.Max(acc, row, acc); break;
                        default: TensorPrimitives.Min(acc, row, acc); break;
                    }
                }
                if (op == ReduceOp.Mean && r > 0) TensorPrimitives.Multiply(acc, 1f / r, acc);
                i += n;
            }
        });
    }

    /// <summary>Reduction over a long middle dim: the R rows are cut into a fixed number of chunks, each reduced into its own partial by streaming whole contiguous rows, then the partials are combined in chunk order (the same bits for any thread count).</summary>
    private void ReduceRowsChunked(ReduceOp op, float* px, float* py, long outer, long r, long inner)
    {
        int chunks = (int)Math.Min(8, r / 8);
        long width = outer * inner;
        using var partial = Tensor.Empty([chunks, (int)width], DType.F32, this);
        float* pp = F(partial);
        CpuParallel.For(outer * chunks, r / chunks * inner, (s, e) =>
        {
            for (long w = s; w < e; w++)
            {
                long o = w / chunks, c = w % chunks;
                long k0 = r * c / chunks, k1 = r * (c + 1) / chunks;
                float* acc = pp + c * width + o * inner;
                new ReadOnlySpan<float>(px + (o * r + k0) * inner, (int)inner).CopyTo(new Span<float>(acc, (int)inner));
                long k = k0 + 1;
                // Four rows per pass over the accumulator: a quarter of the accumulator traffic.
                for (; k + 4 <= k1; k += 4)
                    Combine4(op, acc, px + (o * r + k) * inner, inner);
                for (; k < k1; k++)
                {
                    var row = new ReadOnlySpan<float>(px + (o * r + k) * inner, (int)inner);
                    var a = new Span<float>(acc, (int)inner);
                    switch (op)
                    {
                        case ReduceOp.Sum or ReduceOp.Mean: TensorPrimitives.Add(a, row, a); break;
                        case ReduceOp.Max: TensorPrimitives.Max(a, row, a); break;
                        default: TensorPrimitives.Min(a, row, a); break;
                    }
                }
            }
        });
        CpuParallel.For(width, chunks * 2, (s, e) =>
        {
            var y = new Span<float>(py + s, (int)(e - s));
            new ReadOnlySpan<float>(pp + s, y.Length).CopyTo(y);
            for (int c = 1; c < chunks; c++)
            {
                var part = new ReadOnlySpan<float>(pp + c * width + s, y.Length);
                switch (op)
                {
                    case ReduceOp.Sum or ReduceOp.Mean: TensorPrimitives.Add(y, part, y); break;
                    case ReduceOp.Max: TensorPrimitives.Max(y, part, y); break;
                    default: TensorPrimitives.Min(y, part, y); break;
                }
            }
            if (op == ReduceOp.Mean) TensorPrimitives.Multiply(y, 1f / r, y);
        });
    }

    /// <summary>acc[j] = op(acc[j], x[j], x[j + n], x[j + 2n], x[j + 3n]) for four consecutive rows of length n (left to right, as the one-row loop would).</summary>
    private static void Combine4(ReduceOp op, float* acc, float* x, long n)
    {
        long j = 0;
        for (; j <= n - 8; j += 8)
        {
            var a = Vector256.Load(acc + j);
            var r0 = Vector256.Load(x + j);
            var r1 = Vector256.Load(x + n + j);
            var r2 = Vector256.Load(x + 2 * n + j);
            var r3 = Vector256.Load(x + 3 * n + j);
            a = op switch
            {
                ReduceOp.Max => Vector256.Max(Vector256.Max(Vector256.Max(Vector256.Max(a, r0), r1), r2), r3),
                ReduceOp.Min => Vector256.Min(Vector256.Min(Vector256.Min(Vector256.Min(a, r0), r1), r2), r3),
                _ => (((a + r0) + r1) + r2) + r3,
            };
            a.Store(acc + j);
        }
        for (; j < n; j++)
        {
            float a = acc[j];
            for (int q = 0; q < 4; q++)
            {
                float v = x[q * n + j];
                a = op switch { ReduceOp.Max => MathF.Max(a, v), ReduceOp.Min => MathF.Min(a, v), _ => a + v };
            }
            acc[j] = a;
        }
    }

    private static float Identity(ReduceOp op) => op switch
    {
        ReduceOp.Max => float.NegativeInfinity,
        ReduceOp.Min => float.PositiveInfinity,
        ReduceOp.Mean => float.NaN,
        _ => 0f,
    };

    public void ArgMax(Tensor x, int dim, Tensor y)
    {
        var (outer, r, inner) = Split(x, dim);
        if (r == 0) throw new TensorException($"ArgMax: dim {dim} of shape {Check.Fmt(x.Shape)} is empty");
        float* px = F(x);
        int* py = I(y);
        CpuParallel.For(outer * inner, r, (s, e) =>
        {
            for (long i = s; i < e; i++)
            {
                long o = i / inner, c = i % inner;
                float* p = px + o * r * inner + c;
                int best = 0;
                float bv = p[0];
                for (int k = 1; k < r; k++)
                {
                    float v = p[k * inner];
                    // NaN wins (as in PyTorch), otherwise the first maximum.
                    if (v > bv || (float.IsNaN(v) && !float.IsNaN(bv)))
                    {
                        bv = v;
                        best = k;
                    }
                }
                py[i] = best;
            }
        });
    }

    public void TopK(Tensor x, int k, Tensor values, Tensor indices)
    {
        int n = x.Dim(-1);
        long rows = x.Numel / Math.Max(n, 1);
        float* px = F(x), pv = F(values);
        int* pi = I(indices);
        CpuParallel.For(rows, (long)n * Math.Max(1, Math.Min(k, 16)), (s, e) =>
        {
            var keys = new ulong[k <= 64 ? k : n];
            for (long row = s; row < e; row++)
            {
                float* src = px + row * n;
                int count = k <= 64 ? TopKInsert(src, n, k, keys) : TopKSort(src, n, keys);
                for (int j = 0; j < k && j < count; j++)
                {
                    int idx = (int)(uint)keys[j];
                    pv[row * k + j] = src[idx];
                    pi[row * k + j] = idx;
                }
            }
        });
    }

    /// <summary>A key that sorts ascending as (value descending, index ascending); NaN counts as the largest value.</summary>
    private static ulong TopKKey(float v, int index)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        if (float.IsNaN(v)) bits = 0x7FC00000;
        // Monotone map of float order onto uint order, then flip for descending.
        uint ordered = (bits & 0x80000000) != 0 ? ~bits : bits | 0x80000000;
        return ((ulong)~ordered << 32) | (uint)index;
    }

    private static int TopKInsert(float* src, int n, int k, ulong[] best)
    {
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            ulong key = TopKKey(src[i], i);
            if (count == k && key >= best[k - 1]) continue;
            int j = count < k ? count++ : k - 1;
            while (j > 0 && best[j - 1] > key)
            {
                best[j] = best[j - 1];
                j--;
            }
            best[j] = key;
        }
        return count;
    }

    private static int TopKSort(float* src, int n, ulong[] keys)
    {
        for (int i = 0; i < n; i++) keys[i] = TopKKey(src[i], i);
        Array.Sort(keys, 0, n);
        return n;
    }
}
