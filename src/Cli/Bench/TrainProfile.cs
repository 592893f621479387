using System.Diagnostics;
using LLaDA.Autograd;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Bench;

/// <summary>`llada bench train --profile`: wall time per op family of a training step, as a table with each family's share of the step.</summary>
/// <remarks>Op times come from <see cref="OpProfiler"/> (forward ops, their backward, and the regions the trainer times:
/// noising, gradient accumulation, freeing the activations, clipping, AdamW, zeroing); pool time from <see cref="CpuMemoryPool.Timing"/>. It is spent inside the ops, so it is
/// shown as "of which" and not added again; what no timer covers (the tape's bookkeeping; in decoding the sampler's own
/// steps and the cache windows) is "untimed".</remarks>
internal static class TrainProfile
{
    /// <summary>The family an op (forward name, or name + ".backward") belongs to.</summary>
    public static string Family(string op)
    {
        string name = op.EndsWith(".backward", StringComparison.Ordinal) ? op[..^".backward".Length] : op;
        return name switch
        {
            "Linear" or "MatMul" => "GEMM",
            "Attention" => "attention",
            "RmsNorm" => "norms",
            "CrossEntropy" or "LogSoftmax" or "Softmax" => "cross-entropy",
            "Embedding" or "Gather" => "embedding",
            "AdamW" => "AdamW",
            "GradClip" or "ZeroGrad" => "grad clip + zero",
            "Contiguous" or "Permute" or "Reshape" or "Narrow" or "Cat" or "Expand" => "layout copies",
            "AccumulateGrad.copy" or "AccumulateGrad.add" or "AccumulateGrad.sum" => "grad accumulate",
            "Noising" => "noising",
            "RowLosses" => "loss bookkeeping",
            "FreeActivations" => "free activations",
            _ => "elementwise",
        };
    }

    /// <summary>Starts timing: clears the op totals and turns pool timing on; returns the pool tick count to subtract.</summary>
    public static long Begin(CpuMemoryPool? pool)
    {
        OpProfiler.Reset();
        CpuMemoryPool.Timing = true;
        return pool?.TimedTicks ?? 0;
    }

    /// <summary>Prints the family table for <paramref name="steps"/> steps that took <paramref name="stepMs"/> each (median).</summary>
    public static void Print(TextWriter w, string model, int steps, double stepMs, CpuMemoryPool? pool, long poolTicks0, string unit = "step", string untimed = "the tape's bookkeeping, timer overhead")
    {
        CpuMemoryPool.Timing = false;
        double poolMs = pool is null ? 0 : (pool.TimedTicks - poolTicks0) * 1000.0 / Stopwatch.Frequency / steps;
        var ops = OpProfiler.Report();
        var families = ops.GroupBy(e => Family(e.Name))
            .Select(g => (Family: g.Key, Ms: g.Sum(e => e.Ms) / steps, Calls: g.Sum(e => e.Calls) / steps,
                Top: string.Join(", ", g.OrderByDescending(e => e.Ms).Take(3).Select(e => $"{e.Name} {e.Ms / steps:F2}"))))
            .OrderByDescending(f => f.Ms).ToList();
        double timed = families.Sum(f => f.Ms);
        w.WriteLine($"profile of {model}: wall time per {unit} by op family ({steps} {unit}s, {unit} {(unit == "step" ? "median" : "mean")} {stepMs:F1} ms)");
        w.WriteLine($"  {"family",-18} {"ms/" + unit,9} {"share",6} {"calls",6}  largest ops (ms/{unit})");
        foreach (var f in families)
            w.WriteLine($"  {f.Family,-18} {f.Ms,9:F2} {100 * f.Ms / stepMs,5:F1}% {f.Calls,6}  {f.Top}");
        w.WriteLine($"  {"untimed",-18} {Math.Max(0, stepMs - timed),9:F2} {100 * Math.Max(0, stepMs - timed) / stepMs,5:F1}%         {untimed}");
        w.WriteLine($"  {"of which pool",-18} {poolMs,9:F2} {100 * poolMs / stepMs,5:F1}%         rent/return of tensor memory, inside the ops above");
    }
}
