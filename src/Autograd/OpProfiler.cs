using System.Diagnostics;

namespace LLaDA.Autograd;

/// <summary>Optional wall-time accounting per op for forward and backward (off by default; `llada bench train --profile` turns it on).</summary>
public static class OpProfiler
{
    private static readonly Dictionary<string, (double Ms, int Calls)> Totals = new();

    public static bool Enabled { get; set; }

    internal static long Start() => Enabled ? Stopwatch.GetTimestamp() : 0;

    internal static void Stop(string name, long start)
    {
        if (!Enabled) return;
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        lock (Totals)
        {
            Totals.TryGetValue(name, out var t);
            Totals[name] = (t.Ms + ms, t.Calls + 1);
        }
    }

    /// <summary>Times a region outside the tape (gradient clipping, the optimizer) under <paramref name="name"/> while profiling is on.</summary>
    public static Region Time(string name) => new(name, Start());

    /// <summary>An open timed region; disposing it adds its wall time to its name.</summary>
    public readonly struct Region(string name, long start) : IDisposable
    {
        public void Dispose()
        {
            if (start != 0) Stop(name, start);
        }
    }

    public static void Reset()
    {
        lock (Totals) Totals.Clear();
    }

    /// <summary>Entries sorted by total time, descending.</summary>
    public static IReadOnlyList<(string Name, double Ms, int Calls)> Report()
    {
        lock (Totals) return Totals.Select(kv => (kv.Key, kv.Value.Ms, kv.Value.Calls)).OrderByDescending(e => e.Ms).ToList();
    }
}
