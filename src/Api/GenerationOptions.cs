using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;

namespace LLaDA;

/// <summary>Sampler settings of one generation; every field is optional. A value left null comes from the checkpoint's
/// generation_config.json, else from the built-in default (<see cref="LladaModel.BuiltInDefaults"/>).</summary>
/// <remarks>
/// <para>Precedence, field by field: the options given to <see cref="LladaModel.Generate"/> / <see cref="LladaModel.Chat"/> &gt;
/// generation_config.json (<see cref="GenerationDefaults"/>) &gt; the built-in defaults. Steps and BlockLength that no layer sets are
/// the built-in ones capped at GenLength.</para>
/// <para>Threshold and Factor choose one decoding mode together: when a layer sets either, both come from that layer (an explicit
/// Factor replaces a Threshold from generation_config.json instead of conflicting with it).</para>
/// </remarks>
public sealed record GenerationOptions
{
    /// <summary>Tokens to generate (generation_config.json: max_new_tokens or gen_length).</summary>
    public int? GenLength { get; init; }

    /// <summary>Denoising steps over all blocks (ignored with Threshold/Factor).</summary>
    public int? Steps { get; init; }

    /// <summary>Semi-autoregressive block length; GenLength must be a multiple. Streaming reports one block at a time.</summary>
    public int? BlockLength { get; init; }

    /// <summary>0 = greedy; &gt; 0 Gumbel-max sampling.</summary>
    public double? Temperature { get; init; }

    /// <summary>Classifier-free guidance weight (0 = off).</summary>
    public double? CfgScale { get; init; }

    public Remasking? Remasking { get; init; }

    /// <summary>Fast-dLLM threshold decoding: commit every prediction with confidence ≥ Threshold (at least one per step).</summary>
    public double? Threshold { get; init; }

    /// <summary>Fast-dLLM factor decoding.</summary>
    public double? Factor { get; init; }

    /// <summary>Key/value cache: none, prefix or dual (Fast-dLLM).</summary>
    public CacheMode? Cache { get; init; }

    public ulong? Seed { get; init; }

    /// <summary>Never predict EOS (generate.py logits_eos_inf).</summary>
    public bool? LogitsEosInf { get; init; }

    /// <summary>EOS and end-of-turn commit last (generate.py confidence_eos_eot_inf).</summary>
    public bool? ConfidenceEosEotInf { get; init; }

    /// <summary>EOS padding after the answer up to this many tokens in all (0 = none).</summary>
    public int? PadTo { get; init; }

    /// <summary>Token ids never predicted.</summary>
    public IReadOnlyList<int>? BannedTokens { get; init; }

    /// <summary>These options over <paramref name="lower"/>: each field of this record that is set wins (Threshold and Factor as a pair).</summary>
    public GenerationOptions Over(GenerationOptions? lower)
    {
        if (lower is null) return this;
        bool decoding = Threshold is not null || Factor is not null;
        return new GenerationOptions
        {
            GenLength = GenLength ?? lower.GenLength,
            Steps = Steps ?? lower.Steps,
            BlockLength = BlockLength ?? lower.BlockLength,
            Temperature = Temperature ?? lower.Temperature,
            CfgScale = CfgScale ?? lower.CfgScale,
            Remasking = Remasking ?? lower.Remasking,
            Threshold = decoding ? Threshold : lower.Threshold,
            Factor = decoding ? Factor : lower.Factor,
            Cache = Cache ?? lower.Cache,
            Seed = Seed ?? lower.Seed,
            LogitsEosInf = LogitsEosInf ?? lower.LogitsEosInf,
            ConfidenceEosEotInf = ConfidenceEosEotInf ?? lower.ConfidenceEosEotInf,
            PadTo = PadTo ?? lower.PadTo,
            BannedTokens = BannedTokens ?? lower.BannedTokens,
        };
    }

    /// <summary>The sampler configuration: the set fields over <paramref name="baseline"/>; Steps and BlockLength not set are the
    /// baseline's capped at GenLength. Not validated (<see cref="SamplerConfig.Validate"/>).</summary>
    public SamplerConfig ApplyTo(SamplerConfig baseline)
    {
        int gen = GenLength ?? baseline.GenLength;
        bool decoding = Threshold is not null || Factor is not null;
        return baseline with
        {
            GenLength = gen,
            Steps = Steps ?? Math.Min(baseline.Steps, gen),
            BlockLength = BlockLength ?? Math.Min(baseline.BlockLength, gen),
            Temperature = Temperature ?? baseline.Temperature,
            CfgScale = CfgScale ?? baseline.CfgScale,
            Remasking = Remasking ?? baseline.Remasking,
            Threshold = decoding ? Threshold : baseline.Threshold,
            Factor = decoding ? Factor : baseline.Factor,
            Cache = Cache ?? baseline.Cache,
            Seed = Seed ?? baseline.Seed,
            LogitsEosInf = LogitsEosInf ?? baseline.LogitsEosInf,
            ConfidenceEosEotInf = ConfidenceEosEotInf ?? baseline.ConfidenceEosEotInf,
            PadTo = PadTo ?? baseline.PadTo,
            BannedTokens = BannedTokens ?? baseline.BannedTokens,
        };
    }
}
