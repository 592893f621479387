using System.CommandLine;
using System.Text.Json;
using LLaDA.Nn;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Eval;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors.Cpu;
using Spectre.Console;

namespace LLaDA.Cli.Commands;

/// <summary>`llada eval likelihood`, `llada eval reversal`, `llada eval elbo` and `llada eval poems`.</summary>
public static class EvalCommand
{
    public static Command Definition()
    {
        var eval = new Command("eval", "evaluate a checkpoint: likelihood of answers, negative ELBO of held-out text, the reversal-curse benchmark")
        {
            LikelihoodDefinition(), ElboDefinition(), ReversalDefinition(), PoemsDefinition(),
        };
        return eval;
    }

    // ---- eval likelihood

    private static readonly Option<string> LCheckpoint = Opt.Model("runs/llada");
    private static readonly Option<string?> LPrompt = Opt.Text("prompt", "TEXT", "the prompt");
    private static readonly Option<string?> LAnswer = Opt.Text("answer", "TEXT", "score this answer (or give --options)");
    private static readonly Option<string?> LOptions = Opt.Text("options", "\"A|B|C\"", "score each option and pick the most likely (or give --answer)");
    private static readonly Option<bool> LJson = Opt.Json();
    private static readonly Option<int> LMcNum = Opt.Int("mc-num", "Monte-Carlo samples of the masking level (a multiple of --batch)", 128);
    private static readonly Option<int> LBatch = Opt.Int("batch", "samples per forward pass", 16);
    private static readonly Option<double> LCfg = Opt.Real("cfg", "classifier-free guidance scale", 0);
    private static readonly Option<ulong> LSeed = Opt.Seed("seed of the masking draws", 0);
    private static readonly Option<Named<Device>> LDevice = Opt.Device();
    private static readonly Option<int> LThreads = Opt.Threads();
    private static readonly Option<bool> LRawWeights = Opt.RawWeights();

    private static Command LikelihoodDefinition()
    {
        LPrompt.Required = true;
        var c = new Command("likelihood", "lower bound of log p(answer | prompt) by Monte-Carlo over masking levels (LLaDA's get_log_likelihood); prompt = BOS + its tokens")
        {
            LCheckpoint, LPrompt, LAnswer, LOptions, LJson, LMcNum, LBatch, LCfg, LSeed, LDevice, LThreads, LRawWeights,
        };
        c.SetAction(Likelihood);
        return c;
    }

    private static int Likelihood(ParseResult o)
    {
        string dir = o.GetValue(LCheckpoint)!;
        string prompt = o.GetValue(LPrompt)!;
        string? answer = o.GetValue(LAnswer);
        string? optionsArg = o.GetValue(LOptions);
        bool json = o.GetValue(LJson);
        var cfg = new LikelihoodConfig
        {
            McNum = o.GetValue(LMcNum),
            BatchSize = o.GetValue(LBatch),
            CfgScale = o.GetValue(LCfg),
            Seed = o.GetValue(LSeed),
        };
        var backend = Devices.Get(o.GetValue(LDevice));
        CpuParallel.Threads = o.GetValue(LThreads);
        bool rawWeights = o.GetValue(LRawWeights);
        if (answer is null == optionsArg is null) throw new OptionException("give exactly one of --answer TEXT or --options \"A|B|C\"");
        using var model = ModelLoader.Open(dir, backend, check =>
        {
            var t = check.Tokenizer;
            int p = (t.Specials.Bos is null ? 0 : 1) + t.Encode(prompt).Length;
            int longest = (answer is not null ? [answer] : optionsArg!.Split('|')).Max(a => t.Encode(a).Length);
            ModelLoader.EnsureContext(check.Config, p, longest, "the answer");
            MemoryEstimate.Likelihood(check.Config, cfg.BatchSize, p + longest, cfg.CfgScale > 0).EnsureFits("lower --batch or use a smaller model");
        }, rawWeights);
        try
        {
            if (answer is not null)
            {
                var r = model.Likelihood(prompt, answer, cfg);
                Console.WriteLine(json ? JsonSerializer.Serialize(new { prompt, answer, log_likelihood = r.Value, std_error = Finite(r.StdError), samples = r.Samples })
                                       : $"log p(answer | prompt) ≥ {r.Value:F4} nats (± {StdErrorText(r.StdError)}, {r.Samples} batches of {cfg.BatchSize})");
                return 0;
            }
            var opts = optionsArg!.Split('|');
            var (best, scores) = model.MultipleChoice(prompt, opts, cfg);
            if (json)
                Console.WriteLine(JsonSerializer.Serialize(new { prompt, best, options = opts.Select((t, i) => new { text = t, log_likelihood = scores[i].Value, std_error = Finite(scores[i].StdError) }) }));
            else
                for (int i = 0; i < opts.Length; i++)
                    Console.WriteLine($"{(i == best ? "→" : " ")} {scores[i].Value,10:F4} ± {StdErrorText(scores[i].StdError),6}  {opts[i]}");
            return 0;
        }
        catch (ArgumentException e)
        {
            throw new OptionException(e.Message);
        }
    }

    // ---- eval poems

    private static readonly PoemSamplingConfig PoemDefaults = new();
    private static readonly Option<string> PCheckpoint = Opt.Model("runs/llada");
    private static readonly Option<int> PCount = Opt.Int("count", "held-out poems to complete", PoemDefaults.Count);
    private static readonly Option<int> PSamples = Opt.Int("samples", "completions to print (each marked ✓/✗)", 0);
    private static readonly Option<double> PTemperature = Opt.Real("temperature", "Gumbel-max sampling temperature", PoemDefaults.Temperature);
    private static readonly Option<Named<Remasking>> PRemasking = Opt.Choice("remasking", "which predictions to commit each step", SamplerOptions.Remaskings, PoemDefaults.Remasking);
    private static readonly Option<bool> PFreeFormat = Opt.Flag("free-format", "the model places the line ends' ， and 。 too (default: they are given, the model fills the characters)");
    private static readonly Option<bool> POneBlock = Opt.Flag("one-block", "with --free-format: the whole poem as one block instead of one block per line");
    private static readonly Option<ulong> PSeed = Opt.Seed("seed of the sampling noise", PoemDefaults.Seed);
    private static readonly Option<bool> PJson = Opt.Json();
    private static readonly Option<Named<Device>> PDevice = Opt.Device();
    private static readonly Option<int> PThreads = Opt.Threads();
    private static readonly Option<bool> PRawWeights = Opt.RawWeights();

    private static Command PoemsDefinition()
    {
        var c = new Command("poems", "complete the run's held-out poems from their first line and print the fraction that are poem-shaped (lines of 5 or 7, ， and 。 at line ends, no character 3× in a row)")
        {
            PCheckpoint, PCount, PSamples, PTemperature, PRemasking, PFreeFormat, POneBlock, PSeed, PJson, PDevice, PThreads, PRawWeights,
        };
        c.SetAction(Poems);
        return c;
    }

    /// <summary>`llada eval poems`: completes the run's held-out poems from their first lines and prints the fraction that are
    /// poem-shaped (<see cref="PoemShape"/>), as the main job's summary does.</summary>
    private static int Poems(ParseResult o)
    {
        string dir = o.GetValue(PCheckpoint)!;
        var cfg = PoemDefaults with
        {
            Count = o.GetValue(PCount),
            BlockPerLine = !o.GetValue(POneBlock),
            GivenFormat = !o.GetValue(PFreeFormat),
            Temperature = o.GetValue(PTemperature),
            Remasking = o.GetValue(PRemasking),
            Seed = o.GetValue(PSeed),
        };
        int show = o.GetValue(PSamples);
        bool json = o.GetValue(PJson);
        var backend = Devices.Get(o.GetValue(PDevice));
        CpuParallel.Threads = o.GetValue(PThreads);
        var (model, tok, resolved) = ModelLoader.Load(dir, backend, null, o.GetValue(PRawWeights));
        using var _m = model;
        var (poems, rowLength) = Commands.Samples.HeldOutPoems(resolved, cfg.Count);
        cfg = cfg with { RowLength = rowLength };
        var sampler = new ReverseSampler(new MaskPredictorLogits(model), ModelLoader.Specials(tok, model.Config));
        var done = PoemCompletions.Complete(sampler, tok, poems, cfg);
        double frac = PoemShape.Fraction(done.Select(c => c.Poem).ToList());
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { checkpoint = resolved, poems = done.Count, shaped = frac, completions = done.Select(c => new { poem = c.Poem, flaw = c.Flaw, truth = c.Truth }) }));
            return 0;
        }
        foreach (var c in done.Take(show)) Console.WriteLine($"{(c.Flaw is null ? "✓" : "✗")} {c.Poem}{(c.Flaw is string f ? $"   ({f})" : "")}");
        Console.WriteLine($"poem-shaped: {done.Count(c => c.Flaw is null)}/{done.Count} ({100 * frac:F0} %) of held-out poems completed from their first line");
        return 0;
    }

    /// <summary>A JSON number, or null for a standard error that one batch cannot give (NaN is not valid JSON).</summary>
    private static double? Finite(double x) => double.IsFinite(x) ? x : null;

    /// <summary>A standard error for text output: "—" where none exists (a single batch), never "NaN".</summary>
    private static string StdErrorText(double x) => double.IsFinite(x) ? x.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) : "—";

    /// <summary>Decodings scored besides one token per step: "--threshold 0.9,0.7 --factor 1" gives three; "--threshold
    /// none" gives none; no option at all gives threshold 0.9. (No KV cache: the answers are infilled inside fixed-length
    /// documents with EOS padding after them, which a prefix/dual cache does not cover; `llada bench sample` times the caches.)</summary>
    private static IReadOnlyList<SamplerConfig> FastDecodings(IReadOnlyList<double>? thresholds, IReadOnlyList<double>? factors)
    {
        var list = (thresholds ?? (factors is null ? [0.9] : [])).Select(t => new SamplerConfig { Threshold = t }).ToList();
        list.AddRange((factors ?? []).Select(f => new SamplerConfig { Factor = f }));
        return list;
    }

    // ---- eval elbo

    private static readonly Option<string> ECheckpoint = Opt.Model("runs/llada");
    private static readonly Option<string?> EData = Opt.Text("data", "FILE", "held-out text, one document per line");
    private static readonly Option<int> ETGrid = Opt.Int("t-grid", "masking levels per document (a midpoint grid)", new ElboConfig().TGrid);
    private static readonly Option<int> EMaskDraws = Opt.Int("mask-draws", "mask draws per masking level", new ElboConfig().MaskDraws);
    private static readonly Option<ulong> ESeed = Opt.Seed("seed of the mask draws", new ElboConfig().Seed);
    private static readonly Option<int> EMaxLines = Opt.Int("max-lines", "documents to score", 0);
    private static readonly Option<bool> EJson = Opt.Json();
    private static readonly Option<Named<Device>> EDevice = Opt.Device();
    private static readonly Option<int> EThreads = Opt.Threads();
    private static readonly Option<bool> ERawWeights = Opt.RawWeights();

    private static Command ElboDefinition()
    {
        EData.Required = true;
        var c = new Command("elbo", "negative ELBO per token (bits/char for the char tokenizer) of held-out text, ± standard error")
        {
            ECheckpoint, EData, ETGrid, EMaskDraws, ESeed, EMaxLines, EJson, EDevice, EThreads, ERawWeights,
        };
        c.SetAction(Elbo);
        return c;
    }

    /// <summary>`llada eval elbo --data FILE`: negative ELBO per token (and bits/char for the char tokenizer) of every non-empty line, as [BOS] line [EOS] with the line's tokens scored.</summary>
    private static int Elbo(ParseResult o)
    {
        string dir = o.GetValue(ECheckpoint)!;
        string data = o.GetValue(EData)!;
        var cfg = new ElboConfig { TGrid = o.GetValue(ETGrid), MaskDraws = o.GetValue(EMaskDraws), Seed = o.GetValue(ESeed) };
        int maxLines = o.GetValue(EMaxLines);
        bool json = o.GetValue(EJson);
        var backend = Devices.Get(o.GetValue(EDevice));
        CpuParallel.Threads = o.GetValue(EThreads);
        bool rawWeights = o.GetValue(ERawWeights);
        cfg.Validate();
        var lines = InputFile.ReadLines(data, "data file").Where(l => l.Trim().Length > 0).Take(maxLines > 0 ? maxLines : int.MaxValue).ToList();
        if (lines.Count < 2) throw new OptionException($"--data {data}: needs at least 2 non-empty lines for a standard error");
        var (model, tok, resolved) = ModelLoader.Load(dir, backend, rawWeights: rawWeights);
        using var _m = model;
        var sp = ModelLoader.Specials(tok, model.Config);
        var seqs = new List<ElboSequence>();
        foreach (var line in lines)
        {
            var ids = tok.Encode(line);
            int start = sp.Bos is null ? 0 : 1;
            seqs.Add(new ElboSequence([.. (sp.Bos is int b ? new[] { b } : []), .. ids, sp.Eos], start, ids.Length));
        }
        var chars = lines.Select(l => l.EnumerateRunes().Count()).ToList();
        var r = new ElboEvaluator(new MaskPredictorLogits(model), sp.Mask).Evaluate(seqs, cfg, chars);
        bool perChar = tok is CharTokenizer;
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                checkpoint = resolved, data, sequences = r.Sequences, tokens = r.Tokens, characters = r.Characters, t_grid = cfg.TGrid, mask_draws = cfg.MaskDraws, seed = cfg.Seed,
                nelbo_per_token = r.NelboPerToken, std_error = r.StdError, bits_per_char = perChar ? r.BitsPerChar : (double?)null, bits_per_char_std_error = perChar ? r.BitsPerCharStdError : (double?)null, forward_passes = r.ForwardPasses,
            }));
        else
            Console.WriteLine($"negative ELBO {r.NelboPerToken:F4} ± {r.StdError:F4} nats/token{(perChar ? $" ({r.BitsPerChar:F4} ± {r.BitsPerCharStdError:F4} bits/char)" : "")} — {r.Sequences} documents, {r.Tokens} tokens, t grid {cfg.TGrid} × {cfg.MaskDraws} mask draws, {r.ForwardPasses} forward passes");
        return 0;
    }

    // ---- eval reversal

    private static readonly ReversalConfig RDefaults = new();
    private static readonly Option<string?> RData = Opt.Text("data", "FILE", "poems, one per line (default: the bundled Tang poems)");
    private static readonly Option<bool> RJson = Opt.Json();
    private static readonly Option<int> RPoems = Opt.Int("poems", "poems to train on", RDefaults.Poems);
    private static readonly Option<int> RSteps = Opt.Int("steps", "training steps of each model", RDefaults.Steps);
    private static readonly Option<int> RBatch = Opt.Int("batch", "training batch", RDefaults.Batch);
    private static readonly Option<double> RLr = Opt.Real("lr", "learning rate", Opt.AsWritten(RDefaults.Lr));
    private static readonly Option<ulong> RSeed = Opt.Seed("seed of the initialisation, data order and sampling", RDefaults.Seed);
    private static readonly Option<Named<Preset>> RPreset = Opt.Choice("preset", "model shape of both models", TrainCommand.PresetNames, LLaDA.Nn.Presets.Parse(RDefaults.Preset));
    private static readonly Option<int> RMaxQueries = Opt.Int("max-queries", "couplets asked", RDefaults.MaxQueries);
    private static readonly Option<bool> RPoemText = Opt.Flag("poem-text", "also train on the poems' plain text, not only the couplet questions");
    private static readonly Option<IReadOnlyList<double>?> RThreshold = Opt.RealList("threshold", "Fast-dLLM threshold decodings also scored (default: 0.9 unless --factor is given; none: no threshold decoding)");
    private static readonly Option<IReadOnlyList<double>?> RFactor = Opt.RealList("factor", "Fast-dLLM factor decodings also scored");
    private static readonly Option<IReadOnlyList<Remasking>?> RRemasking = Opt.ChoiceList("remasking", "unmasking policies scored, comma-separated (default: confidence)", SamplerOptions.Remaskings);
    private static readonly Option<bool> RNoAr = Opt.Flag("no-ar", "skip the autoregressive baseline");
    private static readonly VarianceOptions RVariance = new(new LLaDA.Diffusion.Training.TrainConfig { Noise = RDefaults.Noise, EmaDecay = RDefaults.EmaDecay });
    private static readonly Option<Named<Device>> RDevice = Opt.Device();
    private static readonly Option<int> RThreads = Opt.Threads();

    private static Command ReversalDefinition()
    {
        var c = new Command("reversal", "LLaDA-mini vs AR-mini on forward vs reversed couplets; LLaDA also with each fast decoding and each unmasking policy, with forward passes per generated token")
        {
            RData, RJson, RPoems, RSteps, RBatch, RLr, RSeed, RPreset, RMaxQueries, RPoemText, RThreshold, RFactor, RRemasking, RNoAr, RDevice, RThreads,
        };
        foreach (var v in RVariance.All) c.Add(v);
        c.SetAction(Reversal);
        return c;
    }

    private static int Reversal(ParseResult o)
    {
        string data = o.GetValue(RData) ?? DataPaths.DefaultPoems();
        bool json = o.GetValue(RJson);
        var d = RDefaults;
        var cfg = d with
        {
            Poems = o.GetValue(RPoems),
            Steps = o.GetValue(RSteps),
            Batch = o.GetValue(RBatch),
            Lr = (float)o.GetValue(RLr),
            Seed = o.GetValue(RSeed),
            Preset = LLaDA.Nn.Presets.NameOf(o.GetValue(RPreset)),
            MaxQueries = o.GetValue(RMaxQueries),
            IncludePoemText = o.GetValue(RPoemText),
            FastDecodings = FastDecodings(o.GetValue(RThreshold), o.GetValue(RFactor)),
            Remaskings = o.GetValue(RRemasking) ?? d.Remaskings,
            SkipAutoregressive = o.GetValue(RNoAr),
        };
        var variance = RVariance.Apply(o, new LLaDA.Diffusion.Training.TrainConfig { Noise = cfg.Noise, EmaDecay = cfg.EmaDecay });
        cfg = cfg with { Noise = variance.Noise, EmaDecay = variance.EmaDecay };
        var backend = Devices.Get(o.GetValue(RDevice));
        CpuParallel.Threads = o.GetValue(RThreads);
        var corpus = PoemCorpus.Load(data, cfg.Poems);
        Action<string>? log = json ? null : s => Console.Error.WriteLine(s);
        var scores = ReversalBenchmark.Run(corpus, cfg, backend, log);
        var llada = scores[0];
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                poems = cfg.Poems, steps = cfg.Steps, seed = cfg.Seed, queries = llada.Queries,
                models = scores.Select(s => new { model = s.Model, forward = s.Forward, reversal = s.Reversal, reversal_infill = s.ReversalInfill, passes_per_token_both_questions = Math.Round(s.PassesPerToken, 4), passes_per_token_forward_question = Math.Round(s.ForwardPassesPerToken, 4), passes_per_token_infill = s.InfillPassesPerToken is double ip ? Math.Round(ip, 4) : (double?)null, train_seconds = Math.Round(s.TrainSeconds, 1), final_loss = Math.Round(s.FinalLoss, 4), held_out_nelbo = s.HeldOut?.NelboPerToken, held_out_nelbo_se = s.HeldOut?.StdError }),
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().AddColumns("model", "forward", "reversal", "reversal (infill)", "passes/tok fwd", "passes/tok both", "passes/tok infill", "couplets", "train s", "held-out −ELBO");
        foreach (var s in scores)
            table.AddRow(Markup.Escape(s.Model), $"{100 * s.Forward:F1} %", $"{100 * s.Reversal:F1} %", s.ReversalInfill is double r ? $"{100 * r:F1} %" : "—", $"{s.ForwardPassesPerToken:F2}", $"{s.PassesPerToken:F2}", s.InfillPassesPerToken is double ip ? $"{ip:F2}" : "—", s.Queries.ToString(), $"{s.TrainSeconds:F0}", s.HeldOut is { } h ? $"{h.NelboPerToken:F3} ± {h.StdError:F3}" : "—");
        AnsiConsole.Write(table);
        return 0;
    }
}
