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
//         pack op(A)[ic.., pc..] → aPack
//         for jr in 0..nc step NR:             B micro-panel KC×NR, reused by every A micro-panel below
//           for ir in 0..mc step MR:           A micro-panel MR×KC
//             micro-kernel → C[ic+ir.., jc+jr..]
//
// beta is applied by the first pc block only (the later ones accumulate with beta = 1); alpha is applied once per
// write-back to the kc-deep partial product, never inside the k loop. Edge tiles (fewer than MR rows or NR columns
// left) run the same kernel into a scratch tile and copy the valid part, so kernels never see edges.
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

        /// <summary>Gets the same product computed as Cᵀ = op(B)ᵀ·op(A)ᵀ (m and n swap; C is written transposed).</summary>
        public GemmArgs Swapped() => new(in this);
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
                    PackA<TKernel>(a, g.Lda, g.TransA, ic, mc, pc, kc, aPack);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nCols = Math.Min(nr, nc - jr);
                        float* bPanel = bPack + (nint)jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int mRows = Math.Min(mr, mc - ir);
                            float* aPanel = aPack + (nint)ir * kc;
                            if (transposedC)
                            {
                                // Tile element (r, j) is C[(jc+jr+j)·ldc + ic+ir+r].
                                TKernel.Run(kc, aPanel, bPanel, tile, nr, 1f, 0f);
                                MergeEdgeTileTransposed(tile, nr, c + (jc + jr) * g.Ldc + ic + ir, g.Ldc, mRows, nCols, alpha, beta);
                                continue;
                            }

                            float* cTile = c + (ic + ir) * g.Ldc + jc + jr;
                            if (mRows == mr && nCols == nr)
                            {
                                TKernel.Run(kc, aPanel, bPanel, cTile, g.Ldc, alpha, beta);
                            }
                            else
                            {
                                TKernel.Run(kc, aPanel, bPanel, tile, nr, 1f, 0f);
                                MergeEdgeTile(tile, nr, cTile, g.Ldc, mRows, nCols, alpha, beta);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Writes C = alpha·tile + beta·C for the valid rows × cols of an edge tile (beta == 0: C is not read).</summary>
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
