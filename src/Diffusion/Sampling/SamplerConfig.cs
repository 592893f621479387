namespace LLaDA.Diffusion.Sampling;

/// <summary>How the sampler picks which predicted tokens to commit each step: the built-in unmasking policies (Sampling/Policies, one file each).</summary>
public enum Remasking
{
    /// <summary>Commit the most confident predictions (softmax probability of the chosen token) — LLaDA's default ("confidence", alias "low_confidence").</summary>
    LowConfidence,

    /// <summary>Commit uniformly random masked positions.</summary>
    Random,

    /// <summary>Commit the largest top-1 − top-2 probability margins first.</summary>
    Margin,

    /// <summary>Commit the lowest-entropy predictive distributions first (score −H).</summary>
    Entropy,

    /// <summary>Commit in one fixed random order of the positions per sequence (Dream's "origin").</summary>
    Origin,
}

/// <summary>Settings of the reverse process; defaults equal LLaDA generate.py's (SPEC §6.1).</summary>
public sealed record SamplerConfig
{
    /// <summary>Total denoising steps over all blocks (must be a multiple of the block count).</summary>
    public int Steps { get; init; } = 128;

    public int GenLength { get; init; } = 128;

    /// <summary>Semi-autoregressive when smaller than GenLength: tokens are only committed inside the current block.</summary>
    public int BlockLength { get; init; } = 128;

    /// <summary>When &gt; 0, every sequence is extended after its answer with EOS padding up to this many tokens (prompt + answer +
    /// padding), the layout of the training rows ([BOS] document [EOS] padding): the padding is context the model attends to —
    /// it fixes the answer's length as training did — and is never generated. 0 = no padding (generate.py).</summary>
    public int PadTo { get; init; }

    /// <summary>0 = greedy; &gt; 0 samples by Gumbel-max in float64.</summary>
    public double Temperature { get; init; }

    /// <summary>Classifier-free guidance weight w: logits = uncond + (w + 1)(cond − uncond); 0 disables.</summary>
    public double CfgScale { get; init; }

    public Remasking Remasking { get; init; } = Remasking.LowConfidence;

    /// <summary>A policy of one's own (a fork's experiment); when null the built-in policy of <see cref="Remasking"/> is used.</summary>
    public LLaDA.Diffusion.Sampling.Policies.IUnmaskingPolicy? Policy { get; init; }

    /// <summary>The policy that scores positions: <see cref="Policy"/>, or the one <see cref="Remasking"/> names.</summary>
    public LLaDA.Diffusion.Sampling.Policies.IUnmaskingPolicy UnmaskingPolicy => Policy ?? LLaDA.Diffusion.Sampling.Policies.UnmaskingPolicies.For(Remasking);

    /// <summary>EOS can never be predicted (generate.py logits_eos_inf).</summary>
    public bool LogitsEosInf { get; init; }

    /// <summary>Token ids that can never be predicted, like EOS under <see cref="LogitsEosInf"/> (their logits are −∞ before x0 is
    /// chosen): e.g. the punctuation when a poem's format already places it. Null or empty: none.</summary>
    public IReadOnlyList<int>? BannedTokens { get; init; }

    /// <summary>EOS and EoT predictions get confidence 0 so they commit last (generate.py confidence_eos_eot_inf, with the Q1 aliasing bug fixed).</summary>
    public bool ConfidenceEosEotInf { get; init; }

    /// <summary>Seed of the Philox streams used for Gumbel noise and random remasking.</summary>
    public ulong Seed { get; init; }

    /// <summary>Fast-dLLM confidence-threshold decoding: each step commits the most confident masked token and every other one with confidence ≥ Threshold; blocks run until no mask is left (Steps is then ignored). With another policy the rule applies to its score on the scale of <see cref="LLaDA.Diffusion.Sampling.Policies.IUnmaskingPolicy.ThresholdValue"/> (margin: the margin; entropy: exp(−H)).</summary>
    public double? Threshold { get; init; }

    /// <summary>Fast-dLLM factor decoding: accept the sorted confidences while c[i] ≥ 1 − Factor/(i + 2) (SPEC §8.3).</summary>
    public double? Factor { get; init; }

    /// <summary>Key/value caching across steps (Fast-dLLM prefix or dual cache); needs a model that supports it.</summary>
    public LLaDA.Nn.CacheMode Cache { get; init; } = LLaDA.Nn.CacheMode.None;

    /// <summary>Whether a model with hidden-state access (<see cref="IHiddenStatesModel"/>) is sampled through the fused LM head:
    /// only the masked positions of the current block are gathered and their logits streamed over vocabulary tiles
    /// (<see cref="LLaDA.Tensors.Tensor.SampleTokensHead"/>), so no (B, L, V) logits tensor exists. False: the full logits, then
    /// SampleTokens — the slow obvious reference (same tokens), also taken when a policy reads the logits itself.</summary>
    public bool FusedHead { get; init; } = true;

    /// <summary>True when the number of steps per block is decided by confidences rather than by <see cref="Steps"/>.</summary>
    public bool Dynamic => Threshold is not null || Factor is not null;

    /// <summary>Throws when the lengths do not divide as the reference requires.</summary>
    public void Validate()
    {
        if (GenLength <= 0 || BlockLength <= 0 || Steps <= 0) throw new ArgumentException("sampler: steps, gen_length and block_length must be positive");
        if (PadTo < 0) throw new ArgumentException($"sampler: pad_to {PadTo} must be ≥ 0");
        if (GenLength % BlockLength != 0) throw new ArgumentException($"sampler: gen_length {GenLength} is not a multiple of block_length {BlockLength}");
        int blocks = GenLength / BlockLength;
        if (!Dynamic && Steps % blocks != 0) throw new ArgumentException($"sampler: steps {Steps} is not a multiple of the {blocks} blocks");
        // Written so that NaN fails too (every comparison with NaN is false).
        if (!(Temperature >= 0 && double.IsFinite(Temperature))) throw new ArgumentException($"sampler: temperature {Temperature} must be finite and ≥ 0");
        if (!(CfgScale >= 0 && double.IsFinite(CfgScale))) throw new ArgumentException($"sampler: cfg_scale {CfgScale} must be finite and ≥ 0");
        if (Threshold is not null && Factor is not null) throw new ArgumentException("sampler: choose either a threshold or a factor, not both");
        if (Threshold is double t && !(t > 0 && t <= 1)) throw new ArgumentException($"sampler: threshold {t} must be in (0, 1]");
        if (Factor is double f && !(f > 0 && double.IsFinite(f))) throw new ArgumentException($"sampler: factor {f} must be positive");
    }
}
