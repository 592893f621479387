using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Sampling.Policies;
using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Diffusion.Sampling;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>The reverse sampler on ILGPU's CPU accelerator: token-identical to the CPU backend on every mode, and only (B·w) ids cross to the host per step.</summary>
[Collection(IlgpuCollection.Name)]
public class SamplerOnIlgpuTests(IlgpuFixture fx)
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2, EndOfTurn: 3);
    private const int V = 24;

    /// <summary>An oracle with position-dependent logits (ties and near-ties included) whose logits are put on a given backend; counts the bytes its own input read-back costs.</summary>
    private sealed class OnBackend(IBackend backend) : ILogitsModel
    {
        private readonly OracleModel _inner = new(V, j => (4 + 7 * j) % V, j => 0.3 * (j % 5));

        public int VocabSize => V;
        public IBackend Backend => backend;
        public long ModelBytes { get; private set; }

        public Tensor Logits(Tensor ids, Tensor? keyPadding)
        {
            long before = (backend as IlgpuBackend)?.DownloadedBytes ?? 0;
            using var cpuIds = ids.To(CpuBackend.Default);
            using var l = _inner.Logits(cpuIds, null);
            // Position- and id-dependent noise so that different rows and steps differ.
            var f = l.ToArray();
            var x = cpuIds.ToIntArray();
            for (int k = 0; k < f.Length; k++) f[k] += 0.05f * ((k * 7 + x[k / V] * 3) % 11);
            ModelBytes += ((backend as IlgpuBackend)?.DownloadedBytes ?? 0) - before;
            return Tensor.FromArray(f, l.ShapeArray(), backend);
        }
    }

    /// <summary>Confidence scored on the host from the logits (a policy of one's own): the fallback path.</summary>
    private sealed class HostConfidence : IUnmaskingPolicy
    {
        public string Name => "host-confidence";
        public double Score(ReadOnlySpan<double> logits, int token, in ScoreSite site) => ConfidencePolicy.Instance.Score(logits, token, site);
    }

    public static TheoryData<string> Modes => new() { "confidence", "random", "margin", "entropy", "origin", "blocks", "threshold", "factor", "cfg", "temperature", "eos", "host", "entropy-threshold" };

    private static SamplerConfig Config(string mode) => mode switch
    {
        "confidence" => new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 4 },
        "random" => new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 4, Remasking = Remasking.Random, Seed = 3 },
        "margin" => new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 4, Remasking = Remasking.Margin, Temperature = 0.5, Seed = 4 },
        "entropy" => new SamplerConfig { GenLength = 8, BlockLength = 4, Steps = 4, Remasking = Remasking.Entropy },
        "origin" => new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8, Remasking = Remasking.Origin, Seed = 9 },
        "blocks" => new SamplerConfig { GenLength = 8, BlockLength = 4, Steps = 4 },
        "threshold" => new SamplerConfig { GenLength = 8, BlockLength = 4, Threshold = 0.2 },
        "factor" => new SamplerConfig { GenLength = 8, BlockLength = 8, Factor = 1.5, Temperature = 0.8, Seed = 2 },
        "cfg" => new SamplerConfig { GenLength = 8, BlockLength = 4, Steps = 4, CfgScale = 1.5, Temperature = 0.7, Seed = 5 },
        "temperature" => new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8, Temperature = 1.3, Seed = 11 },
        "eos" => new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 4, LogitsEosInf = true, ConfidenceEosEotInf = true, Temperature = 0.9, Seed = 6 },
        "host" => new SamplerConfig { GenLength = 8, BlockLength = 4, Steps = 4, Policy = new HostConfidence(), Threshold = 0.1, CfgScale = 0.5 },
        "entropy-threshold" => new SamplerConfig { GenLength = 8, BlockLength = 8, Remasking = Remasking.Entropy, Threshold = 0.15, Temperature = 0.4, Seed = 1 },
        _ => throw new ArgumentException(mode),
    };

    // Batch of 2 with prompts of different lengths (left padding).
    private static readonly int[][] Prompts = [[2, 5, 6], [2, 7]];

    [Theory]
    [MemberData(nameof(Modes))]
    public void Generate_IsTokenIdentical_ToTheCpuBackend_AndCopiesOnlyIdsPerStep(string mode)
    {
        var cfg = Config(mode);
        var cpu = new ReverseSampler(new OnBackend(CpuBackend.Default), Sp).Generate(Prompts, cfg);
        var model = new OnBackend(fx.Gpu);
        long before = fx.Gpu.DownloadedBytes;
        var dev = new ReverseSampler(model, Sp).Generate(Prompts, cfg);
        long samplerBytes = fx.Gpu.DownloadedBytes - before - model.ModelBytes;
        Assert.Equal(cpu.Generated, dev.Generated);
        Assert.Equal(cpu.FixedAtStep, dev.FixedAtStep);
        Assert.Equal(cpu.ForwardPasses, dev.ForwardPasses);
        // Per step: x0 and take, B·w I32 each; a policy of one's own also reads the logits (B or 2B)·w·V F32.
        int b = Prompts.Length, w = cfg.BlockLength;
        long idsPerStep = 2L * b * w * sizeof(int);
        long logitsPerStep = (cfg.CfgScale > 0 ? 2L : 1L) * b * w * V * sizeof(float);
        if (mode == "host") Assert.Equal(dev.Steps * (idsPerStep + logitsPerStep), samplerBytes);
        else Assert.Equal(dev.Steps * idsPerStep, samplerBytes);
    }

    /// <summary>The oracle's favourite token at answer position 3 is the mask id (1): the threshold mode, which runs until the
    /// block has no mask, once spun forever committing [MASK] there. It must end with no mask left, on both backends.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ThresholdMode_WhenTheModelFavoursTheMaskId_EndsWithNoMaskLeft(bool device)
    {
        var cfg = Config("threshold");
        int steps = 0;
        var r = new ReverseSampler(new OnBackend(device ? fx.Gpu : CpuBackend.Default), Sp).Generate(Prompts, cfg, _ =>
        {
            if (++steps > 4 * cfg.GenLength) throw new InvalidOperationException($"no progress after {steps} steps");
        });
        Assert.All(r.Generated, row => Assert.DoesNotContain(Sp.Mask, row));
        Assert.True(r.Steps <= cfg.GenLength, $"{r.Steps} steps for {cfg.GenLength} tokens");
    }

    [Fact]
    public void Infill_IsTokenIdentical_ToTheCpuBackend()
    {
        int[][] seqs = [[2, 1, 1, 9, 1, 4, 1, 1], [2, 8, 1, 1, 1, 1, 5, 1]];
        foreach (var cfg in new[] { new SamplerConfig { Steps = 3, Temperature = 0.6, Seed = 4 }, new SamplerConfig { Steps = 8, Threshold = 0.3 } })
        {
            var cpu = new ReverseSampler(new OnBackend(CpuBackend.Default), Sp).Infill(seqs, cfg);
            var dev = new ReverseSampler(new OnBackend(fx.Gpu), Sp).Infill(seqs, cfg);
            Assert.Equal(cpu.Generated, dev.Generated);
            Assert.Equal(cpu.FixedAtStep, dev.FixedAtStep);
        }
    }
}
