using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LLaDA.Tensors.Cpu;

/// <summary>The machine's limits measured now: FP32 FMA peak (GFLOP/s) and memory bandwidth (STREAM triad, GB/s).</summary>
/// <param name="PeakGflops">Best FP32 FMA throughput over the repetitions, all <paramref name="Threads"/> threads.</param>
/// <param name="TriadGBps">Best STREAM triad bandwidth a = b + s·c (12 bytes per element counted, no write-allocate).</param>
/// <param name="Threads">Threads the limits were measured with (the bench's worker count).</param>
/// <param name="Isa">Vector width the peak loop ran with ("AVX-512 zmm" / "AVX2 ymm" / "scalar").</param>
public sealed record MachineLimits(double PeakGflops, double TriadGBps, int Threads, string Isa)
{
    /// <summary>A one-line description: "FMA peak 221.3 GFLOP/s (AVX2 ymm, 2 threads), triad 25.1 GB/s".</summary>
    public override string ToString() =>
        $"FMA peak {PeakGflops:F1} GFLOP/s ({Isa}, {Threads} thread(s)), triad {TriadGBps:F1} GB/s";

    /// <summary>Measures both limits on <paramref name="threads"/> dedicated threads (about half a second in all).</summary>
    public static MachineLimits Measure(int threads, int reps = 5) =>
        new(MeasurePeak(threads, reps), MeasureTriad(threads, reps + 4), threads, PeakIsa);

    /// <summary>The better of two measurements of the same machine (each limit is the most the machine was seen to do).</summary>
    public MachineLimits Max(MachineLimits other) =>
        this with { PeakGflops = Math.Max(PeakGflops, other.PeakGflops), TriadGBps = Math.Max(TriadGBps, other.TriadGBps) };

    /// <summary>The vector width the peak loop uses: the widest the JIT accelerates (what the GEMM kernel also uses).</summary>
    public static string PeakIsa =>
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? "AVX-512 zmm"
        : Fma.IsSupported && Vector256.IsHardwareAccelerated ? "AVX2 ymm" : "scalar";

    // ------------------------------------------------------------------ FMA peak

    private const long PeakIters = 4_000_000; // per thread per repetition: ≈ 50–100 ms at 2–4 GHz

    /// <summary>FP32 FMA GFLOP/s: every thread runs independent FMA chains (enough to cover latency × pipes), best of reps.</summary>
    /// <remarks>Same method as shared/tools/peak.c: 16 zmm chains with AVX-512, else 12 ymm chains; x = x·m + c per chain.</remarks>
    public static double MeasurePeak(int threads, int reps = 5)
    {
        bool z = Avx512F.IsSupported && Vector512.IsHardwareAccelerated;
        bool y = Fma.IsSupported && Vector256.IsHardwareAccelerated;
        double flopsPerIter = z ? 16.0 * 16 * 2 : y ? 12.0 * 8 * 2 : 8.0 * 2;
        Func<long, float, float> body = z ? Chains512 : y ? Chains256 : ChainsScalar;
        RunOnThreads(threads, t => body(PeakIters / 10, t)); // warm-up: JIT tier-up, clocks
        double best = 0;
        for (int r = 0; r < reps; r++)
        {
            double s = RunOnThreads(threads, t => body(PeakIters, t + r));
            best = Math.Max(best, flopsPerIter * PeakIters * threads / s / 1e9);
        }
        return best;
    }

    private static volatile float _sink;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512(long iters, float seed)
    {
        Vector512<float> m = Vector512.Create(0.999999f), c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(seed), a1 = a0 + Vector512<float>.One, a2 = a1 + Vector512<float>.One, a3 = a2 + Vector512<float>.One;
        Vector512<float> a4 = a3 + Vector512<float>.One, a5 = a4 + Vector512<float>.One, a6 = a5 + Vector512<float>.One, a7 = a6 + Vector512<float>.One;
        Vector512<float> a8 = a7 + Vector512<float>.One, a9 = a8 + Vector512<float>.One, a10 = a9 + Vector512<float>.One, a11 = a10 + Vector512<float>.One;
        Vector512<float> a12 = a11 + Vector512<float>.One, a13 = a12 + Vector512<float>.One, a14 = a13 + Vector512<float>.One, a15 = a14 + Vector512<float>.One;
        for (long i = 0; i < iters; i++)
        {
            a0 = Avx512F.FusedMultiplyAdd(a0, m, c); a1 = Avx512F.FusedMultiplyAdd(a1, m, c);
            a2 = Avx512F.FusedMultiplyAdd(a2, m, c); a3 = Avx512F.FusedMultiplyAdd(a3, m, c);
            a4 = Avx512F.FusedMultiplyAdd(a4, m, c); a5 = Avx512F.FusedMultiplyAdd(a5, m, c);
            a6 = Avx512F.FusedMultiplyAdd(a6, m, c); a7 = Avx512F.FusedMultiplyAdd(a7, m, c);
            a8 = Avx512F.FusedMultiplyAdd(a8, m, c); a9 = Avx512F.FusedMultiplyAdd(a9, m, c);
            a10 = Avx512F.FusedMultiplyAdd(a10, m, c); a11 = Avx512F.FusedMultiplyAdd(a11, m, c);
            a12 = Avx512F.FusedMultiplyAdd(a12, m, c); a13 = Avx512F.FusedMultiplyAdd(a13, m, c);
            a14 = Avx512F.FusedMultiplyAdd(a14, m, c); a15 = Avx512F.FusedMultiplyAdd(a15, m, c);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
        return Vector512.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256(long iters, float seed)
    {
        Vector256<float> m = Vector256.Create(0.999999f), c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(seed), a1 = a0 + Vector256<float>.One, a2 = a1 + Vector256<float>.One, a3 = a2 + Vector256<float>.One;
        Vector256<float> a4 = a3 + Vector256<float>.One, a5 = a4 + Vector256<float>.One, a6 = a5 + Vector256<float>.One, a7 = a6 + Vector256<float>.One;
        Vector256<float> a8 = a7 + Vector256<float>.One, a9 = a8 + Vector256<float>.One, a10 = a9 + Vector256<float>.One, a11 = a10 + Vector256<float>.One;
        for (long i = 0; i < iters; i++)
        {
            a0 = Fma.MultiplyAdd(a0, m, c); a1 = Fma.MultiplyAdd(a1, m, c);
            a2 = Fma.MultiplyAdd(a2, m, c); a3 = Fma.MultiplyAdd(a3, m, c);
            a4 = Fma.MultiplyAdd(a4, m, c); a5 = Fma.MultiplyAdd(a5, m, c);
            a6 = Fma.MultiplyAdd(a6, m, c); a7 = Fma.MultiplyAdd(a7, m, c);
            a8 = Fma.MultiplyAdd(a8, m, c); a9 = Fma.MultiplyAdd(a9, m, c);
            a10 = Fma.MultiplyAdd(a10, m, c); a11 = Fma.MultiplyAdd(a11, m, c);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
        return Vector256.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float ChainsScalar(long iters, float seed)
    {
        float a0 = seed, a1 = seed + 1, a2 = seed + 2, a3 = seed + 3, a4 = seed + 4, a5 = seed + 5, a6 = seed + 6, a7 = seed + 7;
        for (long i = 0; i < iters; i++)
        {
            a0 = MathF.FusedMultiplyAdd(a0, 0.999999f, 1e-7f); a1 = MathF.FusedMultiplyAdd(a1, 0.999999f, 1e-7f);
            a2 = MathF.FusedMultiplyAdd(a2, 0.999999f, 1e-7f); a3 = MathF.FusedMultiplyAdd(a3, 0.999999f, 1e-7f);
            a4 = MathF.FusedMultiplyAdd(a4, 0.999999f, 1e-7f); a5 = MathF.FusedMultiplyAdd(a5, 0.999999f, 1e-7f);
            a6 = MathF.FusedMultiplyAdd(a6, 0.999999f, 1e-7f); a7 = MathF.FusedMultiplyAdd(a7, 0.999999f, 1e-7f);
        }
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    }

    // ------------------------------------------------------------------ triad bandwidth

    private const long TriadFloats = 1L << 24; // 64 MiB per array, 192 MiB in all: several times any L3 here

    /// <summary>STREAM triad a[i] = b[i] + s·c[i] over three 64 MiB float arrays split evenly over the threads, best of reps (GB/s).</summary>
    public static unsafe double MeasureTriad(int threads, int reps = 9)
    {
        long n = TriadFloats;
        float* a = (float*)NativeMemory.AlignedAlloc((nuint)(n * 4), 64);
        float* b = (float*)NativeMemory.AlignedAlloc((nuint)(n * 4), 64);
        float* c = (float*)NativeMemory.AlignedAlloc((nuint)(n * 4), 64);
        try
        {
            // First touch on the threads that later stream each part (page placement), like STREAM's parallel init.
            RunOnThreads(threads, t =>
            {
                var (s, e) = Part(n, threads, (int)t);
                for (long i = s; i < e; i++) { a[i] = 1; b[i] = 2; c[i] = 0.5f; }
                return 0;
            });
            double best = 0;
            for (int r = -1; r < reps; r++)
            {
                double sec = RunOnThreads(threads, t =>
                {
                    var (s, e) = Part(n, threads, (int)t);
                    Triad(a + s, b + s, c + s, e - s, 3f);
                    return 0;
                });
                if (r >= 0) best = Math.Max(best, 12.0 * n / sec / 1e9);
            }
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }

    private static (long Start, long End) Part(long n, int parts, int p)
    {
        long chunk = (n / parts) & ~63L; // cache-line aligned parts
        return (p * chunk, p == parts - 1 ? n : (p + 1) * chunk);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Triad(float* a, float* b, float* c, long n, float s)
    {
        long i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; i + 32 <= n; i += 32)
            {
                Vector256.Store(Vector256.Load(b + i) + vs * Vector256.Load(c + i), a + i);
                Vector256.Store(Vector256.Load(b + i + 8) + vs * Vector256.Load(c + i + 8), a + i + 8);
                Vector256.Store(Vector256.Load(b + i + 16) + vs * Vector256.Load(c + i + 16), a + i + 16);
                Vector256.Store(Vector256.Load(b + i + 24) + vs * Vector256.Load(c + i + 24), a + i + 24);
            }
        }
        for (; i < n; i++) a[i] = b[i] + s * c[i];
    }

    // ------------------------------------------------------------------ threads

    /// <summary>Runs body(threadIndex) on <paramref name="threads"/> dedicated threads released together; returns the
    /// wall seconds from the release until the last one finishes.</summary>
    private static double RunOnThreads(int threads, Func<long, float> body)
    {
        threads = Math.Max(1, threads);
        using var ready = new CountdownEvent(threads);
        using var go = new ManualResetEventSlim(false);
        var workers = new Thread[threads];
        float sink = 0;
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                ready.Signal();
                go.Wait();
                float r = body(id);
                lock (workers) sink += r;
            }, 256 * 1024) { IsBackground = true };
            workers[t].Start();
        }
        ready.Wait();
        long t0 = Stopwatch.GetTimestamp();
        go.Set();
        foreach (var w in workers) w.Join();
        double sec = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        _sink = sink;
        return sec;
    }
}
