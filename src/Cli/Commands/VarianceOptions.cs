using System.CommandLine;
using LLaDA.Diffusion.Training;

namespace LLaDA.Cli.Commands;

/// <summary>The variance-reduction options of training (train, sft, eval reversal): --time-sampling, --min-t, --ema.</summary>
public sealed class VarianceOptions
{
    public static readonly Choices<TimeSampling> TimeSamplings = Choices<TimeSampling>.KebabCase();

    public Option<Named<TimeSampling>> Time { get; }
    public Option<double> MinT { get; }
    public Option<double> Ema { get; }

    public VarianceOptions(TrainConfig defaults)
    {
        Time = Opt.Choice("time-sampling", "how the batch's masking levels t are drawn", TimeSamplings, defaults.Noise.Time);
        MinT = Opt.Real("min-t", "floor of the masking level t", Opt.AsWritten(defaults.Noise.MinT));
        Ema = Opt.Real("ema", "decay of a moving average of the weights, saved beside them and used for sampling", Opt.AsWritten(defaults.EmaDecay));
    }

    public IEnumerable<Option> All => [Time, MinT, Ema];

    /// <summary>The config with the options given on the command line; defaults leave it unchanged.</summary>
    public TrainConfig Apply(ParseResult r, TrainConfig cfg)
    {
        var noise = cfg.Noise with { Time = r.GetValue(Time), MinT = (float)r.GetValue(MinT) };
        // Ranges are checked where they are used (TimeSampler, Ema) when the trainer is built.
        return cfg with { Noise = noise, EmaDecay = (float)r.GetValue(Ema) };
    }
}
