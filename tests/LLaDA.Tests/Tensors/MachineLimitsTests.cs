using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Tensors;

/// <summary>Runs alone: the flop counter is process-wide, so no other test may run kernels while one counts.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FlopCounterCollection
{
    public const string Name = "CpuFlops (serial)";
}

[Collection(FlopCounterCollection.Name)]
public sealed unsafe class MachineLimitsTests
{
    [Fact]
    public void Sgemm_CountsTwoMnkPerProduct_AndNothingWhenKIsZero()
    {
        const int batch = 3, m = 5, n = 7, k = 11;
        var a = new float[batch * m * k];
        var b = new float[batch * k * n];
        var c = new float[batch * m * n];
        fixed (float* pa = a, pb = b, pc = c)
        {
            long before = CpuFlops.Executed;
            CpuMatMul.Sgemm(batch, m, n, k, 1f, pa, k, m * k, false, pb, n, k * n, false, 0f, pc, n, m * n);
            Assert.Equal(2L * batch * m * n * k, CpuFlops.Executed - before);

            before = CpuFlops.Executed;
            CpuMatMul.Sgemm(batch, m, n, 0, 1f, pa, 1, 0, false, pb, n, 0, false, 0f, pc, n, m * n);
            Assert.Equal(0L, CpuFlops.Executed - before);
        }
    }

    [Theory]
    [InlineData(AttnMask.None)]
    [InlineData(AttnMask.Causal)]
    public void Attention_CountsTwoProductsForward_TwiceThatBackward(AttnMask mask)
    {
        const int B = 2, H = 3, T = 9, HS = 8;
        var s = new AttentionShape(B, H, H, T, T, HS, 1f / MathF.Sqrt(HS), mask);
        var layout = AttnLayout.Bhtd(H, T, HS);
        int n = B * H * T * HS;
        var rng = new Random(1);
        float[] q = Rand(n, rng), k = Rand(n, rng), v = Rand(n, rng), dO = Rand(n, rng);
        float[] o = new float[n], lse = new float[B * H * T], dq = new float[n], dk = new float[n], dv = new float[n];
        // By hand: q·kᵀ and p·v are 2·T·T·HS each per (b, h); a causal mask keeps half of the nominal work.
        long forward = 2L * 2 * B * H * T * T * HS / (mask == AttnMask.Causal ? 2 : 1);
        fixed (float* pq = q, pk = k, pv = v, pdo = dO, po = o, plse = lse, pdq = dq, pdk = dk, pdv = dv)
        {
            long before = CpuFlops.Executed;
            CpuAttention.Forward(s, pq, layout, pk, layout, pv, layout, null, po, layout, plse);
            Assert.Equal(forward, CpuFlops.Executed - before);

            before = CpuFlops.Executed;
            CpuAttention.Backward(s, pq, layout, pk, layout, pv, layout, null, po, layout, plse, pdo, layout, pdq, pdk, pdv);
            Assert.Equal(2 * forward, CpuFlops.Executed - before);
        }
    }

    [Fact]
    public void Measure_GivesPositiveFiniteLimits_OnTheGemmKernelsVectorWidth()
    {
        var limits = MachineLimits.Measure(threads: 1, reps: 1);
        Assert.True(double.IsFinite(limits.PeakGflops) && limits.PeakGflops > 0, $"peak {limits.PeakGflops}");
        Assert.True(double.IsFinite(limits.TriadGBps) && limits.TriadGBps > 0, $"triad {limits.TriadGBps}");
        Assert.Equal(1, limits.Threads);
        // The peak loop must run at the width the GEMM kernel uses, or fractions of it would compare unlike things.
        string expected = CpuMatMul.BestAvailable switch
        {
            GemmKernel.Vector512 => "AVX-512 zmm",
            GemmKernel.Vector256 => "AVX2 ymm",
            _ => "scalar",
        };
        Assert.Equal(expected, limits.Isa);
    }

    private static float[] Rand(int n, Random rng)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
