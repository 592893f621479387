using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Bench;

/// <summary>`llada bench [op] [--json] [--threads N] [--quick]`: GFLOP/s or GB/s per primitive and size on the CPU backend.</summary>
public static class BenchCommand
{
    private static readonly string[] Families = ["matmul", "attention", "elementwise", "reduce", "softmax", "rmsnorm", "rope", "crossentropy", "embedding", "adamw", "train", "sample"];

    public static int Run(Options o)
    {
        bool json = o.Flag("json");
        bool quick = o.Flag("quick");
        LLaDA.Autograd.OpProfiler.Enabled = o.Flag("profile");
        int threads = o.Int("threads", Environment.ProcessorCount);
        CpuBenchCases.SampleCheckpoint = o.String("checkpoint");
        var backend = Devices.Get(o.String("device"));
        CpuBenchCases.Backend = backend;
        o.RejectUnknown();
        string op = o.Positional.Count > 0 ? o.Positional[0] : "all";
        if (op != "all" && !Families.Contains(op))
            throw new OptionException($"unknown bench op '{op}'; one of: all, {string.Join(", ", Families)}");
        CpuParallel.Threads = threads;
        double budget = quick ? 0.15 : 0.6;
        // The machine's limits, measured in this run with the same thread count: every figure is also printed as a fraction
        // of the limit that bounds it (GFLOP/s of the FMA peak, GB/s of the triad bandwidth).
        var limits = MachineLimits.Measure(threads);
        CpuBenchCases.Limits = limits;
        CpuBenchCases.ProfileOut = json ? Console.Error : Console.Out;

        var results = new List<BenchResult>();
        var log = json ? TextWriter.Null : Console.Out;
        if (backend is LLaDA.Kernels.IlgpuBackend gpu)
        {
            // On an ILGPU device: the kernels' own timings (GEMM fp32/bf16/f16, attention), then training steps there.
            // On an ILGPU device the kernels' own GEMM (fp32, bf16/f16 tensor cores) and attention timings come first;
            // every other family then runs through the IlgpuBackend like on the CPU.
            if (op is "all" or "matmul" or "attention") LLaDA.Kernels.KernelBench.Run(gpu.Kernels, Console.Out, json);
            if (op is "matmul" or "attention") return 0;
        }
        if (!json)
        {
            Console.WriteLine($"llada bench — {backend.Name} backend, {threads} thread(s), {CpuMatMul.BestAvailable} GEMM kernel, {(quick ? "quick" : "full")} run");
            Console.WriteLine($"machine limits measured now: {limits}");
            Console.WriteLine($"{"op",-26} {"shape",-46} {"median ms",10} {"GFLOP/s",9} {"GB/s",8} {"of limit",11}  note");
        }
        foreach (var family in Families)
        {
            if (op != "all" && op != family) continue;
            foreach (var r in CpuBenchCases.Run(family, budget, quick))
            {
                results.Add(r);
                log.WriteLine(Format(r, limits));
            }
        }
        if (json)
        {
            var rows = results.Select(r => new JsonRow(r.Op, r.Shape, Round(r.MedianMs), Round(r.BestMs), Round(r.Gflops), Round(r.BestGflops), Round(r.GBps), Round(r.TokensPerSecond), r.FreshBytesPerStep, r.ManagedBytesPerStep, r.Iterations, r.Note, threads,
                Round(r.Gflops / limits.PeakGflops), Round(r.GBps / limits.TriadGBps), Round(limits.PeakGflops), Round(limits.TriadGBps)));
            Console.WriteLine(JsonSerializer.Serialize(rows, JsonOpts));
        }
        return 0;
    }

    private static readonly JsonSerializerOptions JsonOpts = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record JsonRow(string Op, string Shape, double? Ms, double? BestMs, double? Gflops, double? BestGflops, double? Gbps, double? TokensPerS, long? FreshBytesPerStep, long? ManagedBytesPerStep, int Iterations, string? Note, int Threads,
        double? FractionOfPeak, double? FractionOfTriad, double? FmaPeakGflops, double? TriadGbps);

    private static double? Round(double? v) => v is null ? null : Math.Round(v.Value, 3);

    private static string Format(BenchResult r, MachineLimits limits)
    {
        string g = r.Gflops is { } gf ? gf.ToString("F1", CultureInfo.InvariantCulture) : "";
        string b = r.GBps is { } gb ? gb.ToString("F1", CultureInfo.InvariantCulture) : "";
        // Compute-bound figures against the FMA peak, bandwidth-bound ones against the triad bandwidth.
        string frac = r.Gflops is { } f ? $"{100 * f / limits.PeakGflops:F0}% peak"
            : r.GBps is { } bw ? $"{100 * bw / limits.TriadGBps:F0}% triad" : "";
        return $"{r.Op,-26} {r.Shape,-46} {r.MedianMs,10:F3} {g,9} {b,8} {frac,11}  {r.Note}";
    }
}
