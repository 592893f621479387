using LLaDA.Kernels;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>One IlgpuBackend on ILGPU's CPU accelerator shared by every kernel test (creating one and compiling kernels is the expensive part).</summary>
/// <remarks>
/// The default CPU device simulates an NVIDIA GPU (warp 32, up to 1,024 threads per group), so kernels with fixed
/// 256-thread groups (the matmul/attention tiles) run as they would on CUDA. Shapes stay tiny: the CPU accelerator runs
/// one OS thread per simulated thread and every barrier or shuffle wakes them all.
/// </remarks>
public sealed class IlgpuFixture : IDisposable
{
    public IlgpuBackend Gpu { get; } = IlgpuBackend.CreateCpu();

    public void Dispose() => Gpu.Dispose();
}

/// <remarks>
/// Runs with parallelization disabled: after every parallel collection has finished, alone. ILGPU's CPU accelerator
/// starts one OS thread per simulated thread (over a thousand) and synchronises them with software barriers; sharing the
/// two CI cores with the other collections (one of which starts a second CPU accelerator through `llada check`) made a
/// kernel test fail once on CI (RMSNorm backward read back all zeros) and never on a quiet machine.
/// </remarks>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IlgpuCollection : ICollectionFixture<IlgpuFixture>
{
    public const string Name = "ilgpu-cpu";
}
