using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using LLaDA.Kernels;
using LLaDA.Tensors.Ops;

namespace LLaDA.Diagnostics;

/// <summary>Every [Kernel] entry point of LLaDA.Kernels, and its PTX for a CUDA architecture, produced without a GPU.</summary>
/// <remarks>
/// ILGPU's PTX backend runs on any machine; ptxas does not, so `llada check --ptx DIR` and `llada kernels ptx DIR` write the
/// files for `ptxas -arch=sm_90 -v` (registers, spills, inline-asm syntax) on the GPU machine, and the test suite compiles
/// them all for SM 9.0. The one PTX dumper: the matmul and attention kernels carry [Kernel] like every other family.
/// </remarks>
public static class KernelPtx
{
    /// <summary>All [Kernel] methods by "Family.Method" name; generic ones closed over every functor struct of LLaDA.Tensors.Ops that meets their constraint.</summary>
    public static IReadOnlyList<(string Name, MethodInfo Method)> Kernels { get; } = Find();

    /// <summary>PTX of one kernel for the given architecture (default SM 9.0, ISA 8.5); throws if ILGPU cannot compile it.</summary>
    public static string Compile(Context context, MethodInfo kernel, CudaArchitecture? arch = null, CudaInstructionSet? isa = null)
    {
        using var backend = new PTXBackend(context, arch ?? CudaArchitecture.SM_90, isa ?? CudaInstructionSet.ISA_85, null!);
        return Compile(backend, kernel);
    }

    /// <summary>Compiles every kernel to PTX; returns (name, ptx or null, error or null) per kernel.</summary>
    public static List<(string Name, string? Ptx, string? Error)> CompileAll(CudaArchitecture arch, CudaInstructionSet isa)
    {
        var res = new List<(string, string?, string?)>();
        using var context = Context.Create(b => b.EnableAlgorithms());
        using var backend = new PTXBackend(context, arch, isa, null!);
        foreach (var (name, m) in Kernels)
        {
            try
            {
                res.Add((name, Compile(backend, m), null));
            }
            catch (Exception e)
            {
                res.Add((name, null, $"{e.GetType().Name}: {e.Message}"));
            }
        }
        return res;
    }

    /// <summary>Writes DIR/NAME.ptx per kernel (SM 9.0, PTX ISA 8.5); returns the files written and the failures ("NAME: error").</summary>
    public static (List<string> Paths, List<string> Failures) WriteAll(string dir)
    {
        Directory.CreateDirectory(dir);
        var paths = new List<string>();
        var failures = new List<string>();
        foreach (var (name, ptx, error) in CompileAll(CudaArchitecture.SM_90, CudaInstructionSet.ISA_85))
        {
            if (ptx is null)
            {
                failures.Add($"{name}: {error}");
                continue;
            }
            string path = Path.Combine(dir, name.Replace('<', '_').Replace(">", "") + ".ptx");
            File.WriteAllText(path, ptx);
            paths.Add(path);
        }
        return (paths, failures);
    }

    private static string Compile(PTXBackend backend, MethodInfo kernel)
        => ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), KernelSpecialization.Empty)).PTXAssembly;

    private static List<(string, MethodInfo)> Find()
    {
        var list = new List<(string, MethodInfo)>();
        var functors = typeof(IUnaryOp).Assembly.GetTypes().Where(t => t.IsValueType && !t.IsAbstract && !t.IsGenericTypeDefinition).ToArray();
        foreach (var type in typeof(KernelAttribute).Assembly.GetTypes())
            foreach (var m in type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (!m.IsDefined(typeof(KernelAttribute), false)) continue;
                if (!m.IsGenericMethodDefinition)
                {
                    list.Add((NameOf(m), m));
                    continue;
                }
                var constraint = m.GetGenericArguments()[0].GetGenericParameterConstraints().Single(c => c.IsInterface);
                foreach (var f in functors.Where(constraint.IsAssignableFrom))
                {
                    var closed = m.MakeGenericMethod(f);
                    list.Add((NameOf(closed), closed));
                }
            }
        return list;
    }

    /// <summary>"Family.Method" or "Family.Method&lt;Functor&gt;".</summary>
    private static string NameOf(MethodInfo m)
        => $"{m.DeclaringType!.Name}.{m.Name}{(m.IsGenericMethod ? "<" + m.GetGenericArguments()[0].Name + ">" : "")}";
}
