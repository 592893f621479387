using System.Numerics.Tensors;

namespace LLaDA.Tensors.Cpu;

// Reductions along one dim, argmax and top-k. The input is viewed as (outer, R, inner) with R the reduced dim.
public sealed unsafe partial class CpuBackend
{
    private static (long Outer, long R, long Inner) Split(Tensor x, int dim)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= x.Shape[i];
        for (int i = dim + 1; i < x.Rank; i++) inner *= x.Shape[i];
        return (outer, x.Shape[dim], inner);
    }

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
