using LLaDA.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace LLaDA.Tests.Kernels;

/// <summary>Every primitive of KernelCheck (the same comparisons `llada check` runs on a GPU) at tiny edge shapes on the CPU accelerator.</summary>
[Collection(IlgpuCollection.Name)]
public class KernelCheckTests(IlgpuFixture fx, ITestOutputHelper output)
{
    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (var n in KernelCheck.Names) d.Add(n);
        return d;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Check_MatchesCpuBackend(string name)
    {
        var results = KernelCheck.Run(name, fx.Gpu, KernelCheck.Size.Tiny);
        Assert.NotEmpty(results);
        foreach (var r in results) output.WriteLine($"{r} ({r.Milliseconds:F0} ms)");
        foreach (var r in results) Assert.True(r.Passed, r.ToString());
    }
}
