namespace LLaDA.Tensors.Cpu;

/// <summary>Counts the floating-point work the CPU kernels were asked to do (SGEMM 2·m·n·k, attention 4·Tq·Tk·HS per head
/// forward, twice that backward; causal halved), so a whole workload such as `generate` can be given as GFLOP/s and as a
/// fraction of the FMA peak. One interlocked add per kernel call; never reset by the kernels.</summary>
public static class CpuFlops
{
    private static long _executed;

    /// <summary>Flops counted since the process started (read before and after a workload and subtract).</summary>
    public static long Executed => Interlocked.Read(ref _executed);

    internal static void Add(long flops) => Interlocked.Add(ref _executed, flops);

    /// <summary>Nominal forward flops of one attention call: the two products q·kᵀ and p·v, halved under a causal mask.</summary>
    internal static long AttentionForward(in AttentionShape s)
    {
        long f = 4L * s.B * s.NH * s.Tq * s.Tk * s.HS;
        return s.Mask == AttnMask.Causal ? f / 2 : f;
    }
}
