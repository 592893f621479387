using System.CommandLine;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Sampling.Policies;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;

namespace LLaDA.Cli.Commands;

/// <summary>The command line's way into <see cref="LladaModel.Load"/>: the backend and weights the options ask for, the command's
/// context and memory checks before anything large is allocated, and the line that says moving-average weights are used.</summary>
public static class ModelLoader
{
    /// <param name="beforeAllocating">Called with the validated config, tokenizer, chat template and generation defaults before the
    /// weights are mapped or allocated: the command's context and memory checks (<see cref="MemoryEstimate"/>, which counts
    /// memory-mapped weights at their stored size), so nothing too large is ever allocated.</param>
    /// <param name="rawWeights">Keep the raw weights even when the checkpoint has moving-average weights (ema.safetensors), which are used otherwise (--raw-weights).</param>
    public static LladaModel Open(string dir, IBackend backend, Action<ModelCheck>? beforeAllocating = null, bool rawWeights = false)
    {
        var model = LladaModel.Load(dir, new LoadOptions
        {
            Backend = backend,
            RawWeights = rawWeights,
            BeforeAllocating = beforeAllocating is null ? null : check =>
            {
                using (check.MappedWeightBytes is long bytes ? MemoryEstimate.MappedWeights(bytes) : null)
                    beforeAllocating(check);
            },
        });
        if (model.UsesMovingAverage)
            Console.Error.WriteLine($"[{model.Directory}] using the moving-average weights ({Ema.File}; --raw-weights for the raw ones)");
        return model;
    }

    /// <summary>As <see cref="Open"/>, for the commands that use the network directly (elbo, poems, bench): the network (owned by
    /// the caller), the tokenizer and the resolved directory.</summary>
    public static (MaskPredictor Model, ITokenizer Tokenizer, string Dir) Load(string dir, IBackend backend, Action<MaskPredictorConfig, ITokenizer>? beforeAllocating = null, bool rawWeights = false)
    {
        var m = Open(dir, backend, beforeAllocating is null ? null : c => beforeAllocating(c.Config, c.Tokenizer), rawWeights);
        return (m.Network, m.Tokenizer, m.Directory);
    }

    /// <summary>Refuses a sequence longer than the model's context (<see cref="LladaModel.EnsureContext"/>) as a command-line error.</summary>
    public static void EnsureContext(MaskPredictorConfig c, int promptTokens, int moreTokens, string more)
    {
        try
        {
            LladaModel.EnsureContext(c, promptTokens, moreTokens, more);
        }
        catch (ArgumentException e)
        {
            throw new OptionException(e.Message);
        }
    }

    /// <summary>Special ids for sampling: the tokenizer's, with the model config's mask id when the tokenizer has none.</summary>
    public static SpecialTokens Specials(ITokenizer tok, MaskPredictorConfig c) => tok.Specials with { Mask = c.MaskTokenId };
}

/// <summary>The sampler options of generate and chat: their definitions, with the command's defaults, and the SamplerConfig they give.</summary>
public sealed class SamplerOptions
{
    public static readonly Choices<CacheMode> Caches = Choices<CacheMode>.KebabCase();

    /// <summary>The unmasking policies by their CLI names (<see cref="UnmaskingPolicies.Names"/>); LLaDA's "low_confidence" is an alias of "confidence".</summary>
    public static readonly Choices<Remasking> Remaskings =
        new(UnmaskingPolicies.Names.Split('|').Select(n => (n, UnmaskingPolicies.Parse(n))), [("low_confidence", LLaDA.Diffusion.Sampling.Remasking.LowConfidence)]);

    public Option<int> GenLength { get; }
    public Option<int?> Steps { get; }
    public Option<int?> BlockLength { get; }
    public Option<double> Temperature { get; }
    public Option<double> Cfg { get; }
    public Option<Named<Remasking>> Remasking { get; }
    public Option<double?> Threshold { get; }
    public Option<double?> Factor { get; }
    public Option<Named<CacheMode>> Cache { get; }
    public Option<bool> EosInf { get; }
    public Option<bool> EotInf { get; }
    public Option<ulong> Seed { get; }
    public Option<int> PadTo { get; }

    private readonly SamplerConfig _defaults;

    public SamplerOptions(SamplerConfig defaults)
    {
        _defaults = defaults;
        GenLength = Opt.Int("gen-length", "tokens to generate", defaults.GenLength);
        Steps = Opt.Int("steps", $"denoising steps (default: the smaller of {defaults.Steps} and --gen-length)");
        BlockLength = Opt.Int("block-length", $"semi-autoregressive block length; --gen-length must be a multiple (default: the smaller of {defaults.BlockLength} and --gen-length)");
        Temperature = Opt.Real("temperature", "Gumbel-max sampling temperature", defaults.Temperature);
        Cfg = Opt.Real("cfg", "classifier-free guidance scale", defaults.CfgScale);
        Remasking = Opt.Choice("remasking", "which predictions to commit each step", Remaskings, defaults.Remasking);
        Threshold = Opt.Real("threshold", "commit every prediction above this confidence (Fast-dLLM parallel decoding)");
        Factor = Opt.Real("factor", "commit the n predictions with (n + 1)(1 − c_n) < factor (Fast-dLLM factor decoding)");
        Cache = Opt.Choice("cache", "key/value cache: none, the prompt prefix, or prefix and suffix (Fast-dLLM dual)", Caches, defaults.Cache);
        EosInf = Opt.Flag("eos-inf", "never sample end-of-text (logit −∞)");
        EotInf = Opt.Flag("eot-inf", "never commit end-of-text or end-of-turn first (confidence −∞)");
        Seed = Opt.Seed("seed of the sampling noise", defaults.Seed);
        PadTo = Opt.Int("pad-to", "EOS padding after the answer up to this many tokens in all, as in the training rows (0: none)", defaults.PadTo);
    }

    public IEnumerable<Option> All => [GenLength, Steps, BlockLength, Temperature, Cfg, Remasking, Threshold, Factor, Cache, EosInf, EotInf, Seed, PadTo];

    /// <summary>The settings given on the command line (null for every option left out).</summary>
    public GenerationOptions Given(ParseResult r)
    {
        static bool Has(ParseResult r, Option o) => r.GetResult(o) is { Implicit: false };
        return new GenerationOptions
        {
            GenLength = Has(r, GenLength) ? r.GetValue(GenLength) : null,
            Steps = r.GetValue(Steps),
            BlockLength = r.GetValue(BlockLength),
            Temperature = Has(r, Temperature) ? r.GetValue(Temperature) : null,
            CfgScale = Has(r, Cfg) ? r.GetValue(Cfg) : null,
            Remasking = Has(r, Remasking) ? r.GetValue(Remasking).Value : null,
            Threshold = r.GetValue(Threshold),
            Factor = r.GetValue(Factor),
            Cache = Has(r, Cache) ? r.GetValue(Cache).Value : null,
            LogitsEosInf = r.GetValue(EosInf) ? true : null,
            ConfidenceEosEotInf = r.GetValue(EotInf) ? true : null,
            Seed = Has(r, Seed) ? r.GetValue(Seed) : null,
            PadTo = Has(r, PadTo) ? r.GetValue(PadTo) : null,
        };
    }

    /// <summary>The configuration a command runs with: the command line &gt; the model's generation_config.json &gt; the command's
    /// defaults (<see cref="LladaModel.Resolve"/>); settings that do not fit together are refused with the sampler's message.</summary>
    public SamplerConfig Resolve(ParseResult r, GenerationDefaults defaults)
    {
        try
        {
            return LladaModel.Resolve(Given(r), defaults, _defaults);
        }
        catch (ArgumentException e)
        {
            throw new OptionException(e.Message);
        }
    }
}
