using LLaDA.Kernels;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>One IlgpuBackend on ILGPU's CPU accelerator shared by every kernel test (creating one and compiling kernels is the expensive part).</summary>
/// <remarks>
/// A 4-warp device (warp 32, ≤ 128 threads per group) rather than the 1,024-thread default: the CPU accelerator runs one OS
/// thread per simulated thread and every barrier or shuffle wakes all of them, which on a loaded 2-core machine is the
/// whole cost of a launch. Row kernels still get multi-warp groups (rows longer than 128 use 64 or 128 threads).
/// </remarks>
public sealed class IlgpuFixture : IDisposable
{
    public IlgpuBackend Gpu { get; } = IlgpuBackend.CreateCpu(warpsPerGroup: 4);

    public void Dispose() => Gpu.Dispose();
}

[CollectionDefinition(Name)]
public sealed class IlgpuCollection : ICollectionFixture<IlgpuFixture>
{
    public const string Name = "ilgpu-cpu";
}
