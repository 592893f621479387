using System.CommandLine;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Sampling.Policies;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;

namespace LLaDA.Cli.Commands;

/// <summary>Loads a model and its tokenizer from a checkpoint directory (a training root resolves to its latest checkpoint).</summary>
public static class ModelLoader
{
    /// <param name="beforeAllocating">Called with the validated config and the tokenizer before the model is built: the
    /// command's context and memory checks (<see cref="MemoryEstimate"/>), so nothing too large is ever allocated.</param>
    /// <param name="rawWeights">Keep the raw weights even when the checkpoint has moving-average weights (ema.safetensors), which are used otherwise (--raw-weights).</param>
    public static (MaskPredictor Model, ITokenizer Tokenizer, string Dir) Load(string dir, IBackend backend, Action<MaskPredictorConfig, ITokenizer>? beforeAllocating = null, bool rawWeights = false)
    {
        string resolved = dir;
        if (!File.Exists(Path.Combine(dir, Checkpoint.ConfigFile)))
        {
            // A run directory (runs/llada) or its checkpoints folder: take the newest checkpoint.
            var root = Directory.Exists(Path.Combine(dir, "checkpoints")) ? Path.Combine(dir, "checkpoints") : dir;
            resolved = TrainingCheckpoint.Latest(root) ?? throw new OptionException($"{dir}: no config.json and no checkpoints/latest");
        }
        // Headers, config and tokenizer first (no tensor data read), then the command's checks, then the allocation.
        var files = ModelFiles.Open(resolved); // every header parsed once; the loads below reuse them
        Checkpoint.Validate(files.Config, files);
        var tok = TokenizerFiles.Load(resolved);
        if (tok.VocabSize > files.Config.Rows)
            throw new OptionException($"{resolved}: tokenizer has {tok.VocabSize} tokens but the model only {files.Config.Rows} rows");
        // On the CPU the weights are used in place from the memory-mapped shards in their stored dtype (an 8B BF16
        // checkpoint is 16 GB of reclaimable file cache, never a 32 GB f32 copy); moving-average weights and device
        // backends take the copying load.
        bool ema = !rawWeights && Ema.Exists(resolved);
        bool mapped = !ema && backend is LLaDA.Tensors.Cpu.CpuBackend;
        using (mapped ? MemoryEstimate.MappedWeights(files.Tensors.Sum(t => t.End - t.Begin)) : null)
            beforeAllocating?.Invoke(files.Config, tok);
        var model = mapped ? Checkpoint.MapModel(files, (LLaDA.Tensors.Cpu.CpuBackend)backend) : Checkpoint.LoadModel(files, backend);
        if (ema)
        {
            try
            {
                Ema.LoadInto(model, resolved);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            Console.Error.WriteLine($"[{resolved}] using the moving-average weights ({Ema.File}; --raw-weights for the raw ones)");
        }
        return (model, tok, resolved);
    }

    /// <summary>Refuses a sequence longer than the model's context: prompt + generated (or answer) tokens ≤ max_sequence_length.</summary>
    public static void EnsureContext(MaskPredictorConfig c, int promptTokens, int moreTokens, string more)
    {
        if ((long)promptTokens + moreTokens > c.MaxSequenceLength)
            throw new OptionException($"the prompt ({promptTokens} tokens) + {more} ({moreTokens}) exceeds the model's context (max_sequence_length {c.MaxSequenceLength})");
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

    /// <summary>The configuration the command line asks for; settings that do not fit together are refused with the sampler's message.</summary>
    public SamplerConfig Read(ParseResult r)
    {
        int gen = r.GetValue(GenLength);
        var cfg = _defaults with
        {
            GenLength = gen,
            Steps = r.GetValue(Steps) ?? Math.Min(_defaults.Steps, gen),
            BlockLength = r.GetValue(BlockLength) ?? Math.Min(_defaults.BlockLength, gen),
            Temperature = r.GetValue(Temperature),
            CfgScale = r.GetValue(Cfg),
            Remasking = r.GetValue(Remasking),
            Threshold = r.GetValue(Threshold),
            Factor = r.GetValue(Factor),
            Cache = r.GetValue(Cache),
            LogitsEosInf = r.GetValue(EosInf) || _defaults.LogitsEosInf,
            ConfidenceEosEotInf = r.GetValue(EotInf) || _defaults.ConfidenceEosEotInf,
            Seed = r.GetValue(Seed),
            PadTo = r.GetValue(PadTo),
        };
        try
        {
            cfg.Validate();
        }
        catch (ArgumentException e)
        {
            throw new OptionException(e.Message);
        }
        return cfg;
    }
}
