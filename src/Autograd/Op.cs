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
