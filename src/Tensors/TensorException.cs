namespace LLaDA.Tensors;

/// <summary>A tensor operation was given operands of the wrong shape, dtype or backend; the message names the op.</summary>
public sealed class TensorException(string message) : ArgumentException(message);

/// <summary>Argument checks shared by every op; each message names the op and the offending shapes or types.</summary>
public static class Check
{
    /// <summary>Formats a shape as "(2, 3, 4)".</summary>
    public static string Fmt(ReadOnlySpan<int> shape)
    {
        if (shape.Length == 0) return "()";
        var sb = new System.Text.StringBuilder("(");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        if (shape.Length == 1) sb.Append(',');
        return sb.Append(')').ToString();
    }

    // The index errors every backend reports (the CPU while reading the ids, a device after its kernel flagged one).

    /// <summary>"OP: id I at position P is out of range for R rows" (IndexSelect, IndexAdd).</summary>
    public static string IdOutOfRange(string op, long id, long position, long rows) => $"{op}: id {id} at position {position} is out of range for {rows} rows";

    /// <summary>"OP: index I at flat position P is out of range for size N" (Gather, ScatterAdd).</summary>
    public static string IndexOutOfRange(string op, long index, long position, long size) => $"{op}: index {index} at flat position {position} is out of range for size {size}";

    /// <summary>"CrossEntropy: target T at row R is out of range for V classes".</summary>
    public static string TargetOutOfRange(long target, long row, long classes) => $"CrossEntropy: target {target} at row {row} is out of range for {classes} classes";

    /// <summary>Throws unless the tensor has the given dtype.</summary>
    public static void DType(string op, string name, Tensor t, DType expected)
    {
        if (t.DType != expected)
            throw new TensorException($"{op}: '{name}' must be {expected} but is {t.DType} with shape {Fmt(t.Shape)}");
    }

    /// <summary>Throws unless the tensor has the given rank.</summary>
    public static void Rank(string op, string name, Tensor t, int rank)
    {
        if (t.Rank != rank)
            throw new TensorException($"{op}: '{name}' must have rank {rank} but has shape {Fmt(t.Shape)}");
    }

    /// <summary>Throws unless two tensors have equal shapes.</summary>
    public static void SameShape(string op, Tensor a, Tensor b, string nameA = "a", string nameB = "b")
    {
        if (!a.Shape.SequenceEqual(b.Shape))
            throw new TensorException($"{op}: shape mismatch, '{nameA}' {Fmt(a.Shape)} vs '{nameB}' {Fmt(b.Shape)}");
    }

    /// <summary>Throws unless the tensor has exactly the expected shape.</summary>
    public static void Shape(string op, string name, Tensor t, params int[] expected)
    {
        if (!t.Shape.SequenceEqual(expected))
            throw new TensorException($"{op}: '{name}' must have shape {Fmt(expected)} but has {Fmt(t.Shape)}");
    }

    /// <summary>Throws unless every tensor lives on the same backend.</summary>
    public static void SameBackend(string op, Tensor a, Tensor b)
    {
        if (!ReferenceEquals(a.Backend, b.Backend))
            throw new TensorException($"{op}: operands live on different backends ({a.Backend.Name} vs {b.Backend.Name}); move one with To(backend)");
    }

    /// <summary>Normalises a possibly negative dim into [0, rank).</summary>
    public static int Dim(string op, int dim, int rank)
    {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank)
            throw new TensorException($"{op}: dim {dim} is out of range for rank {rank}");
        return d;
    }
}
