namespace LLaDA.Tensors;

// The transformer's fused primitives (forward and backward side by side). Shapes use llm.c letters:
// B batch, T time, C channels, V vocab, NH heads, NKV key/value heads, HS head size, N rows.
public sealed partial class Tensor
{
    // ---------------------------------------------------------------- softmax

    /// <summary>softmax(x) along a dim: eˣ / Σ eˣ (max-subtracted).</summary>
    public Tensor Softmax(int dim = -1) => SoftmaxImpl(dim, log: false);

    /// <summary>log-softmax along a dim: x − max − log Σ e^(x − max).</summary>
    public Tensor LogSoftmax(int dim = -1) => SoftmaxImpl(dim, log: true);

    private Tensor SoftmaxImpl(int dim, bool log)
    {
        string name = log ? "LogSoftmax" : "Softmax";
        int d = Check.Dim(name, dim, Math.Max(Rank, 1));
        if (Rank == 0) throw new TensorException($"{name}: needs at least one dim");
        using var x = AsF32(name);
        using var moved = d == Rank - 1 ? x.View(x.Layout) : x.Transpose(d, -1);
        using var c = moved.Contiguous();
        using var y = EmptyLike(c);
        Backend.Softmax(c, y, log);
        return d == Rank - 1 ? y.View(y.Layout) : y.Transpose(d, -1).Contiguous();
    }

    /// <summary>dx from the softmax output y and dy (log: y is the log-softmax output).</summary>
    public static Tensor SoftmaxBackward(Tensor y, Tensor dy, bool log, int dim = -1)
    {
        string name = log ? "LogSoftmaxBackward" : "SoftmaxBackward";
        Check.SameShape(name, y, dy, "y", "dy");
        int d = Check.Dim(name, dim, y.Rank);
        using var ym = d == y.Rank - 1 ? y.Contiguous() : y.Transpose(d, -1).Contiguous();
        using var gm = d == y.Rank - 1 ? dy.Contiguous() : dy.Transpose(d, -1).Contiguous();
        using var dx = EmptyLike(ym);
        y.Backend.SoftmaxBackward(ym, gm, dx, log);
        return d == y.Rank - 1 ? dx.View(dx.Layout) : dx.Transpose(d, -1).Contiguous();
    }

    // ---------------------------------------------------------------- RMSNorm

    /// <summary>y = x·rsqrt(mean(x²) + eps)·weight over the last dim; returns rstd (…) for the backward.</summary>
    public (Tensor Y, Tensor Rstd) RmsNorm(Tensor weight, float eps)
    {
        const string op = "RmsNorm";
        Check.SameBackend(op, this, weight);
        int c = Rank == 0 ? throw new TensorException($"{op}: needs at least one dim") : Dim(-1);
        Check.Shape(op, "weight", weight, c);
        using var x = AsF32(op);
        using var xc = x.Contiguous();
        using var w = weight.AsF32(op);
        using var wc = w.Contiguous();
        var y = EmptyLike(xc);
        var rstd = Empty(Shape[..^1], DType.F32, Backend);
        Backend.RmsNorm(xc, wc, eps, y, rstd);
        return (y, rstd);
    }

    /// <summary>(dx, dweight) of <see cref="RmsNorm"/>.</summary>
    public static (Tensor Dx, Tensor Dweight) RmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd)
    {
        const string op = "RmsNormBackward";
        Check.SameShape(op, dy, x, "dy", "x");
        using var dyc = dy.Contiguous();
        using var xc = x.Contiguous(DType.F32);
        using var wc = weight.Contiguous(DType.F32);
        using var rc = rstd.Contiguous();
        var dx = EmptyLike(xc);
        var dw = Empty(weight.Shape, DType.F32, x.Backend);
        x.Backend.RmsNormBackward(dyc, xc, wc, rc, dx, dw);
        return (dx, dw);
    }

    // ---------------------------------------------------------------- RoPE

    /// <summary>Rotary embedding of x (B, T, H, HS) in the half-rotation layout; positions are positionOffset + t.</summary>
    public Tensor Rope(float theta, int positionOffset = 0) => RopeImpl(theta, positionOffset, inverse: false, "Rope");

    /// <summary>The backward of <see cref="Rope"/>: the inverse rotation applied to dy.</summary>
    public Tensor RopeBackward(float theta, int positionOffset = 0) => RopeImpl(theta, positionOffset, inverse: true, "RopeBackward");

    private Tensor RopeImpl(float theta, int positionOffset, bool inverse, string op)
    {
        Check.Rank(op, "x", this, 4);
        if (Dim(-1) % 2 != 0) throw new TensorException($"{op}: head size {Dim(-1)} of shape {Check.Fmt(Shape)} must be even");
        if (positionOffset < 0) throw new TensorException($"{op}: negative position offset {positionOffset}");
        if (!(theta > 0)) throw new TensorException($"{op}: theta must be positive, got {theta}");
        using var x = AsF32(op);
        using var xc = x.Contiguous();
        var y = EmptyLike(xc);
        Backend.Rope(xc, y, theta, positionOffset, inverse);
        return y;
    }

    // ---------------------------------------------------------------- SiLU-gated MLP product

    /// <summary>y = silu(gate)·up (the SwiGLU product of LLaMA's MLP).</summary>
    public static Tensor SiluGate(Tensor gate, Tensor up)
    {
        const string op = "SiluGate";
        Check.SameBackend(op, gate, up);
        Check.SameShape(op, gate, up, "gate", "up");
        using var g = gate.Contiguous(DType.F32);
        using var u = up.Contiguous(DType.F32);
        var y = EmptyLike(g);
        gate.Backend.SiluGate(g, u, y);
        return y;
    }

    /// <summary>(dgate, dup) of <see cref="SiluGate"/>.</summary>
    public static (Tensor Dgate, Tensor Dup) SiluGateBackward(Tensor gate, Tensor up, Tensor dy)
    {
        const string op = "SiluGateBackward";
        Check.SameShape(op, gate, dy, "gate", "dy");
        using var g = gate.Contiguous(DType.F32);
        using var u = up.Contiguous(DType.F32);
        using var d = dy.Contiguous();
        var dg = EmptyLike(g);
        var du = EmptyLike(g);
        gate.Backend.SiluGateBackward(g, u, d, dg, du);
        return (dg, du);
    }

    // ---------------------------------------------------------------- cross-entropy

    /// <summary>Per-row weighted cross-entropy of logits (N, V) against I32 targets (N): w·(lse − logit[target]); also returns lse (N).</summary>
    /// <remarks>A negative target or a zero weight gives loss 0 (and zero gradient). Weights default to 1.</remarks>
    public static (Tensor Loss, Tensor Lse) CrossEntropy(Tensor logits, Tensor targets, Tensor? weights = null)
    {
        const string op = "CrossEntropy";
        Check.Rank(op, "logits", logits, 2);
        Check.DType(op, "targets", targets, DType.I32);
        int n = logits.Dim(0);
        Check.Shape(op, "targets", targets, n);
        Check.SameBackend(op, logits, targets);
        using var l = logits.Contiguous(DType.F32);
        using var t = targets.Contiguous();
        using var w = weights is null ? Ones([n], DType.F32, logits.Backend) : weights.Contiguous(DType.F32);
        Check.Shape(op, "weights", w, n);
        var loss = Empty([n], DType.F32, logits.Backend);
        var lse = Empty([n], DType.F32, logits.Backend);
        logits.Backend.CrossEntropy(l, t, w, loss, lse);
        return (loss, lse);
    }

    /// <summary>dlogits (N, V) of <see cref="CrossEntropy"/> given dloss (N).</summary>
    public static Tensor CrossEntropyBackward(Tensor logits, Tensor targets, Tensor? weights, Tensor lse, Tensor dloss)
    {
        int n = logits.Dim(0);
        Check.Shape("CrossEntropyBackward", "dloss", dloss, n);
        using var l = logits.Contiguous(DType.F32);
        using var t = targets.Contiguous();
        using var w = weights is null ? Ones([n], DType.F32, logits.Backend) : weights.Contiguous(DType.F32);
        using var d = dloss.Contiguous();
        var dl = EmptyLike(l);
        logits.Backend.CrossEntropyBackward(l, t, w, lse, d, dl);
        return dl;
    }

    // ---------------------------------------------------------------- attention

    /// <summary>o = softmax(q·kᵀ·scale + mask)·v for q (B, NH, Tq, HS), k and v (B, NKV, Tk, HS) with NH % NKV == 0; returns o (B, NH, Tq, HS) and lse (B, NH, Tq).</summary>
    /// <remarks>
    /// Views with any strides whose last dim is contiguous are used in place: the model passes (B, T, NH, HS) projections
    /// transposed, and o is returned as a (B, NH, Tq, HS) view of (B, Tq, NH, HS) storage so merging heads needs no copy.
    /// keyPadding is I32 (B, Tk) with 1 for real keys; a query with no visible key outputs zeros.
    /// </remarks>
    public static (Tensor O, Tensor Lse) Attention(Tensor q, Tensor k, Tensor v, AttnMask mask = AttnMask.None, Tensor? keyPadding = null, float? scale = null)
    {
        CheckAttention(q, k, v, keyPadding);
        int b = q.Dim(0), nh = q.Dim(1), tq = q.Dim(2), hs = q.Dim(3);
        using var qq = AttnOperand(q);
        using var kk = AttnOperand(k);
        using var vv = AttnOperand(v);
        using var kp = keyPadding?.Contiguous();
        var o = BthdView(b, nh, tq, hs, q.Backend);
        var lse = Empty([b, nh, tq], DType.F32, q.Backend);
        q.Backend.Attention(qq, kk, vv, kp, mask, scale ?? 1f / MathF.Sqrt(hs), o, lse);
        return (o, lse);
    }

    /// <summary>(dq, dk, dv) of <see cref="Attention"/>; each has the shape of its input (as a (B, T, H, HS)-backed view).</summary>
    public static (Tensor Dq, Tensor Dk, Tensor Dv) AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor dO,
        AttnMask mask = AttnMask.None, Tensor? keyPadding = null, float? scale = null)
    {
        CheckAttention(q, k, v, keyPadding);
        Check.SameShape("AttentionBackward", o, dO, "o", "dO");
        int b = q.Dim(0), nh = q.Dim(1), nkv = k.Dim(1), tq = q.Dim(2), tk = k.Dim(2), hs = q.Dim(3);
        using var qq = AttnOperand(q);
        using var kk = AttnOperand(k);
        using var vv = AttnOperand(v);
        using var oo = AttnOperand(o);
        using var dd = AttnOperand(dO);
        using var kp = keyPadding?.Contiguous();
        using var ll = lse.Contiguous();
        // The kernel writes dq, dk, dv with the strides of q, k, v: give each gradient a dense buffer of the same layout.
        var dq = EmptyWithLayoutOf(qq);
        var dk = EmptyWithLayoutOf(kk);
        var dv = EmptyWithLayoutOf(vv);
        q.Backend.AttentionBackward(qq, kk, vv, kp, mask, scale ?? 1f / MathF.Sqrt(hs), oo, ll, dd, dq, dk, dv);
        return (dq, dk, dv);
    }

    private static void CheckAttention(Tensor q, Tensor k, Tensor v, Tensor? keyPadding)
    {
        const string op = "Attention";
        Check.Rank(op, "q", q, 4);
        Check.Rank(op, "k", k, 4);
        Check.SameShape(op, k, v, "k", "v");
        Check.SameBackend(op, q, k);
        Check.SameBackend(op, q, v);
        if (k.Dim(0) != q.Dim(0) || k.Dim(3) != q.Dim(3))
            throw new TensorException($"{op}: q {Check.Fmt(q.Shape)} and k {Check.Fmt(k.Shape)} differ in batch or head size");
        if (k.Dim(1) == 0 || q.Dim(1) % k.Dim(1) != 0)
            throw new TensorException($"{op}: {q.Dim(1)} query heads are not a multiple of {k.Dim(1)} key/value heads");
        if (q.Dim(3) < 1 || q.Dim(3) > AttentionShape.MaxHeadSize)
            throw new TensorException($"{op}: head size {q.Dim(3)} is outside 1..{AttentionShape.MaxHeadSize}");
        if (keyPadding is not null)
        {
            Check.DType(op, "keyPadding", keyPadding, DType.I32);
            Check.Shape(op, "keyPadding", keyPadding, k.Dim(0), k.Dim(2));
            Check.SameBackend(op, q, keyPadding);
        }
    }

    /// <summary>The operand as the kernel needs it: F32, head dim contiguous, and dense (a permutation of a contiguous buffer) so gradients can share its layout.</summary>
    private static Tensor AttnOperand(Tensor t)
    {
        using var f = t.AsF32("Attention");
        if (f.Strides[3] == 1 && IsDensePermutation(f.Layout)) return f.View(f.Layout);
        return f.Contiguous();
    }

    /// <summary>True when the strides are those of a contiguous buffer whose dims were permuted (no gaps, no overlaps).</summary>
    private static bool IsDensePermutation(Layout l)
    {
        var order = Enumerable.Range(0, l.Rank).OrderByDescending(i => l.StridesArr[i]).ThenByDescending(i => i).ToArray();
        long expect = 1;
        for (int k = order.Length - 1; k >= 0; k--)
        {
            int d = order[k];
            if (l.ShapeArr[d] != 1 && l.StridesArr[d] != expect) return false;
            expect *= l.ShapeArr[d];
        }
        return true;
    }

    /// <summary>An uninitialised tensor with the shape and (dense) stride order of <paramref name="like"/>.</summary>
    private static Tensor EmptyWithLayoutOf(Tensor like)
    {
        int r = like.Rank;
        var order = Enumerable.Range(0, r).OrderByDescending(i => like.Layout.StridesArr[i]).ThenBy(i => i).ToArray();
        var storageShape = order.Select(i => like.Layout.ShapeArr[i]).ToArray();
        using var s = Empty(storageShape, DType.F32, like.Backend);
        var inverse = new int[r];
        for (int k = 0; k < r; k++) inverse[order[k]] = k;
        return s.Permute(inverse);
    }

    /// <summary>An uninitialised (B, H, T, HS) view of (B, T, H, HS) storage.</summary>
    private static Tensor BthdView(int b, int h, int t, int hs, IBackend backend)
    {
        using var s = Empty([b, t, h, hs], DType.F32, backend);
        return s.Transpose(1, 2);
    }

    // ---------------------------------------------------------------- embedding, gather, scatter

    /// <summary>Rows of a (V, C) table picked by I32 ids of any shape: result (ids.shape…, C).</summary>
    public static Tensor Embedding(Tensor weight, Tensor ids)
    {
        const string op = "Embedding";
        Check.Rank(op, "weight", weight, 2);
        Check.DType(op, "ids", ids, DType.I32);
        Check.SameBackend(op, weight, ids);
        // A contiguous 16-bit table stays as stored: the backend widens only the selected rows.
        using var w = weight.IsContiguous && weight.DType is DType.BF16 or DType.F16 ? weight.View(weight.Layout) : weight.Contiguous(DType.F32);
        using var i = ids.Contiguous();
        var outShape = new int[ids.Rank + 1];
        ids.Shape.CopyTo(outShape);
        outShape[^1] = weight.Dim(1);
        var y = Empty(outShape, DType.F32, weight.Backend);
        weight.Backend.IndexSelect(w, i, y);
        return y;
    }

    /// <summary>this[ids[i], :] += src[i, :] in place (this: contiguous (V, C); src: (ids.shape…, C)).</summary>
    public void IndexAdd(Tensor ids, Tensor src)
    {
        const string op = "IndexAdd";
        Check.Rank(op, "dst", this, 2);
        Check.DType(op, "ids", ids, DType.I32);
        if (src.Numel != ids.Numel * Dim(1) || src.Dim(-1) != Dim(1))
            throw new TensorException($"{op}: src {Check.Fmt(src.Shape)} does not match ids {Check.Fmt(ids.Shape)} and dst {Check.Fmt(Shape)}");
        if (!IsContiguous || DType != DType.F32) throw new TensorException($"{op}: dst must be contiguous F32");
        using var i = ids.Contiguous();
        using var s = src.Contiguous(DType.F32);
        Backend.IndexAdd(s, i, this);
    }

    /// <summary>y[…, j] = this[…, index[…, j]] along the last dim (leading dims equal).</summary>
    public Tensor Gather(Tensor index)
    {
        const string op = "Gather";
        Check.DType(op, "index", index, DType.I32);
        if (index.Rank != Rank || !index.Shape[..^1].SequenceEqual(Shape[..^1]))
            throw new TensorException($"{op}: index {Check.Fmt(index.Shape)} must match {Check.Fmt(Shape)} in all but the last dim");
        using var x = Contiguous(DType.F32);
        using var i = index.Contiguous();
        var y = Empty(index.Shape, DType.F32, Backend);
        Backend.Gather(x, i, y);
        return y;
    }

    /// <summary>this[…, index[…, j]] += src[…, j] in place along the last dim (the backward of Gather).</summary>
    public void ScatterAdd(Tensor index, Tensor src)
    {
        const string op = "ScatterAdd";
        Check.DType(op, "index", index, DType.I32);
        Check.SameShape(op, index, src, "index", "src");
        if (index.Rank != Rank || !index.Shape[..^1].SequenceEqual(Shape[..^1]))
            throw new TensorException($"{op}: index {Check.Fmt(index.Shape)} must match {Check.Fmt(Shape)} in all but the last dim");
        if (!IsContiguous || DType != DType.F32) throw new TensorException($"{op}: dst must be contiguous F32");
        using var i = index.Contiguous();
        using var s = src.Contiguous(DType.F32);
        Backend.ScatterAdd(s, i, this);
    }

    // ---------------------------------------------------------------- optimizer

    /// <summary>One in-place AdamW step: this (parameter), grad, m and v all contiguous F32 of equal shape.</summary>
    public void AdamWStep(Tensor grad, Tensor m, Tensor v, AdamWStep step)
    {
        const string op = "AdamW";
        foreach (var (name, t) in new[] { ("param", this), ("grad", grad), ("m", m), ("v", v) })
        {
            Check.DType(op, name, t, DType.F32);
            Check.SameShape(op, this, t, "param", name);
            Check.SameBackend(op, this, t);
            if (!t.IsContiguous) throw new TensorException($"{op}: '{name}' must be contiguous");
        }
        if (step.Step < 1) throw new TensorException($"{op}: step must start at 1, got {step.Step}");
        Backend.AdamW(this, grad, m, v, step);
    }
}
