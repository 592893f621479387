using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Nn;

/// <summary>A network component that lists its parameters explicitly under dotted checkpoint names (no reflection walk).</summary>
public abstract class Module : IDisposable
{
    /// <summary>Every parameter with its full name, in a fixed order (the order of checkpoints and optimizer state).</summary>
    public abstract IEnumerable<(string Name, Variable Parameter)> NamedParameters();

    /// <summary>The parameters in <see cref="NamedParameters"/> order.</summary>
    public IEnumerable<Variable> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Total number of scalar parameters.</summary>
    public long ParameterCount() => NamedParameters().Sum(p => p.Parameter.Data.Numel);

    /// <summary>Drops every accumulated gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Frees the parameters (and their gradients).</summary>
    public virtual void Dispose()
    {
        foreach (var p in Parameters()) p.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A trainable leaf outside every scope, named for checkpoints.</summary>
    protected static Variable NewParameter(string name, Tensor value) => new(value.Detach(), requiresGrad: true, name);

    /// <summary>A parameter from the ambient <see cref="ParameterSource"/> (a checkpoint's tensor) or, by default, <paramref name="init"/>.</summary>
    protected static Variable NewParameter(string name, int[] shape, Func<Tensor> init) => NewParameter(name, ParameterSource.Create(name, shape, init));
}
