using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LLaDA.Tensors.Cpu;

// The blocked driver runs the five Goto/BLIS loops around a micro-kernel on one rectangle of one C[b]:
//
//   for jc in cols step NC:                    B block  KC×NC  → packed once per (jc, pc), lives in L2/L3
//     for pc in 0..k step KC:
//       pack op(B)[pc.., jc..] → bPack
//       for ic in rows step MC:                A block  MC×KC  → packed once per (jc, pc, ic), lives in L2
//         pack op(A)[ic.., pc..] → aPack       (skipped when the task has ≤ 4 column panels: read in place)
//         for jr in 0..nc step NR:             B micro-panel KC×NR, reused by every A micro-panel below
//           for ir in 0..mc step MR:           A micro-panel MR×KC
//             micro-kernel → C[ic+ir.., jc+jr..]
//
// beta is applied by the first pc block only (the later ones accumulate with beta = 1); alpha is applied once per
// write-back to the kc-deep partial product, never inside the k loop. Edge tiles (fewer than MR rows or NR columns
// left) run the same kernel into a scratch tile and copy the valid part, so kernels never see edges; the last,
// partial column panel uses the kernel's narrow variant so that at most NarrowNR − 1 columns are padding.
public static unsafe partial class CpuMatMul
{
    /// <summary>All arguments of one Sgemm call, after validation.</summary>
    private readonly struct GemmArgs
    {
        public readonly int Batch, M, N, K;
        public readonly float Alpha, Beta;
        public readonly float* A, B, C;
        public readonly nint Lda, Ldb, Ldc;
        public readonly nint StrideA, StrideB, StrideC;
        public readonly bool TransA, TransB;

        /// <summary>Whether C is stored transposed: element (i, j) of this problem is at C[j·Ldc + i] (see <see cref="Swapped"/>).</summary>
        public readonly bool TransposedC;

        public GemmArgs(int batch, int m, int n, int k, float alpha,
            float* a, int lda, long strideA, bool transA,
            float* b, int ldb, long strideB, bool transB,
            float beta, float* c, int ldc, long strideC)
        {
            Batch = batch;
            M = m;
            N = n;
            K = k;
            Alpha = alpha;
            Beta = beta;
            A = a;
            B = b;
            C = c;
            Lda = lda;
            Ldb = ldb;
            Ldc = ldc;
            StrideA = (nint)strideA;
            StrideB = (nint)strideB;
            StrideC = (nint)strideC;
            TransA = transA;
            TransB = transB;
            TransposedC = false;
        }

        private GemmArgs(in GemmArgs g)
        {
            // Cᵀ = op(B)ᵀ·op(A)ᵀ: op(B)ᵀ(j, p) is b[j·ldb + p] when transB, i.e. the new A is B with transA' = !transB;
            // likewise the new B is A with transB' = !transA.
            Batch = g.Batch;
            M = g.N;
            N = g.M;
            K = g.K;
            Alpha = g.Alpha;
            Beta = g.Beta;
            A = g.B;
            B = g.A;
            C = g.C;
            Lda = g.Ldb;
            Ldb = g.Lda;
            Ldc = g.Ldc;
            StrideA = g.StrideB;
            StrideB = g.StrideA;
            StrideC = g.StrideC;
            TransA = !g.TransB;
            TransB = !g.TransA;
            TransposedC = !g.TransposedC;
        }

        private GemmArgs(in GemmArgs g, int k0, int k1, float* partial)
        {
            // Steps [k0, k1) of the same product: op(A)(i, k0 + p) and op(B)(k0 + p, j). With a partial buffer the
            // result goes there instead (row-major M×N in this problem's coordinates, overwritten: beta = 0).
            this = g;
            K = k1 - k0;
            A = g.A + (g.TransA ? k0 * g.Lda : k0);
            B = g.B + (g.TransB ? k0 : k0 * g.Ldb);
            if (partial != null)
            {
                C = partial;
                Ldc = g.N;
                StrideC = (nint)g.M * g.N;
                Beta = 0f;
                TransposedC = false;
            }
        }

        /// <summary>Gets the same product computed as Cᵀ = op(B)ᵀ·op(A)ᵀ (m and n swap; C is written transposed).</summary>
        public GemmArgs Swapped() => new(in this);

        /// <summary>Gets the product over steps [k0, k1) only, written to C (partial == null) or overwriting a partial buffer.</summary>
        public GemmArgs KRange(int k0, int k1, float* partial) => new(in this, k0, k1, partial);
    }

    /// <summary>Runs the blocked loops for rows [i0, i1) × columns [j0, j1) of C[batchIndex] on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunBlocked<TKernel>(in GemmArgs g, int batchIndex, int i0, int i1, int j0, int j1)
        where TKernel : struct, IMicroKernel
    {
        bool transposedC = g.TransposedC;
        int mr = TKernel.MR, nr = TKernel.NR;
        int kcMax = Math.Min(TKernel.KC, g.K);
        int ncMax = Math.Min(TKernel.NC, RoundUp(j1 - j0, nr));
        int mcMax = Math.Min(TKernel.MC, RoundUp(i1 - i0, mr));
        Scratch scratch = Scratch.ForCurrentThread();
        float* aPack = scratch.Get(Scratch.Slot.PackedA, (nint)mcMax * kcMax);
        float* bPack = scratch.Get(Scratch.Slot.PackedB, (nint)ncMax * kcMax);
        float* tile = scratch.Get(Scratch.Slot.EdgeTile, (nint)mr * nr);

        float* a = g.A + batchIndex * g.StrideA;
        float* b = g.B + batchIndex * g.StrideB;
        float* c = g.C + batchIndex * g.StrideC;
        float alpha = g.Alpha;

        // Packing A pays off only when a packed block is reused by many column panels. With at most four per task
        // (n ≤ 4·NR, e.g. attention's P·V with head size 64 or 128) the kernel reads op(A) in place instead; only a
        // partial last row panel is still packed, because its missing rows must read as zeros. Measured on two cores:
        // b64×256×64×256 133 → 165 GFLOP/s, 2048×128×2048 189 → 218, 2048×256×2048 199 → 214; with many panels
        // reading in place was even for transA = false and 3 % slower for transA = true. Transposed in place, each k
        // step reads another row of the stored A, so that is kept to lda ≤ 256 (≥ 4 steps per 4 KiB page; with
        // lda = 4096 every step was a TLB miss and m4096·n16·k1024 ran at half speed).
        bool packA = RoundUp(j1 - j0, nr) > 4 * nr || (g.TransA && g.Lda > 256);

        for (int jc = j0; jc < j1; jc += TKernel.NC)
        {
            int nc = Math.Min(TKernel.NC, j1 - jc);
            for (int pc = 0; pc < g.K; pc += TKernel.KC)
            {
                int kc = Math.Min(TKernel.KC, g.K - pc);
                float beta = pc == 0 ? g.Beta : 1f;
                PackB<TKernel>(b, g.Ldb, g.TransB, pc, kc, jc, nc, bPack);
                for (int ic = i0; ic < i1; ic += TKernel.MC)
                {
                    int mc = Math.Min(TKernel.MC, i1 - ic);
                    int fullRows = packA ? 0 : mc / mr * mr;
                    if (fullRows < mc)
                    {
                        PackA<TKernel>(a, g.Lda, g.TransA, ic + fullRows, mc - fullRows, pc, kc, aPack + (nint)fullRows * kc);
                    }

                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nCols = Math.Min(nr, nc - jr);
                        float* bPanel = bPack + (nint)jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int mRows = Math.Min(mr, mc - ir);
                            float* aPanel = aPack + (nint)ir * kc;
                            nint aRow = 1, aStep = mr;
                            if (ir < fullRows)
                            {
                                // op(A)(i, p) in place: a[i·lda + p], or a[p·lda + i] when transposed.
                                aPanel = g.TransA ? a + (nint)pc * g.Lda + ic + ir : a + (ic + ir) * g.Lda + pc;
                                aRow = g.TransA ? 1 : g.Lda;
                                aStep = g.TransA ? g.Lda : 1;
                            }

                            if (nCols == nr && mRows == mr && !transposedC)
                            {
                                // The common case: a full tile straight into C.
                                TKernel.Run(kc, aPanel, aRow, aStep, bPanel, c + (ic + ir) * g.Ldc + jc + jr, g.Ldc, alpha, beta);
                            }
                            else if (nCols == nr)
                            {
                                TKernel.Run(kc, aPanel, aRow, aStep, bPanel, tile, nr, 1f, 0f);
                                MergeTile(in g, c, tile, nr, ic + ir, jc + jr, mRows, nCols, alpha, beta);
                            }
                            else
                            {
                                // Last, partial column panel: NarrowNR columns at a time, so at most NarrowNR−1 columns are padding.
                                int nn = TKernel.NarrowNR;
                                for (int v = 0; v < nCols; v += nn)
                                {
                                    int w = Math.Min(nn, nCols - v);
                                    if (mRows == mr && w == nn && !transposedC)
                                    {
                                        TKernel.RunNarrow(kc, aPanel, aRow, aStep, bPanel + v, c + (ic + ir) * g.Ldc + jc + jr + v, g.Ldc, alpha, beta);
                                    }
                                    else
                                    {
                                        TKernel.RunNarrow(kc, aPanel, aRow, aStep, bPanel + v, tile, nn, 1f, 0f);
                                        MergeTile(in g, c, tile, nn, ic + ir, jc + jr + v, mRows, w, alpha, beta);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Merges a computed tile into C at (i, j) of this problem, which is C[j, i] when the problem is transposed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MergeTile(in GemmArgs g, float* c, float* tile, nint ldt, int i, int j, int rows, int cols, float alpha, float beta)
    {
        if (g.TransposedC)
        {
            MergeEdgeTileTransposed(tile, ldt, c + j * g.Ldc + i, g.Ldc, rows, cols, alpha, beta);
        }
        else
        {
            MergeEdgeTile(tile, ldt, c + i * g.Ldc + j, g.Ldc, rows, cols, alpha, beta);
        }
    }

    /// <summary>Writes C = alpha·tile + beta·C for the valid rows × cols of an edge tile (beta == 0: C is not read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MergeEdgeTile(float* tile, nint ldt, float* c, nint ldc, int rows, int cols, float alpha, float beta)
    {
        for (int r = 0; r < rows; r++)
        {
            float* t = tile + r * ldt;
            float* cr = c + r * ldc;
            if (beta == 0f)
            {
                for (int j = 0; j < cols; j++)
                {
                    cr[j] = alpha * t[j];
                }
            }
            else
            {
                for (int j = 0; j < cols; j++)
                {
                    cr[j] = alpha * t[j] + beta * cr[j];
                }
            }
        }
    }

    /// <summary>Writes Cᵀ = alpha·tile + beta·Cᵀ: tile (r, j) goes to c[j·ldc + r] (beta == 0: C is not read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MergeEdgeTileTransposed(float* tile, nint ldt, float* c, nint ldc, int rows, int cols, float alpha, float beta)
    {
        for (int j = 0; j < cols; j++)
        {
            float* cr = c + j * ldc;
            if (beta == 0f)
            {
                for (int r = 0; r < rows; r++)
                {
                    cr[r] = alpha * tile[r * ldt + j];
                }
            }
            else
            {
                for (int r = 0; r < rows; r++)
                {
                    cr[r] = alpha * tile[r * ldt + j] + beta * cr[r];
                }
            }
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>
    /// Per-thread, 64-byte-aligned native buffers for packed panels; grown on demand and reused, so steady-state calls do
    /// not allocate. One per thread makes concurrent Sgemm calls safe; the finalizer frees it when its thread exits.
    /// </summary>
    private sealed class Scratch
    {
        [ThreadStatic]
        private static Scratch? _current;

        private readonly float*[] _buffers = new float*[(int)Slot.Count];
        private readonly nint[] _capacities = new nint[(int)Slot.Count];

        ~Scratch()
        {
            for (int i = 0; i < _buffers.Length; i++)
            {
                if (_buffers[i] != null)
                {
                    NativeMemory.AlignedFree(_buffers[i]);
                    _buffers[i] = null;
                }
            }
        }

        /// <summary>Names one buffer of the scratch set.</summary>
        public enum Slot
        {
            PackedA,
            PackedB,
            EdgeTile,
            Vector,
            PartialC,
            Count,
        }

        /// <summary>Gets the calling thread's scratch set, creating it on first use.</summary>
        public static Scratch ForCurrentThread() => _current ??= new Scratch();

        /// <summary>Gets a buffer of at least <paramref name="floats"/> floats (contents undefined), 64-byte aligned.</summary>
        public float* Get(Slot slot, nint floats)
        {
            int i = (int)slot;
            if (_capacities[i] < floats)
            {
                // Grow geometrically (and to at least 4 KiB) so a sequence of growing shapes allocates O(log) times.
                nint capacity = Math.Max(Math.Max(floats, _capacities[i] * 2), 1024);
                if (_buffers[i] != null)
                {
                    NativeMemory.AlignedFree(_buffers[i]);
                    _buffers[i] = null;
                    _capacities[i] = 0;
                }

                _buffers[i] = (float*)NativeMemory.AlignedAlloc((nuint)capacity * sizeof(float), 64);
                _capacities[i] = capacity;
            }

            return _buffers[i];
        }
    }
}
