using System.CommandLine;
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

    public static readonly Choices<Preset> PresetNames = new(Presets.Names);
    public static readonly Choices<LrSchedule> Schedules = Choices<LrSchedule>.KebabCase();

    /// <summary>The options of `llada train` and `llada sft` (one instance per command).</summary>
    private sealed class Definitions
    {
        private static readonly TrainConfig D = new();

        public readonly Option<Named<Preset>> Preset = Opt.Choice("preset", "model shape", PresetNames, LLaDA.Nn.Preset.Poems);
        public readonly Option<string?> Config = Opt.Text("config", "FILE", "model shape from a config.json instead of --preset");
        public readonly Option<string?> Data = Opt.Text("data", "FILE", "training text, one poem per line (default: the bundled Tang poems)");
        public readonly Option<int> Poems = Opt.Int("poems", "poems to load", 2000);
        public readonly Option<int> Steps = Opt.Int("steps", "optimizer steps", D.Steps);
        public readonly Option<int> Batch = Opt.Int("batch", "sequences per micro-batch (per rank under mpirun)", D.BatchSize);
        public readonly Option<int> GradAccum = Opt.Int("grad-accum", "micro-batches summed per optimizer step", D.GradAccum);
        public readonly Option<double> Lr = Opt.Real("lr", "peak learning rate", Opt.AsWritten(D.Lr));
        public readonly Option<double> MinLr = Opt.Real("min-lr", "learning rate at the end of the decay", Opt.AsWritten(D.MinLr));
        public readonly Option<int> Warmup = Opt.Int("warmup", "linear warmup steps", D.Warmup);
        public readonly Option<Named<LrSchedule>> Schedule = Opt.Choice("schedule", "learning-rate schedule after the warmup", Schedules, D.Schedule);
        public readonly Option<double> WeightDecay = Opt.Real("weight-decay", "AdamW weight decay", Opt.AsWritten(D.WeightDecay));
        public readonly Option<double> Clip = Opt.Real("clip", "global gradient-norm clip", Opt.AsWritten(D.GradClip));
        public readonly Option<int> EvalEvery = Opt.Int("eval-every", "steps between held-out evaluations", D.EvalEvery);
        public readonly Option<int> SaveEvery = Opt.Int("save-every", "steps between checkpoints", D.SaveEvery);
        public readonly Option<ulong> Seed = Opt.Seed("seed of the initialisation, data order and masking", D.Seed);
        public readonly VarianceOptions Variance = new(D);
        public readonly Option<Named<Device>> Device = Opt.Device();
        public readonly Option<int> Threads = Opt.Threads();
        public readonly Option<string?> Out = Opt.Text("out", "DIR", "run directory: log, loss plot, checkpoints (default: runs/llada, runs/sft, or runs/ar with --ar)");
        public readonly Option<bool> Resume = Opt.Flag("resume", "continue the run in --out from its latest checkpoint, with its saved settings");
        public readonly Option<string?> ResumeFrom = Opt.Text("resume-from", "DIR", "continue from this checkpoint (or run directory's latest)");
        public readonly Option<bool> Overwrite = Opt.Flag("overwrite", "start over: remove the earlier run's log, plot and checkpoints in --out");
        public readonly Option<bool> Ar = Opt.Flag("ar", "train the autoregressive baseline (causal attention, next-token loss) instead");
        public readonly Option<string?> Init = Opt.Text("init", "DIR", "start from this checkpoint's weights and tokenizer (fine-tuning)");
        public readonly Option<int> Samples = Opt.Int("samples", "held-out poems completed at the end", 6);
        public readonly Option<bool> NoProgress = Opt.Flag("no-progress", "plain progress lines instead of a progress bar (always when output is redirected)");
        public readonly Option<int> GlobalBatch = Opt.Int("global-batch", "batch × ranks × grad-accum: sets --grad-accum for the ranks of an mpirun job", 0);
        public readonly Option<int> ChecksumEvery = Opt.Int("checksum-every", "steps between the ranks' replica checksums", new DataParallelConfig().ChecksumEvery);

        public Command Command(string name, string description, Objective objective)
        {
            var c = new Command(name, description)
            {
                Preset, Config, Data, Poems, Steps, Batch, GradAccum, Lr, MinLr, Warmup, Schedule, WeightDecay, Clip, EvalEvery, SaveEvery, Seed,
                Device, Threads, Out, Resume, ResumeFrom, Overwrite, Ar, Init, Samples, NoProgress, GlobalBatch, ChecksumEvery,
            };
            foreach (var o in Variance.All) c.Add(o);
            c.SetAction(r => Run(Read(r, this, objective)));
            return c;
        }

        /// <summary>Options that define a run's numerics: at --resume they come from the checkpoint, and a different explicit value is refused.</summary>
        public IEnumerable<(Option Flag, Func<TrainConfig, object> Value)> RunDefining() =>
        [
            (Batch, c => c.BatchSize), (GradAccum, c => c.GradAccum), (Lr, c => c.Lr), (MinLr, c => c.MinLr), (Warmup, c => c.Warmup),
            (Schedule, c => Schedules.NameOf(c.Schedule)), (WeightDecay, c => c.WeightDecay), (Clip, c => c.GradClip), (Seed, c => c.Seed),
            (Variance.Time, c => VarianceOptions.TimeSamplings.NameOf(c.Noise.Time)), (Variance.MinT, c => c.Noise.MinT), (Variance.Ema, c => c.EmaDecay),
        ];
    }

    private static readonly Definitions Train = new(), Sft = new();

    public static Command TrainDefinition() => Train.Command("train", "pre-train a mask predictor on the bundled Tang poems (--ar: the autoregressive baseline); " +
        "under `mpirun -np N` data-parallel: --batch per rank, --global-batch = batch × N × grad-accum", Objective.Pretrain);

    public static Command SftDefinition() => Sft.Command("sft", "supervised fine-tuning on poem question-answer pairs (the prompt is never masked); usually with --init DIR", Objective.Sft);

    /// <summary>What one `llada train`/`sft` command line asks for.</summary>
    private sealed record Request(Objective Objective, TrainConfig Config, string? Resume, bool Overwrite, Preset Preset, string? ConfigPath, string Data, int Poems,
                                  string OutDir, IBackend Backend, int Threads, int Samples, bool NoProgress, string? Init, int GlobalBatch,
                                  DataParallelConfig Parallel, Func<Option, bool> Given, Definitions Options);

    /// <summary>Step 1: the options, read and checked against each other (ranges and names were checked while parsing).</summary>
    private static Request Read(ParseResult r, Definitions d, Objective objective)
    {
        if (r.GetValue(d.Ar)) objective = Objective.Autoregressive;
        var cfg = new TrainConfig
        {
            Objective = objective,
            Steps = r.GetValue(d.Steps),
            BatchSize = r.GetValue(d.Batch),
            GradAccum = r.GetValue(d.GradAccum),
            Lr = (float)r.GetValue(d.Lr),
            MinLr = (float)r.GetValue(d.MinLr),
            Warmup = r.GetValue(d.Warmup),
            Schedule = r.GetValue(d.Schedule),
            WeightDecay = (float)r.GetValue(d.WeightDecay),
            GradClip = (float)r.GetValue(d.Clip),
            EvalEvery = r.GetValue(d.EvalEvery),
            SaveEvery = r.GetValue(d.SaveEvery),
            Seed = r.GetValue(d.Seed),
        };
        cfg = d.Variance.Apply(r, cfg);
        string? resume = r.GetValue(d.ResumeFrom) ?? (r.GetValue(d.Resume) ? "" : null);
        bool overwrite = r.GetValue(d.Overwrite);
        int globalBatch = r.GetValue(d.GlobalBatch);
        if (resume is not null && overwrite) throw new OptionException("--overwrite starts the run over; it cannot be combined with --resume");
        if (globalBatch > 0 && r.Given(d.GradAccum)) throw new OptionException("give --global-batch or --grad-accum, not both");
        string outDir = r.GetValue(d.Out) ?? Path.Combine("runs", objective == Objective.Autoregressive ? "ar" : objective == Objective.Sft ? "sft" : "llada");
        return new Request(objective, cfg, resume, overwrite, r.GetValue(d.Preset), r.GetValue(d.Config), r.GetValue(d.Data) ?? DataPaths.DefaultPoems(), r.GetValue(d.Poems),
            outDir, Devices.Get(r.GetValue(d.Device)), r.GetValue(d.Threads), r.GetValue(d.Samples), r.GetValue(d.NoProgress) || Console.IsOutputRedirected,
            r.GetValue(d.Init), globalBatch, new DataParallelConfig { ChecksumEvery = r.GetValue(d.ChecksumEvery) }, o => r.Given(o), d);
    }

    /// <summary>What the run trains on: the tokenizer, the run description, the corpus and its train/held-out split.</summary>
    private sealed record RunData(CharTokenizer Tokenizer, RunInfo Info, PoemCorpus Corpus, SequenceDataset All, SequenceDataset Train, SequenceDataset HeldOut);

    private static int Run(Request q)
    {
        using var dist = DistributedRun.Start(); // launched by mpirun: this process is one rank of a data-parallel job
        CpuParallel.Threads = q.Threads;
        InstallKillHook();

        // The run directory: held for the whole run; leftovers of killed saves go first (in a data-parallel job the lead rank
        // holds it and alone writes there; the other ranks only read a resumed checkpoint).
        using var runDir = DistributedRun.IsLead ? RunDirectory.Acquire(q.OutDir) : null;
        string ckptRoot = Path.Combine(q.OutDir, RunDirectory.CheckpointsDir);
        if (runDir is not null) TrainingCheckpoint.CleanStale(ckptRoot);
        string? resumeDir = q.Resume is null ? null : ResolveResume(q.Resume, ckptRoot);
        if (resumeDir is null) runDir?.PrepareFresh(q.Overwrite);

        var (data, cfg) = LoadData(q, resumeDir);
        using var trainer = BuildTrainer(q, cfg, data, resumeDir);
        dist?.Attach(trainer, q.Parallel);
        PrintHeader(q, cfg, data, trainer, dist is not null);

        var extra = new Dictionary<string, string> { [TokenizerFile] = data.Tokenizer.ToJson(), [RunFile] = JsonSerializer.Serialize(data.Info) };
        var mcfg = trainer.Model.Config;
        using var log = DistributedRun.IsLead ? new TrainingLog(q.OutDir, resumedAt: resumeDir is null ? null : trainer.StepIndex) : null;
        int exit = Loop(trainer, cfg, log, ckptRoot, extra, q.NoProgress, dist);
        log?.Plot($"llada {q.Objective.ToString().ToLowerInvariant()} — {mcfg.NLayers}L d{mcfg.DModel}, {data.Corpus.Poems.Count} poems");
        if (log is not null) AnsiConsole.MarkupLine($"log: {Markup.Escape(Path.Combine(q.OutDir, "log.csv"))}, loss curve: {Markup.Escape(log.PlotPath)}");
        if (exit == 0 && q.Samples > 0 && DistributedRun.IsLead && q.Objective != Objective.Autoregressive) PrintSamples(q, data, trainer, log?.PlotPath);
        return exit;
    }

    /// <summary>Step 2: tokenizer, run description and data (a resumed run reuses the checkpoint's tokenizer, data settings and
    /// training configuration), and the configuration the run continues with.</summary>
    private static (RunData Data, TrainConfig Config) LoadData(Request q, string? resumeDir)
    {
        var cfg = q.Config;
        string preset = PresetNames.NameOf(q.Preset);
        CharTokenizer tok;
        RunInfo run;
        if (resumeDir is not null)
        {
            tok = CharTokenizer.FromJson(InputFile.ReadText(Path.Combine(resumeDir, TokenizerFile), "tokenizer"));
            run = ReadRunInfo(resumeDir);
            var saved = TrainingCheckpoint.ReadState(resumeDir).Train;
            cfg = ResumedConfig(q, saved, run);
            // The global batch is the run's: a resume with another rank count keeps it through the gradient accumulation.
            int savedGlobal = saved.BatchSize * saved.GradAccum * run.Ranks;
            if (q.GlobalBatch > 0 && q.GlobalBatch != savedGlobal)
                throw new OptionException($"--resume continues the saved run, which these options would change: --global-batch {q.GlobalBatch} (the run has {savedGlobal})");
            if (run.Ranks != DistributedRun.Size) cfg = cfg with { GradAccum = GradAccumFor(savedGlobal, cfg.BatchSize, "the run's global batch") };
        }
        else if (q.Init is not null)
        {
            tok = CharTokenizer.FromJson(InputFile.ReadText(Path.Combine(q.Init, TokenizerFile), "tokenizer"));
            run = new RunInfo(q.Data, q.Poems, 0, preset, q.Objective.ToString(), 20);
        }
        else
        {
            var corpus0 = PoemCorpus.Load(q.Data, q.Poems);
            // The vocabulary covers the questions of SFT too, so one tokenizer serves pre-training, SFT and evaluation.
            tok = CharTokenizer.Build(corpus0.Poems.Append("的下一句是什么？上一句"));
            run = new RunInfo(q.Data, q.Poems, 0, preset, q.Objective.ToString(), 20);
        }
        if (resumeDir is null && q.GlobalBatch > 0) cfg = cfg with { GradAccum = GradAccumFor(q.GlobalBatch, cfg.BatchSize, "--global-batch") };
        run = run with { Ranks = DistributedRun.Size };
        var corpus = PoemCorpus.Load(run.Data, run.Poems);
        SequenceDataset all = q.Objective == Objective.Sft
            ? SftData(corpus, tok, run.SeqLen)
            : SequenceDataset.PerDocument(corpus.Poems.Select(tok.Encode), run.SeqLen > 0 ? run.SeqLen : corpus.Poems.Max(p => p.Length) + 2, tok.Specials);
        run = run with { SeqLen = all.Length };
        var (train, heldOut) = all.Split(run.HeldOutEvery);
        return (new RunData(tok, run, corpus, all, train, heldOut), cfg);
    }

    /// <summary>Step 3: the trainer — resumed, initialised from --init, or a new model of --preset/--config (its memory checked first).</summary>
    private static Trainer BuildTrainer(Request q, TrainConfig cfg, RunData data, string? resumeDir)
    {
        if (resumeDir is not null)
        {
            var resumed = TrainingCheckpoint.Resume(resumeDir, data.Train, data.HeldOut, q.Backend, cfg);
            AnsiConsole.MarkupLine($"[grey]resumed from {Markup.Escape(resumeDir)} at step {resumed.StepIndex}[/]");
            return resumed;
        }
        MaskPredictor model;
        if (q.Init is not null) model = Checkpoint.LoadModel(q.Init, q.Backend);
        else
        {
            var sp = data.Tokenizer.Specials;
            var mc = q.ConfigPath is not null ? MaskPredictorConfig.Load(q.ConfigPath) : Presets.Of(q.Preset, data.Tokenizer.VocabSize, sp.Mask, sp.Eos);
            mc = mc with { VocabSize = data.Tokenizer.VocabSize, MaskTokenId = sp.Mask, EosTokenId = sp.Eos, PadTokenId = sp.PadId, BosTokenId = sp.Bos, Causal = q.Objective == Objective.Autoregressive, MaxSequenceLength = Math.Max(mc.MaxSequenceLength, data.All.Length) };
            MemoryEstimate.Training(mc.Validate(), cfg.BatchSize, data.All.Length).EnsureFits("lower --batch, use a smaller --preset/--config, or shorter documents");
            model = new MaskPredictor(mc, cfg.Seed, q.Backend);
        }
        return new Trainer(model, cfg, data.Train, data.HeldOut);
    }

    /// <summary>Step 4: what is about to run.</summary>
    private static void PrintHeader(Request q, TrainConfig cfg, RunData data, Trainer trainer, bool distributed)
    {
        var mcfg = trainer.Model.Config;
        AnsiConsole.MarkupLine($"[bold]llada {q.Objective.ToString().ToLowerInvariant()}[/] — {data.Corpus.Poems.Count} poems ({data.Train.Count} train / {data.HeldOut.Count} held out), T {data.All.Length}, vocab {data.Tokenizer.VocabSize}");
        AnsiConsole.MarkupLine($"model: {mcfg.NLayers} layers, d {mcfg.DModel}, {mcfg.NHeads} heads, MLP {mcfg.MlpHiddenSize}, {trainer.Model.ParameterCount():N0} parameters{(mcfg.Causal ? ", causal (AR baseline)" : "")}; backend {q.Backend.Name}, {q.Threads} threads");
        if (distributed) AnsiConsole.MarkupLine($"data parallel: {DistributedRun.Size} ranks × batch {cfg.BatchSize} × grad-accum {cfg.GradAccum} = global batch {cfg.BatchSize * cfg.GradAccum * DistributedRun.Size}");
        AnsiConsole.MarkupLine($"steps {cfg.Steps}, batch {cfg.BatchSize}×{cfg.GradAccum}, lr {cfg.Lr} ({Schedules.NameOf(cfg.Schedule)}), seed {cfg.Seed}; output {Markup.Escape(Path.GetFullPath(q.OutDir))}");
    }

    /// <summary>Step 6: completions of held-out poems, sampled as generate would from the last checkpoint: with the moving-average weights when the run keeps them.</summary>
    private static void PrintSamples(Request q, RunData data, Trainer trainer, string? plotPath)
    {
        if (trainer.Ema is not null)
        {
            trainer.Ema.CopyIntoParameters();
            AnsiConsole.MarkupLine($"[grey]samples use the moving-average weights ({Ema.File})[/]");
        }
        var run = data.Info;
        Samples.Print(trainer.Model, data.Tokenizer, data.Corpus, heldOutEvery: run.HeldOutEvery, rowLength: run.SeqLen, count: q.Samples, sft: q.Objective == Objective.Sft);
        if (q.Objective == Objective.Pretrain && plotPath is not null)
        {
            AnsiConsole.MarkupLine($"next: the loss curve is {Markup.Escape(plotPath)}; watch the masks fill in with");
            string p = data.Corpus.Poems[run.HeldOutEvery - 1], head = PoemCompletions.Head(p);
            int gen = p.Length - head.Length;
            AnsiConsole.MarkupLine($"  llada generate --checkpoint {Markup.Escape(q.OutDir)} --prompt \"{Markup.Escape(head)}\" --gen-length {gen} --block-length {head.Length} --steps {gen} --temperature 1 --pad-to {run.SeqLen} --live");
        }
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
    private static TrainConfig ResumedConfig(Request q, TrainConfig saved, RunInfo run)
    {
        var (cli, d) = (q.Config, q.Options);
        var conflicts = new List<string>();
        if (saved.Objective != q.Objective) conflicts.Add($"the checkpoint is a {saved.Objective} run, this command trains {q.Objective}");
        foreach (var (flag, value) in d.RunDefining())
            if (q.Given(flag) && !Equals(value(cli), value(saved))) conflicts.Add($"{flag.Name} {value(cli)} (the run has {value(saved)})");
        if (q.Given(d.Data) && Path.GetFullPath(q.Data) != Path.GetFullPath(run.Data)) conflicts.Add($"--data {q.Data} (the run has {run.Data})");
        if (q.Given(d.Poems) && q.Poems != run.Poems) conflicts.Add($"--poems {q.Poems} (the run has {run.Poems})");
        string preset = PresetNames.NameOf(q.Preset);
        if (q.Given(d.Preset) && !string.Equals(preset, run.Preset, StringComparison.OrdinalIgnoreCase)) conflicts.Add($"--preset {preset} (the run has {run.Preset})");
        if (q.Given(d.Config)) conflicts.Add("--config (a resumed run's model is the checkpoint's)");
        if (q.Given(d.Init)) conflicts.Add("--init (a resumed run's weights are the checkpoint's)");
        if (conflicts.Count > 0)
            throw new OptionException($"--resume continues the saved run, which these options would change: {string.Join("; ", conflicts)}. Drop them, or start a new run with --overwrite or another --out");
        var cfg = saved with { Steps = q.Given(d.Steps) ? cli.Steps : saved.Steps, EvalEvery = q.Given(d.EvalEvery) ? cli.EvalEvery : saved.EvalEvery, SaveEvery = q.Given(d.SaveEvery) ? cli.SaveEvery : saved.SaveEvery };
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
