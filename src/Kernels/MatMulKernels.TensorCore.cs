using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace LLaDA.Kernels;

// Tensor-core GEMM for 16-bit inputs (bfloat16 or IEEE half, passed as raw ushort bits) with FP32 accumulation and an
// FP32 C, through inline PTX mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32 (PTX ISA §9.7.14.5.8).
//
// Design (the Ampere "mma.sync + shared memory" scheme, as in CUTLASS's SM80 warp-level MMA without ldmatrix/cp.async,
// which ILGPU cannot address):
//   * Group tile 128×128, k tile 32, 256 threads = 8 warps in a 2 (m) × 4 (n) grid; each warp owns a 64×32 block of
//     C = 4 m16 tiles × 4 n8 tiles = 16 mma per k16 step, 32 per k tile. Accumulators: 64 FP32 per lane.
//   * Shared memory holds op(A) as [m][k] and op(B) as [n][k], both k-contiguous, as packed bf16 pairs (one 32-bit
//     word = elements k, k+1; the lower k in the low half, which is the mma fragment convention). A row is 16 words
//     padded to 20: fragment loads (row g = lane/4, word t = lane%4) hit 20·g + t mod 32 = 32 distinct banks.
//     Two buffers × (A + B) × 128 rows × 20 words × 4 B = 40 KiB, double-buffered with register staging (8 + 8 words
//     per thread per k tile), one barrier per k tile.
//   * Fragments (PTX ISA "Matrix Fragments for mma.m16n8k16", 16-bit types): with g = lane>>2, t = lane&3,
//     A: a0 = (row g, k 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..);
//     B: b0 = (k 2t..2t+1, col g), b1 = (k 2t+8.., col g); C: c0,c1 = (g, 2t..2t+1), c2,c3 = (g+8, 2t..2t+1).
//   * Accumulators live in 64 PTX registers tc0..tc63 declared by inline asm at kernel entry: ILGPU's EmitRef routes
//     every output operand through a local-memory slot, so four outputs per mma would cost four local stores and
//     loads per instruction; named registers make each mma a single instruction whose inputs are plain registers.
//     They are copied out once, in the epilogue.
//   * Every inline asm is guarded by CudaAsm.IsSupported. Elsewhere (the CPU accelerator used by the tests) the same
//     kernel, same staging and same shared layout compute each lane's fragment elements with scalar FP32
//     multiply-adds of the exactly converted inputs — so the tests check the loads, the packing, the fragment index
//     maps and the epilogue that the tensor-core path uses, and only the mma instruction itself needs the GPU.
public static partial class MatMulKernels
{
    internal const int TcTileM = 128, TcTileN = 128, TcTileK = 32, TcThreads = 256;
    /// <summary>Words per shared row: 16 words = 32 k values, padded by 4 against bank conflicts.</summary>
    internal const int TcRow = 20;
    private const int TcBuf = 128 * TcRow;

    private const string MmaBf16 = "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 ";
    private const string MmaF16 = "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 ";

    private const string TcDeclare = ".reg .f32 tc<64>; " +
        "mov.f32 tc0, 0f00000000; mov.f32 tc1, 0f00000000; mov.f32 tc2, 0f00000000; mov.f32 tc3, 0f00000000;" +
        "mov.f32 tc4, 0f00000000; mov.f32 tc5, 0f00000000; mov.f32 tc6, 0f00000000; mov.f32 tc7, 0f00000000;" +
        "mov.f32 tc8, 0f00000000; mov.f32 tc9, 0f00000000; mov.f32 tc10, 0f00000000; mov.f32 tc11, 0f00000000;" +
        "mov.f32 tc12, 0f00000000; mov.f32 tc13, 0f00000000; mov.f32 tc14, 0f00000000; mov.f32 tc15, 0f00000000;" +
        "mov.f32 tc16, 0f00000000; mov.f32 tc17, 0f00000000; mov.f32 tc18, 0f00000000; mov.f32 tc19, 0f00000000;" +
        "mov.f32 tc20, 0f00000000; mov.f32 tc21, 0f00000000; mov.f32 tc22, 0f00000000; mov.f32 tc23, 0f00000000;" +
        "mov.f32 tc24, 0f00000000; mov.f32 tc25, 0f00000000; mov.f32 tc26, 0f00000000; mov.f32 tc27, 0f00000000;" +
        "mov.f32 tc28, 0f00000000; mov.f32 tc29, 0f00000000; mov.f32 tc30, 0f00000000; mov.f32 tc31, 0f00000000;" +
        "mov.f32 tc32, 0f00000000; mov.f32 tc33, 0f00000000; mov.f32 tc34, 0f00000000; mov.f32 tc35, 0f00000000;" +
        "mov.f32 tc36, 0f00000000; mov.f32 tc37, 0f00000000; mov.f32 tc38, 0f00000000; mov.f32 tc39, 0f00000000;" +
        "mov.f32 tc40, 0f00000000; mov.f32 tc41, 0f00000000; mov.f32 tc42, 0f00000000; mov.f32 tc43, 0f00000000;" +
        "mov.f32 tc44, 0f00000000; mov.f32 tc45, 0f00000000; mov.f32 tc46, 0f00000000; mov.f32 tc47, 0f00000000;" +
        "mov.f32 tc48, 0f00000000; mov.f32 tc49, 0f00000000; mov.f32 tc50, 0f00000000; mov.f32 tc51, 0f00000000;" +
        "mov.f32 tc52, 0f00000000; mov.f32 tc53, 0f00000000; mov.f32 tc54, 0f00000000; mov.f32 tc55, 0f00000000;" +
        "mov.f32 tc56, 0f00000000; mov.f32 tc57, 0f00000000; mov.f32 tc58, 0f00000000; mov.f32 tc59, 0f00000000;" +
        "mov.f32 tc60, 0f00000000; mov.f32 tc61, 0f00000000; mov.f32 tc62, 0f00000000; mov.f32 tc63, 0f00000000;";

    /// <summary>C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] for bfloat16 A and B (raw bits), FP32 accumulation and C; same layout contract as <see cref="Sgemm"/>.</summary>
    public static void GemmBf16(KernelContext k, int batch, int m, int n, int kDim, float alpha,
        ArrayView<ushort> a, int lda, long strideA, bool transA,
        ArrayView<ushort> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC)
        => Gemm16(k, false, batch, m, n, kDim, alpha, a, lda, strideA, transA, b, ldb, strideB, transB, beta, c, ldc, strideC);

    /// <summary>C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] for IEEE half A and B (raw bits), FP32 accumulation and C; same layout contract as <see cref="Sgemm"/>.</summary>
    public static void GemmF16(KernelContext k, int batch, int m, int n, int kDim, float alpha,
        ArrayView<ushort> a, int lda, long strideA, bool transA,
        ArrayView<ushort> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC)
        => Gemm16(k, true, batch, m, n, kDim, alpha, a, lda, strideA, transA, b, ldb, strideB, transB, beta, c, ldc, strideC);

    /// <summary>The 16-bit GEMM; <paramref name="naive"/> (or an accelerator without 256-thread groups) takes the one-thread-per-element kernel.</summary>
    internal static void Gemm16(KernelContext k, bool f16, int batch, int m, int n, int kDim, float alpha,
        ArrayView<ushort> a, int lda, long strideA, bool transA,
        ArrayView<ushort> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC, bool naive = false)
    {
        if (Begin(k, batch, m, n, kDim, alpha, a.Length, lda, strideA, transA, b.Length, ldb, strideB, transB, beta, c, ldc, strideC) is not { } p) return;
        p.IsF16 = f16 ? 1 : 0;
        if (naive || !CanRunTiles(k))
        {
            var nk = k.Kernel("mm.naive16", acc => acc.LoadKernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, GemmParams>(Naive16Kernel));
            nk(k.Stream, FlatConfig(k, p), a, b, c, p);
            return;
        }
        LaunchTensorCore(k, p, a, ArrayView<float>.Empty, b, c);
    }

    /// <summary>Launches the tensor-core kernel over batch × tiles: A as 16-bit bits in <paramref name="a"/>, or (p.AFloat = 1)
    /// as f32 in <paramref name="af"/>, rounded to the B format while a tile is staged.</summary>
    internal static void LaunchTensorCore(KernelContext k, GemmParams p, ArrayView<ushort> a, ArrayView<float> af, ArrayView<ushort> b, ArrayView<float> c)
    {
        p.TilesM = (p.M + TcTileM - 1) / TcTileM;
        p.TilesN = (p.N + TcTileN - 1) / TcTileN;
        long groups = (long)p.Batch * p.TilesM * p.TilesN;
        if (groups > int.MaxValue) throw new ArgumentException($"batch·tiles = {groups} is too large for one launch.");
        // A k-contiguous operand (A not transposed, B transposed) may be read as 32-bit pairs when every pair is 4-byte aligned.
        p.VecA = p.AFloat == 0 && IsAligned(a, 4) && p.Lda % 2 == 0 && p.StrideA % 2 == 0 ? 1 : 0;
        p.VecB = IsAligned(b, 4) && p.Ldb % 2 == 0 && p.StrideB % 2 == 0 ? 1 : 0;
        var kernel = k.Kernel("mm.tc", acc => acc.LoadKernel<ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, GemmParams>(TensorCoreKernel));
        kernel(k.Stream, new KernelConfig((int)groups, TcThreads), a, af, b, c, p);
    }

    /// <summary>One thread per C element with 16-bit inputs converted exactly to FP32 (the reference for the tensor-core kernel, and its fallback on small-group accelerators).</summary>
    [Kernel]
    internal static void Naive16Kernel(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c, GemmParams p)
    {
        long idx = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        long mn = (long)p.M * p.N;
        if (idx >= mn * p.Batch) return;
        int bi = (int)(idx / mn);
        long rem = idx - bi * mn;
        int i = (int)(rem / p.N);
        int j = (int)(rem - (long)i * p.N);
        long aPos = bi * p.StrideA + (p.TransA != 0 ? i : (long)i * p.Lda);
        long aStep = p.TransA != 0 ? p.Lda : 1;
        long bPos = bi * p.StrideB + (p.TransB != 0 ? (long)j * p.Ldb : j);
        long bStep = p.TransB != 0 ? 1 : p.Ldb;
        bool f16 = p.IsF16 != 0;
        float sum = 0f;
        for (int q = 0; q < p.K; q++)
        {
            uint x = a[aPos], y = b[bPos];
            sum += (f16 ? HalfBitsToSingle(x) : Bf16BitsToSingle(x)) * (f16 ? HalfBitsToSingle(y) : Bf16BitsToSingle(y));
            aPos += aStep;
            bPos += bStep;
        }
        long ci = bi * p.StrideC + (long)i * p.Ldc + j;
        c[ci] = p.Beta == 0f ? p.Alpha * sum : p.Alpha * sum + p.Beta * c[ci];
    }

    [Kernel]
    internal static void TensorCoreKernel(ArrayView<ushort> a, ArrayView<float> af, ArrayView<ushort> b, ArrayView<float> c, GemmParams p)
    {
        if (CudaAsm.IsSupported) CudaAsm.Emit(TcDeclare);

        var sa = SharedMemory.Allocate<uint>(2 * TcBuf);   // [buffer][m][20 words]
        var sb = SharedMemory.Allocate<uint>(2 * TcBuf);   // [buffer][n][20 words]
        var a32 = a.Cast<uint>();
        var b32 = b.Cast<uint>();

        int tid = Group.IdxX;
        int lane = tid & 31, warp = tid >> 5;
        int wm = warp >> 2, wn = warp & 3;
        int g = lane >> 2, t = lane & 3;
        int tilesMN = p.TilesM * p.TilesN;
        int bi = Grid.IdxX / tilesMN;
        int rem = Grid.IdxX - bi * tilesMN;
        int tm = rem / p.TilesN;
        int m0 = tm * TcTileM, n0 = (rem - tm * p.TilesN) * TcTileN;
        long aBase = bi * p.StrideA, bBase = bi * p.StrideB;
        bool aK = p.TransA == 0, bK = p.TransB != 0;        // operand stored k-contiguous?
        bool vecA = p.VecA != 0, vecB = p.VecB != 0, f16 = p.IsF16 != 0, aFloat = p.AFloat != 0;

        Words8 ra = aFloat ? LoadPairsF32(af, aBase, p.Lda, m0, p.M, 0, p.K, tid, aK, f16) : LoadPairs(a, a32, aBase, p.Lda, m0, p.M, 0, p.K, tid, aK, vecA);
        Words8 rb = LoadPairs(b, b32, bBase, p.Ldb, n0, p.N, 0, p.K, tid, bK, vecB);
        StorePairs(sa, 0, ra, tid, aK);
        StorePairs(sb, 0, rb, tid, bK);
        Group.Barrier();

        TcAcc acc = default;
        // This lane's fragment base words (row g of the warp's first m16 tile / column g of its first n8 tile, word t).
        int aFrag = (wm * 64 + g) * TcRow + t;
        int bFrag = (wn * 32 + g) * TcRow + t;
        int nk = (p.K + TcTileK - 1) / TcTileK;
        for (int kt = 0; kt < nk; kt++)
        {
            int cur = (kt & 1) * TcBuf;
            bool more = kt + 1 < nk;
            if (more)
            {
                int k0 = (kt + 1) * TcTileK;
                ra = aFloat ? LoadPairsF32(af, aBase, p.Lda, m0, p.M, k0, p.K, tid, aK, f16) : LoadPairs(a, a32, aBase, p.Lda, m0, p.M, k0, p.K, tid, aK, vecA);
                rb = LoadPairs(b, b32, bBase, p.Ldb, n0, p.N, k0, p.K, tid, bK, vecB);
            }
            if (CudaAsm.IsSupported)
            {
                MmaStep(sa, sb, cur + aFrag, cur + bFrag, f16);        // k 0..15 of the tile
                MmaStep(sa, sb, cur + aFrag + 8, cur + bFrag + 8, f16); // k 16..31
            }
            else
            {
                ScalarTile(sa, sb, cur + (wm * 64 + g) * TcRow, cur + (wn * 32 + 2 * t) * TcRow, f16, ref acc);
            }
            if (more)
            {
                int nxt = cur ^ TcBuf;
                StorePairs(sa, nxt, ra, tid, aK);
                StorePairs(sb, nxt, rb, tid, bK);
            }
            Group.Barrier();
        }

        if (CudaAsm.IsSupported) ReadAccumulators(ref acc);

        long cBase = bi * p.StrideC;
        int row = m0 + wm * 64 + g, col = n0 + wn * 32 + 2 * t;
        StoreFrag(c, cBase, row, col, acc.F00, p); StoreFrag(c, cBase, row, col + 8, acc.F01, p);
        StoreFrag(c, cBase, row, col + 16, acc.F02, p); StoreFrag(c, cBase, row, col + 24, acc.F03, p);
        StoreFrag(c, cBase, row + 16, col, acc.F10, p); StoreFrag(c, cBase, row + 16, col + 8, acc.F11, p);
        StoreFrag(c, cBase, row + 16, col + 16, acc.F12, p); StoreFrag(c, cBase, row + 16, col + 24, acc.F13, p);
        StoreFrag(c, cBase, row + 32, col, acc.F20, p); StoreFrag(c, cBase, row + 32, col + 8, acc.F21, p);
        StoreFrag(c, cBase, row + 32, col + 16, acc.F22, p); StoreFrag(c, cBase, row + 32, col + 24, acc.F23, p);
        StoreFrag(c, cBase, row + 48, col, acc.F30, p); StoreFrag(c, cBase, row + 48, col + 8, acc.F31, p);
        StoreFrag(c, cBase, row + 48, col + 16, acc.F32, p); StoreFrag(c, cBase, row + 48, col + 24, acc.F33, p);
    }

    /// <summary>One k16 step of the warp's 64×32 block: loads 4 A and 4 B fragments from shared memory and issues 16 mma.sync into tc0..tc63.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MmaStep(ArrayView<uint> sa, ArrayView<uint> sb, int ao, int bo, bool f16)
    {
        const int r8 = 8 * TcRow, r16 = 16 * TcRow;
        uint a00 = sa[ao], a01 = sa[ao + r8], a02 = sa[ao + 4], a03 = sa[ao + r8 + 4];
        ao += r16;
        uint a10 = sa[ao], a11 = sa[ao + r8], a12 = sa[ao + 4], a13 = sa[ao + r8 + 4];
        ao += r16;
        uint a20 = sa[ao], a21 = sa[ao + r8], a22 = sa[ao + 4], a23 = sa[ao + r8 + 4];
        ao += r16;
        uint a30 = sa[ao], a31 = sa[ao + r8], a32 = sa[ao + 4], a33 = sa[ao + r8 + 4];
        uint b00 = sb[bo], b01 = sb[bo + 4];
        uint b10 = sb[bo + r8], b11 = sb[bo + r8 + 4];
        uint b20 = sb[bo + 2 * r8], b21 = sb[bo + 2 * r8 + 4];
        uint b30 = sb[bo + 3 * r8], b31 = sb[bo + 3 * r8 + 4];
        if (f16)
        {
            CudaAsm.Emit(MmaF16 + "{tc0,tc1,tc2,tc3}, {%0,%1,%2,%3}, {%4,%5}, {tc0,tc1,tc2,tc3};", a00, a01, a02, a03, b00, b01);
            CudaAsm.Emit(MmaF16 + "{tc4,tc5,tc6,tc7}, {%0,%1,%2,%3}, {%4,%5}, {tc4,tc5,tc6,tc7};", a00, a01, a02, a03, b10, b11);
            CudaAsm.Emit(MmaF16 + "{tc8,tc9,tc10,tc11}, {%0,%1,%2,%3}, {%4,%5}, {tc8,tc9,tc10,tc11};", a00, a01, a02, a03, b20, b21);
            CudaAsm.Emit(MmaF16 + "{tc12,tc13,tc14,tc15}, {%0,%1,%2,%3}, {%4,%5}, {tc12,tc13,tc14,tc15};", a00, a01, a02, a03, b30, b31);
            CudaAsm.Emit(MmaF16 + "{tc16,tc17,tc18,tc19}, {%0,%1,%2,%3}, {%4,%5}, {tc16,tc17,tc18,tc19};", a10, a11, a12, a13, b00, b01);
            CudaAsm.Emit(MmaF16 + "{tc20,tc21,tc22,tc23}, {%0,%1,%2,%3}, {%4,%5}, {tc20,tc21,tc22,tc23};", a10, a11, a12, a13, b10, b11);
            CudaAsm.Emit(MmaF16 + "{tc24,tc25,tc26,tc27}, {%0,%1,%2,%3}, {%4,%5}, {tc24,tc25,tc26,tc27};", a10, a11, a12, a13, b20, b21);
            CudaAsm.Emit(MmaF16 + "{tc28,tc29,tc30,tc31}, {%0,%1,%2,%3}, {%4,%5}, {tc28,tc29,tc30,tc31};", a10, a11, a12, a13, b30, b31);
            CudaAsm.Emit(MmaF16 + "{tc32,tc33,tc34,tc35}, {%0,%1,%2,%3}, {%4,%5}, {tc32,tc33,tc34,tc35};", a20, a21, a22, a23, b00, b01);
            CudaAsm.Emit(MmaF16 + "{tc36,tc37,tc38,tc39}, {%0,%1,%2,%3}, {%4,%5}, {tc36,tc37,tc38,tc39};", a20, a21, a22, a23, b10, b11);
            CudaAsm.Emit(MmaF16 + "{tc40,tc41,tc42,tc43}, {%0,%1,%2,%3}, {%4,%5}, {tc40,tc41,tc42,tc43};", a20, a21, a22, a23, b20, b21);
            CudaAsm.Emit(MmaF16 + "{tc44,tc45,tc46,tc47}, {%0,%1,%2,%3}, {%4,%5}, {tc44,tc45,tc46,tc47};", a20, a21, a22, a23, b30, b31);
            CudaAsm.Emit(MmaF16 + "{tc48,tc49,tc50,tc51}, {%0,%1,%2,%3}, {%4,%5}, {tc48,tc49,tc50,tc51};", a30, a31, a32, a33, b00, b01);
            CudaAsm.Emit(MmaF16 + "{tc52,tc53,tc54,tc55}, {%0,%1,%2,%3}, {%4,%5}, {tc52,tc53,tc54,tc55};", a30, a31, a32, a33, b10, b11);
            CudaAsm.Emit(MmaF16 + "{tc56,tc57,tc58,tc59}, {%0,%1,%2,%3}, {%4,%5}, {tc56,tc57,tc58,tc59};", a30, a31, a32, a33, b20, b21);
            CudaAsm.Emit(MmaF16 + "{tc60,tc61,tc62,tc63}, {%0,%1,%2,%3}, {%4,%5}, {tc60,tc61,tc62,tc63};", a30, a31, a32, a33, b30, b31);
        }
        else
        {
            CudaAsm.Emit(MmaBf16 + "{tc0,tc1,tc2,tc3}, {%0,%1,%2,%3}, {%4,%5}, {tc0,tc1,tc2,tc3};", a00, a01, a02, a03, b00, b01);
            CudaAsm.Emit(MmaBf16 + "{tc4,tc5,tc6,tc7}, {%0,%1,%2,%3}, {%4,%5}, {tc4,tc5,tc6,tc7};", a00, a01, a02, a03, b10, b11);
            CudaAsm.Emit(MmaBf16 + "{tc8,tc9,tc10,tc11}, {%0,%1,%2,%3}, {%4,%5}, {tc8,tc9,tc10,tc11};", a00, a01, a02, a03, b20, b21);
            CudaAsm.Emit(MmaBf16 + "{tc12,tc13,tc14,tc15}, {%0,%1,%2,%3}, {%4,%5}, {tc12,tc13,tc14,tc15};", a00, a01, a02, a03, b30, b31);
            CudaAsm.Emit(MmaBf16 + "{tc16,tc17,tc18,tc19}, {%0,%1,%2,%3}, {%4,%5}, {tc16,tc17,tc18,tc19};", a10, a11, a12, a13, b00, b01);
            CudaAsm.Emit(MmaBf16 + "{tc20,tc21,tc22,tc23}, {%0,%1,%2,%3}, {%4,%5}, {tc20,tc21,tc22,tc23};", a10, a11, a12, a13, b10, b11);
            CudaAsm.Emit(MmaBf16 + "{tc24,tc25,tc26,tc27}, {%0,%1,%2,%3}, {%4,%5}, {tc24,tc25,tc26,tc27};", a10, a11, a12, a13, b20, b21);
            CudaAsm.Emit(MmaBf16 + "{tc28,tc29,tc30,tc31}, {%0,%1,%2,%3}, {%4,%5}, {tc28,tc29,tc30,tc31};", a10, a11, a12, a13, b30, b31);
            CudaAsm.Emit(MmaBf16 + "{tc32,tc33,tc34,tc35}, {%0,%1,%2,%3}, {%4,%5}, {tc32,tc33,tc34,tc35};", a20, a21, a22, a23, b00, b01);
            CudaAsm.Emit(MmaBf16 + "{tc36,tc37,tc38,tc39}, {%0,%1,%2,%3}, {%4,%5}, {tc36,tc37,tc38,tc39};", a20, a21, a22, a23, b10, b11);
            CudaAsm.Emit(MmaBf16 + "{tc40,tc41,tc42,tc43}, {%0,%1,%2,%3}, {%4,%5}, {tc40,tc41,tc42,tc43};", a20, a21, a22, a23, b20, b21);
            CudaAsm.Emit(MmaBf16 + "{tc44,tc45,tc46,tc47}, {%0,%1,%2,%3}, {%4,%5}, {tc44,tc45,tc46,tc47};", a20, a21, a22, a23, b30, b31);
            CudaAsm.Emit(MmaBf16 + "{tc48,tc49,tc50,tc51}, {%0,%1,%2,%3}, {%4,%5}, {tc48,tc49,tc50,tc51};", a30, a31, a32, a33, b00, b01);
            CudaAsm.Emit(MmaBf16 + "{tc52,tc53,tc54,tc55}, {%0,%1,%2,%3}, {%4,%5}, {tc52,tc53,tc54,tc55};", a30, a31, a32, a33, b10, b11);
            CudaAsm.Emit(MmaBf16 + "{tc56,tc57,tc58,tc59}, {%0,%1,%2,%3}, {%4,%5}, {tc56,tc57,tc58,tc59};", a30, a31, a32, a33, b20, b21);
            CudaAsm.Emit(MmaBf16 + "{tc60,tc61,tc62,tc63}, {%0,%1,%2,%3}, {%4,%5}, {tc60,tc61,tc62,tc63};", a30, a31, a32, a33, b30, b31);
        }
    }

    /// <summary>Copies tc0..tc63 into the accumulator struct (once, after the main loop).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReadAccumulators(ref TcAcc acc)
    {
        float v;
        CudaAsm.Emit("mov.f32 %0, tc0;", out v); acc.F00.C0 = v; CudaAsm.Emit("mov.f32 %0, tc1;", out v); acc.F00.C1 = v; CudaAsm.Emit("mov.f32 %0, tc2;", out v); acc.F00.C2 = v; CudaAsm.Emit("mov.f32 %0, tc3;", out v); acc.F00.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc4;", out v); acc.F01.C0 = v; CudaAsm.Emit("mov.f32 %0, tc5;", out v); acc.F01.C1 = v; CudaAsm.Emit("mov.f32 %0, tc6;", out v); acc.F01.C2 = v; CudaAsm.Emit("mov.f32 %0, tc7;", out v); acc.F01.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc8;", out v); acc.F02.C0 = v; CudaAsm.Emit("mov.f32 %0, tc9;", out v); acc.F02.C1 = v; CudaAsm.Emit("mov.f32 %0, tc10;", out v); acc.F02.C2 = v; CudaAsm.Emit("mov.f32 %0, tc11;", out v); acc.F02.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc12;", out v); acc.F03.C0 = v; CudaAsm.Emit("mov.f32 %0, tc13;", out v); acc.F03.C1 = v; CudaAsm.Emit("mov.f32 %0, tc14;", out v); acc.F03.C2 = v; CudaAsm.Emit("mov.f32 %0, tc15;", out v); acc.F03.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc16;", out v); acc.F10.C0 = v; CudaAsm.Emit("mov.f32 %0, tc17;", out v); acc.F10.C1 = v; CudaAsm.Emit("mov.f32 %0, tc18;", out v); acc.F10.C2 = v; CudaAsm.Emit("mov.f32 %0, tc19;", out v); acc.F10.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc20;", out v); acc.F11.C0 = v; CudaAsm.Emit("mov.f32 %0, tc21;", out v); acc.F11.C1 = v; CudaAsm.Emit("mov.f32 %0, tc22;", out v); acc.F11.C2 = v; CudaAsm.Emit("mov.f32 %0, tc23;", out v); acc.F11.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc24;", out v); acc.F12.C0 = v; CudaAsm.Emit("mov.f32 %0, tc25;", out v); acc.F12.C1 = v; CudaAsm.Emit("mov.f32 %0, tc26;", out v); acc.F12.C2 = v; CudaAsm.Emit("mov.f32 %0, tc27;", out v); acc.F12.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc28;", out v); acc.F13.C0 = v; CudaAsm.Emit("mov.f32 %0, tc29;", out v); acc.F13.C1 = v; CudaAsm.Emit("mov.f32 %0, tc30;", out v); acc.F13.C2 = v; CudaAsm.Emit("mov.f32 %0, tc31;", out v); acc.F13.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc32;", out v); acc.F20.C0 = v; CudaAsm.Emit("mov.f32 %0, tc33;", out v); acc.F20.C1 = v; CudaAsm.Emit("mov.f32 %0, tc34;", out v); acc.F20.C2 = v; CudaAsm.Emit("mov.f32 %0, tc35;", out v); acc.F20.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc36;", out v); acc.F21.C0 = v; CudaAsm.Emit("mov.f32 %0, tc37;", out v); acc.F21.C1 = v; CudaAsm.Emit("mov.f32 %0, tc38;", out v); acc.F21.C2 = v; CudaAsm.Emit("mov.f32 %0, tc39;", out v); acc.F21.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc40;", out v); acc.F22.C0 = v; CudaAsm.Emit("mov.f32 %0, tc41;", out v); acc.F22.C1 = v; CudaAsm.Emit("mov.f32 %0, tc42;", out v); acc.F22.C2 = v; CudaAsm.Emit("mov.f32 %0, tc43;", out v); acc.F22.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc44;", out v); acc.F23.C0 = v; CudaAsm.Emit("mov.f32 %0, tc45;", out v); acc.F23.C1 = v; CudaAsm.Emit("mov.f32 %0, tc46;", out v); acc.F23.C2 = v; CudaAsm.Emit("mov.f32 %0, tc47;", out v); acc.F23.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc48;", out v); acc.F30.C0 = v; CudaAsm.Emit("mov.f32 %0, tc49;", out v); acc.F30.C1 = v; CudaAsm.Emit("mov.f32 %0, tc50;", out v); acc.F30.C2 = v; CudaAsm.Emit("mov.f32 %0, tc51;", out v); acc.F30.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc52;", out v); acc.F31.C0 = v; CudaAsm.Emit("mov.f32 %0, tc53;", out v); acc.F31.C1 = v; CudaAsm.Emit("mov.f32 %0, tc54;", out v); acc.F31.C2 = v; CudaAsm.Emit("mov.f32 %0, tc55;", out v); acc.F31.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc56;", out v); acc.F32.C0 = v; CudaAsm.Emit("mov.f32 %0, tc57;", out v); acc.F32.C1 = v; CudaAsm.Emit("mov.f32 %0, tc58;", out v); acc.F32.C2 = v; CudaAsm.Emit("mov.f32 %0, tc59;", out v); acc.F32.C3 = v;
        CudaAsm.Emit("mov.f32 %0, tc60;", out v); acc.F33.C0 = v; CudaAsm.Emit("mov.f32 %0, tc61;", out v); acc.F33.C1 = v; CudaAsm.Emit("mov.f32 %0, tc62;", out v); acc.F33.C2 = v; CudaAsm.Emit("mov.f32 %0, tc63;", out v); acc.F33.C3 = v;

    }

    /// <summary>Fallback for accelerators without PTX: the lane's 64 fragment elements over the whole k tile with scalar FP32 FMAs (aRow: word offset of row g of the warp's m block; bCol: of column 2t of its n block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScalarTile(ArrayView<uint> sa, ArrayView<uint> sb, int aRow, int bCol, bool f16, ref TcAcc acc)
    {
        const int r8 = 8 * TcRow, r16 = 16 * TcRow;
        ScalarFrag(sa, sb, aRow, bCol, f16, ref acc.F00); ScalarFrag(sa, sb, aRow, bCol + r8, f16, ref acc.F01);
        ScalarFrag(sa, sb, aRow, bCol + 2 * r8, f16, ref acc.F02); ScalarFrag(sa, sb, aRow, bCol + 3 * r8, f16, ref acc.F03);
        aRow += r16;
        ScalarFrag(sa, sb, aRow, bCol, f16, ref acc.F10); ScalarFrag(sa, sb, aRow, bCol + r8, f16, ref acc.F11);
        ScalarFrag(sa, sb, aRow, bCol + 2 * r8, f16, ref acc.F12); ScalarFrag(sa, sb, aRow, bCol + 3 * r8, f16, ref acc.F13);
        aRow += r16;
        ScalarFrag(sa, sb, aRow, bCol, f16, ref acc.F20); ScalarFrag(sa, sb, aRow, bCol + r8, f16, ref acc.F21);
        ScalarFrag(sa, sb, aRow, bCol + 2 * r8, f16, ref acc.F22); ScalarFrag(sa, sb, aRow, bCol + 3 * r8, f16, ref acc.F23);
        aRow += r16;
        ScalarFrag(sa, sb, aRow, bCol, f16, ref acc.F30); ScalarFrag(sa, sb, aRow, bCol + r8, f16, ref acc.F31);
        ScalarFrag(sa, sb, aRow, bCol + 2 * r8, f16, ref acc.F32); ScalarFrag(sa, sb, aRow, bCol + 3 * r8, f16, ref acc.F33);
    }

    /// <summary>f.C0 += A(g)·B(2t), f.C1 += A(g)·B(2t+1), f.C2 += A(g+8)·B(2t), f.C3 += A(g+8)·B(2t+1) over the 32 k of the tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScalarFrag(ArrayView<uint> sa, ArrayView<uint> sb, int aRow, int bCol, bool f16, ref Row4 f)
    {
        const int r8 = 8 * TcRow;
        for (int w = 0; w < 16; w++)
        {
            uint x0 = sa[aRow + w], x1 = sa[aRow + r8 + w];
            uint y0 = sb[bCol + w], y1 = sb[bCol + TcRow + w];
            float x0l = Lo(x0, f16), x0h = Hi(x0, f16), x1l = Lo(x1, f16), x1h = Hi(x1, f16);
            float y0l = Lo(y0, f16), y0h = Hi(y0, f16), y1l = Lo(y1, f16), y1h = Hi(y1, f16);
            f.C0 += x0l * y0l + x0h * y0h;
            f.C1 += x0l * y1l + x0h * y1h;
            f.C2 += x1l * y0l + x1h * y0h;
            f.C3 += x1l * y1l + x1h * y1h;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Lo(uint w, bool f16) => f16 ? HalfBitsToSingle(w & 0xFFFFu) : Bf16BitsToSingle(w & 0xFFFFu);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Hi(uint w, bool f16) => f16 ? HalfBitsToSingle(w >> 16) : Bf16BitsToSingle(w >> 16);

    /// <summary>bfloat16 bits → float (exact: bf16 is the top half of an IEEE single).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16BitsToSingle(uint bits) => Interop.IntAsFloat(bits << 16);

    /// <summary>IEEE binary16 bits → float (exact, subnormals, ±∞ and NaN included), without System.Half so it compiles for every accelerator.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfBitsToSingle(uint bits)
    {
        uint sign = (bits & 0x8000u) << 16;
        uint exp = (bits >> 10) & 0x1Fu;
        uint man = bits & 0x3FFu;
        if (exp == 0)
        {
            float sub = man * 5.9604644775390625e-8f;   // man · 2^-24, exact
            return sign != 0 ? -sub : sub;
        }
        if (exp == 31) return Interop.IntAsFloat(sign | 0x7F800000u | (man << 13));
        return Interop.IntAsFloat(sign | ((exp + 112u) << 23) | (man << 13));
    }

    /// <summary>Loads this thread's 8 pairs (k, k+1) of one operand tile (128 rows × 32 k) as packed words; zeros outside.</summary>
    /// <remarks>k-contiguous operand (A, or Bᵀ): pair index e = tid + 256·s → row e/16, pair e%16 — a warp reads two
    /// 64-byte row segments, as 32-bit words when aligned. m/n-contiguous operand (Aᵀ, or B): row e%128, pair e/128 —
    /// a warp reads 32 consecutive elements of two stored rows.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Words8 LoadPairs(ArrayView<ushort> x, ArrayView<uint> x32, long xBase, int ld, int mn0, int mnCount, int k0, int kCount,
        int tid, bool kContig, bool vec)
    {
        Words8 w;
        w.W0 = LoadPair(x, x32, xBase, ld, mn0, mnCount, k0, kCount, tid, kContig, vec);
        w.W1 = LoadPair(x, x32, xBase, ld, mn0, mnCount, k0, kCount, tid + 256, kContig, vec);
        w.W2 = LoadPair(x, x32, xBase, ld, mn0, mnCount, k0, kCount, tid + 512, kContig, vec);
        w.W3 = LoadPair(x, x32, xBase, ld, mn0, mnCount, k0, kCount, tid + 768, kContig, vec);
        w.W4 = LoadPair(x, x32, xBase, ld, mn0, mnCount, k0, kCount, tid + 1024, kContig, vec);
        w.W5 = LoadPair(x, x32, xBase, ld, mn0, mnCount, k0, kCount, tid + 1280, kContig, vec);
        w.W6 = LoadPair(x, x32, xBase, ld, mn0, mnCount, k0, kCount, tid + 1536, kContig, vec);
        w.W7 = LoadPair(x, x32, xBase, ld, mn0, mnCount, k0, kCount, tid + 1792, kContig, vec);
        return w;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint LoadPair(ArrayView<ushort> x, ArrayView<uint> x32, long xBase, int ld, int mn0, int mnCount, int k0, int kCount,
        int e, bool kContig, bool vec)
    {
        int r = kContig ? e >> 4 : e & 127;
        int kp = kContig ? e & 15 : e >> 7;
        int row = mn0 + r, k = k0 + 2 * kp;
        if (row >= mnCount || k >= kCount) return 0u;
        bool hasHi = k + 1 < kCount;
        if (kContig)
        {
            long idx = xBase + (long)row * ld + k;
            if (vec && hasHi) return x32[idx >> 1];
            uint lo = x[idx];
            return hasHi ? lo | ((uint)x[idx + 1] << 16) : lo;
        }
        else
        {
            long idx = xBase + (long)k * ld + row;
            uint lo = x[idx];
            return hasHi ? lo | ((uint)x[idx + ld] << 16) : lo;
        }
    }

    /// <summary>Like <see cref="LoadPairs"/> for an f32 operand (the activations of the mixed GEMM): each value rounded to
    /// the 16-bit format (bfloat16, or IEEE half when <paramref name="f16"/>) to nearest even as it is staged.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Words8 LoadPairsF32(ArrayView<float> x, long xBase, int ld, int mn0, int mnCount, int k0, int kCount, int tid, bool kContig, bool f16)
    {
        Words8 w;
        w.W0 = LoadPairF32(x, xBase, ld, mn0, mnCount, k0, kCount, tid, kContig, f16);
        w.W1 = LoadPairF32(x, xBase, ld, mn0, mnCount, k0, kCount, tid + 256, kContig, f16);
        w.W2 = LoadPairF32(x, xBase, ld, mn0, mnCount, k0, kCount, tid + 512, kContig, f16);
        w.W3 = LoadPairF32(x, xBase, ld, mn0, mnCount, k0, kCount, tid + 768, kContig, f16);
        w.W4 = LoadPairF32(x, xBase, ld, mn0, mnCount, k0, kCount, tid + 1024, kContig, f16);
        w.W5 = LoadPairF32(x, xBase, ld, mn0, mnCount, k0, kCount, tid + 1280, kContig, f16);
        w.W6 = LoadPairF32(x, xBase, ld, mn0, mnCount, k0, kCount, tid + 1536, kContig, f16);
        w.W7 = LoadPairF32(x, xBase, ld, mn0, mnCount, k0, kCount, tid + 1792, kContig, f16);
        return w;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint LoadPairF32(ArrayView<float> x, long xBase, int ld, int mn0, int mnCount, int k0, int kCount, int e, bool kContig, bool f16)
    {
        int r = kContig ? e >> 4 : e & 127;
        int kp = kContig ? e & 15 : e >> 7;
        int row = mn0 + r, k = k0 + 2 * kp;
        if (row >= mnCount || k >= kCount) return 0u;
        long idx = kContig ? xBase + (long)row * ld + k : xBase + (long)k * ld + row;
        uint lo = f16 ? DeviceHalf.ToF16(x[idx]) : DeviceHalf.ToBf16(x[idx]);
        if (k + 1 >= kCount) return lo;
        float next = x[kContig ? idx + 1 : idx + ld];
        return lo | ((uint)(f16 ? DeviceHalf.ToF16(next) : DeviceHalf.ToBf16(next)) << 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePairs(ArrayView<uint> s, int buf, in Words8 w, int tid, bool kContig)
    {
        StorePair(s, buf, w.W0, tid, kContig);
        StorePair(s, buf, w.W1, tid + 256, kContig);
        StorePair(s, buf, w.W2, tid + 512, kContig);
        StorePair(s, buf, w.W3, tid + 768, kContig);
        StorePair(s, buf, w.W4, tid + 1024, kContig);
        StorePair(s, buf, w.W5, tid + 1280, kContig);
        StorePair(s, buf, w.W6, tid + 1536, kContig);
        StorePair(s, buf, w.W7, tid + 1792, kContig);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePair(ArrayView<uint> s, int buf, uint w, int e, bool kContig)
    {
        int r = kContig ? e >> 4 : e & 127;
        int kp = kContig ? e & 15 : e >> 7;
        s[buf + r * TcRow + kp] = w;
    }

    /// <summary>Writes one accumulator fragment: (row, col), (row, col+1), (row+8, col), (row+8, col+1) of C = alpha·acc + beta·C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreFrag(ArrayView<float> c, long cBase, int row, int col, in Row4 f, in GemmParams p)
    {
        StoreOne(c, cBase, row, col, f.C0, p);
        StoreOne(c, cBase, row, col + 1, f.C1, p);
        StoreOne(c, cBase, row + 8, col, f.C2, p);
        StoreOne(c, cBase, row + 8, col + 1, f.C3, p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOne(ArrayView<float> c, long cBase, int row, int col, float v, in GemmParams p)
    {
        if (row >= p.M || col >= p.N) return;
        long e = cBase + (long)row * p.Ldc + col;
        c[e] = p.Beta == 0f ? p.Alpha * v : p.Alpha * v + p.Beta * c[e];
    }
}

/// <summary>Eight packed 16-bit pairs: one thread's share of a tensor-core operand tile in flight from global to shared memory.</summary>
internal struct Words8
{
    public uint W0, W1, W2, W3, W4, W5, W6, W7;
}

/// <summary>A lane's 4 × 4 accumulator fragments (m16 tile i, n8 tile j) of its warp's 64×32 block, 64 floats.</summary>
internal struct TcAcc
{
    public Row4 F00, F01, F02, F03, F10, F11, F12, F13, F20, F21, F22, F23, F30, F31, F32, F33;
}
