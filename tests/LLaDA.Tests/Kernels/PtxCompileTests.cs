using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using LLaDA.Kernels;
using LLaDA.Tensors.Ops;
using Xunit;
using Xunit.Abstractions;

namespace LLaDA.Tests.Kernels;

/// <summary>Every [Kernel] method compiles to PTX for SM 9.0 without a GPU (ILGPU's PTX backend; ptxas is not run here).</summary>
/// <remarks>
/// Completeness: <see cref="Launch.Load{TLauncher}"/> refuses to load a method without [Kernel], and every kernel family is
/// launched by the CPU-accelerator tests, so every kernel the backend can launch is in this list. Generic kernels are
/// instantiated with every functor struct of LLaDA.Tensors.Ops that satisfies their constraint.
/// </remarks>
public class PtxCompileTests(ITestOutputHelper output)
{
    /// <summary>All [Kernel] methods, generic ones closed over every matching functor.</summary>
    public static List<MethodInfo> KernelMethods()
    {
        var list = new List<MethodInfo>();
        var functors = typeof(IUnaryOp).Assembly.GetTypes().Where(t => t.IsValueType && !t.IsAbstract && !t.IsGenericTypeDefinition).ToArray();
        foreach (var type in typeof(IlgpuBackend).Assembly.GetTypes())
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

    [Fact]
    public void EveryKernel_CompilesToPtxForSm90()
    {
        var kernels = KernelMethods();
        Assert.True(kernels.Count > 40, $"only {kernels.Count} kernels found");
        using var context = Context.Create(b => b.EnableAlgorithms());
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_85, null!);
        var failures = new List<string>();
        long chars = 0;
        foreach (var m in kernels)
        {
            string name = $"{m.DeclaringType!.Name}.{m.Name}{(m.IsGenericMethod ? "<" + m.GetGenericArguments()[0].Name + ">" : "")}";
            try
            {
                var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(m), KernelSpecialization.Empty);
                Assert.Contains(".entry", compiled.PTXAssembly);
                chars += compiled.PTXAssembly.Length;
            }
            catch (Exception e)
            {
                failures.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
        }
        output.WriteLine($"{kernels.Count} kernels, {chars:N0} chars of PTX");
        Assert.True(failures.Count == 0, $"{failures.Count} of {kernels.Count} kernels do not compile to PTX:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void Load_KernelWithoutAttribute_Throws()
    {
        using var context = Context.Create(b => b.CPU().EnableAlgorithms());
        using var acc = context.CreateCPUAccelerator(0);
        var e = Assert.Throws<InvalidOperationException>(() => { Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>>>(acc, NotAKernel); });
        Assert.Contains("[Kernel]", e.Message);
    }

    private static void NotAKernel(ArrayView<float> x) => x[Grid.IdxX] = 0f;
}
