using LLaDA.Kernels;
using Xunit;

namespace LLaDA.Tests.Testing;

/// <summary>A fact that runs only where a CUDA device can be opened through ILGPU; elsewhere it is skipped with the reason.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute()
    {
        if (!IlgpuBackend.IsCudaAvailable(out var reason)) Skip = $"needs a CUDA GPU: {reason}";
    }
}
