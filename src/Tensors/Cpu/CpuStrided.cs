namespace LLaDA.Tensors.Cpu;

/// <summary>A shape and per-operand strides with mergeable dims collapsed, iterated as rows (all dims but the last) × an inner run.</summary>
internal sealed class CpuStrided
{
    public readonly int[] Shape;
    public readonly long[][] Strides;

    private CpuStrided(int[] shape, long[][] strides)
    {
        Shape = shape;
        Strides = strides;
    }

    public int Rank => Shape.Length;

    /// <summary>Length of the innermost run.</summary>
    public long Inner => Shape[^1];

    /// <summary>Number of inner runs.</summary>
    public long Rows
    {
        get
        {
            long r = 1;
            for (int i = 0; i < Shape.Length - 1; i++) r *= Shape[i];
            return r;
        }
    }

    /// <summary>Inner stride of operand k.</summary>
    public long InnerStride(int k) => Strides[k][^1];

    /// <summary>Drops size-1 dims and merges neighbours that are contiguous with each other in every operand.</summary>
    public static CpuStrided Collapse(ReadOnlySpan<int> shape, params long[][] strides)
    {
        int k = strides.Length;
        var sh = new List<int>();
        var st = new List<long>[k];
        for (int j = 0; j < k; j++) st[j] = new List<long>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            if (sh.Count > 0)
            {
                int last = sh.Count - 1;
                bool merge = true;
                for (int j = 0; j < k && merge; j++)
                    merge = st[j][last] == strides[j][d] * shape[d];
                if (merge)
                {
                    sh[last] *= shape[d];
                    for (int j = 0; j < k; j++) st[j][last] = strides[j][d];
                    continue;
                }
            }
            sh.Add(shape[d]);
            for (int j = 0; j < k; j++) st[j].Add(strides[j][d]);
        }
        if (sh.Count == 0)
        {
            sh.Add(1);
            for (int j = 0; j < k; j++) st[j].Add(1);
        }
        var res = new long[k][];
        for (int j = 0; j < k; j++) res[j] = st[j].ToArray();
        return new CpuStrided(sh.ToArray(), res);
    }

    /// <summary>Element offset of operand k at the start of inner run <paramref name="row"/>.</summary>
    public long RowOffset(int k, long row)
    {
        long off = 0;
        var s = Strides[k];
        for (int d = Shape.Length - 2; d >= 0 && row > 0; d--)
        {
            long idx = row % Shape[d];
            row /= Shape[d];
            off += idx * s[d];
        }
        return off;
    }
}
