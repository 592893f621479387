using LLaDA.Tensors;

namespace LLaDA.Autograd;

/// <summary>Records differentiable ops while open; recording order is a topological order, so Backward is one reverse loop.</summary>
/// <remarks>
/// With no tape open, <see cref="F"/> computes values only (no-grad by default). Disposing the tape frees what the ops
/// saved. Leaf gradients accumulate across Backward calls until <see cref="Variable.ZeroGrad"/>.
/// </remarks>
public sealed class Tape : IDisposable
{
    [ThreadStatic] private static Tape? _current;

    private readonly List<Op> _ops = new();
    private readonly Tape? _parent;
    private bool _disposed;

    public Tape()
    {
        _parent = _current;
        _current = this;
    }

    /// <summary>The innermost open tape on this thread, or null (no-grad).</summary>
    public static Tape? Current => _current;

    /// <summary>Number of recorded ops.</summary>
    public int Count => _ops.Count;

    /// <summary>Runs code with recording paused (e.g. evaluation inside a training step).</summary>
    public static T NoGrad<T>(Func<T> body)
    {
        var saved = _current;
        _current = null;
        try { return body(); }
        finally { _current = saved; }
    }

    internal void Record(Op op) => _ops.Add(op);

    /// <summary>Back-propagates from <paramref name="loss"/> (seed dLoss = 1, or <paramref name="seed"/> for non-scalar outputs) into every leaf that requires grad.</summary>
    /// <param name="gradFinal">Called with each leaf as soon as this pass has added its last contribution to the leaf's
    /// gradient (after the backward of the earliest recorded op that reads it), so data-parallel training can start
    /// reducing it while the rest of the pass runs; leaves this pass does not reach are not reported.</param>
    public void Backward(Variable loss, Tensor? seed = null, Action<Variable>? gradFinal = null)
    {
        if (_disposed) throw new ObjectDisposedException(nameof(Tape));
        if (!loss.RequiresGrad) throw new InvalidOperationException("Backward: the loss does not depend on any variable that requires grad (was the tape open during the forward?)");
        if (seed is not null && !seed.Shape.SequenceEqual(loss.Shape))
            throw new TensorException($"Backward: seed {Check.Fmt(seed.Shape)} does not match output {Check.Fmt(loss.Shape)}");
        if (seed is null && loss.Data.Numel != 1)
            throw new TensorException($"Backward: output {Check.Fmt(loss.Shape)} is not a scalar; pass a seed gradient");

        var grads = new Dictionary<Variable, Tensor>(ReferenceEqualityComparer.Instance);
        grads[loss] = seed?.Clone() ?? Tensor.Ones(loss.Shape, DType.F32, loss.Data.Backend);
        if (loss.IsLeaf)
        {
            loss.AccumulateGrad(grads[loss]);
            return;
        }
        var firstUse = gradFinal is null ? null : LeavesByFirstUse();
        int next = 0;
        for (int i = _ops.Count - 1; i >= 0; i--)
        {
            // Ops after i no longer run: leaves first read by them have their final gradient.
            while (firstUse is not null && next < firstUse.Count && firstUse[next].Op > i) gradFinal!(firstUse[next++].Leaf);
            var op = _ops[i];
            if (!grads.Remove(op.Output!, out var g)) continue;
            var gin = new Tensor?[op.Inputs.Length];
            op.Accumulators = Accumulators(op, grads);
            long t0 = OpProfiler.Start();
            op.Backward(g, gin);
            OpProfiler.Stop(op.Name + ".backward", t0);
            op.Accumulators = null;
            g.Dispose();
            for (int j = 0; j < gin.Length; j++)
            {
                var gj = gin[j];
                if (gj is null) continue;
                var input = op.Inputs[j];
                if (!input.RequiresGrad)
                {
                    gj.Dispose();
                    continue;
                }
                if (!gj.Shape.SequenceEqual(input.Shape))
                    throw new TensorException($"{op.Name}.Backward: gradient {Check.Fmt(gj.Shape)} for input {j} does not match its shape {Check.Fmt(input.Shape)}");
                if (input.IsLeaf) input.AccumulateGrad(gj);
                else
                {
                    grads.TryGetValue(input, out var acc);
                    Variable.Accumulate(ref acc, gj, keepViews: true);
                    grads[input] = acc!;
                }
            }
        }
        while (firstUse is not null && next < firstUse.Count) gradFinal!(firstUse[next++].Leaf);
        foreach (var g in grads.Values) g.Dispose();
    }

    /// <summary>The in-place-updatable gradients already accumulated for op's non-leaf inputs (see <see cref="Op.Accumulators"/>); null when there are none.</summary>
    /// <remarks>An input that appears twice among the op's inputs gets none (both slots would add into one tensor while
    /// the op may still read it); leaves keep their own path (<see cref="Variable.AccumulateGrad"/>).</remarks>
    private static Tensor?[]? Accumulators(Op op, Dictionary<Variable, Tensor> grads)
    {
        Tensor?[]? accs = null;
        var inputs = op.Inputs;
        for (int j = 0; j < inputs.Length; j++)
        {
            var input = inputs[j];
            if (input.IsLeaf || !input.RequiresGrad || !grads.TryGetValue(input, out var acc) || !Variable.Exclusive(acc)) continue;
            bool repeated = false;
            for (int i = 0; i < inputs.Length; i++) repeated |= i != j && ReferenceEquals(inputs[i], input);
            if (repeated) continue;
            accs ??= new Tensor?[inputs.Length];
            accs[j] = acc;
        }
        return accs;
    }

    /// <summary>Each leaf that requires grad with the index of the first recorded op reading it, latest first (the order backward finishes them).</summary>
    private List<(int Op, Variable Leaf)> LeavesByFirstUse()
    {
        var first = new Dictionary<Variable, int>(ReferenceEqualityComparer.Instance);
        for (int i = _ops.Count - 1; i >= 0; i--)
            foreach (var input in _ops[i].Inputs)
                if (input.IsLeaf && input.RequiresGrad) first[input] = i;
        var list = first.Select(kv => (kv.Value, kv.Key)).ToList();
        list.Sort((a, b) => b.Item1.CompareTo(a.Item1));
        return list;
    }

    public void Dispose()
    {
        if (_disposed) return;
        if (!ReferenceEquals(_current, this)) throw new InvalidOperationException("Tape disposed out of order: close inner tapes first");
        _disposed = true;
        _current = _parent;
        foreach (var op in _ops) op.Dispose();
        _ops.Clear();
    }
}
