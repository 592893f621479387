using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LLaDA.Tensors.Cpu;

// Micro-kernels: each computes one MR×NR tile of C from an A micro-panel (MR rows × kc steps) and a packed B
// micro-panel (kc×NR, stored k-major: b[p*NR + j]) as kc rank-1 updates held in registers:
//
//     for p in 0..kc:  acc[r][j] += A(r, p) * b[p*NR + j]            (r < MR, j < NR)
//     then             C[r][j] = alpha·acc[r][j] + beta·C[r][j]      (beta == 0: C is not read)
//
// A(r, p) is a[r·aRow + p·aStep]: a packed panel (a[p*MR + r]) or op(A) read in place (see the driver).
// Packing zero-pads the edges, so a kernel never tests for edges; the driver sends partial tiles to a scratch tile.
// To try another shape: copy a kernel, change the accumulator block and the constants, and point TileShape and
// RunTask (CpuMatMul.Parallel.cs) at it; the driver, packing and tests are generic over IMicroKernel.
//
// Kernel shapes measured on this Zen 4 (EPYC, family 25 model 17; one zmm FMA per cycle per core, so the peak is
// 32 flop/cycle ≈ 117 GFLOP/s per core at 3.67 GHz, ≈ 231 GFLOP/s on both cores, measured with an FMA-only loop),
// kernel alone, one core, A block in L2, GFLOP/s best of 15:
//   6×64: 117   7×64: 116   10×32: 115   12×32: 114   14×32: 114   8×48: 113
// 6×64 runs at the FMA roofline and has the narrowest A panels (6 rows, the least M-edge padding); its 64-wide N edge
// is trimmed by the 6×16 narrow variant.
public static unsafe partial class CpuMatMul
{
    /// <summary>A register-blocked MR×NR micro-kernel plus the cache blocking that feeds it.</summary>
    private interface IMicroKernel
    {
        /// <summary>Gets the rows of C per micro-tile (broadcast from packed A).</summary>
        static abstract int MR { get; }

        /// <summary>Gets the columns of C per micro-tile (vector loads from packed B).</summary>
        static abstract int NR { get; }

        /// <summary>Gets the depth of one packed block: A micro-panel MR×KC, B micro-panel KC×NR.</summary>
        static abstract int KC { get; }

        /// <summary>Gets the rows of op(A) packed at once (the MC×KC block that stays in L2); a multiple of MR.</summary>
        static abstract int MC { get; }

        /// <summary>Gets the columns of op(B) packed at once (the KC×NC block in L2/L3); a multiple of NR.</summary>
        static abstract int NC { get; }

        /// <summary>Computes C[0..MR)[0..NR) = alpha·Apanel·Bpanel + beta·C over kc steps (beta == 0: C is not read).</summary>
        /// <remarks>A element (r, p) is a[r·aRow + p·aStep]: a packed panel has aRow = 1, aStep = MR; op(A) read in place has
        /// aRow = lda, aStep = 1 (transA = false) or aRow = 1, aStep = lda (transA = true).</remarks>
        static abstract void Run(nint kc, float* a, nint aRow, nint aStep, float* b, float* c, nint ldc, float alpha, float beta);

        /// <summary>Gets the columns of the narrow variant used on the last, partial column panel (NR when there is none).</summary>
        static abstract int NarrowNR { get; }

        /// <summary>Computes an MR×NarrowNR tile like <see cref="Run"/> from columns [0, NarrowNR) of a B panel with step stride NR.</summary>
        static abstract void RunNarrow(nint kc, float* a, nint aRow, nint aStep, float* b, float* c, nint ldc, float alpha, float beta);
    }

    /// <summary>
    /// AVX-512 6×64 kernel: 24 zmm accumulators (6 rows × 4 vectors of 16), 4 zmm for the B row, 1 for the A broadcast.
    /// </summary>
    /// <remarks>
    /// Per k step: 4 loads + 6 broadcasts + 24 FMAs; Zen 4 issues one zmm FMA per cycle, so 24 cycles per step with the
    /// 4-cycle FMA latency hidden 6 times over. RyuJIT (net10) keeps the 29 live vectors in registers with no spill
    /// (accumulators zmm2–zmm25, B row zmm26–zmm29, broadcast zmm30; checked with DOTNET_JitDisasm="Run").
    /// Blocking for Zen 4 (32 KiB L1d and 1 MiB L2 per core, 32 MiB L3 shared), chosen by interleaved A/B runs on both
    /// cores over 1024³ and the transformer shapes (KC ∈ {192, 256, 384, 512}, MC ∈ {96…384}, NC ∈ {512, 1024, 2048}):
    /// KC = 512: the B micro-panel (512×64×4 B = 128 KiB) and the A micro-panels stream from L2, which needs
    ///           (256 + 24) B per 24-cycle step ≈ 12 B/cycle of Zen 4's 64 B/cycle L2→L1 path; a deeper KC halves the
    ///           read-modify-write passes over C compared with 256 (+1–3 % on 1024³ and 4096×2048×512; 128 was −10 %).
    /// MC = 192: A block 192×512×4 B = 384 KiB + one B micro-panel 128 KiB ≈ half of L2, the rest for C lines.
    /// NC = 1024: B block 512×1024×4 B = 2 MiB per thread, in L3; 512–2048 measured the same, 1024 halves the scratch.
    /// </remarks>
    private readonly struct Avx512Kernel6x64 : IMicroKernel
    {
        public static int MR => 6;

        public static int NR => 64;

        public static int KC => 512;

        public static int MC => 192;

        public static int NC => 1024;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(nint kc, float* a, nint aRow, nint aStep, float* b, float* c, nint ldc, float alpha, float beta)
        {
            // Start pulling the C tile (6 rows × 4 cache lines) toward L1 now; it is needed only after the k loop
            // (+5 % on 1024³ on one core: C is 4 MiB there and each KC pass would otherwise wait on L3 at the write-back).
            for (nint r = 0; r < 6; r++)
            {
                float* cr = c + r * ldc;
                Sse.Prefetch0(cr);
                Sse.Prefetch0(cr + 16);
                Sse.Prefetch0(cr + 32);
                Sse.Prefetch0(cr + 48);
            }

            // acc[r][v] = cRV covers C row r, columns 16v .. 16v+15.
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
            Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
            Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
            Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
            Vector512<float> c40 = default, c41 = default, c42 = default, c43 = default;
            Vector512<float> c50 = default, c51 = default, c52 = default, c53 = default;

            float* a0 = a, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow, a4 = a3 + aRow, a5 = a4 + aRow;
            for (nint p = 0, off = 0; p < kc; p++, off += aStep)
            {
                // One rank-1 update: the 6×64 tile += (column p of the A panel) × (row p of the B panel).
                Vector512<float> b0 = Vector512.Load(b);
                Vector512<float> b1 = Vector512.Load(b + 16);
                Vector512<float> b2 = Vector512.Load(b + 32);
                Vector512<float> b3 = Vector512.Load(b + 48);

                Vector512<float> ai = Vector512.Create(a0[off]);
                c00 = Vector512.FusedMultiplyAdd(ai, b0, c00);
                c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
                c02 = Vector512.FusedMultiplyAdd(ai, b2, c02);
                c03 = Vector512.FusedMultiplyAdd(ai, b3, c03);

                ai = Vector512.Create(a1[off]);
                c10 = Vector512.FusedMultiplyAdd(ai, b0, c10);
                c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
                c12 = Vector512.FusedMultiplyAdd(ai, b2, c12);
                c13 = Vector512.FusedMultiplyAdd(ai, b3, c13);

                ai = Vector512.Create(a2[off]);
                c20 = Vector512.FusedMultiplyAdd(ai, b0, c20);
                c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
                c22 = Vector512.FusedMultiplyAdd(ai, b2, c22);
                c23 = Vector512.FusedMultiplyAdd(ai, b3, c23);

                ai = Vector512.Create(a3[off]);
                c30 = Vector512.FusedMultiplyAdd(ai, b0, c30);
                c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
                c32 = Vector512.FusedMultiplyAdd(ai, b2, c32);
                c33 = Vector512.FusedMultiplyAdd(ai, b3, c33);

                ai = Vector512.Create(a4[off]);
                c40 = Vector512.FusedMultiplyAdd(ai, b0, c40);
                c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
                c42 = Vector512.FusedMultiplyAdd(ai, b2, c42);
                c43 = Vector512.FusedMultiplyAdd(ai, b3, c43);

                ai = Vector512.Create(a5[off]);
                c50 = Vector512.FusedMultiplyAdd(ai, b0, c50);
                c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
                c52 = Vector512.FusedMultiplyAdd(ai, b2, c52);
                c53 = Vector512.FusedMultiplyAdd(ai, b3, c53);

                b += 64;
            }

            Vector512<float> va = Vector512.Create(alpha);
            Vector512<float> vb = Vector512.Create(beta);
            bool overwrite = beta == 0f;
            Store512Row(c + 0 * ldc, c00, c01, c02, c03, va, vb, overwrite);
            Store512Row(c + 1 * ldc, c10, c11, c12, c13, va, vb, overwrite);
            Store512Row(c + 2 * ldc, c20, c21, c22, c23, va, vb, overwrite);
            Store512Row(c + 3 * ldc, c30, c31, c32, c33, va, vb, overwrite);
            Store512Row(c + 4 * ldc, c40, c41, c42, c43, va, vb, overwrite);
            Store512Row(c + 5 * ldc, c50, c51, c52, c53, va, vb, overwrite);
        }

        public static int NarrowNR => 16;

        /// <summary>6×16 variant for the last column panel (a 72-column C then costs 80 columns of work, not 128).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void RunNarrow(nint kc, float* a, nint aRow, nint aStep, float* b, float* c, nint ldc, float alpha, float beta)
        {
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            float* a0 = a, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow, a4 = a3 + aRow, a5 = a4 + aRow;
            for (nint p = 0, off = 0; p < kc; p++, off += aStep)
            {
                Vector512<float> b0 = Vector512.Load(b);
                c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[off]), b0, c0);
                c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[off]), b0, c1);
                c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[off]), b0, c2);
                c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[off]), b0, c3);
                c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[off]), b0, c4);
                c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a5[off]), b0, c5);
                b += 64;   // the panel is still NR = 64 wide
            }

            Vector512<float> va = Vector512.Create(alpha);
            Vector512<float> vb = Vector512.Create(beta);
            bool overwrite = beta == 0f;
            Store512(c, c0, va, vb, overwrite);
            Store512(c + ldc, c1, va, vb, overwrite);
            Store512(c + 2 * ldc, c2, va, vb, overwrite);
            Store512(c + 3 * ldc, c3, va, vb, overwrite);
            Store512(c + 4 * ldc, c4, va, vb, overwrite);
            Store512(c + 5 * ldc, c5, va, vb, overwrite);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store512Row(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3,
            Vector512<float> alpha, Vector512<float> beta, bool overwrite)
        {
            Store512(c, x0, alpha, beta, overwrite);
            Store512(c + 16, x1, alpha, beta, overwrite);
            Store512(c + 32, x2, alpha, beta, overwrite);
            Store512(c + 48, x3, alpha, beta, overwrite);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store512(float* c, Vector512<float> acc, Vector512<float> alpha, Vector512<float> beta, bool overwrite)
        {
            Vector512<float> r = acc * alpha;
            if (!overwrite)
            {
                r = Vector512.FusedMultiplyAdd(beta, Vector512.Load(c), r);
            }

            Vector512.Store(r, c);
        }
    }

    /// <summary>
    /// AVX2 6×16 kernel: 12 ymm accumulators (6 rows × 2 vectors of 8), 2 ymm for the B row, 1 for the A broadcast.
    /// </summary>
    /// <remarks>
    /// The classic Haswell-era shape: 15 of the 16 VEX ymm registers, so it does not spill on AVX2-only CPUs (checked
    /// with DOTNET_EnableAVX512=0 DOTNET_JitDisasm="Run": ymm0–ymm15, only alpha goes to the stack, outside the loop).
    /// Per k step: 2 loads + 6 broadcasts + 12 FMAs (6 cycles at two ymm FMAs per cycle).
    /// Alone (packed panels in L1/L2, one core of the Zen 3 VM) it runs at 99–100 % of the FMA peak, like a 4×24
    /// shape (same measurement), so the losses of the whole product are in packing, C traffic and the task split.
    /// Blocking (for AVX2-era cores with 256 KiB–1 MiB L2): KC = 256 makes the B micro-panel 256×16×4 B = 16 KiB, half
    /// of L1d, reused by every A micro-panel; MC = 192 keeps the A block (192 KiB) in L2; NC = 1024 keeps the B block
    /// (1 MiB) in L3.
    /// </remarks>
    private readonly struct Avx2Kernel6x16 : IMicroKernel
    {
        public static int MR => 6;

        public static int NR => 16;

        public static int KC => 256;

        public static int MC => 192;

        public static int NC => 1024;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(nint kc, float* a, nint aRow, nint aStep, float* b, float* c, nint ldc, float alpha, float beta)
        {
            // No prefetch of the C tile here (unlike the 6×64 kernel): its 6 rows are 4 KiB apart whenever ldc is a
            // multiple of 1024 floats, so they all land in one L1 set, and pulling them in at the start evicted lines of
            // the B micro-panel in that set for the whole k loop (Zen 3, 2 cores: 1024³ NN 69 → 75 % of the FMA peak,
            // M4096 K256 N256 65 → 76 %). At the write-back the 12 loads of C issue together and overlap.
            Vector256<float> c00 = default, c01 = default;
            Vector256<float> c10 = default, c11 = default;
            Vector256<float> c20 = default, c21 = default;
            Vector256<float> c30 = default, c31 = default;
            Vector256<float> c40 = default, c41 = default;
            Vector256<float> c50 = default, c51 = default;

            float* a0 = a, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow, a4 = a3 + aRow, a5 = a4 + aRow;
            for (nint p = 0, off = 0; p < kc; p++, off += aStep)
            {
                Vector256<float> b0 = Vector256.Load(b);
                Vector256<float> b1 = Vector256.Load(b + 8);

                Vector256<float> ai = Vector256.Create(a0[off]);
                c00 = Vector256.FusedMultiplyAdd(ai, b0, c00);
                c01 = Vector256.FusedMultiplyAdd(ai, b1, c01);
                ai = Vector256.Create(a1[off]);
                c10 = Vector256.FusedMultiplyAdd(ai, b0, c10);
                c11 = Vector256.FusedMultiplyAdd(ai, b1, c11);
                ai = Vector256.Create(a2[off]);
                c20 = Vector256.FusedMultiplyAdd(ai, b0, c20);
                c21 = Vector256.FusedMultiplyAdd(ai, b1, c21);
                ai = Vector256.Create(a3[off]);
                c30 = Vector256.FusedMultiplyAdd(ai, b0, c30);
                c31 = Vector256.FusedMultiplyAdd(ai, b1, c31);
                ai = Vector256.Create(a4[off]);
                c40 = Vector256.FusedMultiplyAdd(ai, b0, c40);
                c41 = Vector256.FusedMultiplyAdd(ai, b1, c41);
                ai = Vector256.Create(a5[off]);
                c50 = Vector256.FusedMultiplyAdd(ai, b0, c50);
                c51 = Vector256.FusedMultiplyAdd(ai, b1, c51);

                b += 16;
            }

            Vector256<float> va = Vector256.Create(alpha);
            Vector256<float> vb = Vector256.Create(beta);
            bool overwrite = beta == 0f;
            Store256(c + 0 * ldc, c00, va, vb, overwrite);
            Store256(c + 0 * ldc + 8, c01, va, vb, overwrite);
            Store256(c + 1 * ldc, c10, va, vb, overwrite);
            Store256(c + 1 * ldc + 8, c11, va, vb, overwrite);
            Store256(c + 2 * ldc, c20, va, vb, overwrite);
            Store256(c + 2 * ldc + 8, c21, va, vb, overwrite);
            Store256(c + 3 * ldc, c30, va, vb, overwrite);
            Store256(c + 3 * ldc + 8, c31, va, vb, overwrite);
            Store256(c + 4 * ldc, c40, va, vb, overwrite);
            Store256(c + 4 * ldc + 8, c41, va, vb, overwrite);
            Store256(c + 5 * ldc, c50, va, vb, overwrite);
            Store256(c + 5 * ldc + 8, c51, va, vb, overwrite);
        }

        public static int NarrowNR => 8;

        /// <summary>6×8 variant for the last column panel.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void RunNarrow(nint kc, float* a, nint aRow, nint aStep, float* b, float* c, nint ldc, float alpha, float beta)
        {
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            float* a0 = a, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow, a4 = a3 + aRow, a5 = a4 + aRow;
            for (nint p = 0, off = 0; p < kc; p++, off += aStep)
            {
                Vector256<float> b0 = Vector256.Load(b);
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[off]), b0, c0);
                c1 = Vector256.FusedMultiplyAdd(Vector256.Create(a1[off]), b0, c1);
                c2 = Vector256.FusedMultiplyAdd(Vector256.Create(a2[off]), b0, c2);
                c3 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[off]), b0, c3);
                c4 = Vector256.FusedMultiplyAdd(Vector256.Create(a4[off]), b0, c4);
                c5 = Vector256.FusedMultiplyAdd(Vector256.Create(a5[off]), b0, c5);
                b += 16;   // the panel is still NR = 16 wide
            }

            Vector256<float> va = Vector256.Create(alpha);
            Vector256<float> vb = Vector256.Create(beta);
            bool overwrite = beta == 0f;
            Store256(c, c0, va, vb, overwrite);
            Store256(c + ldc, c1, va, vb, overwrite);
            Store256(c + 2 * ldc, c2, va, vb, overwrite);
            Store256(c + 3 * ldc, c3, va, vb, overwrite);
            Store256(c + 4 * ldc, c4, va, vb, overwrite);
            Store256(c + 5 * ldc, c5, va, vb, overwrite);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store256(float* c, Vector256<float> acc, Vector256<float> alpha, Vector256<float> beta, bool overwrite)
        {
            Vector256<float> r = acc * alpha;
            if (!overwrite)
            {
                r = Vector256.FusedMultiplyAdd(beta, Vector256.Load(c), r);
            }

            Vector256.Store(r, c);
        }
    }

    /// <summary>Portable scalar 4×4 kernel: 16 float accumulators, 4 A and 4 B values per k step (no FMA instruction assumed).</summary>
    /// <remarks>Blocking: KC = 256, MC = 128 (A block 128 KiB in L2), NC = 1024 (B block 1 MiB).</remarks>
    private readonly struct ScalarKernel4x4 : IMicroKernel
    {
        public static int MR => 4;

        public static int NR => 4;

        public static int KC => 256;

        public static int MC => 128;

        public static int NC => 1024;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(nint kc, float* a, nint aRow, nint aStep, float* b, float* c, nint ldc, float alpha, float beta)
        {
            float c00 = 0, c01 = 0, c02 = 0, c03 = 0;
            float c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0;
            float c30 = 0, c31 = 0, c32 = 0, c33 = 0;

            float* a0 = a, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
            for (nint p = 0, off = 0; p < kc; p++, off += aStep)
            {
                float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
                float x = a0[off];
                c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
                x = a1[off];
                c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
                x = a2[off];
                c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
                x = a3[off];
                c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
                b += 4;
            }

            bool overwrite = beta == 0f;
            StoreScalarRow(c + 0 * ldc, c00, c01, c02, c03, alpha, beta, overwrite);
            StoreScalarRow(c + 1 * ldc, c10, c11, c12, c13, alpha, beta, overwrite);
            StoreScalarRow(c + 2 * ldc, c20, c21, c22, c23, alpha, beta, overwrite);
            StoreScalarRow(c + 3 * ldc, c30, c31, c32, c33, alpha, beta, overwrite);
        }

        public static int NarrowNR => 4;

        public static void RunNarrow(nint kc, float* a, nint aRow, nint aStep, float* b, float* c, nint ldc, float alpha, float beta) => Run(kc, a, aRow, aStep, b, c, ldc, alpha, beta);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreScalarRow(float* c, float x0, float x1, float x2, float x3, float alpha, float beta, bool overwrite)
        {
            if (overwrite)
            {
                c[0] = alpha * x0;
                c[1] = alpha * x1;
                c[2] = alpha * x2;
                c[3] = alpha * x3;
            }
            else
            {
                c[0] = alpha * x0 + beta * c[0];
                c[1] = alpha * x1 + beta * c[1];
                c[2] = alpha * x2 + beta * c[2];
                c[3] = alpha * x3 + beta * c[3];
            }
        }
    }
}
