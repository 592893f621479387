using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using LLaDA.Kernels;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>A fact that runs only where a CUDA device is present (skipped, not failed, elsewhere).</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute()
    {
        if (!CudaProbe.Available) Skip = "no CUDA device (" + CudaProbe.Reason + ")";
    }
}

/// <summary>Finds a CUDA device once per process; installs the libcuda.so.1 resolver ILGPU 1.5.3 needs on Linux.</summary>
public static class CudaProbe
{
    private static readonly Lazy<(bool Ok, string Why)> Probe = new(Detect);

    public static bool Available => Probe.Value.Ok;
    public static string Reason => Probe.Value.Why;

    /// <summary>A KernelContext on the first CUDA device (call only when <see cref="Available"/>).</summary>
    public static KernelContext Create()
    {
        InstallResolver();
        var context = Context.Create(b => b.Cuda().EnableAlgorithms());
        return new KernelContext(context, context.CreateCudaAccelerator(0));
    }

    private static (bool, string) Detect()
    {
        try
        {
            InstallResolver();
            using var context = Context.Create(b => b.Cuda());
            int n = context.GetCudaDevices().Count;
            return n > 0 ? (true, $"{n} device(s)") : (false, "ILGPU found no CUDA device");
        }
        catch (Exception e)
        {
            return (false, e.GetType().Name);
        }
    }

    private static int _installed;

    /// <summary>ILGPU asks for "cuda"/"nvcuda"; the driver ships libcuda.so.1. Idempotent; tolerates a resolver set elsewhere.</summary>
    private static void InstallResolver()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, (name, asm, path) =>
            {
                if (name is "cuda" or "nvcuda" && NativeLibrary.TryLoad("libcuda.so.1", out var h)) return h;
                if (name == "OpenCL" && NativeLibrary.TryLoad("libOpenCL.so.1", out var cl)) return cl;
                return IntPtr.Zero;
            });
        }
        catch (InvalidOperationException)
        {
            // Another component already installed a resolver for ILGPU's assembly.
        }
    }
}
