using LLaDA.Tensors;

namespace LLaDA.Autograd;

/// <summary>One differentiable operation: Forward computes the output from the inputs and saves what Backward needs; Backward maps dOutput to dInputs.</summary>
public abstract class Op : IDisposable
{
    private readonly List<Tensor> _saved = new();

    /// <summary>Name used in messages.</summary>
    public abstract string Name { get; }

    /// <summary>The inputs, in the order Backward fills gradients.</summary>
    public Variable[] Inputs { get; internal set; } = [];

    /// <summary>The output variable (set when recorded).</summary>
    internal Variable? Output { get; set; }

    /// <summary>True when input i wants a gradient.</summary>
    protected bool NeedsGrad(int i) => Inputs[i].RequiresGrad;

    /// <summary>During <see cref="Backward"/>: for each input, the gradient the tape has already accumulated for it when
    /// that tensor may be updated in place (contiguous F32, sole owner of its storage), else null.</summary>
    /// <remarks>An op may add its gradient for input i straight into Accumulators[i] (e.g. a GEMM with β = 1, so the
    /// sum needs no temporary and no separate add pass) and then leave grads[i] null: the tape keeps the accumulator.
    /// Ops that ignore it are unaffected (their grads[i] is added as before).</remarks>
    protected internal Tensor?[]? Accumulators { get; internal set; }

    /// <summary>Computes the output tensor from Inputs[i].Data.</summary>
    public abstract Tensor Forward();

    /// <summary>Fills grads[i] (a new tensor reference owned by the caller, of Inputs[i]'s shape) for every input that needs one.</summary>
    public abstract void Backward(Tensor gradOutput, Tensor?[] grads);

    /// <summary>Keeps a tensor made in Forward alive until this op is disposed (it is not part of any scope).</summary>
    protected Tensor Save(Tensor t)
    {
        t.Detach();
        _saved.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _saved) t.Dispose();
        _saved.Clear();
    }
}
