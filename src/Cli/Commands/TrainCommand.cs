using System.Diagnostics;
using System.Text.Json;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Distributed;
using LLaDA.Diffusion.Eval;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Spectre.Console;

namespace LLaDA.Cli.Commands;

/// <summary>What a run trains on, saved with every checkpoint so --resume rebuilds the same data.</summary>
/// <param name="Ranks">Data-parallel ranks of the run's last segment (1 for one process): with the saved per-rank batch and gradient
/// accumulation it gives the global batch that a resume with another rank count keeps.</param>
public sealed record RunInfo(string Data, int Poems, int SeqLen, string Preset, string Objective, int HeldOutEvery, int Ranks = 1);

/// <summary>`llada train` (pre-training, or --ar for the autoregressive baseline) and `llada sft` on poems.</summary>
public static class TrainCommand
{
    public const string TokenizerFile = "tokenizer.char.json";
    public const string RunFile = "run.json";

    /// <summary>Options that define a run's numerics: at --resume they come from the checkpoint, and a different explicit value is refused.</summary>
    private static readonly (string Flag, Func<TrainConfig, object> Value)[] RunDefining =
    [
        ("batch", c => c.BatchSize), ("grad-accum", c => c.GradAccum), ("lr", c => c.Lr), ("min-lr", c => c.MinLr),
        ("warmup", c => c.Warmup), ("schedule", c => c.Schedule), ("weight-decay", c => c.WeightDecay), ("clip", c => c.GradClip),
        ("seed", c => c.Seed), ("time-sampling", c => c.Noise.Time), ("min-t", c => c.Noise.MinT), ("ema", c => c.EmaDecay),
    ];

    public static int Run(Options o, Objective objective)
    {
        using var dist = DistributedRun.Start(); // launched by mpirun: this process is one rank of a data-parallel job
        // ---- options
        string? resume = o.Flag("resume") ? "" : null;
        resume = o.String("resume-from") ?? resume;
        bool overwrite = o.Flag("overwrite");
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
        cfg = VarianceOptions.Apply(o, cfg);
        string? initFrom = o.String("init");
        int globalBatch = o.Int("global-batch", 0);
        var dpConfig = new DataParallelConfig { ChecksumEvery = o.Int("checksum-every", new DataParallelConfig().ChecksumEvery) };
        o.RejectUnknown();
        CpuParallel.Threads = threads;
        if (cfg.Steps <= 0 || cfg.BatchSize <= 0 || cfg.GradAccum <= 0) throw new OptionException("--steps, --batch and --grad-accum must be positive");
        if (resume is not null && overwrite) throw new OptionException("--overwrite starts the run over; it cannot be combined with --resume");
        if (globalBatch > 0 && o.Has("grad-accum")) throw new OptionException("give --global-batch or --grad-accum, not both");

        InstallKillHook();

        // ---- the run directory: held for the whole run; leftovers of killed saves go first
        // (in a data-parallel job the lead rank holds it and alone writes there; the other ranks only read a resumed checkpoint)
        using var runDir = DistributedRun.IsLead ? RunDirectory.Acquire(outDir) : null;
        string ckptRoot = Path.Combine(outDir, RunDirectory.CheckpointsDir);
        if (runDir is not null) TrainingCheckpoint.CleanStale(ckptRoot);
        string? resumeDir = resume is null ? null : ResolveResume(resume, ckptRoot);
        if (resumeDir is null) runDir?.PrepareFresh(overwrite);

        // ---- data and tokenizer (a resumed run reuses the checkpoint's tokenizer, data settings and training configuration)
        CharTokenizer tok;
        RunInfo run;
        if (resumeDir is not null)
        {
            tok = CharTokenizer.FromJson(InputFile.ReadText(Path.Combine(resumeDir, TokenizerFile), "tokenizer"));
            run = ReadRunInfo(resumeDir);
            var saved = TrainingCheckpoint.ReadState(resumeDir).Train;
            cfg = ResumedConfig(o, cfg, saved, run, objective, data, poems, preset);
            // The global batch is the run's: a resume with another rank count keeps it through the gradient accumulation.
            int savedGlobal = saved.BatchSize * saved.GradAccum * run.Ranks;
            if (globalBatch > 0 && globalBatch != savedGlobal)
                throw new OptionException($"--resume continues the saved run, which these options would change: --global-batch {globalBatch} (the run has {savedGlobal})");
            if (run.Ranks != DistributedRun.Size) cfg = cfg with { GradAccum = GradAccumFor(savedGlobal, cfg.BatchSize, "the run's global batch") };
        }
        else if (initFrom is not null)
        {
            tok = CharTokenizer.FromJson(InputFile.ReadText(Path.Combine(initFrom, TokenizerFile), "tokenizer"));
            run = new RunInfo(data, poems, 0, preset, objective.ToString(), 20);
        }
        else
        {
            var corpus0 = PoemCorpus.Load(data, poems);
            // The vocabulary covers the questions of SFT too, so one tokenizer serves pre-training, SFT and evaluation.
            tok = CharTokenizer.Build(corpus0.Poems.Append("的下一句是什么？上一句"));
            run = new RunInfo(data, poems, 0, preset, objective.ToString(), 20);
        }
        if (resumeDir is null && globalBatch > 0) cfg = cfg with { GradAccum = GradAccumFor(globalBatch, cfg.BatchSize, "--global-batch") };
        run = run with { Ranks = DistributedRun.Size };
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
            trainer = TrainingCheckpoint.Resume(resumeDir, train, heldOut, backend, cfg);
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
                MemoryEstimate.Training(mc.Validate(), cfg.BatchSize, all.Length).EnsureFits("lower --batch, use a smaller --preset/--config, or shorter documents");
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
        using var log = DistributedRun.IsLead ? new TrainingLog(outDir, resumedAt: resumeDir is null ? null : trainer.StepIndex) : null;
        int exit = Loop(trainer, cfg, log, ckptRoot, extra, noProgress, dist);
        log?.Plot($"llada {objective.ToString().ToLowerInvariant()} — {mcfg.NLayers}L d{mcfg.DModel}, {corpus.Poems.Count} poems");
        if (log is not null) AnsiConsole.MarkupLine($"log: {Markup.Escape(Path.Combine(outDir, "log.csv"))}, loss curve: {Markup.Escape(log.PlotPath)}");
        if (exit == 0 && samples > 0 && DistributedRun.IsLead && objective != Objective.Autoregressive)
        {
            // Sample as generate would from the last checkpoint: with the moving-average weights when the run keeps them.
            if (trainer.Ema is not null)
            {
                trainer.Ema.CopyIntoParameters();
                AnsiConsole.MarkupLine($"[grey]samples use the moving-average weights ({Ema.File})[/]");
            }
            Samples.Print(trainer.Model, tok, corpus, heldOutEvery: run.HeldOutEvery, rowLength: run.SeqLen, count: samples, sft: objective == Objective.Sft);
            if (objective == Objective.Pretrain && log is not null)
            {
                AnsiConsole.MarkupLine($"next: the loss curve is {Markup.Escape(log.PlotPath)}; watch the masks fill in with");
                string p = corpus.Poems[run.HeldOutEvery - 1], head = PoemCompletions.Head(p);
                int gen = p.Length - head.Length;
                AnsiConsole.MarkupLine($"  llada generate --checkpoint {Markup.Escape(outDir)} --prompt \"{Markup.Escape(head)}\" --gen-length {gen} --block-length {head.Length} --steps {gen} --temperature 1 --pad-to {run.SeqLen} --live");
            }
        }
        return exit;
    }

    /// <summary>The held-out loss for a progress line: "—" until the first evaluation (never "NaN").</summary>
    private static string EvalText(double loss, string format) =>
        double.IsFinite(loss) ? loss.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "—";

    /// <summary>Gradient accumulation that makes <paramref name="globalBatch"/> = per-rank batch × ranks × accumulation.</summary>
    private static int GradAccumFor(int globalBatch, int batch, string what)
    {
        int perStep = batch * DistributedRun.Size;
        if (globalBatch % perStep != 0) throw new OptionException($"{what} {globalBatch} is not a multiple of --batch {batch} × {DistributedRun.Size} ranks");
        return globalBatch / perStep;
    }

    /// <summary>Environment variable of the crash-test hook: PHASE[@N] (a name of <see cref="TrainingCheckpoint.SavePhases"/>, N-th save, default 1)
    /// makes this process SIGKILL itself at that instant of a checkpoint save, so the kill -9 soak can land in every phase.</summary>
    public const string KillAtVariable = "LLADA_KILL_AT";

    private static void InstallKillHook()
    {
        if (Environment.GetEnvironmentVariable(KillAtVariable) is not { Length: > 0 } spec) return;
        var parts = spec.Split('@');
        string phase = parts[0];
        int nth = parts.Length > 1 && int.TryParse(parts[1], out int n) ? n : 1;
        if (!TrainingCheckpoint.SavePhases.Contains(phase))
            throw new OptionException($"{KillAtVariable}={spec}: unknown phase (one of {string.Join(", ", TrainingCheckpoint.SavePhases)})");
        int seen = 0;
        TrainingCheckpoint.PhaseHook = (_, p) =>
        {
            if (p == phase && ++seen == nth) System.Diagnostics.Process.GetCurrentProcess().Kill();
        };
    }

    /// <summary>The checkpoint --resume (latest under the run) or --resume-from DIR (a checkpoint, or a run directory's latest) names.</summary>
    private static string ResolveResume(string resume, string ckptRoot)
    {
        if (resume.Length == 0)
            return TrainingCheckpoint.Latest(ckptRoot) ?? throw new CheckpointException($"--resume: no checkpoint under {ckptRoot}; start the run without --resume");
        if (File.Exists(Path.Combine(resume, TrainingCheckpoint.StateFile))) return resume;
        foreach (var root in new[] { Path.Combine(resume, RunDirectory.CheckpointsDir), resume })
            if (Directory.Exists(root) && TrainingCheckpoint.Latest(root) is string dir) return dir;
        throw new CheckpointException(Directory.Exists(resume)
            ? $"--resume-from {resume}: not a training checkpoint (no {TrainingCheckpoint.StateFile}) and no checkpoints/latest under it"
            : $"--resume-from {resume}: no such directory");
    }

    private static RunInfo ReadRunInfo(string dir)
    {
        string path = Path.Combine(dir, RunFile);
        try
        {
            return JsonSerializer.Deserialize<RunInfo>(InputFile.ReadText(path, "run description")) ?? throw new CheckpointException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: malformed JSON ({e.Message})");
        }
    }

    /// <summary>The configuration a resumed run continues with: the saved one. A run-defining option given explicitly with another
    /// value is refused (it would continue a different run); --steps, --eval-every and --save-every may change and are reported.</summary>
    private static TrainConfig ResumedConfig(Options o, TrainConfig cli, TrainConfig saved, RunInfo run, Objective objective, string data, int poems, string preset)
    {
        var conflicts = new List<string>();
        if (saved.Objective != objective) conflicts.Add($"the checkpoint is a {saved.Objective} run, this command trains {objective}");
        foreach (var (flag, value) in RunDefining)
            if (o.Has(flag) && !Equals(value(cli), value(saved))) conflicts.Add($"--{flag} {value(cli)} (the run has {value(saved)})");
        if (o.Has("data") && Path.GetFullPath(data) != Path.GetFullPath(run.Data)) conflicts.Add($"--data {data} (the run has {run.Data})");
        if (o.Has("poems") && poems != run.Poems) conflicts.Add($"--poems {poems} (the run has {run.Poems})");
        if (o.Has("preset") && preset != run.Preset) conflicts.Add($"--preset {preset} (the run has {run.Preset})");
        if (o.Has("config")) conflicts.Add("--config (a resumed run's model is the checkpoint's)");
        if (o.Has("init")) conflicts.Add("--init (a resumed run's weights are the checkpoint's)");
        if (conflicts.Count > 0)
            throw new OptionException($"--resume continues the saved run, which these options would change: {string.Join("; ", conflicts)}. Drop them, or start a new run with --overwrite or another --out");
        var cfg = saved with { Steps = o.Has("steps") ? cli.Steps : saved.Steps, EvalEvery = o.Has("eval-every") ? cli.EvalEvery : saved.EvalEvery, SaveEvery = o.Has("save-every") ? cli.SaveEvery : saved.SaveEvery };
        foreach (var (flag, now, was) in new[] { ("steps", cfg.Steps, saved.Steps), ("eval-every", cfg.EvalEvery, saved.EvalEvery), ("save-every", cfg.SaveEvery, saved.SaveEvery) })
            if (now != was) Console.Error.WriteLine($"resume: --{flag} {now} replaces the run's {was}{(flag == "steps" ? " (the learning-rate schedule follows the new total)" : "")}");
        return cfg;
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
                            Console.WriteLine($"step {trainer.StepIndex,5}/{cfg.Steps}  loss {r.Loss:F4}  eval {EvalText(lastEval, "F4")}  lr {r.Lr:G3}  |g| {r.GradNorm:F2}  {tps:F0} tok/s  {sw.Elapsed:mm\\:ss}");
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
                                task.Description = $"step {trainer.StepIndex}/{cfg.Steps} loss {r.Loss:F3} eval {EvalText(lastEval, "F3")} {tps:F0} tok/s";
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
        AnsiConsole.MarkupLine($"done: {trainer.StepIndex - start} steps in {secs:F1} s, {tokens / Math.Max(secs, 1e-9):F0} tokens/s; held-out loss {EvalText(lastEval, "F4")}; checkpoint {Markup.Escape(lastSaved ?? "(none)")}");
        dist?.PrintThroughput(tokens, secs);
        return 0;
    }
}

/// <summary>Prints completions of held-out poems after training (first line given, the rest sampled), the poem-shape figure over
/// <see cref="PoemSamplingConfig.Count"/> of them, and one infilling example.</summary>
public static class Samples
{
    /// <summary>The held-out poems of the run a checkpoint belongs to (its run.json; the bundled poems' split when it has none).</summary>
    /// <returns>The poems and the run's row length (the training sequence length T).</returns>
    public static (IReadOnlyList<string> Poems, int RowLength) HeldOutPoems(string checkpointDir, int count)
    {
        string path = Path.Combine(checkpointDir, TrainCommand.RunFile);
        var run = File.Exists(path)
            ? JsonSerializer.Deserialize<RunInfo>(InputFile.ReadText(path, "run description")) ?? throw new CheckpointException($"{path}: empty")
            : new RunInfo(DataPaths.DefaultPoems(), 2000, 0, "poems", nameof(Objective.Pretrain), 20);
        return (HeldOut(PoemCorpus.Load(run.Data, run.Poems), run.HeldOutEvery).Take(count).ToList(), run.SeqLen);
    }

    private static IEnumerable<string> HeldOut(PoemCorpus corpus, int every) => corpus.Poems.Where((_, i) => i % every == every - 1);

    /// <param name="rowLength">The training rows' length T: poems are completed inside EOS-padded rows of that length, as trained.</param>
    public static void Print(MaskPredictor model, CharTokenizer tok, PoemCorpus corpus, int heldOutEvery, int rowLength, int count, bool sft)
    {
        var sampler = new ReverseSampler(new MaskPredictorLogits(model), tok.Specials);
        if (sft)
        {
            PrintSft(sampler, tok, corpus, heldOutEvery, count);
            return;
        }
        var cfg = new PoemSamplingConfig { RowLength = rowLength };
        var poems = HeldOut(corpus, heldOutEvery).Take(Math.Max(cfg.Count, count)).ToList();
        if (poems.Count == 0) return;
        var sw = Stopwatch.StartNew();
        var done = PoemCompletions.Complete(sampler, tok, poems, cfg);
        AnsiConsole.MarkupLine(cfg.GivenFormat
            ? "[bold]samples (held-out poems: first line given; the model fills the characters between the line ends' ， and 。):[/]"
            : "[bold]samples (held-out poems: first line given, the rest generated line by line):[/]");
        foreach (var c in done.Take(count))
        {
            AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(c.Head)}[/][green]{Markup.Escape(c.Generated)}[/]{(c.Flaw is string f ? $" [red]✗ {Markup.Escape(f)}[/]" : "")}");
            AnsiConsole.MarkupLine($"  [grey]  truth: {Markup.Escape(c.Truth)}[/]");
        }
        int shaped = done.Count(c => c.Flaw is null);
        AnsiConsole.MarkupLine($"[bold]poem-shaped: {shaped}/{done.Count} ({100.0 * shaped / done.Count:F0} %)[/] of held-out poems completed from their first line — every line 5 or 7 characters, ， and 。 at line ends, no character three times in a row ({sw.Elapsed.TotalSeconds:F0} s; `llada eval poems` recomputes it)");

        // What a left-to-right model cannot do: the same poem with its FIRST line masked, filled from the lines after it.
        var poem = done[0];
        string filled = PoemCompletions.InfillFirstLine(sampler, tok, poem.Truth, cfg);
        string rest = poem.Truth[poem.Head.Length..];
        AnsiConsole.MarkupLine("[bold]forward vs infilling (the same held-out poem):[/]");
        AnsiConsole.MarkupLine($"  forward:   [grey]{Markup.Escape(poem.Head)}[/][green]{Markup.Escape(poem.Generated)}[/]   (first line given, the rest generated)");
        AnsiConsole.MarkupLine($"  infilling: [green]{Markup.Escape(filled)}[/][grey]{Markup.Escape(poem.Head[^1..] + rest)}[/]   (first line masked, filled from the lines after it)");
        AnsiConsole.MarkupLine($"  truth:     [grey]{Markup.Escape(poem.Truth)}[/]");
    }

    private static void PrintSft(ReverseSampler sampler, CharTokenizer tok, PoemCorpus corpus, int heldOutEvery, int count)
    {
        var picks = HeldOut(corpus, heldOutEvery).Take(count).ToList();
        if (picks.Count == 0) return;
        AnsiConsole.MarkupLine("[bold]samples (held-out couplets, next line asked):[/]");
        foreach (var poem in picks)
        {
            var c = PoemCorpus.CoupletsOf(0, poem).First();
            string head = PoemCorpus.ForwardQuestion(c);
            int[] prompt = [tok.Specials.Bos!.Value, .. tok.Encode(head)];
            var result = sampler.Generate([prompt], new SamplerConfig { GenLength = c.Second.Length + 4, BlockLength = c.Second.Length + 4, Steps = c.Second.Length + 4 });
            var ids = result.Generated[0];
            int end = Array.IndexOf(ids, tok.Specials.Eos);
            string text = tok.Decode(end >= 0 ? ids[..end] : ids, skipSpecial: true);
            AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(head)}[/][green]{Markup.Escape(text)}[/]");
            AnsiConsole.MarkupLine($"  [grey]  truth: {Markup.Escape(poem)}[/]");
        }
    }
}
