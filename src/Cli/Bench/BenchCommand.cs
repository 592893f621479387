using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LLaDA.Diagnostics;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Bench;

/// <summary>`llada bench [op] [--json] [--threads N] [--quick] [--profile]`: GFLOP/s or GB/s per primitive and size on the CPU
/// backend, each also as a fraction of the machine limit measured in the same run (<see cref="MachineLimits"/>).</summary>
public static class BenchCommand
{
    /// <summary>The families `llada bench [op]` times, in run order.</summary>
    public enum Family
    {
        All,
        Matmul,
        MixedGemm,
        Attention,
        Elementwise,
        Reduce,
        Softmax,
        Rmsnorm,
        Rope,
        Crossentropy,
        Embedding,
        Adamw,
        Train,
        Sample,
        SampleHead,
    }

    private static readonly Choices<Family> Families = Choices<Family>.KebabCase();

    private static readonly Argument<Named<Family>> Op = Opt.ChoiceArgument("op", "what to time (sample: decoding modes at gen length 256; sample-head: one sampler step fused vs unfused LM head at vocabulary 126,464)", Families, Family.All);
    private static readonly Option<bool> Json = Opt.Json();
    private static readonly Option<bool> Quick = Opt.Flag("quick", "shorter timing budget per case");
    private static readonly Option<bool> Profile = Opt.Flag("profile", "per-op time of the autograd ops (train)");
    private static readonly Option<int> Threads = Opt.Threads();
    private static readonly Option<string?> Checkpoint = Opt.Text("checkpoint", "DIR", "bench sample: a trained model instead of a random one");
    private static readonly Option<Named<Device>> DeviceOption = Opt.Device();

    public static Command Definition()
    {
        var c = new Command("bench", "time the CPU primitives (GFLOP/s, GB/s), training steps and decoding; on an ILGPU device its kernels first")
        {
            Op, Json, Quick, Profile, Threads, Checkpoint, DeviceOption,
        };
        c.Add(ModelBench.Definition()); // `llada bench model DIR`
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        bool json = p.GetValue(Json);
        bool quick = p.GetValue(Quick);
        LLaDA.Autograd.OpProfiler.Enabled = p.GetValue(Profile);
        int threads = p.GetValue(Threads);
        CpuBenchCases.SampleCheckpoint = p.GetValue(Checkpoint);
        var backend = Devices.Get(p.GetValue(DeviceOption));
        CpuBenchCases.Backend = backend;
        string op = Families.NameOf(p.GetValue(Op));
        CpuParallel.Threads = threads;
        double budget = quick ? 0.15 : 0.6;
        // The machine's limits, measured in this run with the same thread count: every figure is also printed as a fraction
        // of the limit that bounds it (GFLOP/s of the FMA peak, GB/s of the triad bandwidth). They are measured again
        // around every family and the best seen so far is the limit, so a moment of contention on a shared machine
        // during one measurement cannot make a family look faster than the machine.
        var limits = MachineLimits.Measure(threads);
        CpuBenchCases.ProfileOut = json ? Console.Error : Console.Out;

        var results = new List<(BenchResult Result, MachineLimits Limits)>();
        var log = json ? TextWriter.Null : Console.Out;
        if (backend is LLaDA.Kernels.IlgpuBackend gpu)
        {
            // On an ILGPU device: the kernels' own timings (GEMM fp32/bf16/f16, attention), then training steps there.
            // On an ILGPU device the kernels' own GEMM (fp32, bf16/f16 tensor cores) and attention timings come first;
            // every other family then runs through the IlgpuBackend like on the CPU.
            if (op is "all" or "matmul" or "attention") KernelBench.Run(gpu.Kernels, Console.Out, json);
            if (op is "matmul" or "attention") return 0;
        }
        if (!json)
        {
            Console.WriteLine($"llada bench — {backend.Name} backend, {threads} thread(s), {CpuMatMul.BestAvailable} GEMM kernel, {(quick ? "quick" : "full")} run");
            Console.WriteLine($"machine limits measured now: {limits}");
            Console.WriteLine($"{"op",-26} {"shape",-46} {"median ms",10} {"GFLOP/s",9} {"GB/s",8} {"of limit",11}  note");
        }
        foreach (var family in Families.Names.Skip(1))
        {
            if (op != "all" && op != family) continue;
            limits = limits.Max(MachineLimits.Measure(threads));
            var rows = CpuBenchCases.Run(family, budget, quick).ToList();
            limits = limits.Max(MachineLimits.Measure(threads));
            foreach (var r in rows)
            {
                results.Add((r, limits));
                log.WriteLine(Format(r, limits));
            }
        }
        if (json)
        {
            var rows = results.Select(x => (r: x.Result, l: x.Limits)).Select(x => new JsonRow(x.r.Op, x.r.Shape, Round(x.r.MedianMs), Round(x.r.BestMs), Round(x.r.Gflops), Round(x.r.BestGflops), Round(x.r.GBps), Round(x.r.TokensPerSecond), x.r.FreshBytesPerStep, x.r.ManagedBytesPerStep, x.r.Iterations, x.r.Note, threads,
                Round(x.r.Gflops / x.l.PeakGflops), Round(x.r.GBps / x.l.TriadGBps), Round(x.l.PeakGflops), Round(x.l.TriadGBps)));
            Console.WriteLine(JsonSerializer.Serialize(rows, JsonOpts));
        }
        else
        {
            Console.WriteLine($"machine limits, best measured in this run: {limits}");
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
        // A row with both (a weight-streaming GEMM) shows both.
        string frac = (r.Gflops, r.GBps) switch
        {
            ({ } f, { } bw) => $"{100 * f / limits.PeakGflops:F0}% peak, {100 * bw / limits.TriadGBps:F0}% triad",
            ({ } f, null) => $"{100 * f / limits.PeakGflops:F0}% peak",
            (null, { } bw) => $"{100 * bw / limits.TriadGBps:F0}% triad",
            _ => "",
        };
        return $"{r.Op,-26} {r.Shape,-46} {r.MedianMs,10:F3} {g,9} {b,8} {frac,11}  {r.Note}";
    }
}
