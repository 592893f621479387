using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace LLaDA.Kernels;

/// <summary>Compiles the matmul and attention kernels to PTX without a GPU (ILGPU's PTXBackend), for CI checks and for `ptxas -v` on the GPU machine.</summary>
public static class KernelPtx
{
    /// <summary>The explicitly grouped kernels of MatMulKernels and AttentionKernels, by a stable file-friendly name.</summary>
    public static IReadOnlyList<(string Name, MethodInfo Method)> Kernels { get; } =
    [
        ("mm_naive", Get(typeof(MatMulKernels), nameof(MatMulKernels.NaiveKernel))),
        ("mm_scale", Get(typeof(MatMulKernels), nameof(MatMulKernels.ScaleKernel))),
        ("mm_tiled", Get(typeof(MatMulKernels), nameof(MatMulKernels.TiledKernel))),
        ("mm_tc", Get(typeof(MatMulKernels), nameof(MatMulKernels.TensorCoreKernel))),
        ("mm_naive16", Get(typeof(MatMulKernels), nameof(MatMulKernels.Naive16Kernel))),
        ("attn_fwd", Get(typeof(AttentionKernels), nameof(AttentionKernels.ForwardKernel))),
        ("attn_bwd_dq", Get(typeof(AttentionKernels), nameof(AttentionKernels.BackwardDqKernel))),
        ("attn_bwd_dkdv", Get(typeof(AttentionKernels), nameof(AttentionKernels.BackwardDkDvKernel))),
        ("attn_fwd_naive", Get(typeof(AttentionKernels), nameof(AttentionKernels.ForwardNaiveKernel))),
        ("attn_bwd_dq_naive", Get(typeof(AttentionKernels), nameof(AttentionKernels.BackwardDqNaiveKernel))),
        ("attn_bwd_dkdv_naive", Get(typeof(AttentionKernels), nameof(AttentionKernels.BackwardDkDvNaiveKernel))),
    ];

    /// <summary>PTX of one kernel for the given architecture (default SM 9.0, ISA 8.5); throws if ILGPU cannot compile it.</summary>
    public static string Compile(Context context, MethodInfo kernel, CudaArchitecture? arch = null, CudaInstructionSet? isa = null)
    {
        using var backend = new PTXBackend(context, arch ?? CudaArchitecture.SM_90, isa ?? CudaInstructionSet.ISA_85, null!);
        var compiled = backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), KernelSpecialization.Empty);
        return ((PTXCompiledKernel)compiled).PTXAssembly;
    }

    /// <summary>Writes DIR/NAME.ptx for every kernel in <see cref="Kernels"/> and returns the paths.</summary>
    public static IReadOnlyList<string> DumpAll(string dir)
    {
        Directory.CreateDirectory(dir);
        using var context = Context.Create(b => b.Default().EnableAlgorithms());
        var paths = new List<string>();
        foreach (var (name, method) in Kernels)
        {
            string path = Path.Combine(dir, name + ".ptx");
            File.WriteAllText(path, Compile(context, method));
            paths.Add(path);
        }
        return paths;
    }

    private static MethodInfo Get(Type t, string name)
        => t.GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
           ?? throw new MissingMethodException(t.FullName, name);
}
