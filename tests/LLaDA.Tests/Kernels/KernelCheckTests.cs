using LLaDA.Diagnostics;
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

    [Fact]
    public void Checks_CoverEveryElementwiseFunctor()
    {
        // Every IUnaryOp/IBinaryOp struct has its own check, so a new functor cannot skip the device comparison.
        var names = KernelCheck.Names.ToHashSet();
        var aliases = new Dictionary<string, string> { ["equal"] = "eq", ["greater"] = "gt", ["less"] = "lt" };
        foreach (var t in typeof(LLaDA.Tensors.Ops.IUnaryOp).Assembly.GetTypes().Where(t => t.IsValueType && t.Namespace == "LLaDA.Tensors.Ops"))
        {
            string kind = typeof(LLaDA.Tensors.Ops.IUnaryOp).IsAssignableFrom(t) ? "unary" : typeof(LLaDA.Tensors.Ops.IBinaryOp).IsAssignableFrom(t) ? "binary" : "";
            if (kind.Length == 0) continue;
            string n = t.Name[..^2].ToLowerInvariant();
            n = aliases.GetValueOrDefault(n, n);
            Assert.True(names.Contains($"{kind}.{n}"), $"{t.Name} has no '{kind}.{n}' kernel check");
        }
    }
}
