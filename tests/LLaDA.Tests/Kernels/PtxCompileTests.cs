using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using LLaDA.Diagnostics;
using LLaDA.Kernels;
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
    [Fact]
    public void EveryKernel_CompilesToPtxForSm90()
    {
        var results = KernelPtx.CompileAll(CudaArchitecture.SM_90, CudaInstructionSet.ISA_85);
        Assert.True(results.Count > 40, $"only {results.Count} kernels found");
        var failures = results.Where(r => r.Ptx is null).Select(r => $"{r.Name}: {r.Error}").ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {results.Count} kernels do not compile to PTX:\n" + string.Join("\n", failures));
        foreach (var (name, ptx, _) in results) Assert.True(ptx!.Contains(".entry", StringComparison.Ordinal), $"{name}: no .entry in its PTX");
        output.WriteLine($"{results.Count} kernels, {results.Sum(r => r.Ptx!.Length):N0} chars of PTX");
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
