using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU;

namespace LLaDA.Kernels;

/// <summary>Lets ILGPU find the CUDA driver and OpenCL loaders under their versioned Linux names.</summary>
/// <remarks>
/// ILGPU 1.5.3 imports "cuda" (→ libcuda.so) and "opencl"/"OpenCL" (→ libOpenCL.so), but drivers install only the
/// versioned sonames libcuda.so.1 and libOpenCL.so.1 (the unversioned links come with the SDKs). The resolver maps those
/// names and defers everything else to the default probing. It must be installed before the first ILGPU Context is
/// created; a resolver can be set only once per assembly, so a second install (or one ILGPU made itself, e.g. on WSL)
/// is left alone.
/// </remarks>
public static class NativeLibraries
{
    private static int _installed;

    /// <summary>Installs the resolver once per process (idempotent, thread-safe).</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) != 0) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // Another resolver is already registered for ILGPU: keep it.
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        string[] candidates = name.ToLowerInvariant() switch
        {
            "cuda" or "nvcuda" or "libcuda" or "libcuda.so" => OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"],
            "opencl" or "libopencl" or "libopencl.so" => OperatingSystem.IsWindows() ? ["OpenCL.dll"] : ["libOpenCL.so.1", "libOpenCL.so"],
            _ => [],
        };
        foreach (var c in candidates)
            if (NativeLibrary.TryLoad(c, assembly, path, out var handle)) return handle;
        return IntPtr.Zero;
    }
}
