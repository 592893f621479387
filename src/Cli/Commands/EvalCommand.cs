using System.Text.Json;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Eval;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors.Cpu;
using Spectre.Console;

namespace LLaDA.Cli.Commands;

/// <summary>`llada eval likelihood`, `llada eval reversal` and `llada eval elbo`.</summary>
public static class EvalCommand
{
    public static int Run(Options o)
    {
        if (o.Positional.Count == 0) throw new OptionException("eval needs a task: likelihood, reversal, elbo or poems");
        string task = o.Positional[0];
        return task switch
        {
            "likelihood" => Likelihood(o),
            "reversal" => Reversal(o),
            "elbo" => Elbo(o),
            "poems" => Poems(o),
            _ => throw new OptionException($"unknown eval task '{task}' (likelihood, reversal, elbo, poems)"),
        };
    }

    private static int Likelihood(Options o)
    {
        string dir = o.String("checkpoint") ?? "runs/llada";
        string prompt = o.String("prompt") ?? throw new OptionException("eval likelihood needs --prompt TEXT");
        string? answer = o.String("answer");
        string? optionsArg = o.String("options");
        bool json = o.Flag("json");
        var cfg = new LikelihoodConfig
        {
            McNum = o.Int("mc-num", 128),
            BatchSize = o.Int("batch", 16),
            CfgScale = o.Double("cfg", 0),
            Seed = (ulong)o.Int("seed", 0),
        };
        var backend = Devices.Get(o.String("device"));
        CpuParallel.Threads = o.Int("threads", Environment.ProcessorCount);
        bool rawWeights = o.Flag("raw-weights");
        o.RejectUnknown();
        if (answer is null == optionsArg is null) throw new OptionException("give exactly one of --answer TEXT or --options \"A|B|C\"");
        int[] p = [];
        var (model, tok, _) = ModelLoader.Load(dir, backend, (c, t) =>
        {
            var s = ModelLoader.Specials(t, c);
            p = [.. (s.Bos is int b ? new[] { b } : []), .. t.Encode(prompt)];
            int longest = (answer is not null ? [answer] : optionsArg!.Split('|')).Max(a => t.Encode(a).Length);
            ModelLoader.EnsureContext(c, p.Length, longest, "the answer");
            MemoryEstimate.Likelihood(c, cfg.BatchSize, p.Length + longest, cfg.CfgScale > 0).EnsureFits("lower --batch or use a smaller model");
        }, rawWeights);
        using var _m = model;
        var sp = ModelLoader.Specials(tok, model.Config);
        var est = new LikelihoodEstimator(new MaskPredictorLogits(model), sp);
        try
        {
            if (answer is not null)
            {
                var r = est.Estimate(p, tok.Encode(answer), cfg);
                Console.WriteLine(json ? JsonSerializer.Serialize(new { prompt, answer, log_likelihood = r.Value, std_error = Finite(r.StdError), samples = r.Samples })
                                       : $"log p(answer | prompt) ≥ {r.Value:F4} nats (± {StdErrorText(r.StdError)}, {r.Samples} batches of {cfg.BatchSize})");
                return 0;
            }
            var opts = optionsArg!.Split('|');
            var (best, scores) = est.MultipleChoice(p, opts.Select(tok.Encode).ToList(), cfg);
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

    /// <summary>`llada eval poems`: completes the run's held-out poems from their first lines and prints the fraction that are
    /// poem-shaped (<see cref="PoemShape"/>), as the main job's summary does.</summary>
    private static int Poems(Options o)
    {
        string dir = o.String("checkpoint") ?? "runs/llada";
        var d = new PoemSamplingConfig();
        var cfg = d with
        {
            Count = o.Int("count", d.Count),
            BlockPerLine = !o.Flag("one-block"),
            GivenFormat = !o.Flag("free-format"),
            Temperature = o.Double("temperature", d.Temperature),
            Remasking = o.String("remasking") is string rm ? SamplerOptions.ParseRemasking(rm) : d.Remasking,
            Seed = (ulong)o.Int("seed", (int)d.Seed),
        };
        int show = o.Int("samples", 0);
        bool json = o.Flag("json");
        var backend = Devices.Get(o.String("device"));
        CpuParallel.Threads = o.Int("threads", Environment.ProcessorCount);
        bool rawWeights = o.Flag("raw-weights");
        o.RejectUnknown();
        if (cfg.Count <= 0) throw new OptionException("--count must be positive");
        var (model, tok, resolved) = ModelLoader.Load(dir, backend, null, rawWeights);
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
    private static IReadOnlyList<SamplerConfig> FastDecodings(string? thresholds, string? factors)
    {
        static IEnumerable<double> Values(string? list, string name) => list is null or "none" ? [] : list.Split(',').Select(v =>
            double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x) && x > 0
                ? x : throw new OptionException($"--{name}: '{v}' is not a positive number (a comma-separated list, or none)"));
        var list = Values(thresholds ?? (factors is null ? "0.9" : null), "threshold").Select(t => t <= 1 ? new SamplerConfig { Threshold = t }
                : throw new OptionException($"--threshold {t} must be in (0, 1]")).ToList();
        list.AddRange(Values(factors, "factor").Select(f => new SamplerConfig { Factor = f }));
        return list;
    }

    /// <summary>`llada eval elbo --data FILE`: negative ELBO per token (and bits/char for the char tokenizer) of every non-empty line, as [BOS] line [EOS] with the line's tokens scored.</summary>
    private static int Elbo(Options o)
    {
        string dir = o.String("checkpoint") ?? "runs/llada";
        string data = o.String("data") ?? throw new OptionException("eval elbo needs --data FILE (one document per line)");
        var d = new ElboConfig();
        var cfg = d with { TGrid = o.Int("t-grid", d.TGrid), MaskDraws = o.Int("mask-draws", d.MaskDraws), Seed = (ulong)o.Int("seed", (int)d.Seed) };
        int maxLines = o.Int("max-lines", 0);
        bool json = o.Flag("json");
        var backend = Devices.Get(o.String("device"));
        CpuParallel.Threads = o.Int("threads", Environment.ProcessorCount);
        bool rawWeights = o.Flag("raw-weights");
        o.RejectUnknown();
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

    private static int Reversal(Options o)
    {
        string data = o.String("data") ?? DataPaths.DefaultPoems();
        bool json = o.Flag("json");
        var d = new ReversalConfig();
        var cfg = d with
        {
            Poems = o.Int("poems", d.Poems),
            Steps = o.Int("steps", d.Steps),
            Batch = o.Int("batch", d.Batch),
            Lr = (float)o.Double("lr", d.Lr),
            Seed = (ulong)o.Int("seed", (int)d.Seed),
            Preset = o.String("preset") ?? d.Preset,
            MaxQueries = o.Int("max-queries", d.MaxQueries),
            IncludePoemText = o.Flag("poem-text"),
            FastDecodings = FastDecodings(o.String("threshold"), o.String("factor")),
            Remaskings = o.String("remasking") is string rm ? rm.Split(',').Select(SamplerOptions.ParseRemasking).Distinct().ToList() : d.Remaskings,
            SkipAutoregressive = o.Flag("no-ar"),
        };
        var variance = VarianceOptions.Apply(o, new LLaDA.Diffusion.Training.TrainConfig { Noise = cfg.Noise, EmaDecay = cfg.EmaDecay });
        cfg = cfg with { Noise = variance.Noise, EmaDecay = variance.EmaDecay };
        var backend = Devices.Get(o.String("device"));
        CpuParallel.Threads = o.Int("threads", Environment.ProcessorCount);
        o.RejectUnknown();
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
