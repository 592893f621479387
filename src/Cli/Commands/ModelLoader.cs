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
        var files = ModelFiles.Open(resolved);
        Checkpoint.Validate(files.Config, files);
        var tok = TokenizerFiles.Load(resolved);
        if (tok.VocabSize > files.Config.Rows)
            throw new OptionException($"{resolved}: tokenizer has {tok.VocabSize} tokens but the model only {files.Config.Rows} rows");
        beforeAllocating?.Invoke(files.Config, tok);
        var model = Checkpoint.LoadModel(files, backend);
        if (!rawWeights && Ema.Exists(resolved))
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

/// <summary>Sampler options shared by generate, chat and eval.</summary>
public static class SamplerOptions
{
    public const string Usage = "[--steps N] [--gen-length N] [--block-length N] [--temperature X] [--cfg X] [--remasking " + UnmaskingPolicies.Names + "] [--threshold X] [--factor X] [--cache none|prefix|dual] [--eos-inf] [--eot-inf] [--seed N]";

    public static CacheMode ParseCache(string? name) => (name ?? "none") switch
    {
        "none" => CacheMode.None,
        "prefix" => CacheMode.Prefix,
        "dual" => CacheMode.Dual,
        var c => throw new OptionException($"--cache '{c}' (none, prefix, dual)"),
    };

    /// <summary>A --remasking name (see <see cref="UnmaskingPolicies.Parse"/>) as an option error.</summary>
    public static Remasking ParseRemasking(string name)
    {
        try
        {
            return UnmaskingPolicies.Parse(name);
        }
        catch (ArgumentException e)
        {
            throw new OptionException(e.Message);
        }
    }

    public static SamplerConfig Parse(Options o, SamplerConfig defaults)
    {
        int gen = o.Int("gen-length", defaults.GenLength);
        var remasking = o.String("remasking") is string rm ? ParseRemasking(rm) : defaults.Remasking;
        var cache = ParseCache(o.String("cache"));
        double? threshold = o.String("threshold") is string t ? o.Double("threshold", 0) : null;
        double? factor = o.String("factor") is string f ? o.Double("factor", 0) : null;
        var cfg = defaults with
        {
            GenLength = gen,
            Steps = o.Int("steps", Math.Min(defaults.Steps, gen)),
            BlockLength = o.Int("block-length", Math.Min(defaults.BlockLength, gen)),
            Temperature = o.Double("temperature", defaults.Temperature),
            CfgScale = o.Double("cfg", defaults.CfgScale),
            Remasking = remasking,
            Threshold = threshold,
            Factor = factor,
            Cache = cache,
            LogitsEosInf = o.Flag("eos-inf") || defaults.LogitsEosInf,
            ConfidenceEosEotInf = o.Flag("eot-inf") || defaults.ConfidenceEosEotInf,
            PadTo = o.Int("pad-to", defaults.PadTo),
            Seed = (ulong)o.Int("seed", (int)defaults.Seed),
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
