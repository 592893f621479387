using LLaDA.Tensors;
using LLaDA.Tensors.Ops;

namespace LLaDA.Autograd;

/// <summary>A tensor in the differentiable graph: its value, whether gradients flow to it, and (for leaves) the accumulated gradient.</summary>
public sealed class Variable : IDisposable
{
    public Variable(Tensor data, bool requiresGrad = false, string? name = null)
    {
        Data = data;
        RequiresGrad = requiresGrad;
        Name = name;
    }

    /// <summary>The value.</summary>
    public Tensor Data { get; }

    /// <summary>dLoss/dData accumulated over every Backward since the last <see cref="ZeroGrad"/> (leaves only); owned by this variable, outside any scope.</summary>
    public Tensor? Grad { get; private set; }

    /// <summary>True when gradients are computed for this variable (parameters, and outputs of recorded ops).</summary>
    public bool RequiresGrad { get; }

    /// <summary>Optional name for messages (parameters use their checkpoint names).</summary>
    public string? Name { get; set; }

    /// <summary>The op that produced this variable on a tape, or null for leaves and untracked results.</summary>
    internal Op? Creator { get; set; }

    public bool IsLeaf => Creator is null;

    public ReadOnlySpan<int> Shape => Data.Shape;

    /// <summary>A constant (no gradient) wrapping a tensor.</summary>
    public static implicit operator Variable(Tensor t) => new(t);

    /// <summary>Drops the accumulated gradient.</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }

    /// <summary>Grad += g; takes ownership of g (for gradients computed outside a tape, e.g. summed over data-parallel ranks).</summary>
    public void AccumulateGrad(Tensor g)
    {
        if (!g.Shape.SequenceEqual(Data.Shape))
            throw new TensorException($"Backward: gradient {Check.Fmt(g.Shape)} does not match variable '{Name}' {Check.Fmt(Data.Shape)}");
        var acc = Grad;
        Accumulate(ref acc, g);
        acc!.Detach();
        Grad = acc;
    }

    /// <summary>acc += g, in place when acc owns its memory exclusively, else into a new tensor; takes ownership of g.</summary>
    /// <param name="keepViews">A first contribution that is an F32 view (of shared storage, as Add's backward hands the same
    /// dy to both operands, or strided, as attention's dq in its (B, T, H, HS)-backed layout and a transpose's backward)
    /// is kept as it is instead of copied: ops never write into their incoming gradient and take strided operands, and a
    /// later contribution then sums into a new tensor. Used for the tape's intermediate gradients, not for leaves.</param>
    internal static void Accumulate(ref Tensor? acc, Tensor g, bool keepViews = false)
    {
        if (acc is null)
        {
            if (Exclusive(g) || (keepViews && g.DType == DType.F32)) acc = g;
            else
                using (OpProfiler.Time("AccumulateGrad.copy")) acc = Own(g);
            return;
        }
        if (Exclusive(acc))
        {
            using (OpProfiler.Time("AccumulateGrad.add"))
                acc.ZipInPlace(new AddOp(), g, "AccumulateGrad");
            g.Dispose();
            return;
        }
        using var timer = OpProfiler.Time("AccumulateGrad.sum");
        var sum = acc.Add(g);
        acc.Dispose();
        g.Dispose();
        acc = sum;
    }

    /// <summary>True when the tensor is the only view of its whole, contiguous F32 storage (safe to update in place).</summary>
    internal static bool Exclusive(Tensor t)
        => t.DType == DType.F32 && t.IsContiguous && t.Storage.RefCount == 1 && t.Layout.Offset == 0 && t.Numel == t.Storage.Elements;

    private static Tensor Own(Tensor g)
    {
        var c = g.Clone();
        g.Dispose();
        return c;
    }

    public void Dispose()
    {
        Data.Dispose();
        ZeroGrad();
    }

    public override string ToString() => $"Variable({Name ?? "?"}, {Check.Fmt(Data.Shape)}{(RequiresGrad ? ", grad" : "")})";
}
