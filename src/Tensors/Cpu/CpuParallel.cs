namespace LLaDA.Tensors.Cpu;

/// <summary>Splits a loop over [0, n) into contiguous ranges run on the CPU worker threads, inline when the work is small.</summary>
public static class CpuParallel
{
    private static int _threads = Environment.ProcessorCount;

    /// <summary>Worker count (defaults to the core count; set 1 to run everything on the calling thread).</summary>
    public static int Threads
    {
        get => _threads;
        set => _threads = Math.Max(1, value);
    }

    /// <summary>Below this many cost units (≈ flops or bytes touched) a loop runs inline: a pool hand-off costs a few µs.</summary>
    public const long InlineCost = 1 << 15;

    /// <summary>Runs body(start, end) over contiguous ranges covering [0, n); costPerItem estimates the work of one index.</summary>
    public static void For(long n, long costPerItem, Action<long, long> body)
    {
        if (n <= 0) return;
        int threads = _threads;
        long total = n * Math.Max(1, costPerItem);
        if (threads == 1 || n == 1 || total < InlineCost)
        {
            body(0, n);
            return;
        }
        // A few chunks per thread smooth out uneven rows without much scheduling overhead.
        int chunks = (int)Math.Min(n, threads * 4L);
        if (total < InlineCost * 8) chunks = (int)Math.Min(n, threads);
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            long s = n * c / chunks, e = n * (c + 1) / chunks;
            if (e > s) body(s, e);
        });
    }
}
