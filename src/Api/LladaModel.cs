using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA;

/// <summary>A masked-diffusion language model loaded from a directory — a Hugging Face LLaDA checkpoint (GSAI-ML/LLaDA-8B-Instruct's
/// layout) or one this project trained — with its tokenizer, chat template and generation defaults: the public .NET API.</summary>
/// <remarks>
/// <para>What is read from the directory: config.json (every field that changes the math is implemented or refused), the weights
/// (model.safetensors or shards + model.safetensors.index.json; on the CPU memory-mapped and used in their stored dtype),
/// tokenizer.json + tokenizer_config.json (special tokens; the chat template, see <see cref="ChatFormat"/>) or our
/// tokenizer.char.json, and generation_config.json (<see cref="GenerationDefaults"/>). A training run directory resolves to its
/// latest checkpoint.</para>
/// <para>Not thread-safe: one generation or likelihood at a time per instance. Bad input (malformed files, a prompt longer than
/// the context, invalid sampler settings) throws an exception whose message names the problem: <see cref="ArgumentException"/>
/// for arguments, <see cref="InvalidDataException"/>, <see cref="CheckpointException"/> or <see cref="IOException"/> for files.</para>
/// </remarks>
public sealed class LladaModel : IDisposable
{
    /// <summary>The sampler defaults when neither the call nor generation_config.json sets a value: LLaDA chat.py's (gen 128,
    /// steps 128, block 32, temperature 0, low-confidence remasking), no cache.</summary>
    public static readonly SamplerConfig BuiltInDefaults = new() { GenLength = 128, Steps = 128, BlockLength = 32 };

    private readonly MaskPredictorLogits _logits;

    private LladaModel(string dir, MaskPredictor network, ITokenizer tokenizer, ChatFormat? chat, GenerationDefaults defaults, bool movingAverage)
    {
        Directory = dir;
        Network = network;
        _logits = new MaskPredictorLogits(network);
        Tokenizer = tokenizer;
        ChatFormat = chat;
        Defaults = defaults;
        UsesMovingAverage = movingAverage;
        var sp = tokenizer.Specials with { Mask = network.Config.MaskTokenId };
        if (defaults.PadTokenId is int pad && sp.Pad is null && pad != sp.Eos) sp = sp with { Pad = pad };
        Specials = sp;
        var stops = new List<int> { sp.Eos };
        if (sp.EndOfTurn is int eot) stops.Add(eot);
        stops.AddRange(defaults.EosTokenIds);
        StopTokens = stops.Distinct().ToArray();
    }

    /// <summary>The directory the weights came from (a training run's latest checkpoint when a run was given).</summary>
    public string Directory { get; }

    /// <summary>The network (for research use: its forward, parameters, config).</summary>
    public MaskPredictor Network { get; }

    public MaskPredictorConfig Config => Network.Config;

    public ITokenizer Tokenizer { get; }

    /// <summary>Special ids used for sampling: the tokenizer's, the mask id of config.json, the pad id of generation_config.json.</summary>
    public SpecialTokens Specials { get; }

    /// <summary>The chat template of tokenizer_config.json; null when there is none (a base model, or our char tokenizer: <see cref="Chat"/> then uses BOS + the plain texts).</summary>
    public ChatFormat? ChatFormat { get; }

    /// <summary>generation_config.json's ids and sampler defaults.</summary>
    public GenerationDefaults Defaults { get; }

    /// <summary>Ids that end an answer: EOS, end of turn, and generation_config.json's eos_token_id.</summary>
    public IReadOnlyList<int> StopTokens { get; }

    /// <summary>True when a training checkpoint's moving-average weights (ema.safetensors) were loaded.</summary>
    public bool UsesMovingAverage { get; }

    /// <summary>Loads a model directory (or a training run: its latest checkpoint). Every file is read and validated before the
    /// weights are mapped or allocated.</summary>
    public static LladaModel Load(string directory, LoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        options ??= new LoadOptions();
        var backend = options.Backend ?? CpuBackend.Default;
        string resolved = directory;
        if (!File.Exists(Path.Combine(directory, Checkpoint.ConfigFile)))
        {
            if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: model directory not found");
            // A run directory (runs/llada) or its checkpoints folder: take the newest checkpoint.
            var root = System.IO.Directory.Exists(Path.Combine(directory, "checkpoints")) ? Path.Combine(directory, "checkpoints") : directory;
            resolved = TrainingCheckpoint.Latest(root) ?? throw new CheckpointException($"{directory}: no config.json and no checkpoints/latest");
        }
        // Headers, config, tokenizer, template and generation defaults first (no tensor data read), then the host's checks, then the weights.
        var files = ModelFiles.Open(resolved);
        Checkpoint.Validate(files.Config, files);
        var tok = TokenizerFiles.Load(resolved);
        if (tok.VocabSize > files.Config.Rows)
            throw new CheckpointException($"{resolved}: tokenizer has {tok.VocabSize} tokens but the model only {files.Config.Rows} rows");
        var chat = ChatFormat.FromDirectory(resolved);
        var defaults = GenerationDefaults.Load(resolved);
        CheckIds(resolved, defaults, tok, files.Config);
        // On the CPU the weights are used in place from the memory-mapped shards in their stored dtype (an 8B BF16 checkpoint is
        // 16 GB of reclaimable file cache, never a 32 GB f32 copy); moving-average weights and device backends take the copying load.
        bool ema = !options.RawWeights && Ema.Exists(resolved);
        bool mapped = !ema && backend is CpuBackend;
        options.BeforeAllocating?.Invoke(new ModelCheck(resolved, files.Config, tok, chat, defaults, mapped ? files.Tensors.Sum(t => t.End - t.Begin) : null));
        var model = mapped ? Checkpoint.MapModel(files, (CpuBackend)backend) : Checkpoint.LoadModel(files, backend);
        try
        {
            if (ema) Ema.LoadInto(model, resolved);
            return new LladaModel(resolved, model, tok, chat, defaults, ema);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>generation_config.json's ids against the tokenizer and the embedding.</summary>
    private static void CheckIds(string dir, GenerationDefaults d, ITokenizer tok, MaskPredictorConfig c)
    {
        string src = Path.Combine(dir, GenerationDefaults.File);
        foreach (var id in d.EosTokenIds.Concat(d.BosTokenId is int b ? [b] : []).Concat(d.PadTokenId is int p ? [p] : []))
            if (id >= tok.VocabSize) throw new InvalidDataException($"{src}: token id {id} is outside the tokenizer's {tok.VocabSize} tokens");
        if (d.BosTokenId is int bos && tok.Specials.Bos is int tb && bos != tb)
            throw new InvalidDataException($"{src}: bos_token_id {bos} differs from the tokenizer's BOS {tb}");
        if (d.PadTokenId is int pad)
        {
            if (tok.Specials.Pad is int tp && tp != pad) throw new InvalidDataException($"{src}: pad_token_id {pad} differs from the tokenizer's pad {tp}");
            if (pad == c.MaskTokenId) throw new InvalidDataException($"{src}: pad_token_id {pad} is the mask id");
        }
    }

    // ---- prompts

    /// <summary>Refuses a sequence longer than the model's context: prompt + <paramref name="moreTokens"/> ≤ max_sequence_length.</summary>
    public static void EnsureContext(MaskPredictorConfig c, int promptTokens, int moreTokens, string more)
    {
        if ((long)promptTokens + moreTokens > c.MaxSequenceLength)
            throw new ArgumentException($"the prompt ({promptTokens} tokens) + {more} ({moreTokens}) exceeds the model's context (max_sequence_length {c.MaxSequenceLength})");
    }

    /// <summary>Ids of a plain prompt: BOS (when the tokenizer has one) + the text's tokens.</summary>
    public int[] EncodePrompt(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. (Specials.Bos is int b ? new[] { b } : []), .. Tokenizer.Encode(text)];
    }

    /// <summary>Ids of a conversation rendered with the chat template (<see cref="ChatFormat"/>), ending with the assistant header when <paramref name="addGenerationPrompt"/>.</summary>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("chat: no messages");
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is null) throw new ArgumentException($"chat: message {i} is null");
            if (string.IsNullOrWhiteSpace(messages[i].Role)) throw new ArgumentException($"chat: message {i} has no role");
            if (messages[i].Content is null) throw new ArgumentException($"chat: message {i} has no content");
        }
        return ChatTemplate.Encode(Tokenizer, ChatFormat, messages.Select(m => (m.Role, m.Content)).ToList(), addGenerationPrompt);
    }

    /// <summary>The text of a conversation as the chat template renders it (special tokens written out), for display and tests.</summary>
    public string RenderChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) =>
        Tokenizer.Decode(EncodeChat(messages, addGenerationPrompt));

    // ---- generation

    /// <summary>The sampler configuration a call with <paramref name="options"/> runs with: options &gt; generation_config.json &gt;
    /// <paramref name="baseline"/> (default <see cref="BuiltInDefaults"/>); validated.</summary>
    public SamplerConfig ResolveOptions(GenerationOptions? options, SamplerConfig? baseline = null) => Resolve(options, Defaults, baseline);

    /// <summary>The precedence rule, the one place it lives: <paramref name="options"/> &gt; <paramref name="defaults"/>
    /// (generation_config.json) &gt; <paramref name="baseline"/> (default <see cref="BuiltInDefaults"/>); validated
    /// (<see cref="ArgumentException"/> with the sampler's message).</summary>
    public static SamplerConfig Resolve(GenerationOptions? options, GenerationDefaults defaults, SamplerConfig? baseline = null)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var cfg = (options ?? new GenerationOptions()).Over(defaults.Options).ApplyTo(baseline ?? BuiltInDefaults);
        cfg.Validate();
        return cfg;
    }

    /// <summary>Continues <paramref name="prompt"/> (BOS + its tokens, no template); <paramref name="onBlock"/> is called as each block is committed.</summary>
    public GenerationResult Generate(string prompt, GenerationOptions? options = null, Action<GeneratedBlock>? onBlock = null) =>
        GenerateIds(EncodePrompt(prompt), ResolveOptions(options), onBlock);

    /// <summary>The assistant's answer to a conversation rendered with the chat template; <paramref name="onBlock"/> streams it block by block.</summary>
    public GenerationResult Chat(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null, Action<GeneratedBlock>? onBlock = null) =>
        GenerateIds(EncodeChat(messages), ResolveOptions(options), onBlock);

    /// <summary>As <see cref="Generate"/>, streamed: each committed block as it is committed.</summary>
    public IAsyncEnumerable<GeneratedBlock> GenerateStreamAsync(string prompt, GenerationOptions? options = null, CancellationToken cancel = default) =>
        Stream(EncodePrompt(prompt), ResolveOptions(options), cancel);

    /// <summary>As <see cref="Chat"/>, streamed: each committed block as it is committed.</summary>
    public IAsyncEnumerable<GeneratedBlock> ChatStreamAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions? options = null, CancellationToken cancel = default) =>
        Stream(EncodeChat(messages), ResolveOptions(options), cancel);

    /// <summary>A multi-turn conversation with LLaDA chat.py's semantics (<see cref="ChatSession"/>).</summary>
    public ChatSession StartChat() => new(this);

    /// <summary>Generates after prompt ids with a resolved sampler configuration: the one generation path of the API and the CLI.</summary>
    /// <param name="onStep">Every denoising step (live views, traces).</param>
    public GenerationResult GenerateIds(int[] prompt, SamplerConfig cfg, Action<GeneratedBlock>? onBlock = null, Action<SamplerStep>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(cfg);
        if (prompt.Length == 0) throw new ArgumentException("generate: the prompt is empty (no tokens, and the tokenizer has no BOS)");
        foreach (int id in prompt)
            if (id < 0 || id >= Config.VocabSize) throw new ArgumentException($"generate: prompt token {id} is outside the vocabulary (0 … {Config.VocabSize - 1})");
        cfg.Validate();
        EnsureContext(Config, prompt.Length, cfg.GenLength, "the generated tokens");
        EnsureContext(Config, prompt.Length, Math.Max(0, cfg.PadTo - prompt.Length), "the pad-to answer and padding");
        var sampler = new ReverseSampler(_logits, Specials);
        var clock = Stopwatch.StartNew();
        var streamer = onBlock is null ? null : new BlockStreamer(this, cfg, clock, onBlock);
        Action<SamplerStep>? steps = streamer is null ? onStep : onStep is null ? streamer.OnStep : s => { onStep(s); streamer.OnStep(s); };
        var r = sampler.Generate([prompt], cfg, steps);
        double seconds = clock.Elapsed.TotalSeconds;
        var gen = r.Generated[0];
        int stop = StopIndex(gen, gen.Length);
        return new GenerationResult(Decode(gen.AsSpan(0, stop)), gen[..stop], gen, prompt.Length, r.ForwardPasses, r.Steps, seconds);
    }

    /// <summary>The first stop token's index in ids[..length], or length.</summary>
    internal int StopIndex(ReadOnlySpan<int> ids, int length)
    {
        for (int i = 0; i < length; i++)
            if (StopTokens.Contains(ids[i])) return i;
        return length;
    }

    internal string Decode(ReadOnlySpan<int> ids) => Tokenizer.Decode(ids, skipSpecial: true);

    private async IAsyncEnumerable<GeneratedBlock> Stream(int[] prompt, SamplerConfig cfg, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        var channel = Channel.CreateUnbounded<GeneratedBlock>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var work = Task.Run(() =>
        {
            try
            {
                GenerateIds(prompt, cfg, b =>
                {
                    cancel.ThrowIfCancellationRequested();
                    channel.Writer.TryWrite(b);
                });
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
            }
        }, CancellationToken.None);
        await foreach (var b in channel.Reader.ReadAllAsync(CancellationToken.None)) yield return b;
        await work;
    }

    // ---- likelihood

    /// <summary>Monte-Carlo lower bound of log p(answer | prompt) (LLaDA's get_log_likelihood): prompt = BOS + its tokens, answer = its tokens.</summary>
    public LogLikelihood Likelihood(string prompt, string answer, LikelihoodConfig? options = null)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var p = EncodePrompt(prompt);
        var a = Tokenizer.Encode(answer);
        EnsureContext(Config, p.Length, a.Length, "the answer");
        return new LikelihoodEstimator(_logits, Specials).Estimate(p, a, options);
    }

    /// <summary>Scores each option as an answer to <paramref name="prompt"/> and returns the most likely one's index with every score.</summary>
    public (int Best, LogLikelihood[] Scores) MultipleChoice(string prompt, IReadOnlyList<string> answers, LikelihoodConfig? options = null)
    {
        ArgumentNullException.ThrowIfNull(answers);
        if (answers.Count == 0) throw new ArgumentException("likelihood: no options to choose from");
        var p = EncodePrompt(prompt);
        var a = answers.Select(x => Tokenizer.Encode(x ?? throw new ArgumentException("likelihood: an option is null"))).ToList();
        EnsureContext(Config, p.Length, a.Max(x => x.Length), "the longest option");
        return new LikelihoodEstimator(_logits, Specials).MultipleChoice(p, a, options);
    }

    public void Dispose() => Network.Dispose();
}
