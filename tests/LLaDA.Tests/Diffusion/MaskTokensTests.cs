using LLaDA.Diffusion;
using LLaDA.Diffusion.Training;
using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tensors.Random;
using LLaDA.Tests.Kernels;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Diffusion;

/// <summary>The test's own per-token forward process, written from SPEC §5.1/§5.3 and the counter layout (word 0 cut, word 1 its length, words 2 … times, word 2 + B + i·L + j token draws).</summary>
internal static class NaiveNoise
{
    public const int Mask = 99;
    public const float Eps = 1e-3f;

    public static float U(ulong seed, ulong step, long word) => Philox.ToUniform(Philox.Word(seed, step << 32, word));

    /// <summary>p_mask per row for a time mode: uniform t_i = u(2 + i); low-discrepancy t_i = (u(2) + i/B) mod 1 in double; antithetic pairs u(2 + ⌊i/2⌋), 1 − u; then the t_min floor and ε.</summary>
    public static float[] PMask(TimeSampling mode, int b, ulong seed, ulong step, float minT)
    {
        var p = new float[b];
        for (int i = 0; i < b; i++)
        {
            float t = mode switch
            {
                TimeSampling.Uniform => U(seed, step, 2 + i),
                TimeSampling.LowDiscrepancy => (float)((U(seed, step, 2) + (double)i / b) % 1.0),
                _ => i % 2 == 0 ? U(seed, step, 2 + i / 2) : 1 - U(seed, step, 2 + i / 2),
            };
            if (minT > 0) t = minT + (1 - minT) * t;
            p[i] = (1 - Eps) * t + Eps;
        }
        return p;
    }

    public static int Cut(ulong seed, ulong step, int l, float prob) => U(seed, step, 0) < prob ? 1 + (int)(Philox.Word(seed, step << 32, 1) % (uint)l) : l;

    /// <summary>Dense (noisy, weights) over (B, cut), one token at a time.</summary>
    public static (int[] Noisy, float[] Weights) Dense(int[] ids, int b, int l, int cut, int[]? prompts, float[] p, ulong seed, ulong step)
    {
        var noisy = new int[b * cut];
        var w = new float[b * cut];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < cut; j++)
            {
                int prompt = prompts?[i] ?? 0;
                bool masked = j >= prompt && U(seed, step, 2 + b + (long)i * l + j) < p[i];
                noisy[i * cut + j] = masked ? Mask : ids[i * l + j];
                w[i * cut + j] = !masked ? 0f : prompts is null ? 1f / (p[i] * b * cut) : 1f / (p[i] * (l - prompt) * b);
            }
        return (noisy, w);
    }
}

/// <summary>IBackend.MaskTokens on CpuBackend and ForwardProcess on it against <see cref="NaiveNoise"/>, for every time mode and a t_min.</summary>
public class MaskTokensTests
{
    public static TheoryData<TimeSampling, float, int> Cases()
    {
        var d = new TheoryData<TimeSampling, float, int>();
        foreach (var mode in new[] { TimeSampling.Uniform, TimeSampling.LowDiscrepancy, TimeSampling.Antithetic })
            foreach (float minT in new[] { 0f, 0.3f })
                foreach (int kind in new[] { 0, 1, 2 }) // 0 pre-training uncut, 1 pre-training cut, 2 SFT
                    d.Add(mode, minT, kind);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Cpu_EqualsNaivePerToken(TimeSampling mode, float minT, int kind)
    {
        const int b = 5, l = 23;
        const ulong seed = 41, step = 6;
        var ids = Rng.Ints(b * l, 80 + kind, 0, 90);
        int[]? prompts = kind == 2 ? [0, 3, 22, 7, 11] : null;
        float prob = kind == 1 ? 1f : 0f;
        var config = new NoiseConfig { Time = mode, MinT = minT, RandomLengthProb = prob };
        int cut = NaiveNoise.Cut(seed, step, l, prob);
        if (kind == 1) Assert.True(cut < l, "the forced cut of this seed must shorten the batch");
        var p = NaiveNoise.PMask(mode, b, seed, step, minT);
        var (noisy, w) = NaiveNoise.Dense(ids, b, l, cut, prompts, p, seed, step);
        Assert.Contains(noisy, t => t == NaiveNoise.Mask);
        Assert.Contains(w, x => x == 0f);

        // The op itself with the naive p_mask.
        using (var scope = new TensorScope())
        {
            var cpu = CpuBackend.Default;
            var (tn, tw) = Tensor.MaskTokens(Tensor.FromArray(ids, [b, l], cpu), Tensor.FromArray(p, cpu), prompts is null ? null : Tensor.FromArray(prompts, cpu),
                                             cut, NaiveNoise.Mask, seed, step);
            Assert.Equal([b, cut], tn.Shape.ToArray());
            Assert.Equal(noisy, tn.ToIntArray());
            Assert.Equal(w, tw.ToArray());
        }

        // ForwardProcess on the CPU: the same p_mask, noisy ids and the compacted lists in row-major order.
        using var m = prompts is null
            ? ForwardProcess.Pretrain(ids, b, l, NaiveNoise.Mask, seed, step, config)
            : ForwardProcess.Sft(ids, b, l, prompts, NaiveNoise.Mask, seed, step, config);
        Assert.Equal(cut, m.Length);
        Assert.Equal(p, m.PMask);
        Assert.Equal(noisy, m.Noisy.ToIntArray());
        var rows = Enumerable.Range(0, b * cut).Where(e => w[e] != 0f).ToArray();
        Assert.Equal(rows, m.MaskedRows.ToIntArray());
        Assert.Equal(rows.Select(e => ids[e / cut * l + e % cut]).ToArray(), m.Targets.ToIntArray());
        Assert.Equal(rows.Select(e => w[e]).ToArray(), m.Weights.ToArray());
    }

    [Fact]
    public void BadShapes_Throw()
    {
        using var scope = new TensorScope();
        var ids = Tensor.Zeros([2, 4], DType.I32);
        var p = Tensor.Zeros([2], DType.F32);
        Assert.Throws<TensorException>(() => Tensor.MaskTokens(ids, Tensor.Zeros([3], DType.F32), null, 4, 1, 1, 1));
        Assert.Throws<TensorException>(() => Tensor.MaskTokens(Tensor.Zeros([2, 4], DType.F32), p, null, 4, 1, 1, 1));
        Assert.Throws<TensorException>(() => Tensor.MaskTokens(ids, p, null, 0, 1, 1, 1));
        Assert.Throws<TensorException>(() => Tensor.MaskTokens(ids, p, null, 5, 1, 1, 1));
        Assert.Throws<TensorException>(() => Tensor.MaskTokens(ids, p, Tensor.Zeros([2], DType.I32), 3, 1, 1, 1)); // SFT is never cut
        Assert.Throws<TensorException>(() => Tensor.MaskTokens(ids, p, Tensor.Zeros([1], DType.I32), 4, 1, 1, 1));
    }
}

/// <summary>The ILGPU CPU accelerator's MaskTokens kernel and ForwardProcess on it against CpuBackend, bit for bit (tiny shapes).</summary>
[Collection(IlgpuCollection.Name)]
public class MaskTokensIlgpuTests(IlgpuFixture fx)
{
    [Theory]
    [InlineData(TimeSampling.Uniform, 0f, 0)]
    [InlineData(TimeSampling.LowDiscrepancy, 0.3f, 1)]
    [InlineData(TimeSampling.Antithetic, 0.1f, 2)]
    public void Ilgpu_EqualsCpu(TimeSampling mode, float minT, int kind)
    {
        const int b = 3, l = 13;
        const ulong seed = 43, step = 2;
        var ids = Rng.Ints(b * l, 90 + kind, 0, 90);
        int[]? prompts = kind == 2 ? [0, 4, 12] : null;
        int cut = kind == 1 ? NaiveNoise.Cut(seed, step, l, 1f) : l;
        var p = NaiveNoise.PMask(mode, b, seed, step, minT);
        (int[], float[]) Run(IBackend be)
        {
            using var scope = new TensorScope();
            var (n, w) = Tensor.MaskTokens(Tensor.FromArray(ids, [b, l], be), Tensor.FromArray(p, be), prompts is null ? null : Tensor.FromArray(prompts, be),
                                           cut, NaiveNoise.Mask, seed, step);
            return (n.ToIntArray(), w.ToArray());
        }
        var (cn, cw) = Run(CpuBackend.Default);
        var (gn, gw) = Run(fx.Gpu);
        Assert.Contains(cn, t => t == NaiveNoise.Mask);
        Assert.Equal(cn, gn);
        Assert.Equal(cw.Select(BitConverter.SingleToInt32Bits), gw.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData(false, 1f)]
    [InlineData(false, 0f)]
    [InlineData(true, 0f)]
    public void ForwardProcess_OnIlgpu_GivesTheCpuMaskedBatch(bool sft, float cutProb)
    {
        const int b = 4, l = 11;
        var ids = Rng.Ints(b * l, 95, 0, 90);
        int[] prompts = [1, 0, 10, 5];
        var config = new NoiseConfig { RandomLengthProb = cutProb, Time = TimeSampling.Antithetic, MinT = 0.05f };
        MaskedBatch Make(IBackend be) => sft
            ? ForwardProcess.Sft(ids, b, l, prompts, NaiveNoise.Mask, 44, 3, config, be)
            : ForwardProcess.Pretrain(ids, b, l, NaiveNoise.Mask, 44, 3, config, be);
        using var c = Make(CpuBackend.Default);
        using var g = Make(fx.Gpu);
        Assert.Same(fx.Gpu, g.Noisy.Backend);
        Assert.Equal(c.Length, g.Length);
        Assert.Equal(c.PMask, g.PMask);
        Assert.True(c.MaskedCount > 0);
        Assert.Equal(c.Noisy.ToIntArray(), g.Noisy.ToIntArray());
        Assert.Equal(c.MaskedRows.ToIntArray(), g.MaskedRows.ToIntArray());
        Assert.Equal(c.Targets.ToIntArray(), g.Targets.ToIntArray());
        Assert.Equal(c.Weights.ToArray().Select(BitConverter.SingleToInt32Bits), g.Weights.ToArray().Select(BitConverter.SingleToInt32Bits));
    }
}
