using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime.Cuda;
using LLaDA.Kernels;

namespace LLaDA.Tests.Kernels;

/// <summary>Opens a KernelContext on the first CUDA device for [GpuFact] tests (the resolver is LLaDA.Kernels.NativeLibraries').</summary>
public static class CudaProbe
{
    /// <summary>A KernelContext on the first CUDA device (call only where [GpuFact] let the test run).</summary>
    public static KernelContext Create()
    {
        NativeLibraries.Install();
        var context = Context.Create(b => b.Cuda().EnableAlgorithms());
        return new KernelContext(context, context.CreateCudaAccelerator(0));
    }
}
