using System.Text.Json;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Eval;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors.Cpu;
using Spectre.Console;

namespace LLaDA.Cli.Commands;

/// <summary>`llada eval likelihood` and `llada eval reversal`.</summary>
public static class EvalCommand
{
    public static int Run(Options o)
    {
        if (o.Positional.Count == 0) throw new OptionException("eval needs a task: likelihood or reversal");
        string task = o.Positional[0];
        return task switch
        {
            "likelihood" => Likelihood(o),
            "reversal" => Reversal(o),
            _ => throw new OptionException($"unknown eval task '{task}' (likelihood, reversal)"),
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
        var (model, tok, _) = ModelLoader.Load(dir, backend, rawWeights);
        using var _m = model;
        var sp = ModelLoader.Specials(tok, model.Config);
        var est = new LikelihoodEstimator(new MaskPredictorLogits(model), sp);
        int[] p = [.. (sp.Bos is int b ? new[] { b } : []), .. tok.Encode(prompt)];
        try
        {
            if (answer is not null)
            {
                var r = est.Estimate(p, tok.Encode(answer), cfg);
                Console.WriteLine(json ? JsonSerializer.Serialize(new { prompt, answer, log_likelihood = r.Value, std_error = r.StdError, samples = r.Samples })
                                       : $"log p(answer | prompt) ≥ {r.Value:F4} nats (± {r.StdError:F4}, {r.Samples} batches of {cfg.BatchSize})");
                return 0;
            }
            var opts = optionsArg!.Split('|');
            var (best, scores) = est.MultipleChoice(p, opts.Select(tok.Encode).ToList(), cfg);
            if (json)
                Console.WriteLine(JsonSerializer.Serialize(new { prompt, best, options = opts.Select((t, i) => new { text = t, log_likelihood = scores[i].Value, std_error = scores[i].StdError }) }));
            else
                for (int i = 0; i < opts.Length; i++)
                    Console.WriteLine($"{(i == best ? "→" : " ")} {scores[i].Value,10:F4} ± {scores[i].StdError:F4}  {opts[i]}");
            return 0;
        }
        catch (ArgumentException e)
        {
            throw new OptionException(e.Message);
        }
    }

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
        };
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
                models = scores.Select(s => new { model = s.Model, forward = s.Forward, reversal = s.Reversal, reversal_infill = s.ReversalInfill, passes_per_token_both_questions = Math.Round(s.PassesPerToken, 4), passes_per_token_forward_question = Math.Round(s.ForwardPassesPerToken, 4), passes_per_token_infill = s.InfillPassesPerToken is double ip ? Math.Round(ip, 4) : (double?)null, train_seconds = Math.Round(s.TrainSeconds, 1), final_loss = Math.Round(s.FinalLoss, 4) }),
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().AddColumns("model", "forward", "reversal", "reversal (infill)", "passes/tok fwd", "passes/tok both", "passes/tok infill", "couplets", "train s");
        foreach (var s in scores)
            table.AddRow(Markup.Escape(s.Model), $"{100 * s.Forward:F1} %", $"{100 * s.Reversal:F1} %", s.ReversalInfill is double r ? $"{100 * r:F1} %" : "—", $"{s.ForwardPassesPerToken:F2}", $"{s.PassesPerToken:F2}", s.InfillPassesPerToken is double ip ? $"{ip:F2}" : "—", s.Queries.ToString(), $"{s.TrainSeconds:F0}");
        AnsiConsole.Write(table);
        return 0;
    }
}
