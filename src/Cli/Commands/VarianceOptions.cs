using LLaDA.Diffusion.Training;

namespace LLaDA.Cli.Commands;

/// <summary>The variance-reduction options of training (train, sft, eval reversal): --time-sampling, --min-t, --ema.</summary>
public static class VarianceOptions
{
    public static TimeSampling ParseTimeSampling(string name) => name switch
    {
        "uniform" => TimeSampling.Uniform,
        "low-discrepancy" => TimeSampling.LowDiscrepancy,
        "antithetic" => TimeSampling.Antithetic,
        _ => throw new OptionException($"--time-sampling '{name}' (uniform, low-discrepancy, antithetic)"),
    };

    /// <summary>The config with the options given on the command line; defaults leave it unchanged.</summary>
    public static TrainConfig Apply(Options o, TrainConfig cfg)
    {
        var noise = cfg.Noise with
        {
            Time = o.String("time-sampling") is string ts ? ParseTimeSampling(ts) : cfg.Noise.Time,
            MinT = (float)o.Double("min-t", cfg.Noise.MinT),
        };
        // Ranges are checked where they are used (TimeSampler, Ema) when the trainer is built.
        return cfg with { Noise = noise, EmaDecay = (float)o.Double("ema", cfg.EmaDecay) };
    }
}
