using LLaDA.Diagnostics;
using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;
using Xunit.Abstractions;

namespace LLaDA.Tests.Kernels;

/// <summary>On a machine with CUDA: every kernel check at tiny and moderate sizes on the real GPU (skipped elsewhere).</summary>
public class CudaSmokeTests(ITestOutputHelper output)
{
    [GpuFact]
    public void EveryKernelCheck_PassesOnCuda()
    {
        using var gpu = IlgpuBackend.CreateCuda();
        Assert.Equal("ilgpu-cuda", gpu.Name);
        var results = KernelCheck.RunAll(gpu, KernelCheck.Size.Tiny);
        results.AddRange(KernelCheck.RunAll(gpu, KernelCheck.Size.Moderate));
        foreach (var r in results) output.WriteLine(r.ToString());
        Assert.All(results, r => Assert.True(r.Passed, r.ToString()));
    }

    [GpuFact]
    public void UploadExpDownload_OnCuda_MatchesCpu()
    {
        using var gpu = IlgpuBackend.CreateCuda();
        using var x = Tensor.FromArray(Rng.Floats(1000, 1), [10, 100]);
        using var y = x.To(gpu).Exp();
        TensorAssert.Close(x.Exp().ToArray(), y.ToArray(), 1e-6, 1e-5, "exp");
    }

    [Fact]
    public void CreateCuda_WithoutDevice_ThrowsClearError()
    {
        if (IlgpuBackend.IsCudaAvailable(out _)) return; // covered by the GpuFacts
        var e = Assert.ThrowsAny<Exception>(() => IlgpuBackend.CreateCuda());
        Assert.Contains("CUDA", e.Message);
        Assert.Null(IlgpuBackend.TryCreate("cuda", out var reason));
        Assert.Contains("CUDA", reason);
        Assert.Null(IlgpuBackend.TryCreate("no-such-device", out reason));
        Assert.Contains("unknown", reason);
    }
}
