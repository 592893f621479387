using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LLaDA.Tensors.Cpu;

/// <summary>
/// Mixed-precision GEMM, C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b], with A and C in F32 (activations) and B stored as
/// BF16 or F16 (a checkpoint's weights, used in place): B is widened to f32 inside the kernel, a block at a time, and never
/// converted as a whole matrix.
/// </summary>
/// <remarks>
/// Three paths, each compared against <see cref="GemmNaive"/> in MixedGemmTests:
/// <list type="bullet">
/// <item>Streaming (m ≤ <see cref="StreamMaxM"/>, B transposed as nn.Linear's (out, in) weight, A row-major): the decode
/// shape, bound by reading the weights. The activations are first reordered once per call so that each 16-wide k step
/// holds the even k then the odd k; a weight row is then read 16 values (32 bytes) at a time as eight 32-bit words, whose
/// low halves are the even and high halves the odd k: BF16 widens with one shift and one mask (no lane shuffles), F16 with
/// the same split and an exponent rebias. Register blocks of 4 activation rows × 2 weight rows (1 × 2 for the rows left
/// over) keep 8 accumulators live; pairs of output columns are split between the cores, so the weights stream once at
/// memory bandwidth. `llada bench mixed-gemm`, 2-core Zen 3: M1 K4096 N12288 6.5 GB/s with the former one-row loop
/// (accumulators in stack memory) → 37.7 GB/s (106 % of the in-run triad); M8 2.4 → 10.0 GB/s (80 GFLOP/s, 40 % of
/// the FMA peak: compute-bound, 8 flops per weight byte).</item>
/// <item>Column blocks (everything else with n ≥ 2·<see cref="Nb"/>): the output columns are cut into <see cref="Nb"/>-wide
/// blocks handed to the cores; a core widens its block of op(B) one <see cref="Kc"/>-deep panel at a time into its own
/// f32 buffer (the packing step: O(k·n) against the GEMM's O(m·k·n)) and multiplies with the f32 GEMM
/// (<see cref="CpuMatMul.Sgemm"/>, single-threaded inside the block). No barrier between widening and multiplying, and
/// the widened panel is still in the core's L2 when the GEMM packs it. Measured against the former scheme (panels widened
/// by both cores, then the f32 GEMM split over the cores per 256×512 panel): M32 K4096 N4096 50 % → 97 % of the f32
/// SGEMM on the same shape, M512 80 % → 96 %.</item>
/// <item>Shared panels (n &lt; 2·<see cref="Nb"/>: too few column blocks to share): the calling thread's panel of
/// <see cref="Kc"/>×<see cref="Nc"/> is widened in parallel, then the f32 GEMM splits that panel's product.</item>
/// </list>
/// </remarks>
public static unsafe class CpuMixedGemm
{
    /// <summary>Largest m that takes the streaming (matrix–vector style) path.</summary>
    public const int StreamMaxM = 8;

    /// <summary>Panel depth (rows of op(B)) widened at once; equal to the AVX2 GEMM's own KC, so each GEMM call is one k pass.</summary>
    public const int Kc = 256;

    /// <summary>Column-block width of the column-block path: one core's share of op(B) at a time (Kc × Nb floats = 256 KiB).</summary>
    public const int Nb = 256;

    /// <summary>Panel width of the shared-panel path (Kc × Nc floats = 512 KiB).</summary>
    public const int Nc = 512;

    [ThreadStatic] private static float* _panel;
    [ThreadStatic] private static float* _acts;
    [ThreadStatic] private static long _actsCapacity;

    /// <summary>C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b]; arguments as <see cref="CpuMatMul.Sgemm"/>, B 16-bit of <paramref name="bType"/>.</summary>
    public static void Gemm(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA,
        ushort* b, DType bType, int ldb, long strideB, bool transB,
        float beta, float* c, int ldc, long strideC)
    {
        if (bType is not (DType.BF16 or DType.F16)) throw new ArgumentException($"mixed GEMM: B must be BF16 or F16, got {bType}", nameof(bType));
        if (batch < 0 || m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(batch), $"negative size (batch {batch}, m {m}, n {n}, k {k})");
        if (batch == 0 || m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            // BLAS semantics: A and B are not read.
            CpuMatMul.Sgemm(batch, m, n, 0, alpha, a, Math.Max(lda, 1), strideA, transA, (float*)b, Math.Max(ldb, 1), strideB, transB, beta, c, ldc, strideC);
            return;
        }
        if (bType == DType.BF16) Dispatch<Bf16>(batch, m, n, k, alpha, a, lda, strideA, transA, b, ldb, strideB, transB, beta, c, ldc, strideC);
        else Dispatch<F16>(batch, m, n, k, alpha, a, lda, strideA, transA, b, ldb, strideB, transB, beta, c, ldc, strideC);
    }

    private static void Dispatch<TW>(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA,
        ushort* b, int ldb, long strideB, bool transB,
        float beta, float* c, int ldc, long strideC) where TW : struct, IWiden
    {
        if (m <= StreamMaxM && transB && !transA)
        {
            for (int bi = 0; bi < batch; bi++)
                Stream<TW>(m, n, k, alpha, a + bi * strideA, lda, b + bi * strideB, ldb, beta, c + bi * strideC, ldc);
            CpuFlops.Add(2L * batch * m * n * k);
            return;
        }
        bool columnBlocks = n >= 2 * Nb;
        if (strideB == 0)
        {
            if (columnBlocks) ColumnBlocks<TW>(batch, m, n, k, alpha, a, lda, strideA, transA, b, ldb, transB, beta, c, ldc, strideC);
            else Panels<TW>(batch, m, n, k, alpha, a, lda, strideA, transA, b, ldb, transB, beta, c, ldc, strideC);
            return;
        }
        for (int bi = 0; bi < batch; bi++)
        {
            if (columnBlocks) ColumnBlocks<TW>(1, m, n, k, alpha, a + bi * strideA, lda, 0, transA, b + bi * strideB, ldb, transB, beta, c + bi * strideC, ldc, 0);
            else Panels<TW>(1, m, n, k, alpha, a + bi * strideA, lda, 0, transA, b + bi * strideB, ldb, transB, beta, c + bi * strideC, ldc, 0);
        }
    }

    /// <summary>The test oracle: the triple loop in double, each B element widened where it is read.</summary>
    public static void GemmNaive(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA,
        ushort* b, DType bType, int ldb, long strideB, bool transB,
        float beta, float* c, int ldc, long strideC)
    {
        for (int bi = 0; bi < batch; bi++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                    {
                        float aip = transA ? a[bi * strideA + (long)p * lda + i] : a[bi * strideA + (long)i * lda + p];
                        ushort bits = transB ? b[bi * strideB + (long)j * ldb + p] : b[bi * strideB + (long)p * ldb + j];
                        sum += (double)aip * (bType == DType.BF16 ? Half16.FromBf16(bits) : Half16.FromF16(bits));
                    }
                    float* cij = c + bi * strideC + (long)i * ldc + j;
                    *cij = beta == 0f ? (float)(alpha * sum) : (float)(alpha * sum + (double)beta * *cij);
                }
    }

    // ---------------------------------------------------------------- widening

    /// <summary>How one 16-bit format widens to f32, scalar and eight or sixteen lanes at a time (exact in every case).</summary>
    private interface IWiden
    {
        /// <summary>One value.</summary>
        static abstract float One(ushort bits);

        /// <summary>Eight consecutive values p[0..8).</summary>
        static abstract Vector256<float> Eight(ushort* p);

        /// <summary>The low halves of eight 32-bit words: the even elements of 16 consecutive values.</summary>
        static abstract Vector256<float> Low(Vector256<uint> words);

        /// <summary>The high halves of eight 32-bit words: the odd elements of 16 consecutive values.</summary>
        static abstract Vector256<float> High(Vector256<uint> words);
    }

    /// <summary>bfloat16 is the top half of an IEEE single: shift into place (or mask off the low half).</summary>
    private readonly struct Bf16 : IWiden
    {
        public static float One(ushort bits) => Half16.FromBf16(bits);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Eight(ushort* p)
        {
            var (lo, hi) = Vector128.Widen(Vector128.Load(p));
            return Vector256.ShiftLeft(Vector256.Create(lo, hi), 16).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Low(Vector256<uint> words) => Vector256.ShiftLeft(words, 16).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> High(Vector256<uint> words) => (words & Vector256.Create(0xFFFF0000u)).AsSingle();
    }

    /// <summary>IEEE binary16: sign, exponent and mantissa moved into single-precision position and the exponent rebiased.</summary>
    private readonly struct F16 : IWiden
    {
        public static float One(ushort bits) => Half16.FromF16(bits);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Eight(ushort* p)
        {
            var (lo, hi) = Vector128.Widen(Vector128.Load(p));
            return FromHalfBits(Vector256.Create(lo, hi));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Low(Vector256<uint> words) => FromHalfBits(words & Vector256.Create(0xFFFFu));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> High(Vector256<uint> words) => FromHalfBits(Vector256.ShiftRightLogical(words, 16));
    }

    /// <summary>Eight binary16 values (in the low 16 bits of each lane) to f32, exactly: zero, subnormals, normals, ±∞, NaN.</summary>
    /// <remarks>Exponent and mantissa shifted left by 13 read as a single are the value × 2⁻¹¹²; multiplying by 2¹¹² is
    /// exact and also normalises the subnormals. Exponent 31 (∞, NaN) instead gets the all-ones single exponent.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> FromHalfBits(Vector256<uint> h)
    {
        var mag = h & Vector256.Create(0x7FFFu);
        var shifted = Vector256.ShiftLeft(mag, 13);
        var finite = (shifted.AsSingle() * Vector256.Create(5.192296858534828e33f)).AsUInt32(); // 2¹¹²
        var special = shifted | Vector256.Create(0x7F800000u);
        var isSpecial = Vector256.GreaterThan(mag.AsInt32(), Vector256.Create(0x7BFF)).AsUInt32();
        var sign = Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16);
        return (Vector256.ConditionalSelect(isSpecial, special, finite) | sign).AsSingle();
    }

    /// <summary>d[q] = widen(s[q]) for q &lt; count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WidenRow<TW>(ushort* s, float* d, int count) where TW : struct, IWiden
    {
        int q = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; q + 8 <= count; q += 8) TW.Eight(s + q).Store(d + q);
        for (; q < count; q++) d[q] = TW.One(s[q]);
    }

    // ---------------------------------------------------------------- streaming path (small m)

    private static void Stream<TW>(int m, int n, int k, float alpha, float* a, int lda, ushort* w, int ldw, float beta, float* c, int ldc)
        where TW : struct, IWiden
    {
        // k in [0, kq) runs in 16-wide vector steps over the reordered activations, [kq, k) scalar over the originals.
        int kq = Vector256.IsHardwareAccelerated ? k & ~15 : 0;
        int pairs = (n + 1) / 2;
        // k blocks short enough that the m activation rows stay in L1 (m × kb × 4 B ≤ 16 KiB) while every column pair of the
        // range passes over them; partial sums per (row, column) carry over between blocks. One or two rows stay in L1
        // anyway: no blocking there. The reordered activations are stored block by block, each block's m rows contiguous
        // (row stride kl, not kq: rows kq·4 bytes apart, a multiple of 4 KiB, would all fall into the same L1 sets).
        int kb = m <= 2 ? Math.Max(kq, 16) : Math.Max(256, 4096 / m & ~15);
        float* ap = ActivationBuffer((long)m * kq);
        for (int k0 = 0; k0 < kq; k0 += kb)
        {
            int kl = Math.Min(kb, kq - k0);
            for (int i = 0; i < m; i++) EvenOdd(a + (long)i * lda + k0, ap + (long)m * k0 + (long)i * kl, kl);
        }
        CpuParallel.For(pairs, 2L * k * (m + 1), (q0, q1) =>
        {
            float* s = stackalloc float[8];
            int cols = (int)Math.Min(2 * (q1 - q0), n - 2 * q0);
            float* part = PartialSums(m * cols);
            new Span<float>(part, m * cols).Clear();
            for (int k0 = 0; k0 < kq; k0 += kb)
            {
                int kl = Math.Min(kb, kq - k0);
                for (long q = q0; q < q1; q++)
                {
                    int j = (int)(2 * q), jl = j - (int)(2 * q0);
                    bool two = j + 1 < n;
                    ushort* w0 = w + (long)j * ldw + k0, w1 = two ? w0 + ldw : w0; // an odd last column is computed twice, stored once
                    int i = 0;
                    for (; i + 4 <= m; i += 4)
                    {
                        Dot4x2<TW>(kl, ap + (long)m * k0 + (long)i * kl, kl, w0, w1, ldw, s);
                        for (int r = 0; r < 4; r++)
                        {
                            part[(i + r) * cols + jl] += s[2 * r];
                            if (two) part[(i + r) * cols + jl + 1] += s[2 * r + 1];
                        }
                    }
                    for (; i < m; i++)
                    {
                        Dot1x2<TW>(kl, ap + (long)m * k0 + (long)i * kl, w0, w1, ldw, s);
                        part[i * cols + jl] += s[0];
                        if (two) part[i * cols + jl + 1] += s[1];
                    }
                }
            }
            for (int i = 0; i < m; i++)
            {
                float* ar = a + (long)i * lda;
                for (int jl = 0; jl < cols; jl++)
                {
                    long j = 2 * q0 + jl;
                    Store(c + (long)i * ldc + j, part[i * cols + jl] + TailDot<TW>(kq, k, ar, w + j * ldw), alpha, beta);
                }
            }
        });
    }

    [ThreadStatic] private static float* _partial;
    [ThreadStatic] private static int _partialCapacity;

    /// <summary>The calling thread's buffer for the partial sums of one column range (grown on demand, kept).</summary>
    private static float* PartialSums(int floats)
    {
        if (_partialCapacity < floats)
        {
            if (_partial != null) NativeMemory.AlignedFree(_partial);
            int cap = Math.Max(floats, 2 * _partialCapacity);
            _partial = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(cap, 16) * sizeof(float)), 64);
            _partialCapacity = cap;
        }
        return _partial;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* cij, float v, float alpha, float beta) => *cij = beta == 0f ? alpha * v : alpha * v + beta * *cij;

    /// <summary>Σ_{p ∈ [from, k)} a[p]·widen(w[p]): the k that do not fill a 16-wide step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float TailDot<TW>(int from, int k, float* a, ushort* w) where TW : struct, IWiden
    {
        float sum = 0f;
        for (int p = from; p < k; p++) sum += a[p] * TW.One(w[p]);
        return sum;
    }

    /// <summary>Reorders each 16-wide step of one activation row as its 8 even then its 8 odd elements (the order in which
    /// the 32-bit words of a weight row hold them).</summary>
    private static void EvenOdd(float* a, float* d, int kq)
    {
        for (int p = 0; p < kq; p += 16)
            for (int i = 0; i < 8; i++)
            {
                d[p + i] = a[p + 2 * i];
                d[p + 8 + i] = a[p + 2 * i + 1];
            }
    }

    /// <summary>The calling thread's buffer for the reordered activations (grown on demand, kept for the next call).</summary>
    private static float* ActivationBuffer(long floats)
    {
        if (_actsCapacity < floats)
        {
            if (_acts != null) NativeMemory.AlignedFree(_acts);
            long cap = Math.Max(floats, 2 * _actsCapacity);
            _acts = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(cap, 16) * sizeof(float), 64);
            _actsCapacity = cap;
        }
        return _acts;
    }

    /// <summary>s[2r + c] = Σ_p ap[r·lda + p]·widen(w_c[p]) over the vector steps, for 4 reordered activation rows r and 2 weight rows c.</summary>
    /// <remarks>Per 16-wide step: 2 weight loads (32 bytes each) split into 4 even/odd vectors, 8 activation loads, 16 FMAs
    /// into 8 accumulators (14 ymm registers live).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x2<TW>(int kq, float* ap, int lda, ushort* w0, ushort* w1, int ldw, float* s) where TW : struct, IWiden
    {
        ushort* next = w0 + 2L * ldw; // the next column pair's rows, fetched while this pair computes
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        float* a0 = ap, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        for (int p = 0; p < kq; p += 16)
        {
            var x0 = Vector256.Load((uint*)(w0 + p));
            var x1 = Vector256.Load((uint*)(w1 + p));
            if (Sse.IsSupported && (p & 31) == 0)
            {
                Sse.Prefetch0(next + p);
                Sse.Prefetch0(next + ldw + p);
            }
            var e0 = TW.Low(x0);
            var o0 = TW.High(x0);
            var e1 = TW.Low(x1);
            var o1 = TW.High(x1);
            var ae = Vector256.Load(a0 + p);
            var ao = Vector256.Load(a0 + p + 8);
            c00 = Vector256.FusedMultiplyAdd(ae, e0, c00);
            c01 = Vector256.FusedMultiplyAdd(ae, e1, c01);
            c00 = Vector256.FusedMultiplyAdd(ao, o0, c00);
            c01 = Vector256.FusedMultiplyAdd(ao, o1, c01);
            ae = Vector256.Load(a1 + p);
            ao = Vector256.Load(a1 + p + 8);
            c10 = Vector256.FusedMultiplyAdd(ae, e0, c10);
            c11 = Vector256.FusedMultiplyAdd(ae, e1, c11);
            c10 = Vector256.FusedMultiplyAdd(ao, o0, c10);
            c11 = Vector256.FusedMultiplyAdd(ao, o1, c11);
            ae = Vector256.Load(a2 + p);
            ao = Vector256.Load(a2 + p + 8);
            c20 = Vector256.FusedMultiplyAdd(ae, e0, c20);
            c21 = Vector256.FusedMultiplyAdd(ae, e1, c21);
            c20 = Vector256.FusedMultiplyAdd(ao, o0, c20);
            c21 = Vector256.FusedMultiplyAdd(ao, o1, c21);
            ae = Vector256.Load(a3 + p);
            ao = Vector256.Load(a3 + p + 8);
            c30 = Vector256.FusedMultiplyAdd(ae, e0, c30);
            c31 = Vector256.FusedMultiplyAdd(ae, e1, c31);
            c30 = Vector256.FusedMultiplyAdd(ao, o0, c30);
            c31 = Vector256.FusedMultiplyAdd(ao, o1, c31);
        }
        s[0] = Vector256.Sum(c00); s[1] = Vector256.Sum(c01);
        s[2] = Vector256.Sum(c10); s[3] = Vector256.Sum(c11);
        s[4] = Vector256.Sum(c20); s[5] = Vector256.Sum(c21);
        s[6] = Vector256.Sum(c30); s[7] = Vector256.Sum(c31);
    }

    /// <summary>s[c] = Σ_p ap[p]·widen(w_c[p]) over the vector steps for one reordered activation row and 2 weight rows; even
    /// and odd k in separate accumulators, so 4 independent FMA chains per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot1x2<TW>(int kq, float* ap, ushort* w0, ushort* w1, int ldw, float* s) where TW : struct, IWiden
    {
        Vector256<float> e0s = default, o0s = default, e1s = default, o1s = default;
        ushort* next = w0 + 2L * ldw;
        for (int p = 0; p < kq; p += 16)
        {
            var x0 = Vector256.Load((uint*)(w0 + p));
            var x1 = Vector256.Load((uint*)(w1 + p));
            if (Sse.IsSupported && (p & 31) == 0)
            {
                Sse.Prefetch0(next + p);
                Sse.Prefetch0(next + ldw + p);
            }
            var ae = Vector256.Load(ap + p);
            var ao = Vector256.Load(ap + p + 8);
            e0s = Vector256.FusedMultiplyAdd(ae, TW.Low(x0), e0s);
            o0s = Vector256.FusedMultiplyAdd(ao, TW.High(x0), o0s);
            e1s = Vector256.FusedMultiplyAdd(ae, TW.Low(x1), e1s);
            o1s = Vector256.FusedMultiplyAdd(ao, TW.High(x1), o1s);
        }
        s[0] = Vector256.Sum(e0s + o0s);
        s[1] = Vector256.Sum(e1s + o1s);
    }

    // ---------------------------------------------------------------- column-block path

    private static void ColumnBlocks<TW>(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA, ushort* b, int ldb, bool transB,
        float beta, float* c, int ldc, long strideC) where TW : struct, IWiden
    {
        int blocks = (n + Nb - 1) / Nb;
        CpuParallel.For(blocks, 2L * batch * m * k * Nb, (b0, b1) =>
        {
            // Each block runs on this thread alone: the cores already share the blocks.
            using var single = CpuParallel.Use(1);
            float* panel = Panel();
            for (long blk = b0; blk < b1; blk++)
            {
                int jc = (int)blk * Nb, nc = Math.Min(Nb, n - jc);
                for (int pc = 0; pc < k; pc += Kc)
                {
                    int kc = Math.Min(Kc, k - pc);
                    // Pack: op(B)[pc.., jc..] widened, stored like the source (transposed: nc rows of kc; else kc rows of nc).
                    if (transB)
                        for (int r = 0; r < nc; r++) WidenRow<TW>(b + (long)(jc + r) * ldb + pc, panel + (long)r * kc, kc);
                    else
                        for (int r = 0; r < kc; r++) WidenRow<TW>(b + (long)(pc + r) * ldb + jc, panel + (long)r * nc, nc);
                    float* ap = transA ? a + (long)pc * lda : a + pc;
                    CpuMatMul.Sgemm(batch, m, nc, kc, alpha, ap, lda, strideA, transA,
                        panel, transB ? kc : nc, 0, transB, pc == 0 ? beta : 1f, c + jc, ldc, strideC);
                }
            }
        });
    }

    /// <summary>The calling thread's widening buffer, Kc × max(Nb, Nc) floats.</summary>
    private static float* Panel()
    {
        float* panel = _panel;
        if (panel == null) _panel = panel = (float*)NativeMemory.AlignedAlloc((nuint)(Kc * Math.Max(Nb, Nc) * sizeof(float)), 64);
        return panel;
    }

    // ---------------------------------------------------------------- shared-panel path

    private static void Panels<TW>(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA, ushort* b, int ldb, bool transB,
        float beta, float* c, int ldc, long strideC) where TW : struct, IWiden
    {
        float* panel = Panel();
        for (int jc = 0; jc < n; jc += Nc)
        {
            int nc = Math.Min(Nc, n - jc);
            for (int pc = 0; pc < k; pc += Kc)
            {
                int kc = Math.Min(Kc, k - pc);
                if (transB) WidenRows<TW>(b + (long)jc * ldb + pc, ldb, nc, kc, panel);
                else WidenRows<TW>(b + (long)pc * ldb + jc, ldb, kc, nc, panel);
                float* ap = transA ? a + (long)pc * lda : a + pc;
                CpuMatMul.Sgemm(batch, m, nc, kc, alpha, ap, lda, strideA, transA,
                    panel, transB ? kc : nc, 0, transB, pc == 0 ? beta : 1f, c + jc, ldc, strideC);
            }
        }
    }

    /// <summary>dst[r·width + q] = widen(src[r·ld + q]) for r &lt; rows, q &lt; width, rows split between the cores.</summary>
    private static void WidenRows<TW>(ushort* src, int ld, int rows, int width, float* dst) where TW : struct, IWiden
    {
        CpuParallel.For(rows, width, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++) WidenRow<TW>(src + r * ld, dst + r * width, width);
        });
    }
}
