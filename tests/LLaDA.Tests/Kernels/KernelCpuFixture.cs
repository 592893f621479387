using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime.CPU;
using LLaDA.Kernels;

namespace LLaDA.Tests.Kernels;

/// <summary>One ILGPU CPU accelerator (CPUDeviceKind.Nvidia: warp 32, up to 1024 threads per group) shared by a test class.</summary>
/// <remarks>The CPU accelerator runs each group's threads as OS threads and every Group.Barrier as a rendezvous, so it
/// is ~1,700× slower than plain C#: kernel tests keep their shapes tiny.</remarks>
public sealed class KernelCpuFixture : IDisposable
{
    public KernelCpuFixture()
    {
        var context = Context.Create(b => b.CPU(CPUDeviceKind.Nvidia).EnableAlgorithms());
        K = new KernelContext(context, context.CreateCPUAccelerator(0));
    }

    public KernelContext K { get; }

    public void Dispose() => K.Dispose();
}
