using LLaDA.Tensors;

namespace LLaDA.Nn;

/// <summary>Where a module's parameters come from while it is being built: by default its initialiser; inside
/// <see cref="Use"/>, a function of (checkpoint name, shape), so a model can be built directly over a checkpoint's tensors
/// (memory-mapped, in their stored dtype) without first allocating and initialising f32 weights it would overwrite.</summary>
/// <remarks>Ambient per thread, like <see cref="TensorScope"/>; the function returns the tensor (the module takes it over)
/// or null to fall back to the initialiser.</remarks>
public static class ParameterSource
{
    [ThreadStatic] private static Func<string, int[], Tensor?>? _current;

    /// <summary>Makes <paramref name="source"/> supply parameters on this thread until the returned scope is disposed.</summary>
    public static IDisposable Use(Func<string, int[], Tensor?> source)
    {
        var previous = _current;
        _current = source;
        return new Restore(previous);
    }

    /// <summary>The parameter named <paramref name="name"/> of <paramref name="shape"/>: the ambient source's tensor, else <paramref name="init"/>().</summary>
    public static Tensor Create(string name, int[] shape, Func<Tensor> init)
    {
        var t = _current?.Invoke(name, shape);
        if (t is null) return init();
        if (!t.Shape.SequenceEqual(shape))
            throw new TensorException($"parameter '{name}': the source gave shape {Check.Fmt(t.Shape)}, the model needs {Check.Fmt(shape)}");
        return t;
    }

    private sealed class Restore(Func<string, int[], Tensor?>? previous) : IDisposable
    {
        public void Dispose() => _current = previous;
    }
}
