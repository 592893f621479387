using System.Diagnostics;

namespace LLaDA.Diagnostics;

/// <summary>One measured case: median and best wall time, with derived GFLOP/s or GB/s.</summary>
public sealed record BenchResult(string Op, string Shape, double MedianMs, double BestMs, double Flops, double Bytes, int Iterations, string? Note = null)
{
    public double? Gflops => Flops > 0 ? Flops / (MedianMs * 1e6) : null;
    public double? BestGflops => Flops > 0 ? Flops / (BestMs * 1e6) : null;
    public double? GBps => Bytes > 0 ? Bytes / (MedianMs * 1e6) : null;
    public double? TokensPerSecond { get; init; }
    public long? FreshBytesPerStep { get; init; }
    public long? ManagedBytesPerStep { get; init; }
}

/// <summary>Times a body: warm-up runs, then repeats until a time budget is spent (at least 3 runs); reports median and best.</summary>
/// <remarks>The one timing loop of the project's own harnesses: `llada bench` (CpuBenchCases) and the ILGPU kernel timings
/// (KernelBench) both measure through it; a device body synchronizes its accelerator itself. BenchmarkDotNet suites in
/// benchmarks/ use BenchmarkDotNet's own.</remarks>
public static class BenchTimer
{
    public static (double MedianMs, double BestMs, int Iterations) Measure(Action body, double budgetSeconds, int warmup = 2)
    {
        for (int i = 0; i < warmup; i++) body();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || (total.Elapsed.TotalSeconds < budgetSeconds && times.Count < 1000))
        {
            long t0 = Stopwatch.GetTimestamp();
            body();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        times.Sort();
        return (times[times.Count / 2], times[0], times.Count);
    }
}
