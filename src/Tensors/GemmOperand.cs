namespace LLaDA.Tensors;

/// <summary>How a 3-D (batch, rows, cols) view maps onto a GEMM operand: row-major with leading dim ld, or transposed (column-major).</summary>
public readonly record struct GemmOperand(bool Transposed, int Ld, long BatchStride)
{
    /// <summary>Recognises a view whose last two dims are row- or column-major with a positive leading dim; null when a copy is needed.</summary>
    public static GemmOperand? TryGet(Tensor t)
    {
        if (t.Rank != 3) return null;
        int batch = t.Shape[0], rows = t.Shape[1], cols = t.Shape[2];
        long sb = batch == 1 ? 0 : t.Strides[0], sr = t.Strides[1], sc = t.Strides[2];
        if (sb < 0) return null;
        // Row-major: element (i, j) at i·ld + j.
        if ((sc == 1 || cols == 1) && (rows == 1 || sr >= cols) && sr <= int.MaxValue)
            return new GemmOperand(false, rows == 1 ? Math.Max(cols, 1) : (int)sr, sb);
        // Column-major: element (i, j) at j·ld + i.
        if ((sr == 1 || rows == 1) && (cols == 1 || sc >= rows) && sc <= int.MaxValue)
            return new GemmOperand(true, cols == 1 ? Math.Max(rows, 1) : (int)sc, sb);
        return null;
    }
}
