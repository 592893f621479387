using System.Diagnostics;
using System.Text.Json;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Distributed;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Spectre.Console;

namespace LLaDA.Cli.Commands;

/// <summary>What a run trains on, saved with every checkpoint so --resume rebuilds the same data.</summary>
public sealed record RunInfo(string Data, int Poems, int SeqLen, string Preset, string Objective, int HeldOutEvery);

/// <summary>`llada train` (pre-training, or --ar for the autoregressive baseline) and `llada sft` on poems.</summary>
public static class TrainCommand
{
    public const string TokenizerFile = "tokenizer.char.json";
    public const string RunFile = "run.json";

    public static int Run(Options o, Objective objective)
    {
        using var dist = DistributedRun.Start(); // launched by mpirun: this process is one rank of a data-parallel job
        // ---- options
        string? resume = o.Flag("resume") ? "" : null;
        resume = o.String("resume-from") ?? resume;
        bool ar = o.Flag("ar");
        if (ar) objective = Objective.Autoregressive;
        string preset = o.String("preset") ?? "poems";
        string? configPath = o.String("config");
        string data = o.String("data") ?? DataPaths.DefaultPoems();
        int poems = o.Int("poems", 2000);
        string outDir = o.String("out") ?? Path.Combine("runs", objective == Objective.Autoregressive ? "ar" : objective == Objective.Sft ? "sft" : "llada");
        var backend = Devices.Get(o.String("device"));
        int threads = o.Int("threads", Environment.ProcessorCount);
        int samples = o.Int("samples", 6);
        bool noProgress = o.Flag("no-progress") || Console.IsOutputRedirected;
        var defaults = new TrainConfig();
        var cfg = defaults with
        {
            Objective = objective,
            Steps = o.Int("steps", defaults.Steps),
            BatchSize = o.Int("batch", defaults.BatchSize),
            GradAccum = o.Int("grad-accum", defaults.GradAccum),
            Lr = (float)o.Double("lr", defaults.Lr),
            MinLr = (float)o.Double("min-lr", defaults.MinLr),
            Warmup = o.Int("warmup", defaults.Warmup),
            Schedule = o.String("schedule") ?? defaults.Schedule,
            WeightDecay = (float)o.Double("weight-decay", defaults.WeightDecay),
            GradClip = (float)o.Double("clip", defaults.GradClip),
            EvalEvery = o.Int("eval-every", defaults.EvalEvery),
            SaveEvery = o.Int("save-every", defaults.SaveEvery),
            Seed = (ulong)o.Int("seed", (int)defaults.Seed),
        };
        string? initFrom = o.String("init");
        int globalBatch = o.Int("global-batch", 0);
        var dpConfig = new DataParallelConfig { ChecksumEvery = o.Int("checksum-every", new DataParallelConfig().ChecksumEvery) };
        o.RejectUnknown();
        CpuParallel.Threads = threads;
        if (cfg.Steps <= 0 || cfg.BatchSize <= 0 || cfg.GradAccum <= 0) throw new OptionException("--steps, --batch and --grad-accum must be positive");
        if (globalBatch > 0)
        {
            // Global batch = per-rank batch × ranks × gradient accumulation.
            int perStep = cfg.BatchSize * DistributedRun.Size;
            if (globalBatch % perStep != 0) throw new OptionException($"--global-batch {globalBatch} is not a multiple of --batch {cfg.BatchSize} × {DistributedRun.Size} ranks");
            cfg = cfg with { GradAccum = globalBatch / perStep };
        }

        string ckptRoot = Path.Combine(outDir, "checkpoints");
        string? resumeDir = resume is null ? null : resume.Length > 0 ? resume : TrainingCheckpoint.Latest(ckptRoot)
            ?? throw new OptionException($"--resume: no checkpoint under {ckptRoot}");

        // ---- data and tokenizer (a resumed run reuses the checkpoint's tokenizer and data settings)
        CharTokenizer tok;
        RunInfo run;
        if (resumeDir is not null)
        {
            tok = CharTokenizer.FromJson(File.ReadAllText(Path.Combine(resumeDir, TokenizerFile)));
            run = JsonSerializer.Deserialize<RunInfo>(File.ReadAllText(Path.Combine(resumeDir, RunFile)))!;
        }
        else if (initFrom is not null)
        {
            tok = CharTokenizer.FromJson(File.ReadAllText(Path.Combine(initFrom, TokenizerFile)));
            run = new RunInfo(data, poems, 0, preset, objective.ToString(), 20);
        }
        else
        {
            var corpus0 = PoemCorpus.Load(data, poems);
            // The vocabulary covers the questions of SFT too, so one tokenizer serves pre-training, SFT and evaluation.
            tok = CharTokenizer.Build(corpus0.Poems.Append("的下一句是什么？上一句"));
            run = new RunInfo(data, poems, 0, preset, objective.ToString(), 20);
        }
        var corpus = PoemCorpus.Load(run.Data, run.Poems);
        var sp = tok.Specials;
        SequenceDataset all = objective == Objective.Sft
            ? SftData(corpus, tok, run.SeqLen)
            : SequenceDataset.PerDocument(corpus.Poems.Select(tok.Encode), run.SeqLen > 0 ? run.SeqLen : corpus.Poems.Max(p => p.Length) + 2, sp);
        run = run with { SeqLen = all.Length };
        var (train, heldOut) = all.Split(run.HeldOutEvery);

        // ---- model and trainer
        Trainer trainer;
        if (resumeDir is not null)
        {
            trainer = TrainingCheckpoint.Resume(resumeDir, train, heldOut, backend, cfg with { Objective = objective });
            AnsiConsole.MarkupLine($"[grey]resumed from {Markup.Escape(resumeDir)} at step {trainer.StepIndex}[/]");
        }
        else
        {
            MaskPredictor model;
            if (initFrom is not null) model = Checkpoint.LoadModel(initFrom, backend);
            else
            {
                var mc = configPath is not null ? MaskPredictorConfig.Load(configPath) : Presets.ByName(preset, tok.VocabSize, sp.Mask, sp.Eos);
                mc = mc with { VocabSize = tok.VocabSize, MaskTokenId = sp.Mask, EosTokenId = sp.Eos, PadTokenId = sp.PadId, BosTokenId = sp.Bos, Causal = objective == Objective.Autoregressive, MaxSequenceLength = Math.Max(mc.MaxSequenceLength, all.Length) };
                model = new MaskPredictor(mc, cfg.Seed, backend);
            }
            trainer = new Trainer(model, cfg, train, heldOut);
        }
        using var _ = trainer;
        dist?.Attach(trainer, dpConfig);
        var mcfg = trainer.Model.Config;
        AnsiConsole.MarkupLine($"[bold]llada {objective.ToString().ToLowerInvariant()}[/] — {corpus.Poems.Count} poems ({train.Count} train / {heldOut.Count} held out), T {all.Length}, vocab {tok.VocabSize}");
        AnsiConsole.MarkupLine($"model: {mcfg.NLayers} layers, d {mcfg.DModel}, {mcfg.NHeads} heads, MLP {mcfg.MlpHiddenSize}, {trainer.Model.ParameterCount():N0} parameters{(mcfg.Causal ? ", causal (AR baseline)" : "")}; backend {backend.Name}, {threads} threads");
        if (dist is not null) AnsiConsole.MarkupLine($"data parallel: {DistributedRun.Size} ranks × batch {cfg.BatchSize} × grad-accum {cfg.GradAccum} = global batch {cfg.BatchSize * cfg.GradAccum * DistributedRun.Size}");
        AnsiConsole.MarkupLine($"steps {cfg.Steps}, batch {cfg.BatchSize}×{cfg.GradAccum}, lr {cfg.Lr} ({cfg.Schedule}), seed {cfg.Seed}; output {Markup.Escape(Path.GetFullPath(outDir))}");

        var extra = new Dictionary<string, string> { [TokenizerFile] = tok.ToJson(), [RunFile] = JsonSerializer.Serialize(run) };
        using var log = DistributedRun.IsLead ? new TrainingLog(outDir, append: resumeDir is not null) : null;
        int exit = Loop(trainer, cfg, log, ckptRoot, extra, noProgress, dist);
        log?.Plot($"llada {objective.ToString().ToLowerInvariant()} — {mcfg.NLayers}L d{mcfg.DModel}, {corpus.Poems.Count} poems");
        AnsiConsole.MarkupLine($"log: {Markup.Escape(Path.Combine(outDir, "log.csv"))}, loss curve: {Markup.Escape(log?.PlotPath ?? "")}");
        if (exit == 0 && samples > 0 && DistributedRun.IsLead && objective != Objective.Autoregressive)
            Samples.Print(trainer.Model, tok, corpus, heldOutEvery: run.HeldOutEvery, count: samples, sft: objective == Objective.Sft);
        return exit;
    }

    private static SequenceDataset SftData(PoemCorpus corpus, CharTokenizer tok, int seqLen)
    {
        var pairs = new List<(int[], int[])>();
        foreach (var c in corpus.Couplets())
        {
            pairs.Add((tok.Encode(PoemCorpus.ForwardQuestion(c)), tok.Encode(c.Second)));
            pairs.Add((tok.Encode(PoemCorpus.ReverseQuestion(c)), tok.Encode(c.First)));
        }
        int len = seqLen > 0 ? seqLen : pairs.Max(p => p.Item1.Length + p.Item2.Length) + 3;
        return SequenceDataset.PromptAnswer(pairs, len, tok.Specials);
    }

    private static int Loop(Trainer trainer, TrainConfig cfg, TrainingLog? log, string ckptRoot, Dictionary<string, string> extra, bool plain, DistributedRun? dist)
    {
        int start = trainer.StepIndex;
        var sw = Stopwatch.StartNew();
        long tokens = 0;
        double lastEval = double.NaN;
        string? lastSaved = null;

        void OneStep(Action<StepReport, double> progress)
        {
            var r = trainer.Step();
            tokens += r.Tokens;
            double? ev = null;
            if (log is not null && cfg.EvalEvery > 0 && (trainer.StepIndex % cfg.EvalEvery == 0 || trainer.StepIndex == cfg.Steps))
            {
                ev = trainer.Evaluate();
                lastEval = ev.Value;
            }
            log?.Step(r, ev);
            if (log is not null && cfg.SaveEvery > 0 && (trainer.StepIndex % cfg.SaveEvery == 0 || trainer.StepIndex == cfg.Steps))
                lastSaved = TrainingCheckpoint.Save(ckptRoot, trainer, extra);
            progress(r, tokens / sw.Elapsed.TotalSeconds);
        }

        try
        {
            if (plain)
            {
                int every = Math.Max(1, (cfg.Steps - start) / 20);
                while (trainer.StepIndex < cfg.Steps)
                    OneStep((r, tps) =>
                    {
                        if (trainer.StepIndex % every == 0 || trainer.StepIndex == cfg.Steps)
                            Console.WriteLine($"step {trainer.StepIndex,5}/{cfg.Steps}  loss {r.Loss:F4}  eval {lastEval:F4}  lr {r.Lr:G3}  |g| {r.GradNorm:F2}  {tps:F0} tok/s  {sw.Elapsed:mm\\:ss}");
                    });
            }
            else
            {
                AnsiConsole.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("training", maxValue: cfg.Steps);
                        task.Value = start;
                        while (trainer.StepIndex < cfg.Steps)
                            OneStep((r, tps) =>
                            {
                                task.Value = trainer.StepIndex;
                                task.Description = $"step {trainer.StepIndex}/{cfg.Steps} loss {r.Loss:F3} eval {lastEval:F3} {tps:F0} tok/s";
                            });
                    });
            }
        }
        catch (TrainingDivergedException e)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
            AnsiConsole.MarkupLine(lastSaved is null ? "[red]no checkpoint was saved before the divergence[/]" : $"last good checkpoint: {Markup.Escape(lastSaved)}");
            return 3;
        }
        double secs = sw.Elapsed.TotalSeconds;
        AnsiConsole.MarkupLine($"done: {trainer.StepIndex - start} steps in {secs:F1} s, {tokens / Math.Max(secs, 1e-9):F0} tokens/s; held-out loss {lastEval:F4}; checkpoint {Markup.Escape(lastSaved ?? "(none)")}");
        dist?.PrintThroughput(tokens, secs);
        return 0;
    }
}

/// <summary>Prints completions of held-out poems after training (first line given, the rest sampled).</summary>
public static class Samples
{
    public static void Print(MaskPredictor model, CharTokenizer tok, PoemCorpus corpus, int heldOutEvery, int count, bool sft)
    {
        var sampler = new ReverseSampler(new MaskPredictorLogits(model), tok.Specials);
        var picks = corpus.Poems.Select((p, i) => (p, i)).Where(t => t.i % heldOutEvery == heldOutEvery - 1).Take(count).ToList();
        if (picks.Count == 0) return;
        AnsiConsole.MarkupLine(sft ? "[bold]samples (held-out couplets, next line asked):[/]" : "[bold]samples (held-out poems: first line given, the rest generated):[/]");
        foreach (var (poem, _) in picks)
        {
            string head;
            int[] prompt;
            int gen;
            if (sft)
            {
                var c = PoemCorpus.CoupletsOf(0, poem).First();
                head = PoemCorpus.ForwardQuestion(c);
                prompt = [tok.Specials.Bos!.Value, .. tok.Encode(head)];
                gen = c.Second.Length + 4;
            }
            else
            {
                head = poem[..(poem.IndexOf('，') + 1)];
                prompt = [tok.Specials.Bos!.Value, .. tok.Encode(head)];
                gen = poem.Length - head.Length;
            }
            // The poem's true remaining length with EOS suppressed (eval_reverse.py's --eos_inf): a base model otherwise
            // tends to commit its confident EOS padding first.
            var result = sampler.Generate([prompt], new SamplerConfig { GenLength = gen, BlockLength = gen, Steps = gen, LogitsEosInf = !sft });
            var ids = result.Generated[0];
            int end = Array.IndexOf(ids, tok.Specials.Eos);
            string text = tok.Decode(end >= 0 ? ids[..end] : ids, skipSpecial: true);
            AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(head)}[/][green]{Markup.Escape(text)}[/]");
            AnsiConsole.MarkupLine($"  [grey]  truth: {Markup.Escape(poem)}[/]");
        }
    }
}
