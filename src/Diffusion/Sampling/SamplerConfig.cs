namespace LLaDA.Diffusion.Sampling;

/// <summary>How the sampler picks which predicted tokens to commit each step.</summary>
public enum Remasking
{
    /// <summary>Commit the most confident predictions (softmax probability of the chosen token) — LLaDA's default.</summary>
    LowConfidence,

    /// <summary>Commit uniformly random masked positions.</summary>
    Random,
}

/// <summary>Settings of the reverse process; defaults equal LLaDA generate.py's (SPEC §6.1).</summary>
public sealed record SamplerConfig
{
    /// <summary>Total denoising steps over all blocks (must be a multiple of the block count).</summary>
    public int Steps { get; init; } = 128;

    public int GenLength { get; init; } = 128;

    /// <summary>Semi-autoregressive when smaller than GenLength: tokens are only committed inside the current block.</summary>
    public int BlockLength { get; init; } = 128;

    /// <summary>0 = greedy; &gt; 0 samples by Gumbel-max in float64.</summary>
    public double Temperature { get; init; }

    /// <summary>Classifier-free guidance weight w: logits = uncond + (w + 1)(cond − uncond); 0 disables.</summary>
    public double CfgScale { get; init; }

    public Remasking Remasking { get; init; } = Remasking.LowConfidence;

    /// <summary>EOS can never be predicted (generate.py logits_eos_inf).</summary>
    public bool LogitsEosInf { get; init; }

    /// <summary>EOS and EoT predictions get confidence 0 so they commit last (generate.py confidence_eos_eot_inf, with the Q1 aliasing bug fixed).</summary>
    public bool ConfidenceEosEotInf { get; init; }

    /// <summary>Seed of the Philox streams used for Gumbel noise and random remasking.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws when the lengths do not divide as the reference requires.</summary>
    public void Validate()
    {
        if (GenLength <= 0 || BlockLength <= 0 || Steps <= 0) throw new ArgumentException("sampler: steps, gen_length and block_length must be positive");
        if (GenLength % BlockLength != 0) throw new ArgumentException($"sampler: gen_length {GenLength} is not a multiple of block_length {BlockLength}");
        int blocks = GenLength / BlockLength;
        if (Steps % blocks != 0) throw new ArgumentException($"sampler: steps {Steps} is not a multiple of the {blocks} blocks");
        if (Temperature < 0) throw new ArgumentException("sampler: temperature must be ≥ 0");
        if (CfgScale < 0) throw new ArgumentException("sampler: cfg_scale must be ≥ 0");
    }
}
