using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Runtime;

namespace LLaDA.Kernels;

/// <summary>One accelerator with its stream and a cache of loaded kernels (each kernel is compiled once per accelerator).</summary>
public sealed class KernelContext : IDisposable
{
    private readonly ConcurrentDictionary<string, object> _kernels = new();

    public KernelContext(Context context, Accelerator accelerator)
    {
        Context = context;
        Accelerator = accelerator;
        Stream = accelerator.DefaultStream;
    }

    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public AcceleratorStream Stream { get; }

    /// <summary>True on ILGPU's CPU accelerator (the test device).</summary>
    public bool IsCpu => Accelerator.AcceleratorType == AcceleratorType.CPU;

    /// <summary>Returns the cached launcher for <paramref name="key"/>, loading it on first use.</summary>
    public T Kernel<T>(string key, Func<Accelerator, T> load) where T : class
        => (T)_kernels.GetOrAdd(key, _ => load(Accelerator));

    public void Synchronize() => Stream.Synchronize();

    public void Dispose()
    {
        _kernels.Clear();
        Accelerator.Dispose();
        Context.Dispose();
    }
}
