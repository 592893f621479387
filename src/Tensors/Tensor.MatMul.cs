namespace LLaDA.Tensors;

// Matrix products. Transposed operands (e.g. w.MT) are passed to the GEMM as flags, never copied.
public sealed partial class Tensor
{
    /// <summary>(…, M, K) · (…, K, N) → (…, M, N) with broadcast batch dims; a 2-D right operand is shared by every batch.</summary>
    public Tensor MatMul(Tensor b)
    {
        const string op = "MatMul";
        var a = this;
        Check.SameBackend(op, a, b);
        if (a.Rank < 2 || b.Rank < 2)
            throw new TensorException($"{op}: operands need rank ≥ 2, got {Check.Fmt(a.Shape)} and {Check.Fmt(b.Shape)}");
        int m = a.Dim(-2), k = a.Dim(-1), k2 = b.Dim(-2), n = b.Dim(-1);
        if (k != k2)
            throw new TensorException($"{op}: shape mismatch {Check.Fmt(a.Shape)} · {Check.Fmt(b.Shape)}: inner dims {k} and {k2} differ");
        using var fa = a.AsF32(op);
        // A 16-bit right operand (a BF16/F16 weight) goes to the backend as stored: it widens it inside the GEMM.
        using var fb = b.DType is DType.BF16 or DType.F16 ? b.View(b.Layout) : b.AsF32(op);
        var batchShape = Layout.BroadcastShapes(op, a.Shape[..^2], b.Shape[..^2]);
        int batch = 1;
        foreach (int s in batchShape) batch *= s;
        var outShape = new int[batchShape.Length + 2];
        batchShape.CopyTo(outShape, 0);
        outShape[^2] = m;
        outShape[^1] = n;

        // A right operand shared by all batches folds the batch into M when A's rows allow it: one big GEMM.
        if (b.Rank == 2 && a.Rank > 2)
        {
            var folded = fa.Layout.TryReshape([1, batch * m, k]);
            if (folded is not null)
            {
                using var av = fa.View(folded);
                if (GemmOperand.TryGet(av) is { Transposed: false })
                {
                    using var b3 = fb.Unsqueeze(0);
                    using var gb3 = AsGemm(b3);
                    var c = Empty(outShape, DType.F32, Backend);
                    using var c3 = c.View(Layout.Contiguous([1, batch * m, n], c.Layout.Offset));
                    Backend.MatMul(av, gb3, c3, 1f, 0f);
                    return c;
                }
            }
        }

        using var a3 = Batch3(fa, batchShape, m, k);
        using var bb3 = Batch3(fb, batchShape, k, n);
        using var ga = AsGemm(a3);
        using var gb = AsGemm(bb3);
        var y = Empty(outShape, DType.F32, Backend);
        using var y3 = y.View(Layout.Contiguous([batch, m, n], y.Layout.Offset));
        Backend.MatMul(ga, gb, y3, 1f, 0f);
        return y;
    }

    /// <summary>this ← alpha·a·b + beta·this for a contiguous (…, M, N) target (used to accumulate gradients without a temporary).</summary>
    public void MatMulInto(Tensor a, Tensor b, float alpha = 1f, float beta = 0f)
    {
        const string op = "MatMulInto";
        Check.DType(op, "out", this, DType.F32);
        if (!IsContiguous) throw new TensorException($"{op}: output {Check.Fmt(Shape)} must be contiguous");
        int m = a.Dim(-2), k = a.Dim(-1), n = b.Dim(-1);
        if (b.Dim(-2) != k) throw new TensorException($"{op}: shape mismatch {Check.Fmt(a.Shape)} · {Check.Fmt(b.Shape)}");
        var batchShape = Layout.BroadcastShapes(op, a.Shape[..^2], b.Shape[..^2]);
        int batch = 1;
        foreach (int s in batchShape) batch *= s;
        if (Numel != (long)batch * m * n || Dim(-1) != n || Dim(-2) != m)
            throw new TensorException($"{op}: output {Check.Fmt(Shape)} does not match {Check.Fmt(a.Shape)} · {Check.Fmt(b.Shape)}");
        using var fa = a.AsF32(op);
        using var fb = b.AsF32(op);
        using var a3 = Batch3(fa, batchShape, m, k);
        using var b3 = Batch3(fb, batchShape, k, n);
        using var ga = AsGemm(a3);
        using var gb = AsGemm(b3);
        using var y3 = View(Layout.Contiguous([batch, m, n], Layout.Offset));
        Backend.MatMul(ga, gb, y3, alpha, beta);
    }

    /// <summary>Views x (…, R, C) broadcast to batchShape as (batch, R, C), copying only when the batch dims cannot share one stride.</summary>
    private static Tensor Batch3(Tensor x, int[] batchShape, int r, int c)
    {
        var full = new int[batchShape.Length + 2];
        batchShape.CopyTo(full, 0);
        full[^2] = r;
        full[^1] = c;
        var l = x.Layout.BroadcastTo(full, "MatMul");
        int batch = 1;
        foreach (int s in batchShape) batch *= s;
        // Batch dims collapse to one stride if each is contiguous with the next (or all are broadcast).
        long stride = 0;
        bool ok = true;
        long expect = -1;
        for (int i = batchShape.Length - 1; i >= 0; i--)
        {
            if (full[i] == 1) continue;
            long s = l.StridesArr[i];
            if (expect < 0)
            {
                stride = s;
                expect = s * full[i];
            }
            else if (s == expect) expect = s * full[i];
            else if (!(s == 0 && stride == 0)) ok = false;
        }
        if (ok) return x.View(new Layout([batch, r, c], [stride, l.StridesArr[^2], l.StridesArr[^1]], l.Offset));
        using var e = x.View(l);
        using var cc = e.Contiguous();
        return cc.View(Layout.Contiguous([batch, r, c], cc.Layout.Offset));
    }

    private static Tensor AsGemm(Tensor t3)
    {
        if (GemmOperand.TryGet(t3) is not null) return t3.View(t3.Layout);
        var c = t3.Contiguous();
        return c;
    }
}
