using System.Globalization;

namespace LLaDA.Cli;

/// <summary>The allowed range of one numeric option: [Min, Max] with either end optionally open; real values must also be finite.</summary>
public sealed record OptionRange(string Name, bool Integer, double Min, double Max, bool MinOpen = false, bool MaxOpen = false, string? Note = null)
{
    public bool Contains(double v) => double.IsFinite(v) && (MinOpen ? v > Min : v >= Min) && (MaxOpen ? v < Max : v <= Max);

    /// <summary>"an integer in [1, 2147483647]" or "a finite number in (0, 1]", plus the note ("0 = never").</summary>
    public string Describe()
    {
        static string F(double x) => x.ToString("G", CultureInfo.InvariantCulture);
        string kind = Integer ? "an integer" : "a finite number";
        string range = $"{(MinOpen ? "(" : "[")}{F(Min)}, {F(Max)}{(MaxOpen ? ")" : "]")}";
        return Note is null ? $"{kind} in {range}" : $"{kind} in {range} ({Note})";
    }
}

/// <summary>Every numeric command-line option with its range: the one place the parser checks them (independent of the parser, so
/// it moves with the options if the command line changes); an option missing here is a programming error.</summary>
public static class OptionRanges
{
    private const double IntMax = int.MaxValue;

    public static IReadOnlyDictionary<string, OptionRange> All { get; } = new OptionRange[]
    {
        // counts and lengths
        new("steps", true, 1, IntMax),
        new("batch", true, 1, IntMax, Note: "memory is checked against the machine"),
        new("grad-accum", true, 1, IntMax),
        new("warmup", true, 0, IntMax),
        new("eval-every", true, 0, IntMax, Note: "0 = never"),
        new("save-every", true, 1, IntMax),
        new("poems", true, 1, IntMax),
        new("samples", true, 0, 1000),
        new("max-queries", true, 0, IntMax, Note: "0 = all"),
        new("gen-length", true, 1, 1 << 20, Note: "prompt + answer must also fit the model's max_sequence_length"),
        new("block-length", true, 1, 1 << 20),
        new("pad-to", true, 0, 1 << 20, Note: "0 = no EOS padding after the answer"),
        new("mc-num", true, 1, 1 << 24),
        new("seed", true, 0, IntMax),
        new("threads", true, 1, 1024),
        new("global-batch", true, 0, IntMax, Note: "0 = batch × ranks × grad-accum"),
        new("checksum-every", true, 0, IntMax, Note: "0 = never"),
        new("t-grid", true, 1, 1 << 20),
        new("mask-draws", true, 1, 1 << 20),
        new("max-lines", true, 0, IntMax, Note: "0 = all"),
        new("count", true, 1, IntMax),
        // rates and weights
        new("lr", false, 0, 1, Note: "0 freezes the weights"),
        new("min-lr", false, 0, 1),
        new("weight-decay", false, 0, 1),
        new("clip", false, 0, 1e6, Note: "0 disables clipping"),
        new("temperature", false, 0, 100, Note: "0 = greedy"),
        new("cfg", false, 0, 100, Note: "0 disables guidance"),
        new("threshold", false, 0, 1, MinOpen: true),
        new("factor", false, 0, 1000, MinOpen: true),
        new("min-t", false, 0, 1, MaxOpen: true, Note: "0 = no floor"),
        new("ema", false, 0, 1, MaxOpen: true, Note: "0 = off"),
    }.ToDictionary(r => r.Name);

    /// <summary>The range of --<paramref name="name"/>; throws for an option nobody declared.</summary>
    public static OptionRange Of(string name) =>
        All.TryGetValue(name, out var r) ? r : throw new InvalidOperationException($"numeric option --{name} has no entry in {nameof(OptionRanges)}");

    /// <summary>Returns the value when it is inside the option's range, otherwise throws the one message every option shares.</summary>
    public static double Check(string name, double value, string text)
    {
        var r = Of(name);
        return r.Contains(value) ? value : throw new OptionException(Message(name, text));
    }

    public static string Message(string name, string text) => $"--{name} must be {Of(name).Describe()}, got '{text}'";
}
