using System.Globalization;
using LLaDA.Nn;

namespace LLaDA.Cli;

/// <summary>Bytes a command will need — F32 weights, optimizer state, activations — checked against what the machine has before anything is allocated.</summary>
/// <remarks>
/// Coarse upper estimates from the shapes (C d_model, KV key/value width, M MLP hidden, V embedding rows, NL layers), meant to
/// refuse what cannot fit with a clear line instead of an "Out of memory." crash, not to predict the resident size:
/// <list type="bullet">
/// <item>weights: 4 B per parameter when loaded into F32; their stored bytes when memory-mapped in their stored dtype (inference on the CPU);</item>
/// <item>training state: gradients 4 B + AdamW moments 8 B per parameter;</item>
/// <item>inference forward, per token of (rows × length): the hidden state and one layer's scratch (the inference forward frees
/// each layer's tensors) 4·(8C + 2KV + 3M), the logits 4V, and the sampler's host copies of them in float and double 12V;</item>
/// <item>training forward + backward, per token: what the tape keeps per layer 4·NL·(12C + 2KV + 4M), logits with their gradient
/// and softmax 12V, and one layer's backward scratch 4·(8C + 3M);</item>
/// <item>key/value cache (generate --cache prefix|dual): 2 · NL · rows · length · KV · 4 B.</item>
/// </list>
/// </remarks>
public sealed record MemoryEstimate(string What, long Weights, long State, long Activations)
{
    public long Total => Add(Add(Weights, State), Activations);

    [ThreadStatic] private static long? _mappedBytes;

    /// <summary>4 B per parameter (F32 weights), or inside <see cref="MappedWeights"/> the checkpoint's stored bytes: memory-mapped
    /// weights are file cache, but the forward needs them resident to run at speed.</summary>
    public static long WeightBytes(MaskPredictorConfig c) => _mappedBytes ?? 4 * c.ParameterCount();

    /// <summary>While the returned scope is open, estimates count the weights as memory-mapped at <paramref name="storedBytes"/>.</summary>
    public static IDisposable MappedWeights(long storedBytes)
    {
        var previous = _mappedBytes;
        _mappedBytes = storedBytes;
        return new Restore(() => _mappedBytes = previous);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    /// <summary>Bytes per token of one inference forward (activations and host copies of the logits).</summary>
    public static long InferencePerToken(MaskPredictorConfig c)
    {
        long ch = c.DModel, kv = (long)c.KvHeads * c.HeadSize, m = c.MlpHiddenSize, v = c.Rows;
        return 4 * (8 * ch + 2 * kv + 3 * m) + 4 * v + 12 * v;
    }

    /// <summary>Bytes per token of a training step's forward and backward.</summary>
    public static long TrainingPerToken(MaskPredictorConfig c)
    {
        long ch = c.DModel, kv = (long)c.KvHeads * c.HeadSize, m = c.MlpHiddenSize, v = c.Rows;
        return 4 * c.NLayers * (12 * ch + 2 * kv + 4 * m) + 12 * v + 4 * (8 * ch + 3 * m);
    }

    /// <summary>A training run: weights, gradients and AdamW moments, activations of one micro-batch (batch × seqLen).</summary>
    public static MemoryEstimate Training(MaskPredictorConfig c, int batch, int seqLen) =>
        new($"training (batch {batch} × length {seqLen})", WeightBytes(c), 12 * c.ParameterCount(), Sat((long)batch * seqLen, TrainingPerToken(c)));

    /// <summary>Sampling <paramref name="genLength"/> tokens after a prompt: rows = 2 under classifier-free guidance; a key/value cache covers the whole sequence.</summary>
    public static MemoryEstimate Generate(MaskPredictorConfig c, int promptLength, int genLength, bool cfg, bool kvCache)
    {
        long rows = cfg ? 2 : 1, tokens = rows * ((long)promptLength + genLength);
        long kv = kvCache ? Sat(2L * c.NLayers * tokens, 4L * c.KvHeads * c.HeadSize) : 0;
        return new($"generation (length {promptLength} + {genLength}{(cfg ? ", CFG" : "")})", WeightBytes(c), 0, Add(Sat(tokens, InferencePerToken(c)), kv));
    }

    /// <summary>Monte-Carlo likelihood: one batch of (batch × length) rows at a time (2× under CFG); --mc-num only sets how many batches run.</summary>
    public static MemoryEstimate Likelihood(MaskPredictorConfig c, int batch, int length, bool cfg)
    {
        long rows = (cfg ? 2L : 1L) * batch;
        return new($"likelihood (batch {batch} × length {length}{(cfg ? ", CFG" : "")})", WeightBytes(c), 0, Sat(rows * length, InferencePerToken(c)));
    }

    /// <summary>Throws the one refusal line when the estimate exceeds the memory available: estimate, its parts, the limit and where it came from.</summary>
    public void EnsureFits(string hint)
    {
        var (limit, source) = AvailableBytes();
        if (Total <= limit) return;
        throw new OptionException($"{What} needs about {Format(Total)} (weights {Format(Weights)}, optimizer state {Format(State)}, activations {Format(Activations)}) " +
                                  $"but {Format(limit)} is available ({source}); {hint}");
    }

    /// <summary>Environment variable that caps the memory llada assumes it may use (bytes, or with a K/M/G suffix).</summary>
    public const string LimitVariable = "LLADA_MEMORY_LIMIT";

    /// <summary>The smallest of: <see cref="LimitVariable"/>, the runtime's limit (physical memory or a container / GC heap limit), and the kernel's MemAvailable.</summary>
    public static (long Bytes, string Source) AvailableBytes()
    {
        long best = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        string source = "the runtime's memory limit";
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                    && long.TryParse(line["MemAvailable:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture, out long kb) && kb * 1024 < best)
                    (best, source) = (kb * 1024, "MemAvailable in /proc/meminfo");
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        if (Environment.GetEnvironmentVariable(LimitVariable) is string s)
        {
            long v = ParseBytes(s) ?? throw new OptionException($"{LimitVariable} must be a byte count such as 8G, 512M or 1000000, got '{s}'");
            if (v < best) (best, source) = (v, LimitVariable);
        }
        return (best, source);
    }

    /// <summary>"8G", "512M", "64K" or plain bytes; null when malformed.</summary>
    public static long? ParseBytes(string s)
    {
        s = s.Trim();
        long mul = 1;
        if (s.Length > 0 && char.ToUpperInvariant(s[^1]) is 'K' or 'M' or 'G' or 'T')
        {
            mul = char.ToUpperInvariant(s[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1L << 40 };
            s = s[..^1];
        }
        return long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0 && v <= long.MaxValue / mul ? v * mul : null;
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F1} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        _ => $"{bytes / 1024.0:F1} KiB",
    };

    /// <summary>a·b saturated at long.MaxValue (absurd option values must not wrap to a small estimate).</summary>
    private static long Sat(long a, long b) => b != 0 && a > long.MaxValue / b ? long.MaxValue : a * b;

    private static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
