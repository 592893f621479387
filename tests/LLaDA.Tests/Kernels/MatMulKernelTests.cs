using ILGPU;
using ILGPU.Runtime;
using LLaDA.Diagnostics;
using LLaDA.Kernels;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>Every MatMulKernels path (naive, tiled, dispatch, bf16 and f16 tensor-core kernels on their non-PTX fallback) against the exact (double) product within GemmErrorModel's per-element bound, on the ILGPU CPU accelerator.</summary>
/// <remarks>Shapes are tiny (the CPU accelerator is ~1,700× slower than C#) but chosen to hit every edge of the tiles:
/// 1, tile − 1, tile + 1 along m (128), n (128) and k (8 for SGEMM, 32 for the tensor-core kernel), K &gt; M (the trap of
/// ILGPU's sample tiled matmul), every transpose combination, shared operands (stride 0), alpha/beta, ld &gt; width,
/// and misaligned views (scalar fallback of the vector loads).</remarks>
public sealed unsafe class MatMulKernelTests : IClassFixture<KernelCpuFixture>
{
    // Each element against the exact (double) product within GemmErrorModel's bound γ_{K+2}·(|α|·Σ|a||b| + |β|·|c0|): a
    // worst case for any fp32 summation order, so a correct kernel never exceeds it, and it is per element, so a few ulps
    // too many in a small element are not hidden by the largest one (a wrong index or tile edge is O(0.1)).

    private readonly KernelContext _k;

    public MatMulKernelTests(KernelCpuFixture fixture) => _k = fixture.K;

    public enum PathKind { Dispatch, Naive, Tiled, Bf16, F16, Bf16Naive, F16Naive }

    public sealed record Gemm(int Batch, int M, int N, int K, bool TA, bool TB, float Alpha = 1f, float Beta = 0f,
        int PadA = 0, int PadB = 0, int PadC = 0, bool ShareA = false, bool ShareB = false, int Offset = 0, int Seed = 1)
    {
        public override string ToString() =>
            $"b{Batch} {M}x{N}x{K} {(TA ? "T" : "N")}{(TB ? "T" : "N")} a={Alpha} b={Beta} pad=({PadA},{PadB},{PadC}) share=({ShareA},{ShareB}) off={Offset}";
    }

    // ---- shapes around the tile edges, every transpose combination ------------------------------------------------

    public static TheoryData<bool, bool, int, int, int> EdgeShapes()
    {
        var d = new TheoryData<bool, bool, int, int, int>();
        int[][] shapes =
        [
            [1, 1, 1],
            [5, 3, 40],        // K > M and K > N
            [33, 17, 9],       // k = TileK + 1
            [129, 6, 7],       // m = TileM + 1, k = TileK − 1
            [7, 129, 16],      // n = TileN + 1
            [127, 5, 33],      // m = TileM − 1, k = tensor-core TileK + 1
        ];
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (int[] s in shapes)
                    d.Add(ta, tb, s[0], s[1], s[2]);
        return d;
    }

    [Theory]
    [MemberData(nameof(EdgeShapes))]
    public void SgemmTiled_EdgeShapes_MatchesReference(bool ta, bool tb, int m, int n, int k) =>
        Check(PathKind.Tiled, new Gemm(1, m, n, k, ta, tb, Seed: m + 7 * n + 13 * k));

    [Theory]
    [MemberData(nameof(EdgeShapes))]
    public void GemmBf16_EdgeShapes_MatchesReference(bool ta, bool tb, int m, int n, int k) =>
        Check(PathKind.Bf16, new Gemm(1, m, n, k, ta, tb, Seed: 3 + m + 7 * n + 13 * k));

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void GemmF16_AllTransposes_MatchesReference(bool ta, bool tb) =>
        Check(PathKind.F16, new Gemm(2, 37, 19, 45, ta, tb, Alpha: 0.5f, Beta: 0.25f, Seed: 5));

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Gemm16Naive_AllTransposes_MatchesReference(bool ta, bool tb)
    {
        Check(PathKind.Bf16Naive, new Gemm(2, 7, 9, 11, ta, tb, Alpha: 0.5f, Beta: 0.25f, PadA: 1, Seed: 6));
        Check(PathKind.F16Naive, new Gemm(2, 7, 9, 11, ta, tb, Alpha: 0.5f, Beta: 0.25f, PadB: 1, Seed: 7));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void SgemmNaive_AllTransposes_MatchesReference(bool ta, bool tb) =>
        Check(PathKind.Naive, new Gemm(2, 13, 6, 21, ta, tb, Alpha: -1.5f, Beta: 0.5f, PadA: 2, PadB: 1, PadC: 3, Seed: 9));

    // ---- batching, alpha/beta, leading dimensions, alignment -------------------------------------------------------

    public static TheoryData<PathKind> Paths() => new() { PathKind.Naive, PathKind.Tiled, PathKind.Bf16, PathKind.F16, PathKind.Dispatch, PathKind.Bf16Naive, PathKind.F16Naive };

    [Theory]
    [MemberData(nameof(Paths))]
    public void Gemm_BatchWithSharedA_MatchesReference(PathKind path) =>
        Check(path, new Gemm(3, 10, 12, 19, false, true, ShareA: true, Seed: 21));

    [Theory]
    [MemberData(nameof(Paths))]
    public void Gemm_BatchWithSharedB_MatchesReference(PathKind path) =>
        Check(path, new Gemm(3, 9, 11, 17, true, false, ShareB: true, Seed: 22));

    [Theory]
    [MemberData(nameof(Paths))]
    public void Gemm_AlphaBeta_ScalesProductAndOldC(PathKind path) =>
        Check(path, new Gemm(2, 11, 14, 20, false, false, Alpha: 0.75f, Beta: -0.5f, Seed: 23));

    [Theory]
    [MemberData(nameof(Paths))]
    public void Gemm_BetaZero_NeverReadsNaNInC(PathKind path) =>
        // C starts NaN (Check fills it so when beta == 0); a kernel that computes beta·C would leak NaN.
        Check(path, new Gemm(1, 9, 10, 11, true, true, Alpha: 2f, Beta: 0f, Seed: 24));

    [Theory]
    [InlineData(PathKind.Tiled, 4, 4, 4, 0)]    // ld multiples of 4: float4 loads/stores
    [InlineData(PathKind.Tiled, 3, 1, 5, 0)]    // odd ld: scalar fallback
    [InlineData(PathKind.Tiled, 4, 4, 4, 1)]    // aligned ld but view offset 1: scalar fallback
    [InlineData(PathKind.Bf16, 2, 2, 2, 0)]     // even ld: 32-bit pair loads
    [InlineData(PathKind.Bf16, 3, 1, 5, 1)]     // odd ld and offset: 16-bit loads
    [InlineData(PathKind.F16, 1, 3, 0, 1)]
    [InlineData(PathKind.Naive, 3, 1, 5, 1)]
    public void Gemm_LeadingDimensionsAndOffsets_MatchesReference(PathKind path, int padA, int padB, int padC, int offset)
    {
        Check(path, new Gemm(2, 20, 24, 36, false, true, Beta: 1f, PadA: padA, PadB: padB, PadC: padC, Offset: offset, Seed: 25));
        Check(path, new Gemm(2, 20, 24, 36, true, false, Beta: 1f, PadA: padA, PadB: padB, PadC: padC, Offset: offset, Seed: 26));
    }

    [Fact]
    public void Sgemm_DispatchAboveNaiveLimit_UsesTiledAndMatches()
    {
        // 65³ > NaiveMaxWork = 2^18: the dispatch takes the tiled kernel.
        Assert.True(65L * 65 * 65 > MatMulKernels.NaiveMaxWork);
        Check(PathKind.Dispatch, new Gemm(1, 65, 65, 65, false, false, Seed: 27));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Gemm_KZeroOrAlphaZero_WritesBetaCWithoutReadingAB(PathKind path)
    {
        Check(path, new Gemm(2, 5, 6, 0, false, false, Beta: 0.5f, Seed: 28));
        Check(path, new Gemm(2, 5, 6, 0, false, false, Beta: 0f, Seed: 29));
        Check(path, new Gemm(1, 5, 6, 7, false, false, Alpha: 0f, Beta: 2f, Seed: 30));
    }

    [Fact]
    public void FreshBuffers_AreSixteenByteAligned_SoTheVectorPathsAreTested()
    {
        using var buf = _k.Accelerator.Allocate1D<float>(64);
        ArrayView<float> v = buf.View;
        Assert.True(MatMulKernels.IsAligned(v, 16));
        Assert.False(MatMulKernels.IsAligned(v.SubView(1), 16));
    }

    // ---- conversions and validation -------------------------------------------------------------------------------

    [Fact]
    public void HalfBitsToSingle_EveryBitPattern_MatchesSystemHalf()
    {
        for (int bits = 0; bits < 65536; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            float actual = MatMulKernels.HalfBitsToSingle((uint)bits);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"bits 0x{bits:X4}");
            else Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(actual));
        }
    }

    [Fact]
    public void Bf16BitsToSingle_IsTheUpperHalfOfASingle()
    {
        Assert.Equal(1f, MatMulKernels.Bf16BitsToSingle(0x3F80));
        Assert.Equal(-2f, MatMulKernels.Bf16BitsToSingle(0xC000));
        Assert.Equal(float.PositiveInfinity, MatMulKernels.Bf16BitsToSingle(0x7F80));
    }

    [Fact]
    public void Sgemm_LdaTooSmall_ThrowsNamingLda()
    {
        using var a = _k.Accelerator.Allocate1D<float>(64);
        var ex = Assert.Throws<ArgumentException>(() =>
            MatMulKernels.Sgemm(_k, 1, 4, 4, 4, 1f, a.View, 3, 0, false, a.View, 4, 0, false, 0f, a.View, 4, 0));
        Assert.Equal("lda", ex.ParamName);
    }

    [Fact]
    public void Sgemm_ViewTooShort_ThrowsNamingView()
    {
        using var a = _k.Accelerator.Allocate1D<float>(64);
        using var c = _k.Accelerator.Allocate1D<float>(10);
        var ex = Assert.Throws<ArgumentException>(() =>
            MatMulKernels.Sgemm(_k, 1, 4, 4, 4, 1f, a.View, 4, 0, false, a.View, 4, 0, false, 0f, c.View, 4, 0));
        Assert.Equal("c", ex.ParamName);
    }

    // ---- harness ---------------------------------------------------------------------------------------------------

    private void Check(PathKind path, Gemm g) => Check(_k, path, g);

    /// <summary>Runs one product on accelerator k through the given path and compares the whole C buffer with the exact product, element by element within GemmErrorModel's bound.</summary>
    internal static void Check(KernelContext kc, PathKind path, Gemm g)
    {
        int lda = (g.TA ? g.M : g.K) + g.PadA, ldb = (g.TB ? g.K : g.N) + g.PadB, ldc = g.N + g.PadC;
        lda = Math.Max(lda, 1);
        ldb = Math.Max(ldb, 1);
        long aMat = (long)(g.TA ? g.K : g.M) * lda, bMat = (long)(g.TB ? g.N : g.K) * ldb, cMat = (long)g.M * ldc;
        long strideA = g.ShareA ? 0 : aMat + 4, strideB = g.ShareB ? 0 : bMat + 1, strideC = cMat + 2;
        int off = g.Offset;
        int aLen = (int)(off + Math.Max(1, strideA * (g.Batch - 1) + aMat));
        int bLen = (int)(off + Math.Max(1, strideB * (g.Batch - 1) + bMat));
        int cLen = (int)(off + strideC * (g.Batch - 1) + cMat);

        bool half = path is PathKind.Bf16 or PathKind.F16 or PathKind.Bf16Naive or PathKind.F16Naive;
        bool f16 = path is PathKind.F16 or PathKind.F16Naive;
        float[] a = Rng.Floats(aLen, g.Seed), b = Rng.Floats(bLen, g.Seed + 1);
        ushort[] a16 = new ushort[aLen], b16 = new ushort[bLen];
        if (half)
        {
            // The tensor-core kernels take 16-bit inputs: round the data, and give the reference the exact values.
            for (int i = 0; i < aLen; i++) (a16[i], a[i]) = Round16(a[i], f16);
            for (int i = 0; i < bLen; i++) (b16[i], b[i]) = Round16(b[i], f16);
        }
        float[] c0 = g.Beta == 0f ? Enumerable.Repeat(float.NaN, cLen).ToArray() : Rng.Floats(cLen, g.Seed + 2);
        var (reference, bound) = GemmErrorModel.Reference(g.Batch, g.M, g.N, g.K, g.Alpha, a, off, lda, strideA, g.TA, b, off, ldb, strideB, g.TB,
            g.Beta, c0, off, ldc, strideC, half ? GemmErrorModel.TruncatedRoundoff : GemmErrorModel.Roundoff);

        var acc = kc.Accelerator;
        using var dc = acc.Allocate1D(c0);
        ArrayView<float> cv = ((ArrayView<float>)dc.View).SubView(off);
        if (half)
        {
            using var da = acc.Allocate1D(a16);
            using var db = acc.Allocate1D(b16);
            bool naive = path is PathKind.Bf16Naive or PathKind.F16Naive;
            MatMulKernels.Gemm16(kc, f16, g.Batch, g.M, g.N, g.K, g.Alpha, ((ArrayView<ushort>)da.View).SubView(off), lda, strideA, g.TA, ((ArrayView<ushort>)db.View).SubView(off), ldb, strideB, g.TB,
                g.Beta, cv, ldc, strideC, naive);
            kc.Synchronize();
        }
        else
        {
            using var da = acc.Allocate1D(a);
            using var db = acc.Allocate1D(b);
            Gemm32Fn run = path switch
            {
                PathKind.Naive => MatMulKernels.SgemmNaive,
                PathKind.Tiled => MatMulKernels.SgemmTiled,
                _ => MatMulKernels.Sgemm,
            };
            run(kc, g.Batch, g.M, g.N, g.K, g.Alpha, ((ArrayView<float>)da.View).SubView(off), lda, strideA, g.TA, ((ArrayView<float>)db.View).SubView(off), ldb, strideB, g.TB,
                g.Beta, cv, ldc, strideC);
            kc.Synchronize();
        }
        float[] actual = dc.GetAsArray1D();
        // Whole buffer: the elements between C's rows and batch entries must come back untouched (bound 0, NaN stays NaN).
        var (worst, ratio) = GemmErrorModel.Compare(reference, bound, actual);
        Assert.True(worst < 0, worst < 0 ? "" : $"{path} {g}: element {worst} is {actual[worst]:G9}, exact {reference[worst]:G9}, bound {bound[worst]:G3} (error/bound {ratio:G3})");
    }

    private delegate void Gemm32Fn(KernelContext k, int batch, int m, int n, int kDim, float alpha,
        ArrayView<float> a, int lda, long strideA, bool transA, ArrayView<float> b, int ldb, long strideB, bool transB,
        float beta, ArrayView<float> c, int ldc, long strideC);

    /// <summary>Rounds to the nearest bfloat16 (ties to even) or IEEE half and returns the bits and the exact value.</summary>
    private static (ushort Bits, float Value) Round16(float x, bool f16)
    {
        if (f16)
        {
            System.Half h = (System.Half)x;
            return (BitConverter.HalfToUInt16Bits(h), (float)h);
        }
        uint u = BitConverter.SingleToUInt32Bits(x);
        ushort bits = (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
        return (bits, BitConverter.UInt32BitsToSingle((uint)bits << 16));
    }
}
