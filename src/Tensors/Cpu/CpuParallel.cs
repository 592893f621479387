namespace LLaDA.Tensors.Cpu;

/// <summary>Splits a loop over [0, n) into contiguous ranges run on the CPU worker threads, inline when the work is small.</summary>
/// <remarks>
/// <para>Determinism: the ranges handed to the body depend only on n and the cost, never on the worker count, and a
/// call that runs inline walks the same ranges in order. A body whose result depends on its range (a partial sum per
/// range, a SIMD tail at the range's end) therefore gives the same bits for any <see cref="Threads"/>.</para>
/// <para>The worker count is ambient per async flow (an <see cref="AsyncLocal{T}"/>), not process-wide: setting it, or
/// opening a <see cref="Use"/> scope, affects the calling flow and the tasks it starts, so a test or host running with
/// one thread cannot change the count another flow runs with.</para>
/// </remarks>
public static class CpuParallel
{
    private static readonly AsyncLocal<int> _threads = new();

    /// <summary>Worker count of the calling flow (defaults to the core count; 1 runs everything on the calling thread).</summary>
    public static int Threads
    {
        get => _threads.Value > 0 ? _threads.Value : Environment.ProcessorCount;
        set => _threads.Value = Math.Max(1, value);
    }

    /// <summary>Sets the worker count of the calling flow until the returned scope is disposed (then the previous count is back).</summary>
    public static ThreadsScope Use(int threads)
    {
        var scope = new ThreadsScope(_threads.Value);
        Threads = threads;
        return scope;
    }

    /// <summary>Restores the worker count that was in effect when <see cref="Use"/> was called.</summary>
    public readonly struct ThreadsScope(int previous) : IDisposable
    {
        public void Dispose() => _threads.Value = previous;
    }

    /// <summary>Below this many cost units (≈ flops or bytes touched) a loop runs inline: a pool hand-off costs a few µs.</summary>
    public const long InlineCost = 1 << 15;

    /// <summary>Most ranges one call is cut into: four per worker up to 8 workers (what the old per-thread split gave), two per worker at 16.</summary>
    public const int MaxChunks = 32;

    /// <summary>Number of ranges For cuts [0, n) into: a function of the work alone, never of the worker count — at least
    /// InlineCost units per range (so per-range overhead stays below a few percent), at most MaxChunks, at most n.</summary>
    /// <remarks>On two workers this is the old split where it mattered: work of 1–2 × InlineCost still runs as two
    /// ranges, and big loops get several ranges per worker for balance.</remarks>
    public static int Chunks(long n, long costPerItem)
    {
        if (n <= 0) return 0;
        long total = n * Math.Max(1, costPerItem);
        if (n == 1 || total < InlineCost) return 1;
        return (int)Math.Min(Math.Min(n, MaxChunks), Math.Max(2, total / InlineCost));
    }

    /// <summary>Runs body(start, end) over contiguous ranges covering [0, n); costPerItem estimates the work of one index.</summary>
    /// <remarks>Range c is [n·c/chunks, n·(c+1)/chunks) with chunks = <see cref="Chunks"/>(n, costPerItem), whatever the worker count.</remarks>
    public static void For(long n, long costPerItem, Action<long, long> body)
    {
        int chunks = Chunks(n, costPerItem);
        if (chunks == 0) return;
        int threads = Threads;
        if (chunks == 1 || threads == 1)
        {
            for (int c = 0; c < chunks; c++) Run(n, chunks, c, body);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c => Run(n, chunks, c, body));
    }

    private static void Run(long n, int chunks, int c, Action<long, long> body)
    {
        long s = n * c / chunks, e = n * (c + 1) / chunks;
        if (e > s) body(s, e);
    }
}
