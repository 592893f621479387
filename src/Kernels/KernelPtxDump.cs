using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using LLaDA.Tensors.Ops;

namespace LLaDA.Kernels;

/// <summary>Every [Kernel] entry point of this assembly, and its PTX for a CUDA architecture, produced without a GPU.</summary>
/// <remarks>
/// ILGPU's PTX backend runs on any machine; ptxas does not, so `llada check --ptx DIR` writes the files for
/// `ptxas -arch=sm_90 -v` (registers, spills) on the GPU machine, and the test suite compiles them all for SM 9.0.
/// </remarks>
public static class KernelPtxDump
{
    /// <summary>All [Kernel] methods; generic ones closed over every functor struct of LLaDA.Tensors.Ops that meets their constraint.</summary>
    public static List<MethodInfo> KernelMethods()
    {
        var list = new List<MethodInfo>();
        var functors = typeof(IUnaryOp).Assembly.GetTypes().Where(t => t.IsValueType && !t.IsAbstract && !t.IsGenericTypeDefinition).ToArray();
        foreach (var type in typeof(KernelPtxDump).Assembly.GetTypes())
            foreach (var m in type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (!m.IsDefined(typeof(KernelAttribute), false)) continue;
                if (!m.IsGenericMethodDefinition)
                {
                    list.Add(m);
                    continue;
                }
                var constraint = m.GetGenericArguments()[0].GetGenericParameterConstraints().Single(c => c.IsInterface);
                foreach (var f in functors.Where(constraint.IsAssignableFrom)) list.Add(m.MakeGenericMethod(f));
            }
        return list;
    }

    /// <summary>"Family.Method" or "Family.Method&lt;Functor&gt;".</summary>
    public static string NameOf(MethodInfo m)
        => $"{m.DeclaringType!.Name}.{m.Name}{(m.IsGenericMethod ? "<" + m.GetGenericArguments()[0].Name + ">" : "")}";

    /// <summary>Compiles every kernel to PTX; returns (name, ptx or null, error or null) per kernel.</summary>
    public static List<(string Name, string? Ptx, string? Error)> CompileAll(CudaArchitecture arch, CudaInstructionSet isa)
    {
        var res = new List<(string, string?, string?)>();
        using var context = Context.Create(b => b.EnableAlgorithms());
        using var backend = new PTXBackend(context, arch, isa, null!);
        foreach (var m in KernelMethods())
        {
            try
            {
                var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(m), KernelSpecialization.Empty);
                res.Add((NameOf(m), compiled.PTXAssembly, null));
            }
            catch (Exception e)
            {
                res.Add((NameOf(m), null, $"{e.GetType().Name}: {e.Message}"));
            }
        }
        return res;
    }

    /// <summary>Writes one .ptx file per kernel (SM 9.0, PTX ISA 8.5) into <paramref name="dir"/>; returns the failures.</summary>
    public static List<string> WriteAll(string dir)
    {
        Directory.CreateDirectory(dir);
        var failures = new List<string>();
        foreach (var (name, ptx, error) in CompileAll(CudaArchitecture.SM_90, CudaInstructionSet.ISA_85))
        {
            if (ptx is null)
            {
                failures.Add($"{name}: {error}");
                continue;
            }
            File.WriteAllText(Path.Combine(dir, name.Replace('<', '_').Replace(">", "") + ".ptx"), ptx);
        }
        return failures;
    }
}
