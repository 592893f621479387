using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Threading.Tasks;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Tensors;

/// <summary>CpuMatMul.Sgemm against the double-accumulating SgemmNaive, for every kernel path this CPU supports.</summary>
public sealed unsafe class CpuMatMulTests
{
    /// <summary>Gets the kernels to test: Scalar always, the SIMD ones where the CPU has them (all three on AVX-512 machines).</summary>
    public static IEnumerable<object[]> Kernels()
    {
        foreach (GemmKernel kernel in SupportedKernels())
        {
            yield return new object[] { kernel };
        }
    }

    /// <summary>Gets kernel × (transA, transB) for all four transpose combinations.</summary>
    public static IEnumerable<object[]> KernelsAndTransposes()
    {
        foreach (GemmKernel kernel in SupportedKernels())
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    yield return new object[] { kernel, ta, tb };
                }
            }
        }
    }

    /// <summary>Gets kernel × odd (m, n, k), including 1 and shapes that are not multiples of any MR or NR.</summary>
    public static IEnumerable<object[]> KernelsAndOddSizes()
    {
        int[][] sizes =
        {
            new[] { 1, 1, 1 },
            new[] { 3, 5, 7 },
            new[] { 17, 33, 65 },
            new[] { 31, 1, 129 },
            new[] { 1, 31, 129 },
            new[] { 7, 65, 1 },
            new[] { 6, 64, 256 },   // exactly one Vector512 micro-tile, one KC block
            new[] { 7, 65, 257 },   // one past each
            new[] { 5, 17, 2 },
            new[] { 2, 2, 3 },
        };
        foreach (GemmKernel kernel in SupportedKernels())
        {
            foreach (int[] s in sizes)
            {
                yield return new object[] { kernel, s[0], s[1], s[2] };
            }
        }
    }

    /// <summary>Gets kernel × matrix-vector shapes (m == 1 or n == 1) × transposes.</summary>
    public static IEnumerable<object[]> KernelsAndVectorShapes()
    {
        int[][] sizes = { new[] { 1, 300, 70 }, new[] { 300, 1, 70 }, new[] { 1, 1, 1000 }, new[] { 1, 5000, 3 } };
        foreach (GemmKernel kernel in SupportedKernels())
        {
            foreach (int[] s in sizes)
            {
                foreach (bool ta in new[] { false, true })
                {
                    foreach (bool tb in new[] { false, true })
                    {
                        yield return new object[] { kernel, s[0], s[1], s[2], ta, tb };
                    }
                }
            }
        }
    }

    [Fact]
    public void BestAvailable_OnAvx512Cpu_IsVector512AndAllPathsAreTested()
    {
        if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
        {
            Assert.Equal(GemmKernel.Vector512, CpuMatMul.BestAvailable);
            Assert.Equal(3, SupportedKernels().Count);
        }
        else
        {
            Assert.NotEqual(GemmKernel.Vector512, CpuMatMul.BestAvailable);
        }
    }

    // The theories run only the kernels this CPU supports; these two record, as a skip with the reason, a SIMD path
    // that this machine cannot test (and check that it is among the tested kernels where it can).
    [Avx2Fact]
    public void Vector256Kernel_IsAmongTheTestedKernels() => Assert.Contains(GemmKernel.Vector256, SupportedKernels());

    [Avx512Fact]
    public void Vector512Kernel_IsAmongTheTestedKernels() => Assert.Contains(GemmKernel.Vector512, SupportedKernels());

    [Theory]
    [MemberData(nameof(KernelsAndOddSizes))]
    public void Sgemm_OddSizes_MatchesNaive(GemmKernel kernel, int m, int n, int k)
    {
        AssertMatchesNaive(new Case(m, n, k) { Seed = 11 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_KLargerThanM_MatchesNaive(GemmKernel kernel)
    {
        AssertMatchesNaive(new Case(5, 9, 300) { Seed = 12 }, kernel);
        AssertMatchesNaive(new Case(5, 70, 600) { Seed = 13, TransA = true }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_Transposes_MatchesNaive(GemmKernel kernel, bool transA, bool transB)
    {
        AssertMatchesNaive(new Case(37, 29, 41) { TransA = transA, TransB = transB, Seed = 21 }, kernel);
        AssertMatchesNaive(new Case(13, 130, 9) { TransA = transA, TransB = transB, Seed = 22 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_LeadingDimensionsLargerThanWidth_MatchesNaiveAndKeepsPadding(GemmKernel kernel, bool transA, bool transB)
    {
        AssertMatchesNaive(new Case(23, 19, 45) { TransA = transA, TransB = transB, PadA = 3, PadB = 5, PadC = 7, Seed = 31 }, kernel);
        AssertMatchesNaive(new Case(70, 130, 260) { TransA = transA, TransB = transB, PadA = 16, PadB = 1, PadC = 64, Beta = 0.5f, Seed = 32 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_BatchedWithSharedA_MatchesNaive(GemmKernel kernel)
    {
        AssertMatchesNaive(new Case(19, 23, 31) { Batch = 5, ShareA = true, PadC = 2, Seed = 41 }, kernel);
        AssertMatchesNaive(new Case(64, 64, 32) { Batch = 9, ShareA = true, TransB = true, Beta = 1f, Seed = 42 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_BatchedWithSharedB_MatchesNaive(GemmKernel kernel)
    {
        AssertMatchesNaive(new Case(19, 23, 31) { Batch = 5, ShareB = true, Seed = 43 }, kernel);
        AssertMatchesNaive(new Case(64, 64, 32) { Batch = 9, ShareB = true, TransA = true, Seed = 44 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_BatchedAttentionShapes_MatchesNaive(GemmKernel kernel)
    {
        AssertMatchesNaive(new Case(64, 64, 16) { Batch = 8, TransB = true, Alpha = 0.25f, Seed = 45 }, kernel);
        AssertMatchesNaive(new Case(64, 16, 64) { Batch = 8, Seed = 46 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_AlphaNotOne_MatchesNaive(GemmKernel kernel)
    {
        AssertMatchesNaive(new Case(29, 67, 300) { Alpha = -1.75f, Beta = 0.5f, Seed = 51 }, kernel);
        AssertMatchesNaive(new Case(29, 67, 300) { Alpha = 0.125f, Beta = 0f, Seed = 52 }, kernel);
        AssertMatchesNaive(new Case(29, 67, 30) { Alpha = 0f, Beta = 0.5f, Seed = 53 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_BetaZeroWithNaNInC_IgnoresOldC(GemmKernel kernel)
    {
        // The NaN pre-fill covers every element of C, edge tiles and later KC blocks included (k = 600 > KC = 256).
        AssertMatchesNaive(new Case(13, 71, 600) { Beta = 0f, NaNInC = true, Seed = 61 }, kernel);
        AssertMatchesNaive(new Case(1, 100, 20) { Beta = 0f, NaNInC = true, Seed = 62 }, kernel);
        AssertMatchesNaive(new Case(100, 1, 20) { Beta = 0f, NaNInC = true, TransA = true, Seed = 63 }, kernel);
        AssertMatchesNaive(new Case(9, 9, 0) { Beta = 0f, NaNInC = true, Seed = 64 }, kernel);
        AssertMatchesNaive(new Case(9, 9, 9) { Alpha = 0f, Beta = 0f, NaNInC = true, Seed = 65 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_BetaOneAndHalf_AccumulatesIntoC(GemmKernel kernel)
    {
        AssertMatchesNaive(new Case(31, 45, 520) { Beta = 1f, Seed = 71 }, kernel);
        AssertMatchesNaive(new Case(31, 45, 520) { Beta = 0.5f, TransA = true, TransB = true, Seed = 72 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_KZero_ScalesC(GemmKernel kernel)
    {
        AssertMatchesNaive(new Case(7, 9, 0) { Beta = 0.5f, Seed = 81 }, kernel);
        AssertMatchesNaive(new Case(7, 9, 0) { Beta = 1f, Batch = 3, Seed = 82 }, kernel);
        AssertMatchesNaive(new Case(7, 9, 0) { Beta = 0f, Seed = 83 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndVectorShapes))]
    public void Sgemm_VectorShapes_MatchesNaive(GemmKernel kernel, int m, int n, int k, bool transA, bool transB)
    {
        AssertMatchesNaive(new Case(m, n, k) { TransA = transA, TransB = transB, PadA = 2, PadB = 3, PadC = 1, Beta = 0.5f, Seed = 91 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_FewColumnPanels_ReadsAInPlaceAndMatchesNaive(GemmKernel kernel, bool transA, bool transB)
    {
        // n ≤ 4·NR: full MR-row panels of op(A) are read in place (transposed too, as lda = 256), the partial last one
        // (251 = 41·6 + 5) is packed; k = 700 spans two KC blocks (three for Vector256 and Scalar) and n = 100 leaves a
        // 36-column panel for the narrow kernel (16 + 16 + 4 on Vector512).
        AssertMatchesNaive(new Case(251, 100, 700) { TransA = transA, TransB = transB, PadA = 5, Beta = 0.5f, Seed = 141 }, kernel);
        AssertMatchesNaive(new Case(64, 64, 256) { Batch = 6, TransA = transA, TransB = transB, Beta = 0f, NaNInC = true, Seed = 142 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_SkinnyN_MatchesNaive(GemmKernel kernel, bool transA, bool transB)
    {
        // n ≪ NR: with transA the product runs as Cᵀ = op(B)ᵀ·op(A)ᵀ with a transposed write-back (also in parallel for
        // 1500×7×600); without, directly with the narrow edge kernel and A read in place.
        AssertMatchesNaive(new Case(300, 5, 70) { TransA = transA, TransB = transB, PadA = 1, PadB = 2, PadC = 3, Beta = 0.5f, Seed = 131 }, kernel);
        AssertMatchesNaive(new Case(97, 3, 300) { TransA = transA, TransB = transB, Beta = 0f, NaNInC = true, Alpha = 2f, Seed = 132 }, kernel);
        AssertMatchesNaive(new Case(40, 2, 33) { Batch = 3, ShareB = true, TransA = transA, TransB = transB, Beta = 1f, Seed = 133 }, kernel);
        AssertMatchesNaive(new Case(1500, 7, 600) { TransA = transA, TransB = transB, Beta = 1f, Seed = 134 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_LargeMultithreaded_MatchesNaive(GemmKernel kernel, bool transA, bool transB)
    {
        // 300×517×1030 crosses KC (512 on Vector512, 256 otherwise) two to four times, MC (128–192) once, every MR/NR
        // edge, and 2·m·n·k ≈ 3.2e8 flops is far above the single-thread threshold, so the task grid uses every core.
        AssertMatchesNaive(new Case(300, 517, 1030) { TransA = transA, TransB = transB, Beta = 0.5f, Seed = 101 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_OddSizesEveryLayout_MatchesNaive(GemmKernel kernel, bool transA, bool transB)
    {
        // Sizes that are multiples of no MR, NR or KC, in every layout, with padded leading dimensions.
        AssertMatchesNaive(new Case(13, 29, 37) { TransA = transA, TransB = transB, PadA = 1, PadB = 2, PadC = 3, Beta = 0.5f, Seed = 151 }, kernel);
        AssertMatchesNaive(new Case(131, 67, 263) { TransA = transA, TransB = transB, Alpha = -1.5f, Seed = 152 }, kernel);
        AssertMatchesNaive(new Case(2, 3, 5) { TransA = transA, TransB = transB, Beta = 1f, Seed = 153 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_DeepNarrowKSplit_MatchesNaive(GemmKernel kernel, bool transA, bool transB)
    {
        // k ≥ 1024 and k ≥ 4·max(m, n): the k range is split in two, part 1 goes through the partial buffer and is added
        // into C afterwards. Covers alpha and beta (part 0 alone applies beta), NaN in C with beta = 0, odd k (the split
        // point is rounded to 16), a problem run transposed (transA with n ≤ 2·NR: the partial is in problem coordinates,
        // C is written transposed), and a shape just below the split threshold.
        AssertMatchesNaive(new Case(37, 45, 2100) { TransA = transA, TransB = transB, Alpha = 2f, Beta = 0.5f, Seed = 161 }, kernel);
        AssertMatchesNaive(new Case(64, 30, 1031) { TransA = transA, TransB = transB, PadA = 3, PadB = 1, PadC = 2, Beta = 0f, NaNInC = true, Seed = 162 }, kernel);
        AssertMatchesNaive(new Case(200, 20, 1100) { TransA = transA, TransB = transB, Beta = 1f, Seed = 163 }, kernel);
        AssertMatchesNaive(new Case(257, 255, 1027) { TransA = transA, TransB = transB, Beta = 0.25f, Seed = 164 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_DecodingShapes_MatchesNaive(GemmKernel kernel, bool transA, bool transB)
    {
        // Few rows times a wide weight: with transB (x·Wᵀ) and m ≤ NR the product runs as Cᵀ = W·xᵀ, W read in place
        // and C written transposed (edge merges on every tile); m = 2..16, odd n, beta ≠ 0, and m = 32 on the direct path.
        foreach (int m in new[] { 2, 5, 8, 16, 32 })
        {
            AssertMatchesNaive(new Case(m, 1000, 300) { TransA = transA, TransB = transB, PadB = 3, PadC = 1, Beta = 0.5f, Seed = 180 + m }, kernel);
        }

        AssertMatchesNaive(new Case(7, 4100, 1030) { TransA = transA, TransB = transB, Alpha = 0.5f, Beta = 0f, NaNInC = true, Seed = 179 }, kernel);
    }

    [Theory]
    [MemberData(nameof(KernelsAndTransposes))]
    public void Sgemm_OneAndTwoThreads_GiveIdenticalBits(GemmKernel kernel, bool transA, bool transB)
    {
        // The task grid and the k split depend on the shape only, so the bits do not depend on the worker count.
        // Shapes: multithreaded grid, the k split, the transposed problem, the vector path, batched.
        var cases = new[]
        {
            new Case(300, 517, 1030) { TransA = transA, TransB = transB, Beta = 0.5f, Seed = 171 },
            new Case(96, 80, 2100) { TransA = transA, TransB = transB, Alpha = 0.5f, Seed = 172 },
            new Case(700, 9, 500) { TransA = transA, TransB = transB, Seed = 173 },
            new Case(1, 900, 700) { TransA = transA, TransB = transB, Seed = 174 },
            new Case(8, 1100, 600) { TransA = transA, TransB = transB, Beta = 1f, Seed = 176 },
            new Case(64, 64, 96) { Batch = 5, TransA = transA, TransB = transB, Beta = 1f, Seed = 175 },
        };
        foreach (Case t in cases)
        {
            float[] one, two;
            using (CpuParallel.Use(1))
            {
                one = RunSgemm(t, kernel);
            }

            using (CpuParallel.Use(2))
            {
                two = RunSgemm(t, kernel);
            }

            for (int i = 0; i < one.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(one[i]) != BitConverter.SingleToInt32Bits(two[i]))
                {
                    Assert.Fail($"{kernel} {t}: element {i} is {one[i]:G9} with 1 thread but {two[i]:G9} with 2.");
                }
            }

            AssertMatchesNaive(t, kernel);
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_WideNCrossesNcBlock_MatchesNaive(GemmKernel kernel)
    {
        // n = 4200 > NC (1024) inside one task: the product is small enough to run on one thread.
        AssertMatchesNaive(new Case(7, 4200, 9) { Seed = 111 }, kernel);
        AssertMatchesNaive(new Case(7, 4200, 9) { TransB = true, Beta = 1f, Seed = 112 }, kernel);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Sgemm_ConcurrentCallers_EachMatchesNaive(GemmKernel kernel)
    {
        // Per-thread packing scratch and pooled parallel jobs must not be shared between simultaneous calls.
        var cases = new[]
        {
            new Case(150, 130, 300) { Seed = 121 },
            new Case(130, 150, 280) { TransA = true, Seed = 122 },
            new Case(97, 211, 260) { TransB = true, Seed = 123 },
            new Case(64, 64, 64) { Batch = 6, Seed = 124 },
        };
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => AssertMatchesNaive(cases[i % cases.Length], kernel));
    }

    [Fact]
    public void Sgemm_SmallCallInSteadyState_DoesNotAllocate()
    {
        var data = new float[3 * 64 * 64];
        fixed (float* p = data)
        {
            float* a = p, b = p + 4096, c = p + 8192;
            CpuMatMul.Sgemm(1, 64, 64, 64, 1f, a, 64, 0, false, b, 64, 0, false, 0f, c, 64, 0);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++)
            {
                CpuMatMul.Sgemm(1, 64, 64, 64, 1f, a, 64, 0, false, b, 64, 0, false, 0f, c, 64, 0);
            }

            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void Sgemm_NegativeSize_ThrowsArgumentOutOfRangeNamingParameter()
    {
        float x = 0f;
        float* p = &x;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => CpuMatMul.Sgemm(1, -2, 1, 1, 1f, p, 1, 0, false, p, 1, 0, false, 0f, p, 1, 0));
        Assert.Equal("m", ex.ParamName);
        Assert.Contains("-2", ex.Message, StringComparison.Ordinal);
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => CpuMatMul.Sgemm(-1, 1, 1, 1, 1f, p, 1, 0, false, p, 1, 0, false, 0f, p, 1, 0)).ParamName);
        Assert.Equal("n", Assert.Throws<ArgumentOutOfRangeException>(() => CpuMatMul.Sgemm(1, 1, -1, 1, 1f, p, 1, 0, false, p, 1, 0, false, 0f, p, 1, 0)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => CpuMatMul.SgemmNaive(1, 1, 1, -1, 1f, p, 1, 0, false, p, 1, 0, false, 0f, p, 1, 0)).ParamName);
        Assert.Equal("strideA", Assert.Throws<ArgumentOutOfRangeException>(() => CpuMatMul.Sgemm(1, 1, 1, 1, 1f, p, 1, -1, false, p, 1, 0, false, 0f, p, 1, 0)).ParamName);
    }

    [Fact]
    public void Sgemm_LeadingDimensionTooSmall_ThrowsArgumentExceptionNamingValues()
    {
        float x = 0f;
        float* p = &x;
        // A is 4×8 (not transposed) so lda must be ≥ 8; transposed it is 8×4 and lda ≥ 4 suffices.
        var ex = Assert.Throws<ArgumentException>(() => CpuMatMul.Sgemm(1, 4, 3, 8, 1f, p, 7, 0, false, p, 3, 0, false, 0f, p, 3, 0));
        Assert.Equal("lda", ex.ParamName);
        Assert.Contains("lda = 7", ex.Message, StringComparison.Ordinal);
        Assert.Equal("ldb", Assert.Throws<ArgumentException>(() => CpuMatMul.Sgemm(1, 4, 3, 8, 1f, p, 4, 0, true, p, 7, 0, true, 0f, p, 3, 0)).ParamName);
        Assert.Equal("ldc", Assert.Throws<ArgumentException>(() => CpuMatMul.Sgemm(1, 4, 3, 8, 1f, p, 8, 0, false, p, 3, 0, false, 0f, p, 2, 0)).ParamName);
        Assert.Equal("strideC", Assert.Throws<ArgumentException>(() => CpuMatMul.Sgemm(2, 4, 3, 8, 1f, p, 8, 0, false, p, 3, 0, false, 0f, p, 3, 0)).ParamName);
    }

    [Fact]
    public void Sgemm_NullPointerWithNonEmptyOperand_ThrowsArgumentException()
    {
        float x = 0f;
        float* p = &x;
        Assert.Equal("a", Assert.Throws<ArgumentException>(() => CpuMatMul.Sgemm(1, 1, 1, 1, 1f, null, 1, 0, false, p, 1, 0, false, 0f, p, 1, 0)).ParamName);
        Assert.Equal("b", Assert.Throws<ArgumentException>(() => CpuMatMul.Sgemm(1, 1, 1, 1, 1f, p, 1, 0, false, null, 1, 0, false, 0f, p, 1, 0)).ParamName);
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => CpuMatMul.Sgemm(1, 1, 1, 1, 1f, p, 1, 0, false, p, 1, 0, false, 0f, null, 1, 0)).ParamName);

        // Empty shapes never touch memory, so null is fine there.
        CpuMatMul.Sgemm(1, 0, 5, 0, 1f, null, 0, 0, false, null, 5, 0, false, 0f, null, 5, 0);
        CpuMatMul.Sgemm(0, 4, 5, 6, 1f, null, 6, 0, false, null, 5, 0, false, 0f, null, 5, 0);
    }

    private static List<GemmKernel> SupportedKernels()
    {
        var kernels = new List<GemmKernel> { GemmKernel.Scalar };
        if (CpuFeatures.Avx2Fma)
        {
            kernels.Add(GemmKernel.Vector256);
        }

        if (CpuFeatures.Avx512)
        {
            kernels.Add(GemmKernel.Vector512);
        }

        return kernels;
    }

    /// <summary>One Sgemm problem; leading dimensions are the logical widths plus the pads.</summary>
    private sealed record Case(int M, int N, int K)
    {
        public int Batch { get; init; } = 1;
        public bool TransA { get; init; }
        public bool TransB { get; init; }
        public float Alpha { get; init; } = 1f;
        public float Beta { get; init; }
        public int PadA { get; init; }
        public int PadB { get; init; }
        public int PadC { get; init; }
        public bool ShareA { get; init; }
        public bool ShareB { get; init; }
        public bool NaNInC { get; init; }
        public int Seed { get; init; } = 1;

        public override string ToString() =>
            $"batch={Batch} m={M} n={N} k={K} transA={TransA} transB={TransB} alpha={Alpha} beta={Beta} pads=({PadA},{PadB},{PadC}) shareA={ShareA} shareB={ShareB} seed={Seed}";
    }

    /// <summary>
    /// Runs the case through Sgemm and SgemmNaive and checks |got − want| ≤ tol per element with
    /// tol = 8·eps·√(k+1)·|alpha|·Σ_p |a_ip||b_pj| + 2·eps·|beta·c_old| + 1e-30 (a sum-of-magnitudes bound; eps = 2⁻²⁴),
    /// plus that the padding of C (columns n..ldc, and a guard after the last C) is untouched.
    /// </summary>
    private static void AssertMatchesNaive(Case t, GemmKernel kernel)
    {
        int lda = (t.TransA ? t.M : t.K) + t.PadA;
        int ldb = (t.TransB ? t.K : t.N) + t.PadB;
        int ldc = t.N + t.PadC;
        long sizeA = (long)(t.TransA ? t.K : t.M) * lda;
        long sizeB = (long)(t.TransB ? t.N : t.K) * ldb;
        long sizeC = (long)t.M * ldc;
        long strideA = t.ShareA ? 0 : sizeA + 3;
        long strideB = t.ShareB ? 0 : sizeB + 5;
        long strideC = sizeC + 7;
        const int guard = 64;
        var random = new Random(t.Seed);
        float[] a = RandomArray(random, Math.Max(1, strideA * (t.Batch - 1) + sizeA));
        float[] b = RandomArray(random, Math.Max(1, strideB * (t.Batch - 1) + sizeB));
        float[] c0 = RandomArray(random, strideC * (t.Batch - 1) + sizeC + guard);
        if (t.NaNInC)
        {
            // Every element of every C[b] (not the padding) is NaN: with beta = 0 none may reach the result.
            for (int bi = 0; bi < t.Batch; bi++)
            {
                for (int i = 0; i < t.M; i++)
                {
                    Array.Fill(c0, float.NaN, (int)(bi * strideC + (long)i * ldc), t.N);
                }
            }
        }

        float[] got = (float[])c0.Clone();
        float[] want = (float[])c0.Clone();
        float[] absA = Array.ConvertAll(a, MathF.Abs);
        float[] absB = Array.ConvertAll(b, MathF.Abs);
        float[] scale = new float[c0.Length];
        fixed (float* pa = a, pb = b, pGot = got, pWant = want, pAbsA = absA, pAbsB = absB, pScale = scale)
        {
            CpuMatMul.Sgemm(t.Batch, t.M, t.N, t.K, t.Alpha, pa, lda, strideA, t.TransA, pb, ldb, strideB, t.TransB, t.Beta, pGot, ldc, strideC, kernel);
            CpuMatMul.SgemmNaive(t.Batch, t.M, t.N, t.K, t.Alpha, pa, lda, strideA, t.TransA, pb, ldb, strideB, t.TransB, t.Beta, pWant, ldc, strideC);
            CpuMatMul.SgemmNaive(t.Batch, t.M, t.N, t.K, 1f, pAbsA, lda, strideA, t.TransA, pAbsB, ldb, strideB, t.TransB, 0f, pScale, ldc, strideC);
        }

        const double eps = 1.0 / (1 << 24);
        double kFactor = 8 * eps * Math.Sqrt(t.K + 1);
        double worstRatio = 0, worstDiff = 0;
        long worst = -1, badCount = 0;
        var bad = new List<long>();
        for (long idx = 0; idx < c0.Length; idx++)
        {
            long local = idx % strideC;
            bool inside = idx < strideC * (t.Batch - 1) + sizeC && local < sizeC && local % ldc < t.N;
            if (!inside)
            {
                // Padding and guard must be bit-identical to what was there before.
                if (BitConverter.SingleToInt32Bits(got[idx]) != BitConverter.SingleToInt32Bits(c0[idx]))
                {
                    Assert.Fail($"{kernel} {t}: Sgemm wrote outside C at flat index {idx} (was {c0[idx]}, now {got[idx]}).");
                }

                continue;
            }

            double old = t.NaNInC ? 0 : c0[idx];
            double tol = kFactor * Math.Abs(t.Alpha) * scale[idx] + 2 * eps * Math.Abs(t.Beta * old) + 1e-30;
            double diff = Math.Abs((double)got[idx] - want[idx]);
            if (!(diff <= tol))
            {
                badCount++;
                if (bad.Count < 5)
                {
                    bad.Add(idx);
                }

                double ratio = double.IsNaN(diff) ? double.PositiveInfinity : diff / tol;
                if (ratio > worstRatio || worst < 0)
                {
                    worstRatio = ratio;
                    worstDiff = diff;
                    worst = idx;
                }
            }
        }

        if (worst >= 0)
        {
            var message = new StringBuilder();
            message.Append(CultureInfo.InvariantCulture, $"{kernel} {t}: {badCount} of {(long)t.Batch * t.M * t.N} elements out of tolerance. ");
            message.Append(CultureInfo.InvariantCulture, $"Worst at {Describe(worst, strideC, ldc)}: max abs diff {worstDiff:G6} (tol {kFactor * Math.Abs(t.Alpha) * scale[worst]:G3}), ");
            message.Append(CultureInfo.InvariantCulture, $"want {want[worst]:G9} got {got[worst]:G9}. First pairs (want, got):");
            foreach (long idx in bad)
            {
                message.Append(CultureInfo.InvariantCulture, $" {Describe(idx, strideC, ldc)}=({want[idx]:G7}, {got[idx]:G7})");
            }

            Assert.Fail(message.ToString());
        }
    }

    /// <summary>Runs the case through Sgemm alone (inputs as in <see cref="AssertMatchesNaive"/>, no pads) and returns C.</summary>
    private static float[] RunSgemm(Case t, GemmKernel kernel)
    {
        int lda = t.TransA ? t.M : t.K, ldb = t.TransB ? t.K : t.N, ldc = t.N;
        long sizeA = (long)(t.TransA ? t.K : t.M) * lda, sizeB = (long)(t.TransB ? t.N : t.K) * ldb, sizeC = (long)t.M * ldc;
        var random = new Random(t.Seed);
        float[] a = RandomArray(random, sizeA * t.Batch);
        float[] b = RandomArray(random, sizeB * t.Batch);
        float[] c = RandomArray(random, sizeC * t.Batch);
        fixed (float* pa = a, pb = b, pc = c)
        {
            CpuMatMul.Sgemm(t.Batch, t.M, t.N, t.K, t.Alpha, pa, lda, sizeA, t.TransA, pb, ldb, sizeB, t.TransB, t.Beta, pc, ldc, sizeC, kernel);
        }

        return c;
    }

    private static string Describe(long flat, long strideC, int ldc)
    {
        long bi = flat / strideC;
        long local = flat % strideC;
        return $"[b={bi}, i={local / ldc}, j={local % ldc}]";
    }

    private static float[] RandomArray(Random random, long length)
    {
        var x = new float[length];
        for (long i = 0; i < length; i++)
        {
            x[i] = (float)(random.NextDouble() * 2 - 1);
        }

        return x;
    }
}
