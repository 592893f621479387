using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace LLaDA.Tensors.Cpu;

// Work split: every C[b] is cut into a gm×gn grid of rectangles (multiples of MR×NR), and the tasks
// (batch × kParts × gm × gn of them) are claimed dynamically with one Interlocked counter by the calling thread and
// ProcessorCount−1 thread-pool helpers. Each task runs the whole blocked driver on its rectangle with its own
// per-thread packing buffers, so tasks share nothing but the counter: no barriers, and the caller alone can finish
// every task if no helper ever starts (no deadlock when the pool is busy). The price is that a column strip packs its
// rows of A once per strip and a row strip its columns of B, so the grid is kept small (≈2 tasks per core) and shaped to
// minimise that repacking (one task per worker: each extra strip repacks a whole operand).
// A deep, narrow product (k ≥ 4·max(m, n), the weight gradients dW = Xᵀ·dY of a projection: m, n = d_model, k = tokens)
// has too few C tiles to share without repacking both operands, so its k range is split in two (kParts = 2): part 0
// writes alpha·P0 + beta·C into C, part 1 writes alpha·P1 into a scratch M×N buffer, and C += that buffer once both are
// done. The split depends on the shape alone, never on the worker count, so every thread count gives the same bits.
// Small products run on the calling thread: below ParallelThresholdFlops waking a helper costs more than it saves.
public static unsafe partial class CpuMatMul
{
    /// <summary>Products with fewer flops (2·batch·m·n·k) than this run single-threaded (≈ 2·76³, measured on Zen 4).</summary>
    /// <remarks>Interleaved A/B, two cores: 72³ was faster on one thread (74 vs 69 GFLOP/s), 80³ on two (93 vs 85),
    /// 96³ 132 vs 87, 128³ 155 vs 94; waking a pool thread costs a few microseconds.</remarks>
    private const long ParallelThresholdFlops = 900_000;

    /// <summary>Tasks per worker thread wanted in the grid (load balance versus repacking).</summary>
    /// <remarks>On Zen 4 1 and 2 measured the same (1024³: 213 vs 211 GFLOP/s) and 3–4 lost 3–8 % to repacking. On
    /// the Zen 3 VM (2 cores, chrt -f 50, best of 3 runs) 1 beat 2: 1024³ TN 64 → 71–78 % of the FMA peak, the d256
    /// dW shape M256 K4096 N256 TN 39 → 57–60 %: with 2 tasks per worker every operand block is packed twice.</remarks>
    private const int TasksPerWorker = 1;

    /// <summary>A product is split along k when k is at least this many times max(m, n) (and k ≥ <see cref="KSplitMinDepth"/>).</summary>
    private const int KSplitRatio = 4;

    /// <summary>Smallest k that is split (below it the reduction pass costs more than the repacking it saves).</summary>
    private const int KSplitMinDepth = 1024;

    /// <summary>Matrix-vector tasks cover at least this many outputs.</summary>
    private const int GemvMinOutputsPerTask = 256;

    /// <summary>How one call is cut into tasks.</summary>
    private readonly struct GemmPlan
    {
        public readonly GemmKernel Kernel;
        public readonly bool Gemv;
        public readonly int Gm, Gn, UnitM, UnitN, TaskCount, Workers;

        /// <summary>Parts the k range is split into (1 or 2); part 1 writes into <see cref="Partial"/>.</summary>
        public readonly int KParts;

        /// <summary>Where k part 1 writes alpha·P1 (row-major M×N of the problem), or null when KParts == 1.</summary>
        public readonly float* Partial;

        public GemmPlan(GemmKernel kernel, bool gemv, int gm, int gn, int unitM, int unitN, int taskCount, int workers, int kParts, float* partial)
        {
            KParts = kParts;
            Partial = partial;
            Kernel = kernel;
            Gemv = gemv;
            Gm = gm;
            Gn = gn;
            UnitM = unitM;
            UnitN = unitN;
            TaskCount = taskCount;
            Workers = workers;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Execute(in GemmArgs original, GemmKernel kernel)
    {
        // A narrow C with a transposed A runs better as Cᵀ = op(B)ᵀ·op(A)ᵀ (see PreferTransposedProblem).
        GemmArgs g = PreferTransposedProblem(in original, kernel) ? original.Swapped() : original;
        GemmPlan plan = MakePlan(in g, kernel);
        if (plan.Workers <= 1)
        {
            for (int t = 0; t < plan.TaskCount; t++)
            {
                RunTask(in g, in plan, t);
            }
        }
        else
        {
            ParallelJob.Run(in g, in plan);
        }

        if (plan.KParts > 1)
        {
            AddPartial(in g, plan.Partial);
        }
    }

    /// <summary>Whether the product's k range is split in two (a function of the shape only, see the file header).</summary>
    private static bool SplitsK(in GemmArgs g) =>
        g.Batch == 1 && g.M > 1 && g.N > 1 && g.K >= KSplitMinDepth && g.K >= KSplitRatio * (long)Math.Max(g.M, g.N);

    /// <summary>The first step of k part 1: half of k rounded up to a multiple of 16 (aligned packing reads).</summary>
    private static int KSplitPoint(int k) => Math.Min(k, RoundUp((k + 1) / 2, 16));

    /// <summary>C += partial: adds k part 1 (already scaled by alpha) into C, in this problem's coordinates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddPartial(in GemmArgs g, float* partial)
    {
        for (int i = 0; i < g.M; i++)
        {
            float* p = partial + (nint)i * g.N;
            if (g.TransposedC)
            {
                float* c = g.C + i;
                for (int j = 0; j < g.N; j++)
                {
                    c[j * g.Ldc] += p[j];
                }
            }
            else
            {
                float* c = g.C + i * g.Ldc;
                int j = 0;
                for (; j + 8 <= g.N; j += 8)
                {
                    System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(c + j) + System.Runtime.Intrinsics.Vector256.Load(p + j), c + j);
                }

                for (; j < g.N; j++)
                {
                    c[j] += p[j];
                }
            }
        }
    }

    /// <summary>
    /// Whether to compute Cᵀ = op(B)ᵀ·op(A)ᵀ instead: for transA = true with a narrow C (n ≤ 2·NR, n &lt; m).
    /// </summary>
    /// <remarks>
    /// Stored transposed, A can only be packed from short row segments (MC floats per k step, each on its own page),
    /// which streams poorly from memory, and it cannot be read in place when lda is large. Swapped, A becomes the B
    /// operand, packed from NC-long row segments, and the short side n goes to the MR rows (n = 3 pads to 6 instead of
    /// 16). Measured, m = 4096, k = 1024, two cores: n = 3 TN 10 → 25 GFLOP/s, n = 16 TT 55 → 90, n = 32 TN 85 → 120,
    /// n = 64 TN 125 → 150; n = 128 was even. With transA = false the direct problem reads A in place and pads at most
    /// NarrowNR − 1 columns, which beat transposing A during packing for every n measured (3…32).
    /// </remarks>
    /// <remarks>
    /// Also for a short C times a transposed B (m ≤ NR, m &lt; n, transA = false, transB = true): the decoding forward
    /// x·Wᵀ with a few tokens. Direct, every call packs all of W (a transposing pack, written out and read back) for a
    /// handful of A rows; swapped, W becomes the A operand and is read once in place (n' = m ≤ 4·NR panels), only the
    /// m×k activations are packed. Same products in the same k order, so C is unchanged up to the write-back rounding.
    /// Measured (Zen 3, 2 threads, chrt -f 50, best of 3 runs, k·n = 256·1024 / 1024·256 / 256·4096): m = 8 38 → 55 /
    /// 38 → 51 / 39 → 61 % of the FMA peak, m = 16 58 → 69 %; m = 32 was 2–5 % slower swapped, so it stays direct.
    /// </remarks>
    private static bool PreferTransposedProblem(in GemmArgs g, GemmKernel kernel)
    {
        if (g.M == 1 || g.N == 1)
        {
            return false;
        }

        (_, int nr, _) = TileShape(kernel);
        if (!g.TransA)
        {
            return g.TransB && g.M <= nr && g.M < g.N;
        }

        return g.N <= 2 * nr && g.N < g.M;
    }

    private static (int Mr, int Nr, int NarrowNr) TileShape(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Vector512 => (Avx512Kernel6x64.MR, Avx512Kernel6x64.NR, Avx512Kernel6x64.NarrowNR),
        GemmKernel.Vector256 => (Avx2Kernel6x16.MR, Avx2Kernel6x16.NR, Avx2Kernel6x16.NarrowNR),
        _ => (ScalarKernel4x4.MR, ScalarKernel4x4.NR, ScalarKernel4x4.NarrowNR),
    };

    private static GemmPlan MakePlan(in GemmArgs g, GemmKernel kernel)
    {
        bool gemv = g.M == 1 || g.N == 1;
        int unitM, unitN;
        if (gemv)
        {
            unitM = g.M == 1 ? 1 : GemvMinOutputsPerTask;
            unitN = g.M == 1 ? GemvMinOutputsPerTask : 1;
        }
        else
        {
            (unitM, unitN, _) = TileShape(kernel);
        }

        long flops = 2L * g.Batch * g.M * g.N * Math.Max(g.K, 1);
        int workers = flops < ParallelThresholdFlops ? 1 : CpuParallel.Threads;
        int kParts = !gemv && SplitsK(in g) ? 2 : 1;
        float* partial = kParts > 1 ? Scratch.ForCurrentThread().Get(Scratch.Slot.PartialC, (nint)g.M * g.N) : null;
        int gm = 1, gn = 1;
        if (workers > 1)
        {
            int wantedPerMatrix = (workers * TasksPerWorker + g.Batch * kParts - 1) / (g.Batch * kParts);
            ChooseGrid(g.M, g.N, unitM, unitN, wantedPerMatrix, out gm, out gn);
        }

        long tasks = (long)g.Batch * kParts * gm * gn;
        int taskCount = (int)Math.Min(tasks, int.MaxValue);
        workers = (int)Math.Min(workers, taskCount);
        return new GemmPlan(kernel, gemv, gm, gn, unitM, unitN, taskCount, workers, kParts, partial);
    }

    /// <summary>
    /// Picks a gm×gn grid with at least <paramref name="wanted"/> cells (or as many as the units allow) that minimises the
    /// repacking cost gn·m + gm·n (each column strip packs its A rows, each row strip its B columns).
    /// </summary>
    private static void ChooseGrid(int m, int n, int unitM, int unitN, int wanted, out int gm, out int gn)
    {
        int mUnits = (m + unitM - 1) / unitM;
        int nUnits = (n + unitN - 1) / unitN;
        gm = 1;
        gn = 1;
        if (wanted <= 1)
        {
            return;
        }

        long bestCount = 0, bestCost = long.MaxValue;
        for (int tm = 1; tm <= Math.Min(wanted, mUnits); tm++)
        {
            int tn = Math.Min((wanted + tm - 1) / tm, nUnits);
            long count = Math.Min((long)tm * tn, wanted);
            long cost = (long)tn * m + (long)tm * n;
            if (count > bestCount || (count == bestCount && cost < bestCost))
            {
                bestCount = count;
                bestCost = cost;
                gm = tm;
                gn = tn;
            }
        }
    }

    /// <summary>Runs task <paramref name="t"/> of the plan: one rectangle of one C[b].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunTask(in GemmArgs g, in GemmPlan plan, int t)
    {
        int perMatrix = plan.Gm * plan.Gn;
        int rest = t / perMatrix;
        int cell = t - rest * perMatrix;
        int bi = rest / plan.KParts;
        int kPart = rest - bi * plan.KParts;
        int ti = cell / plan.Gn;
        int tj = cell - ti * plan.Gn;
        Split(g.M, plan.UnitM, plan.Gm, ti, out int i0, out int i1);
        Split(g.N, plan.UnitN, plan.Gn, tj, out int j0, out int j1);
        if (i0 >= i1 || j0 >= j1)
        {
            return;
        }

        if (plan.Gemv)
        {
            RunGemv(in g, plan.Kernel, bi, i0, i1, j0, j1);
            return;
        }

        if (plan.KParts > 1)
        {
            // Batch is 1 here (SplitsK): part 0 is steps [0, split) into C, part 1 steps [split, k) into the partial buffer.
            int split = KSplitPoint(g.K);
            GemmArgs part = kPart == 0 ? g.KRange(0, split, null) : g.KRange(split, g.K, plan.Partial);
            RunRectangle(in part, plan.Kernel, 0, i0, i1, j0, j1);
            return;
        }

        RunRectangle(in g, plan.Kernel, bi, i0, i1, j0, j1);
    }

    /// <summary>Runs the blocked driver of the plan's kernel on one rectangle of C[bi].</summary>
    private static void RunRectangle(in GemmArgs g, GemmKernel kernel, int bi, int i0, int i1, int j0, int j1)
    {
        switch (kernel)
        {
            case GemmKernel.Vector512:
                RunBlocked<Avx512Kernel6x64>(in g, bi, i0, i1, j0, j1);
                break;
            case GemmKernel.Vector256:
                RunBlocked<Avx2Kernel6x16>(in g, bi, i0, i1, j0, j1);
                break;
            default:
                RunBlocked<ScalarKernel4x4>(in g, bi, i0, i1, j0, j1);
                break;
        }
    }

    /// <summary>Splits [0, size) into <paramref name="parts"/> ranges aligned to <paramref name="unit"/> and returns range <paramref name="index"/>.</summary>
    private static void Split(int size, int unit, int parts, int index, out int start, out int end)
    {
        long units = (size + (long)unit - 1) / unit;
        start = (int)Math.Min(size, unit * (units * index / parts));
        end = (int)Math.Min(size, unit * (units * (index + 1) / parts));
    }

    /// <summary>
    /// One parallel Sgemm call: a task counter claimed by the caller and the queued helpers. Pooled, so steady-state calls
    /// allocate nothing; the last participant to leave returns it to the pool (a late helper may start after the caller
    /// has returned, finds no task and leaves).
    /// </summary>
    private sealed class ParallelJob : IThreadPoolWorkItem
    {
        private static readonly ParallelJob?[] _pool = new ParallelJob?[16];

        private readonly ManualResetEventSlim _done = new(false);
        private GemmArgs _args;
        private GemmPlan _plan;
        private int _nextTask;
        private int _remainingTasks;
        private int _references;

        public static void Run(in GemmArgs args, in GemmPlan plan)
        {
            ParallelJob job = Rent();
            int helpers = plan.Workers - 1;
            job._args = args;
            job._plan = plan;
            job._nextTask = 0;
            job._remainingTasks = plan.TaskCount;
            job._references = helpers + 1;
            job._done.Reset();
            for (int h = 0; h < helpers; h++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(job, preferLocal: false);
            }

            job.RunTasks();
            if (Volatile.Read(ref job._remainingTasks) != 0)
            {
                job._done.Wait();
            }

            job.Release();
        }

        void IThreadPoolWorkItem.Execute()
        {
            RunTasks();
            Release();
        }

        private void RunTasks()
        {
            int count = _plan.TaskCount;
            while (true)
            {
                int t = Interlocked.Increment(ref _nextTask) - 1;
                if (t >= count)
                {
                    return;
                }

                RunTask(in _args, in _plan, t);
                if (Interlocked.Decrement(ref _remainingTasks) == 0)
                {
                    _done.Set();
                }
            }
        }

        private void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0)
            {
                Return(this);
            }
        }

        private static ParallelJob Rent()
        {
            for (int i = 0; i < _pool.Length; i++)
            {
                ParallelJob? job = Interlocked.Exchange(ref _pool[i], null);
                if (job != null)
                {
                    return job;
                }
            }

            return new ParallelJob();
        }

        private static void Return(ParallelJob job)
        {
            for (int i = 0; i < _pool.Length; i++)
            {
                if (Interlocked.CompareExchange(ref _pool[i], job, null) == null)
                {
                    return;
                }
            }
        }
    }
}
