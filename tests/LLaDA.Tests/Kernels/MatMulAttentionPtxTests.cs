using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Algorithms;
using LLaDA.Diagnostics;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>Every matmul/attention kernel compiles to PTX for SM 9.0 with ILGPU's PTXBackend — no GPU needed — and the PTX has the shape we rely on.</summary>
/// <remarks>This does not run ptxas (not installed here): the GPU script runs `ptxas -arch=sm_90 -v` on the dumped PTX for
/// registers, spills and the inline asm.</remarks>
public sealed class MatMulAttentionPtxTests : IClassFixture<MatMulAttentionPtxTests.PtxFixture>
{
    private readonly PtxFixture _ptx;

    public MatMulAttentionPtxTests(PtxFixture ptx) => _ptx = ptx;

    /// <summary>Compiles every kernel once per test run (a few seconds each).</summary>
    public sealed class PtxFixture : IDisposable
    {
        private readonly Context _context = Context.Create(b => b.Default().EnableAlgorithms());
        private readonly Dictionary<string, string> _ptx = new();

        public string Get(string name)
        {
            lock (_ptx)
            {
                if (!_ptx.TryGetValue(name, out var ptx))
                {
                    var method = KernelPtx.Kernels.Single(k => k.Name == name).Method;
                    _ptx[name] = ptx = KernelPtx.Compile(_context, method);
                }
                return ptx;
            }
        }

        public void Dispose() => _context.Dispose();
    }

    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        // The matmul and attention families (KernelPtx.Kernels holds every kernel; PtxCompileTests compiles them all).
        foreach (var (name, _) in KernelPtx.Kernels)
            if (name.StartsWith("MatMulKernels.", StringComparison.Ordinal) || name.StartsWith("AttentionKernels.", StringComparison.Ordinal)) d.Add(name);
        return d;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Compile_ForSm90_ProducesOneEntryPoint(string name)
    {
        string ptx = _ptx.Get(name);
        Assert.Contains(".version 8.5", ptx);
        Assert.Single(Regex.Matches(ptx, @"\.visible \.entry "));
    }

    [Fact]
    public void TensorCoreKernel_Ptx_IssuesMmaSyncForBf16AndF16()
    {
        string ptx = _ptx.Get("MatMulKernels.TensorCoreKernel");
        // 2 k16 steps × 16 (m16, n8) tiles per k tile, once for each input type.
        Assert.Equal(32, Regex.Matches(ptx, Regex.Escape("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32")).Count);
        Assert.Equal(32, Regex.Matches(ptx, Regex.Escape("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32")).Count);
        // The accumulator registers are declared by inline asm: the declaration must come before the first use in the text.
        int decl = ptx.IndexOf(".reg .f32 tc<64>;", StringComparison.Ordinal);
        Assert.True(decl >= 0 && decl < ptx.IndexOf("mma.sync", StringComparison.Ordinal), "tc registers declared after their first use");
        Assert.Single(Regex.Matches(ptx, Regex.Escape(".reg .f32 tc<64>;")));
    }

    [Theory]
    [InlineData("MatMulKernels.TiledKernel")]
    [InlineData("AttentionKernels.ForwardKernel")]
    [InlineData("AttentionKernels.BackwardDqKernel")]
    [InlineData("AttentionKernels.BackwardDkDvKernel")]
    public void RegisterBlockedKernels_Ptx_UseNoLocalMemory(string name)
    {
        // The accumulator blocks are structs of named fields; an indexed local array would land in .local.
        string ptx = _ptx.Get(name);
        Assert.DoesNotContain("ld.local", ptx);
        Assert.DoesNotContain("st.local", ptx);
    }

    [Fact]
    public void TensorCoreKernel_Ptx_TouchesLocalMemoryOnlyToReadTheAccumulatorsOnce()
    {
        // ILGPU routes an inline-asm output through a local slot: 64 reads of tc0..tc63 in the epilogue, none in the loop.
        string ptx = _ptx.Get("MatMulKernels.TensorCoreKernel");
        Assert.True(Regex.Matches(ptx, @"ld\.local").Count <= 64);
    }

    [Fact]
    public void TiledKernel_Ptx_UsesVectorSharedLoads()
    {
        string ptx = _ptx.Get("MatMulKernels.TiledKernel");
        Assert.Contains("ld.shared.v4.f32", ptx);
        Assert.Contains("ld.v4.f32", ptx);   // float4 global loads (generic address space)
    }

    [Fact]
    public void DumpAll_WritesOnePtxFilePerKernel()
    {
        string dir = Path.Combine(Path.GetTempPath(), "llada-ptx-" + Environment.ProcessId);
        try
        {
            var (paths, _) = KernelPtx.WriteAll(dir);
            Assert.Equal(KernelPtx.Kernels.Count, paths.Count);
            foreach (var p in paths) Assert.Contains(".entry", File.ReadAllText(p));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
