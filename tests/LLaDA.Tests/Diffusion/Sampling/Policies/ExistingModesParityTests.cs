using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Sampling.Policies;
using LLaDA.Nn;
using Xunit;

namespace LLaDA.Tests.Diffusion.Sampling.Policies;

/// <summary>The unmasking-policy refactor keeps every existing sampler mode token-identical: outputs recorded with the
/// sampler as it was before policies existed (commit 07bbb7e, where scoring was inline in ReverseSampler) on a tiny
/// random-weight model whose logits depend on the whole context, so any change of commit order changes the tokens.</summary>
public class ExistingModesParityTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2, EndOfTurn: 3);

    private static MaskPredictor Model() => new(Presets.Tiny(16, Sp.Mask, Sp.Eos) with { InitStd = 0.6f }, seed: 77);

    /// <summary>(name, config) of every existing mode: blocks, temperature, CFG, batching with padding, EOS flags, Fast-dLLM threshold/factor, both caches, random remasking.</summary>
    public static IEnumerable<(string Name, SamplerConfig Cfg)> Modes()
    {
        var b = new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8 };
        yield return ("plain", b);
        yield return ("blocks", b with { BlockLength = 4, Steps = 4 });
        yield return ("temperature", b with { Temperature = 0.8, Seed = 5 });
        yield return ("cfg", b with { CfgScale = 1.5 });
        yield return ("eos-flags", b with { LogitsEosInf = true, ConfidenceEosEotInf = true });
        yield return ("threshold", b with { BlockLength = 4, Threshold = 0.3 });
        yield return ("factor", b with { BlockLength = 4, Factor = 1.0 });
        yield return ("prefix-cache", b with { BlockLength = 4, Threshold = 0.3, Cache = CacheMode.Prefix });
        yield return ("dual-cache", b with { BlockLength = 4, Steps = 4, Cache = CacheMode.Dual });
        yield return ("random", b with { Remasking = Remasking.Random, Seed = 9 });
        yield return ("random-blocks-T", b with { Remasking = Remasking.Random, BlockLength = 4, Steps = 4, Temperature = 1.0, Seed = 2 });
        yield return ("random-threshold", b with { Remasking = Remasking.Random, Threshold = 0.5, Seed = 4 });
    }

    /// <summary>Tokens and commit steps of a batch of two prompts of different lengths, as one string.</summary>
    private static string Run(MaskPredictor model, SamplerConfig cfg)
    {
        var r = new ReverseSampler(new MaskPredictorLogits(model), Sp).Generate([[2, 7, 9, 4], [2, 5]], cfg);
        return string.Join(";", r.Generated.Select((g, i) => string.Join(",", g) + "@" + string.Join(",", r.FixedAtStep[i]))) + $"#{r.ForwardPasses}";
    }

    private static string RunInfill(MaskPredictor model, SamplerConfig cfg)
    {
        var r = new ReverseSampler(new MaskPredictorLogits(model), Sp).Infill([[2, 1, 1, 1, 9, 1, 6, 0], [2, 5, 1, 1, 1, 1, 4, 0]], cfg);
        return string.Join(";", r.Generated.Select((g, i) => string.Join(",", g) + "@" + string.Join(",", r.FixedAtStep[i]))) + $"#{r.ForwardPasses}";
    }

    /// <summary>Recorded at commit 07bbb7e (before policies): "tokens@commit steps" per row, then "#forward passes".</summary>
    private static readonly Dictionary<string, string> Golden = new()
    {
        ["plain"] = "12,6,7,7,7,12,12,6@0,1,3,7,6,4,5,2;5,12,12,12,7,7,7,12@0,3,1,5,6,4,7,2#8",
        ["blocks"] = "12,6,7,7,7,12,12,6@0,1,0,1,3,2,3,2;5,12,12,12,7,7,7,12@0,1,0,1,3,2,3,2#4",
        ["temperature"] = "12,6,7,7,7,12,12,6@0,1,3,7,6,5,4,2;5,12,12,7,7,7,7,12@0,2,1,6,5,7,4,3#8",
        ["cfg"] = "3,12,2,2,2,3,15,10@6,2,5,4,1,7,0,3;14,15,12,12,2,2,2,2@5,0,3,4,6,1,2,7#8",
        ["eos-flags"] = "12,6,7,7,7,12,12,6@0,1,3,7,6,4,5,2;5,12,12,12,7,7,7,12@0,3,1,5,6,4,7,2#8",
        ["threshold"] = "12,6,7,7,7,12,12,6@0,0,0,0,1,1,1,1;5,12,12,12,7,7,7,12@0,0,0,0,1,1,1,1#2",
        ["factor"] = "12,6,7,7,7,12,12,6@0,0,0,0,1,1,1,1;5,12,12,12,7,7,7,12@0,0,0,0,3,2,3,1#4",
        ["prefix-cache"] = "12,6,7,7,7,12,12,6@0,0,0,0,1,1,1,1;5,12,12,12,7,7,7,12@0,0,0,0,1,1,1,1#2",
        ["dual-cache"] = "12,6,7,7,7,12,12,6@0,1,0,1,3,2,3,2;5,12,12,12,7,7,7,12@0,1,0,1,3,2,3,2#4",
        ["random"] = "11,14,7,7,7,12,12,3@7,3,2,5,1,0,4,6;12,5,6,5,3,7,7,12@4,3,2,7,0,6,5,1#8",
        ["random-blocks-T"] = "12,6,7,7,7,15,12,6@0,1,1,0,2,3,3,2;3,12,12,12,12,7,7,12@1,0,0,1,3,2,2,3#4",
        ["random-threshold"] = "12,6,7,7,3,12,12,6@1,0,0,2,0,1,1,1;5,12,12,12,7,3,7,12@0,0,0,0,2,0,1,0#3",
        ["infill"] = "3,6,12,12@2,0,3,1;7,12,12,12@3,2,1,0#4",
        ["infill-random"] = "3,7,12,12@0,2,0,1;7,12,12,12@1,2,0,0#3",
        ["infill-threshold"] = "3,6,12,12@0,0,0,0;5,12,12,12@0,0,0,0#1",
    };

    private static IEnumerable<(string Name, SamplerConfig Cfg)> InfillModes() =>
    [
        ("infill", new SamplerConfig { Steps = 8 }),
        ("infill-random", new SamplerConfig { Steps = 3, Remasking = Remasking.Random, Seed = 1 }),
        ("infill-threshold", new SamplerConfig { Threshold = 0.4 }),
    ];

    [Fact]
    public void ExistingModes_AfterPolicyRefactor_AreTokenIdenticalToRecordedOutputs()
    {
        using var model = Model();
        foreach (var (name, cfg) in Modes()) Assert.Equal(Golden[name], Run(model, cfg));
        foreach (var (name, cfg) in InfillModes()) Assert.Equal(Golden[name], RunInfill(model, cfg));
    }

    [Fact]
    public void ConfidencePolicy_GivenExplicitly_EqualsTheDefault()
    {
        using var model = Model();
        foreach (var (name, cfg) in Modes().Where(m => m.Cfg.Remasking == Remasking.LowConfidence))
            Assert.Equal(Golden[name], Run(model, cfg with { Policy = ConfidencePolicy.Instance }));
    }
}
