namespace LLaDA.Tensors;

/// <summary>Owns every tensor created on this thread while it is the innermost open scope and disposes them when it closes (no reliance on the GC).</summary>
/// <remarks>
/// <code>
/// using (new TensorScope()) { var y = x.MatMul(w); loss = y.Sum().KeepAlive(); } // y freed here, loss survives
/// </code>
/// A tensor leaves its scope with <see cref="Tensor.KeepAlive"/> (moves it to the enclosing scope, or to none).
/// </remarks>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;

    private readonly List<Tensor> _owned = new();
    private readonly TensorScope? _parent;
    private bool _disposed;

    public TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    /// <summary>The innermost open scope on this thread, or null.</summary>
    public static TensorScope? Current => _current;

    /// <summary>The scope that was current when this one opened.</summary>
    public TensorScope? Parent => _parent;

    /// <summary>Number of tensors this scope still owns.</summary>
    public int Count
    {
        get
        {
            int n = 0;
            foreach (var t in _owned) if (ReferenceEquals(t.Owner, this)) n++;
            return n;
        }
    }

    /// <summary>Runs code with no scope open, so tensors it creates are owned by the caller alone.</summary>
    public static T Unscoped<T>(Func<T> create)
    {
        var saved = _current;
        _current = null;
        try { return create(); }
        finally { _current = saved; }
    }

    internal void Add(Tensor t)
    {
        if (_disposed) throw new ObjectDisposedException(nameof(TensorScope));
        t.Owner = this;
        _owned.Add(t);
    }

    public void Dispose()
    {
        if (_disposed) return;
        if (!ReferenceEquals(_current, this))
            throw new InvalidOperationException("TensorScope disposed out of order: close inner scopes first");
        _disposed = true;
        _current = _parent;
        foreach (var t in _owned)
            if (ReferenceEquals(t.Owner, this))
            {
                t.Owner = null;
                t.Dispose();
            }
        _owned.Clear();
    }
}
