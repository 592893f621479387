using System.Globalization;

namespace LLaDA.Cli;

/// <summary>What a numeric option holds: a 32-bit integer, a 64-bit unsigned integer (seeds) or a finite real.</summary>
public enum NumberKind
{
    Int32,
    UInt64,
    Real,
}

/// <summary>The allowed range of one numeric option: [Min, Max] with either end optionally open; real values must also be finite.</summary>
/// <remarks>A <see cref="NumberKind.UInt64"/> option takes every 64-bit unsigned value (Min and Max are not used for it).</remarks>
public sealed record OptionRange(string Name, NumberKind Kind, double Min, double Max, bool MinOpen = false, bool MaxOpen = false, string? Note = null)
{
    public bool Integer => Kind != NumberKind.Real;

    public bool Contains(double v) => double.IsFinite(v) && (Kind == NumberKind.UInt64
        ? v >= 0 && v <= ulong.MaxValue
        : (MinOpen ? v > Min : v >= Min) && (MaxOpen ? v < Max : v <= Max));

    /// <summary>The value <paramref name="text"/> stands for when it is a valid value of this option (syntax and range), else null.</summary>
    public double? Accepts(string text) => Kind switch
    {
        NumberKind.Int32 => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) && Contains(i) ? i : null,
        NumberKind.UInt64 => ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong u) ? u : null,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && Contains(d) ? d : null,
    };

    /// <summary>"an integer in [1, 2147483647]" or "a finite number in (0, 1]", plus the note ("0 = never").</summary>
    public string Describe()
    {
        static string F(double x) => x.ToString("G", CultureInfo.InvariantCulture);
        string kind = Integer ? "an integer" : "a finite number";
        string range = Kind == NumberKind.UInt64
            ? $"[0, {ulong.MaxValue.ToString(CultureInfo.InvariantCulture)}]"
            : $"{(MinOpen ? "(" : "[")}{F(Min)}, {F(Max)}{(MaxOpen ? ")" : "]")}";
        return Note is null ? $"{kind} in {range}" : $"{kind} in {range} ({Note})";
    }
}

/// <summary>Every numeric command-line option with its range: the one place ranges live. The parser's definitions
/// (<see cref="Opt"/>) take each numeric option's range from here and check it while parsing; a numeric option missing
/// here is a programming error, found when the command line is built.</summary>
public static class OptionRanges
{
    private const double IntMax = int.MaxValue;
    private const NumberKind I = NumberKind.Int32, R = NumberKind.Real;

    public static IReadOnlyDictionary<string, OptionRange> All { get; } = new OptionRange[]
    {
        // counts and lengths
        new("steps", I, 1, IntMax),
        new("batch", I, 1, IntMax, Note: "memory is checked against the machine"),
        new("grad-accum", I, 1, IntMax),
        new("warmup", I, 0, IntMax),
        new("eval-every", I, 0, IntMax, Note: "0 = never"),
        new("save-every", I, 1, IntMax),
        new("poems", I, 1, IntMax),
        new("samples", I, 0, 1000),
        new("max-queries", I, 0, IntMax, Note: "0 = all"),
        new("gen-length", I, 1, 1 << 20, Note: "prompt + answer must also fit the model's max_sequence_length"),
        new("block-length", I, 1, 1 << 20),
        new("pad-to", I, 0, 1 << 20, Note: "0 = no EOS padding after the answer"),
        new("mc-num", I, 1, 1 << 24),
        new("seed", NumberKind.UInt64, 0, 0),
        new("threads", I, 1, 1024),
        new("global-batch", I, 0, IntMax, Note: "0 = batch × ranks × grad-accum"),
        new("checksum-every", I, 0, IntMax, Note: "0 = never"),
        new("t-grid", I, 1, 1 << 20),
        new("mask-draws", I, 1, 1 << 20),
        new("max-lines", I, 0, IntMax, Note: "0 = all"),
        new("count", I, 1, IntMax),
        new("chat-forwards", I, 0, IntMax, Note: "0 = the whole answer"),
        new("max-rss-gb", R, 0, 1e6, MinOpen: true),
        // rates and weights
        new("lr", R, 0, 1, Note: "0 freezes the weights"),
        new("min-lr", R, 0, 1),
        new("weight-decay", R, 0, 1),
        new("clip", R, 0, 1e6, Note: "0 disables clipping"),
        new("temperature", R, 0, 100, Note: "0 = greedy"),
        new("cfg", R, 0, 100, Note: "0 disables guidance"),
        new("threshold", R, 0, 1, MinOpen: true),
        new("factor", R, 0, 1000, MinOpen: true),
        new("min-t", R, 0, 1, MaxOpen: true, Note: "0 = no floor"),
        new("ema", R, 0, 1, MaxOpen: true, Note: "0 = off"),
    }.ToDictionary(r => r.Name);

    /// <summary>The range of --<paramref name="name"/>; throws for an option nobody declared.</summary>
    public static OptionRange Of(string name) =>
        All.TryGetValue(name, out var r) ? r : throw new InvalidOperationException($"numeric option --{name} has no entry in {nameof(OptionRanges)}");

    /// <summary>The value of --<paramref name="name"/> written as <paramref name="text"/>, or the one message every option shares.</summary>
    public static bool TryParse(string name, string text, out double value, out string? error)
    {
        double? v = Of(name).Accepts(text);
        value = v ?? 0;
        error = v is null ? Message(name, text) : null;
        return v is not null;
    }

    /// <summary>A seed (64-bit unsigned) written as <paramref name="text"/>, or the shared message.</summary>
    public static bool TryParseUInt64(string name, string text, out ulong value, out string? error)
    {
        value = 0;
        bool ok = Of(name).Kind == NumberKind.UInt64 && ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
        error = ok ? null : Message(name, text);
        return ok;
    }

    public static string Message(string name, string text) => $"--{name} must be {Of(name).Describe()}, got '{text}'";
}
