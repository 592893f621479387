using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LLaDA.Autograd;
using LLaDA.Cli.Commands;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Bench;

/// <summary>`llada bench model DIR`: a checkpoint directory (a published LLaDA-8B or the synthetic one of `make-checkpoint`)
/// loaded memory-mapped on the CPU as `chat` loads it, then timed: load seconds (map + first forward), seconds per forward at
/// several lengths with GFLOP/s and the fraction of the FMA peak measured in the same run, a chat answer (block 32, dual
/// cache, threshold 0.9 by default) with its seconds, tokens/s and forward passes, and the memory: peak RSS (VmHWM) and the
/// anonymous part (RssAnon, sampled), which must not grow with the weights (they are file-backed mapped pages).</summary>
public static class ModelBench
{
    /// <summary>The user turn of the chat measurement (through the chat template).</summary>
    public const string Prompt = "Explain in a few sentences why the sky is blue.";

    private static readonly Argument<string?> Dir = Opt.TextArgument("DIR", "the checkpoint directory");
    private static readonly Option<bool> Json = Opt.Json();
    private static readonly Option<int> Threads = Opt.Threads();
    private static readonly Option<string> Lengths = Opt.Text("lengths", "N,N,...", "tokens per timed forward (batch 1, no cache)", "1,32,128,512");
    private static readonly Option<int> GenLength = Opt.Int("gen-length", "tokens of the chat answer", 128);
    private static readonly Option<int> BlockLength = Opt.Int("block-length", "semi-autoregressive block of the chat answer", 32);
    private static readonly Option<double> Threshold = Opt.Real("threshold", "confidence threshold of the chat answer (Fast-dLLM parallel decoding)", 0.9);
    private static readonly Option<int> ChatForwards = Opt.Int("chat-forwards", "stop the chat answer after this many forward passes and report those (a full 8B answer takes minutes on 2 cores)", 0);
    private static readonly Option<bool> NoChat = Opt.Flag("no-chat", "time the load and the forwards only (the 8B's runs can then be split to fit a real-time-priority window)");
    private static readonly Option<double> MaxRssGb = Opt.Real("max-rss-gb", "stop (at the next forward) once the resident set exceeds this many GB", 20);

    public static Command Definition()
    {
        var c = new Command("model", "load a checkpoint directory memory-mapped and time it: load, forwards at 1/32/128/512 tokens (GFLOP/s, % of FMA peak), a chat answer; peak RSS")
        {
            Dir, Json, Threads, Lengths, GenLength, BlockLength, Threshold, ChatForwards, NoChat, MaxRssGb,
        };
        c.SetAction(Run);
        return c;
    }

    /// <summary>What to measure.</summary>
    public sealed record Settings
    {
        public IReadOnlyList<int> Lengths { get; init; } = [1, 32, 128, 512];
        public int Threads { get; init; } = Environment.ProcessorCount;
        public SamplerConfig Chat { get; init; } = new() { GenLength = 128, BlockLength = 32, Steps = 128, Threshold = 0.9, Cache = CacheMode.Dual };

        /// <summary>Whether the chat answer is measured at all.</summary>
        public bool RunChat { get; init; } = true;

        /// <summary>0: the whole answer; otherwise stop after this many forward passes.</summary>
        public int ChatForwards { get; init; }

        public double MaxRssBytes { get; init; } = 20e9;

        /// <summary>Least seconds spent per timed length (a fast forward is repeated and the median reported).</summary>
        public double BudgetSeconds { get; init; } = 0.5;
    }

    private static int Run(ParseResult p)
    {
        string dir = p.GetValue(Dir) ?? throw new OptionException("bench model needs a checkpoint directory: llada bench model DIR");
        var lengths = new List<int>();
        foreach (var item in p.GetValue(Lengths)!.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > 1 << 20)
                throw new OptionException($"--lengths: '{item}' is not a token count in [1, 1048576]");
            lengths.Add(n);
        }
        var chat = new SamplerConfig { GenLength = p.GetValue(GenLength), BlockLength = p.GetValue(BlockLength), Steps = p.GetValue(GenLength), Threshold = p.GetValue(Threshold), Cache = CacheMode.Dual };
        try
        {
            chat.Validate();
        }
        catch (ArgumentException e)
        {
            throw new OptionException(e.Message);
        }
        var settings = new Settings { Lengths = lengths, Threads = p.GetValue(Threads), Chat = chat, ChatForwards = p.GetValue(ChatForwards), RunChat = !p.GetValue(NoChat), MaxRssBytes = p.GetValue(MaxRssGb) * 1e9 };
        bool json = p.GetValue(Json);
        var report = Measure(dir, settings, json ? TextWriter.Null : Console.Out);
        if (json) Console.WriteLine(JsonSerializer.Serialize(report, JsonOpts));
        return 0;
    }

    /// <summary>One timed forward length: seconds (median of the repetitions), GFLOP per forward, GFLOP/s and its fraction of the
    /// FMA peak, and how much the anonymous resident memory grew above what it was before this length's first forward.</summary>
    public sealed record ForwardRow(int Tokens, int Repetitions, double Seconds, double Gflop, double Gflops, double FractionOfPeak, long AnonGrowthBytes);

    /// <summary>The chat answer: <see cref="ForwardPasses"/> counted around the model, <see cref="SamplerForwardPasses"/> as the
    /// sampler reports them (equal; null when the answer was stopped early by --chat-forwards).</summary>
    public sealed record ChatRow(int PromptTokens, int GenLength, int BlockLength, double Threshold, string Cache, bool Completed, double Seconds, double? TokensPerSecond,
        int ForwardPasses, int? SamplerForwardPasses, double SecondsPerForward, double Gflops, double FractionOfPeak, IReadOnlyList<double> ForwardSeconds);

    public sealed record Report(string Checkpoint, long Parameters, long MatmulParameters, long WeightBytes, string WeightDType, int Threads,
        double FmaPeakGflops, double TriadGbps, string Isa, double MapSeconds, double FirstForwardSeconds, double LoadSeconds,
        IReadOnlyList<ForwardRow> Forwards, ChatRow? Chat, long PeakRssBytes, long PeakAnonBytes, long AnonBeforeLoadBytes, long PoolReservedBytes, string? Stopped);

    /// <summary>Loads <paramref name="dir"/> as `chat` does (memory-mapped on the CPU) and measures it; progress lines go to <paramref name="log"/>.</summary>
    public static Report Measure(string dir, Settings s, TextWriter log)
    {
        int previousThreads = CpuParallel.Threads;
        CpuParallel.Threads = s.Threads;
        using var memory = new MemoryWatch(s.MaxRssBytes);
        try
        {
            var limits = MachineLimits.Measure(s.Threads);
            long anonBefore = ProcStatus.Read().AnonBytes;
            var backend = CpuBackend.Default;

            var clock = Stopwatch.StartNew();
            var (model, tok, resolved) = ModelLoader.Load(dir, backend, (c, _) =>
                MemoryEstimate.Generate(c, s.Lengths.DefaultIfEmpty(1).Max(), s.Chat.GenLength, false, true).EnsureFits("use a smaller model or shorter --lengths"));
            using var _ = model;
            double mapSeconds = clock.Elapsed.TotalSeconds;
            var c = model.Config;
            long matmulParams = MatmulParameters(c);
            var files = ModelFiles.Open(resolved);
            long weightBytes = files.Tensors.Sum(t => t.End - t.Begin);
            string dtypes = string.Join("+", files.Tensors.GroupBy(t => t.DType).OrderByDescending(g => g.Sum(t => t.End - t.Begin)).Select(g => g.Key.ToString()));
            log.WriteLine($"llada bench model — {resolved}: {c.ParameterCount() / 1e9:F2} B parameters, {MemoryEstimate.Format(weightBytes)} of {dtypes} memory-mapped, {s.Threads} thread(s), {CpuMatMul.BestAvailable} GEMM kernel");
            log.WriteLine($"machine limits measured now: {limits}");

            var clockFirst = Stopwatch.StartNew();
            memory.Check();
            Forward(model, 1);
            double firstSeconds = clockFirst.Elapsed.TotalSeconds;
            log.WriteLine($"load {mapSeconds + firstSeconds:F2} s (open, validate and map {mapSeconds:F2} s + first forward of 1 token {firstSeconds:F2} s)");

            var rows = new List<ForwardRow>();
            foreach (int n in s.Lengths)
            {
                if (n > c.MaxSequenceLength) throw new OptionException($"--lengths: {n} tokens exceed the model's context (max_sequence_length {c.MaxSequenceLength})");
                long anon0 = ProcStatus.Read().AnonBytes;
                memory.ResetAnonPeak();
                var times = new List<double>();
                double spent = 0;
                do
                {
                    memory.Check();
                    var t = Stopwatch.StartNew();
                    Forward(model, n);
                    times.Add(t.Elapsed.TotalSeconds);
                    spent += times[^1];
                }
                while (spent < s.BudgetSeconds && times.Count < 50);
                times.Sort();
                double sec = times[times.Count / 2], gflop = ForwardFlops(c, matmulParams, n, n) / 1e9;
                long growth = Math.Max(0, memory.AnonPeakSinceReset - anon0);
                var row = new ForwardRow(n, times.Count, sec, gflop, gflop / sec, gflop / sec / limits.PeakGflops, growth);
                rows.Add(row);
                log.WriteLine($"forward of {n} tokens: {sec:F3} s (median of {times.Count}), {gflop:F1} GFLOP, {row.Gflops:F1} GFLOP/s, anonymous memory +{MemoryEstimate.Format(growth)}");
            }

            var chat = Chat(model, tok, s, matmulParams, limits, memory, log);
            // Every fraction is of the best peak seen in this run (measured before and after), so a moment of contention
            // during one measurement cannot make a forward look faster than the machine.
            limits = limits.Max(MachineLimits.Measure(s.Threads));
            rows = rows.Select(r => r with { FractionOfPeak = r.Gflops / limits.PeakGflops }).ToList();
            if (chat is not null) chat = chat with { FractionOfPeak = chat.Gflops / limits.PeakGflops };
            log.WriteLine($"{"tokens",7} {"reps",5} {"s/forward",10} {"GFLOP",9} {"GFLOP/s",9} {"of peak",8} {"anon growth",12}");
            foreach (var row in rows)
                log.WriteLine($"{row.Tokens,7} {row.Repetitions,5} {row.Seconds,10:F3} {row.Gflop,9:F1} {row.Gflops,9:F1} {100 * row.FractionOfPeak,7:F0}% {MemoryEstimate.Format(row.AnonGrowthBytes),12}");
            if (chat is not null)
                log.WriteLine(chat.Completed
                    ? $"chat answer: {chat.GenLength} tokens (block {chat.BlockLength}, {chat.Cache} cache, threshold {chat.Threshold}) after a {chat.PromptTokens}-token prompt in {chat.Seconds:F2} s = {chat.TokensPerSecond:F2} tokens/s, {chat.ForwardPasses} forward passes ({chat.SecondsPerForward:F3} s each; model {chat.Gflops:F1} GFLOP/s = {100 * chat.FractionOfPeak:F0}% of peak)"
                    : $"chat answer stopped after {chat.ForwardPasses} forward passes (--chat-forwards) in {chat.Seconds:F2} s: {chat.SecondsPerForward:F3} s each (model {chat.Gflops:F1} GFLOP/s = {100 * chat.FractionOfPeak:F0}% of peak)");
            var status = ProcStatus.Read();
            var report = new Report(resolved, c.ParameterCount(), matmulParams, weightBytes, dtypes, s.Threads, limits.PeakGflops, limits.TriadGBps, limits.Isa,
                mapSeconds, firstSeconds, mapSeconds + firstSeconds, rows, chat, status.PeakRssBytes, Math.Max(memory.AnonPeak, status.AnonBytes), anonBefore,
                backend.Pool.BytesReserved, memory.Stopped);
            log.WriteLine($"peak RSS {MemoryEstimate.Format(report.PeakRssBytes)} (VmHWM: mapped weights + anonymous), peak anonymous {MemoryEstimate.Format(report.PeakAnonBytes)} (RssAnon; {MemoryEstimate.Format(anonBefore)} before loading), tensor pool {MemoryEstimate.Format(report.PoolReservedBytes)}");
            log.WriteLine($"machine limits, best measured in this run: {limits}");
            return report;
        }
        finally
        {
            CpuParallel.Threads = previousThreads;
        }
    }

    /// <summary>The chat measurement: the templated prompt, the sampler with the settings' configuration, every forward timed.</summary>
    private static ChatRow? Chat(MaskPredictor model, ITokenizer tok, Settings s, long matmulParams, MachineLimits limits, MemoryWatch memory, TextWriter log)
    {
        if (!s.RunChat) return null;
        var sp = ModelLoader.Specials(tok, model.Config);
        int[] prompt = ChatTemplate.Encode(tok, [("user", Prompt)]);
        ModelLoader.EnsureContext(model.Config, prompt.Length, s.Chat.GenLength, "--gen-length");
        var counted = new CountingModel(new MaskPredictorLogits(model), prompt.Length + s.Chat.GenLength, s.ChatForwards, memory);
        var sampler = new ReverseSampler(counted, sp);
        var clock = Stopwatch.StartNew();
        int? samplerPasses = null;
        bool completed = true;
        try
        {
            samplerPasses = sampler.Generate([prompt], s.Chat).ForwardPasses;
        }
        catch (EnoughForwards)
        {
            completed = false;
        }
        double sec = clock.Elapsed.TotalSeconds;
        double modelSeconds = counted.Seconds.Sum();
        double gflops = counted.Flops(model.Config, matmulParams) / 1e9 / Math.Max(modelSeconds, 1e-9);
        var row = new ChatRow(prompt.Length, s.Chat.GenLength, s.Chat.BlockLength, s.Chat.Threshold ?? 0, s.Chat.Cache.ToString().ToLowerInvariant(), completed, sec,
            completed ? s.Chat.GenLength / sec : null, counted.Seconds.Count, samplerPasses, sec / Math.Max(1, counted.Seconds.Count), gflops, gflops / limits.PeakGflops, counted.Seconds);
        log.WriteLine($"chat: {row.ForwardPasses} forward passes in {sec:F2} s{(completed ? "" : " (stopped by --chat-forwards)")}; per forward: {string.Join(", ", counted.Seconds.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))} s");
        return row;
    }

    /// <summary>One untaped forward of a batch of 1 × <paramref name="tokens"/> ids (ordinary ids and the mask: a sampler's input), its logits dropped.</summary>
    private static void Forward(MaskPredictor model, int tokens)
    {
        var ids = new int[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = i % 3 == 0 ? model.Config.MaskTokenId : (int)((i * 7919L + 13) % model.Config.VocabSize);
        using var scope = new TensorScope();
        using var x = Tensor.FromSpan<int>(ids, [1, tokens], DType.I32, model.Backend);
        using var logits = Tape.NoGrad(() => model.Forward(x)).Data;
        using var last = logits.Narrow(1, tokens - 1, 1); // one row, not a host copy of all B×L×V logits
        if (!last.ToArray().All(float.IsFinite))
            throw new InvalidOperationException("bench model: the forward gave a non-finite logit");
    }

    /// <summary>Parameters that take part in a matrix product per token: every 2-D weight but the embedding table (a row
    /// gather), plus the tied head when the embedding doubles as it.</summary>
    public static long MatmulParameters(MaskPredictorConfig c) =>
        Checkpoint.ExpectedShapes(c).Where(kv => kv.Value.Length == 2 && kv.Key != "model.transformer.wte.weight").Sum(kv => (long)kv.Value[0] * kv.Value[1])
        + (c.WeightTying ? (long)c.Rows * c.DModel : 0);

    /// <summary>FLOPs of one forward of <paramref name="queries"/> tokens attending to <paramref name="keys"/>: 2 per parameter
    /// and token for the matrix products, and 4·q·k·d_model per layer for attention (QKᵀ and A·V).</summary>
    public static double ForwardFlops(MaskPredictorConfig c, long matmulParams, int queries, int keys) =>
        2.0 * matmulParams * queries + 4.0 * c.NLayers * queries * (double)keys * c.DModel;

    private static readonly JsonSerializerOptions JsonOpts = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private sealed class EnoughForwards : Exception;

    /// <summary>The sampler's model with every forward counted and timed; stops the answer after a number of forwards or
    /// when the memory watch says the resident set passed its limit. It offers the hidden states as the model does, so the
    /// sampler takes its product path (the LM head fused with sampling over vocabulary tiles); such a forward's time and
    /// FLOPs exclude the head, which the sampler runs on the masked positions only.</summary>
    private sealed class CountingModel(MaskPredictorLogits inner, int sequence, int maxForwards, MemoryWatch memory) : IHiddenStatesModel
    {
        public List<double> Seconds { get; } = new();
        private readonly List<(int Queries, bool WithHead)> _forwards = new();

        public int VocabSize => inner.VocabSize;
        public IBackend Backend => inner.Backend;
        public Tensor HeadWeight => inner.HeadWeight;

        public Tensor Logits(Tensor ids, Tensor? keyPadding) => Timed(ids, true, () => inner.Logits(ids, keyPadding));

        public Tensor Logits(Tensor ids, int start, KvCache? cache, CacheMode mode, Action<KvCache>? record, Tensor? keyPadding) =>
            Timed(ids, true, () => inner.Logits(ids, start, cache, mode, record, keyPadding));

        public Tensor Hidden(Tensor ids, int start, KvCache? cache, CacheMode mode, Action<KvCache>? record, Tensor? keyPadding) =>
            Timed(ids, false, () => inner.Hidden(ids, start, cache, mode, record, keyPadding));

        private Tensor Timed(Tensor ids, bool withHead, Func<Tensor> forward)
        {
            if (maxForwards > 0 && Seconds.Count >= maxForwards) throw new EnoughForwards();
            memory.Check();
            var t = Stopwatch.StartNew();
            var y = forward();
            Seconds.Add(t.Elapsed.TotalSeconds);
            _forwards.Add((ids.Dim(1), withHead));
            return y;
        }

        /// <summary>FLOPs of the forwards so far: each window's queries attend to the whole sequence (no cache or dual cache);
        /// a hidden-state forward without the LM head's 2·rows·d_model per query.</summary>
        public double Flops(MaskPredictorConfig c, long matmulParams) => _forwards.Sum(f =>
            ForwardFlops(c, f.WithHead ? matmulParams : matmulParams - (long)c.Rows * c.DModel, f.Queries, sequence));
    }
}

/// <summary>This process's memory from /proc/self/status (Linux; zeros elsewhere).</summary>
public readonly record struct ProcStatus(long RssBytes, long PeakRssBytes, long AnonBytes, long FileBytes)
{
    public static ProcStatus Read()
    {
        try
        {
            return Parse(File.ReadAllLines("/proc/self/status"));
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return default;
    }

    /// <summary>The fields of /proc/PID/status lines ("VmHWM:\t16132696 kB"); missing ones are 0.</summary>
    public static ProcStatus Parse(IEnumerable<string> lines)
    {
        long rss = 0, hwm = 0, anon = 0, file = 0;
        foreach (var line in lines)
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kb(line);
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kb(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kb(line);
        }
        return new ProcStatus(rss, hwm, anon, file);
    }

    private static long Kb(string line)
    {
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries); // "VmHWM:\t16132696 kB": a tab, spaces only below 8 digits
        return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kb) ? kb * 1024 : 0;
    }
}

/// <summary>Samples /proc/self/status every 20 ms on a background thread: the peak anonymous resident size (the kernel keeps
/// a peak only for the whole resident set, VmHWM), and whether the resident set passed its limit.</summary>
internal sealed class MemoryWatch : IDisposable
{
    private readonly double _limit;
    private readonly Timer _timer;
    private long _anonPeak, _anonPeakSinceReset;
    private volatile string? _stopped;

    public MemoryWatch(double limitBytes)
    {
        _limit = limitBytes;
        _timer = new Timer(_ => Sample(), null, 0, 20);
    }

    public long AnonPeak => Interlocked.Read(ref _anonPeak);
    public long AnonPeakSinceReset
    {
        get
        {
            Sample();
            return Interlocked.Read(ref _anonPeakSinceReset);
        }
    }

    /// <summary>Why the run stopped (the resident set passed the limit), or null.</summary>
    public string? Stopped => _stopped;

    public void ResetAnonPeak()
    {
        Sample();
        Interlocked.Exchange(ref _anonPeakSinceReset, ProcStatus.Read().AnonBytes);
    }

    /// <summary>Throws the one stop message once the resident set has passed the limit.</summary>
    public void Check()
    {
        Sample();
        if (_stopped is { } why) throw new OptionException(why);
    }

    private void Sample()
    {
        var s = ProcStatus.Read();
        Max(ref _anonPeak, s.AnonBytes);
        Max(ref _anonPeakSinceReset, s.AnonBytes);
        if (s.RssBytes > _limit && _stopped is null)
            _stopped = $"bench model stopped: resident set {s.RssBytes / 1e9:F1} GB (anonymous {s.AnonBytes / 1e9:F1} GB) passed --max-rss-gb {_limit / 1e9:F0}";
    }

    private static void Max(ref long slot, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref slot)) && Interlocked.CompareExchange(ref slot, value, seen) != seen)
        {
        }
    }

    public void Dispose() => _timer.Dispose();
}
