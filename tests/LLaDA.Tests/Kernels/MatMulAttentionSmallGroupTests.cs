using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime.CPU;
using LLaDA.Diagnostics;
using LLaDA.Kernels;
using LLaDA.Tensors;
using Xunit;
using static LLaDA.Tests.Kernels.AttentionKernelTests;
using static LLaDA.Tests.Testing.AttentionHarness;
using static LLaDA.Tests.Kernels.MatMulKernelTests;

namespace LLaDA.Tests.Kernels;

/// <summary>On an accelerator limited to 128 threads per group (the 4-warp CPU device the backend tests use) the public entry points fall back to the naive kernels and still match.</summary>
public sealed class MatMulAttentionSmallGroupTests : IClassFixture<MatMulAttentionSmallGroupTests.SmallGroupFixture>
{
    private readonly KernelContext _k;

    public MatMulAttentionSmallGroupTests(SmallGroupFixture fixture) => _k = fixture.K;

    /// <summary>A CPU accelerator with warp 32 and 4 warps per group.</summary>
    public sealed class SmallGroupFixture : IDisposable
    {
        public SmallGroupFixture()
        {
            var context = Context.Create(b => b.CPU(new CPUDevice(32, 4, 1)).EnableAlgorithms());
            K = new KernelContext(context, context.CreateCPUAccelerator(0));
        }

        public KernelContext K { get; }

        public void Dispose() => K.Dispose();
    }

    [Fact]
    public void Device_HasFewerThan256ThreadsPerGroup()
    {
        Assert.Equal(128, _k.Accelerator.MaxNumThreadsPerGroup);
        Assert.False(MatMulKernels.CanRunTiles(_k));
    }

    [Fact]
    public void Sgemm_AboveNaiveLimit_FallsBackToNaiveAndMatches() =>
        MatMulKernelTests.Check(_k, PathKind.Dispatch, new Gemm(2, 65, 66, 67, true, false, Beta: 0.5f, Seed: 3));

    [Theory]
    [InlineData(PathKind.Bf16)]
    [InlineData(PathKind.F16)]
    public void Gemm16_FallsBackToNaiveAndMatches(PathKind path) =>
        MatMulKernelTests.Check(_k, path, new Gemm(2, 33, 17, 40, false, true, Alpha: 2f, Seed: 4));

    [Fact]
    public void SgemmTiled_ThrowsNotSupported()
    {
        using var a = _k.Accelerator.Allocate1D<float>(16);
        Assert.Throws<NotSupportedException>(() =>
            MatMulKernels.SgemmTiled(_k, 1, 4, 4, 4, 1f, a.View, 4, 0, false, a.View, 4, 0, false, 0f, a.View, 4, 0));
    }

    [Theory]
    [InlineData(AttnMask.None)]
    [InlineData(AttnMask.Causal)]
    public void Attention_FallsBackToNaiveAndMatches(AttnMask mask) =>
        AttentionKernelTests.Check(_k, new Case(B: 4, NH: 2, NKV: 1, Tq: 7, Tk: 9, HS: 6, Mask: mask, Pad: PadKind.Mixed, Seed: 5));

    [Fact]
    public void KernelBenchCheck_PassesWithFallbacks()
    {
        // The same 4-warp device as an IlgpuBackend: KernelCheck's "kernel.*" checks (the tiled SGEMM is skipped there).
        using var device = IlgpuBackend.CreateCpu(warpsPerGroup: 4);
        var log = new StringWriter();
        Assert.True(MatMulAttentionBenchTests.KernelPathsPass(device, KernelCheck.Size.Tiny, log), log.ToString());
    }
}
