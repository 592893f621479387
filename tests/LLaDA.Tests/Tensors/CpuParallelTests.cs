using System.Collections.Concurrent;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class CpuParallelTests
{
    /// <summary>The ranges For hands out, sorted by start, with the calling flow on the given worker count.</summary>
    private static (long, long)[] Ranges(int threads, long n, long cost)
    {
        using var _ = CpuParallel.Use(threads);
        var seen = new ConcurrentBag<(long, long)>();
        CpuParallel.For(n, cost, (s, e) => seen.Add((s, e)));
        return seen.OrderBy(r => r.Item1).ToArray();
    }

    [Theory]
    [InlineData(1L, 1_000_000L)]          // one item
    [InlineData(1000L, 4L)]               // below InlineCost: one range
    [InlineData(1021L, 67L)]              // a few ranges
    [InlineData(16_777_216L, 4L)]         // capped at MaxChunks
    [InlineData(37L, 100_000L)]           // fewer items than MaxChunks
    public void For_RangesCoverTheLoop_AndDependOnlyOnTheWork(long n, long cost)
    {
        var reference = Ranges(1, n, cost);
        // Contiguous, in order, covering [0, n) exactly once, as many as Chunks says.
        Assert.Equal(CpuParallel.Chunks(n, cost), reference.Length);
        Assert.Equal(0, reference[0].Item1);
        Assert.Equal(n, reference[^1].Item2);
        for (int i = 1; i < reference.Length; i++) Assert.Equal(reference[i - 1].Item2, reference[i].Item1);
        for (int threads = 2; threads <= 8; threads++) Assert.Equal(reference, Ranges(threads, n, cost));
    }

    [Fact]
    public void Use_SetsThenRestoresTheCallingFlowsCount()
    {
        using (CpuParallel.Use(3))
        {
            Assert.Equal(3, CpuParallel.Threads);
            using (CpuParallel.Use(1)) Assert.Equal(1, CpuParallel.Threads);
            Assert.Equal(3, CpuParallel.Threads);
            using (CpuParallel.Use(0)) Assert.Equal(1, CpuParallel.Threads);   // at least one worker
        }
    }

    [Fact]
    public void Threads_ChangedByAConcurrentFlow_DoesNotReachThisFlow()
    {
        // Flow A runs with 4 workers; while it is running, flow B sets 1 (as `bench --threads 1` in a CLI test would).
        // A must still see 4, also on the pool threads its For runs on: with a process-wide count it would see 1.
        using var bSet = new ManualResetEventSlim();
        using var aDone = new ManualResetEventSlim();
        int seenByA = 0, seenByB = 0;
        var inWorkers = new ConcurrentBag<int>();
        var a = new Thread(() =>
        {
            using var _ = CpuParallel.Use(4);
            bSet.Wait();
            seenByA = CpuParallel.Threads;
            CpuParallel.For(1 << 20, 4, (_, _) => inWorkers.Add(CpuParallel.Threads));
            aDone.Set();
        });
        var b = new Thread(() =>
        {
            CpuParallel.Threads = 1;
            bSet.Set();
            aDone.Wait();
            seenByB = CpuParallel.Threads;
        });
        a.Start();
        b.Start();
        Assert.True(a.Join(TimeSpan.FromMinutes(1)) && b.Join(TimeSpan.FromMinutes(1)));
        Assert.Equal(4, seenByA);
        Assert.Equal(1, seenByB);
        Assert.NotEmpty(inWorkers);
        Assert.All(inWorkers, t => Assert.Equal(4, t));
    }
}
