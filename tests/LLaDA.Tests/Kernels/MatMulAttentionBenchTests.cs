using System.Text.Json;
using LLaDA.Diagnostics;
using LLaDA.Kernels;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>The device check (KernelCheck's "kernel.*" checks, `llada kernels check`) and timings (KernelBench) the GPU script runs work end to end on the CPU accelerator, and on CUDA where present.</summary>
public sealed class MatMulAttentionBenchTests : IClassFixture<KernelCpuFixture>
{
    private readonly KernelContext _k;

    public MatMulAttentionBenchTests(KernelCpuFixture fixture) => _k = fixture.K;

    [Fact]
    public void Check_OnCpuAccelerator_AllPathsPass()
    {
        using var device = IlgpuBackend.CreateCpu();
        var log = new StringWriter();
        Assert.True(KernelPathsPass(device, KernelCheck.Size.Tiny, log, json: true), log.ToString());
        foreach (string line in log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.True(JsonDocument.Parse(line).RootElement.GetProperty("ok").GetBoolean(), line);
    }

    [Fact]
    public void Run_OnCpuAccelerator_PrintsOneJsonLinePerMeasurement()
    {
        var log = new StringWriter();
        KernelBench.Run(_k, log, json: true);
        string[] lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(9, lines.Length);   // 6 GEMMs (the mixed f32 × BF16 one included) at one size + 3 attention timings at one shape
        foreach (string line in lines)
        {
            var row = JsonDocument.Parse(line).RootElement;
            Assert.Equal("llada", row.GetProperty("ref").GetString());
            Assert.True(row.GetProperty("ms").GetDouble() > 0);
        }
    }

    [GpuFact]
    public void Check_OnCuda_AllPathsMatchCpu()
    {
        using var device = IlgpuBackend.CreateCuda();
        var log = new StringWriter();
        Assert.True(KernelPathsPass(device, KernelCheck.Size.Moderate, log), log.ToString());
    }

    [GpuFact]
    public void Run_OnCuda_TimesEveryKernel()
    {
        using var k = CudaProbe.Create();
        var log = new StringWriter();
        KernelBench.Run(k, log, json: true);
        Assert.NotEmpty(log.ToString());
    }

    /// <summary>Runs the "kernel.*" checks as `llada kernels check` does, one line (or JSON line) each; true when none failed.</summary>
    internal static bool KernelPathsPass(IlgpuBackend device, KernelCheck.Size size, TextWriter log, bool json = false)
    {
        var results = KernelCheck.RunAll(device, size, "kernel.", r => log.WriteLine(json ? r.ToJson() : r.ToString()));
        return results.Count > 0 && results.All(r => r.Passed);
    }
}
