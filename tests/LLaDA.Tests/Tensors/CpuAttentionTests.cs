using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;
using static LLaDA.Tests.Testing.AttentionHarness;

namespace LLaDA.Tests.Tensors;

/// <summary>CpuAttention's tiled Forward/Backward against the double-precision references, and the references against finite differences.</summary>
public sealed unsafe class CpuAttentionTests
{
    private const int Tile = CpuAttention.QueryTile;   // == CpuAttention.KeyTile: tile−1 / tile+1 sizes hit both tails

    // Fast (fp32, tiled) vs reference (double): |fast − ref| ≤ Atol + Rtol·|ref|. Observed worst errors are ≤ 5e−6
    // absolute on these O(1) operands; a bug (a missed key, a wrong mask lane, a wrong scale) shows up at 1e−3 or more.
    private const double Atol = 1e-5, Rtol = 1e-4;

    // ---- the conditions the brief lists ---------------------------------------------------------------------------

    [Fact]
    public void ForwardBackward_NoMask_MatchReference() =>
        Check(new Case(B: 2, NH: 3, NKV: 3, Tq: 100, Tk: 100, HS: 64, Mask: AttnMask.None, Seed: 11));

    [Fact]
    public void ForwardBackward_Causal_MatchReference() =>
        Check(new Case(B: 2, NH: 3, NKV: 3, Tq: 100, Tk: 100, HS: 64, Mask: AttnMask.Causal, Seed: 12));

    [Fact]
    public void ForwardBackward_KeyPadding_MatchReference() =>
        Check(new Case(B: 4, NH: 2, NKV: 2, Tq: 70, Tk: 70, HS: 32, Mask: AttnMask.None, Pad: PadKind.Mixed, Seed: 13));

    [Fact]
    public void ForwardBackward_CausalWithKeyPadding_MatchReference() =>
        Check(new Case(B: 4, NH: 2, NKV: 2, Tq: 70, Tk: 70, HS: 32, Mask: AttnMask.Causal, Pad: PadKind.Mixed, Seed: 14));

    [Theory]
    [InlineData(2, AttnMask.None)]
    [InlineData(1, AttnMask.None)]
    [InlineData(2, AttnMask.Causal)]
    [InlineData(1, AttnMask.Causal)]
    public void ForwardBackward_GroupedQueryHeads_MatchReference(int nkv, AttnMask mask) =>
        Check(new Case(B: 2, NH: 4, NKV: nkv, Tq: 80, Tk: 80, HS: 16, Mask: mask, Pad: PadKind.None, Seed: 15 + nkv));

    [Theory]
    [InlineData(20, 90, AttnMask.None)]
    [InlineData(20, 90, AttnMask.Causal)]
    [InlineData(65, 130, AttnMask.Causal)]
    [InlineData(1, 70, AttnMask.Causal)]
    public void ForwardBackward_FewerQueriesThanKeys_MatchReference(int tq, int tk, AttnMask mask) =>
        Check(new Case(B: 4, NH: 2, NKV: 1, Tq: tq, Tk: tk, HS: 24, Mask: mask, Pad: PadKind.Mixed, Seed: 19 + tq));

    [Fact]
    public void ForwardBackward_CausalMoreQueriesThanKeys_MatchReference() =>
        // Queries 0..Tq−Tk−1 sit before every key: fully masked rows (o = 0, lse = +∞) without any padding.
        Check(new Case(B: 1, NH: 2, NKV: 2, Tq: 70, Tk: 50, HS: 8, Mask: AttnMask.Causal, Seed: 23));

    [Theory]
    [InlineData(1, 64)]
    [InlineData(7, 5)]
    [InlineData(33, 16)]
    [InlineData(Tile - 1, 80)]
    [InlineData(Tile + 1, 1)]
    [InlineData(Tile + 1, 128)]
    [InlineData(2 * Tile + 1, 64)]
    [InlineData(Tile, 256)]
    public void ForwardBackward_OddSizes_MatchReference(int t, int hs)
    {
        Check(new Case(B: 1, NH: 2, NKV: 1, Tq: t, Tk: t, HS: hs, Mask: AttnMask.None, Seed: 100 + t + hs));
        Check(new Case(B: 1, NH: 2, NKV: 1, Tq: t, Tk: t, HS: hs, Mask: AttnMask.Causal, Seed: 200 + t + hs));
    }

    [Theory]
    [InlineData(Lay.Bhtd, Lay.Bhtd, Lay.Bhtd, Lay.Bhtd, Lay.Bhtd)]
    [InlineData(Lay.Bthd, Lay.Bthd, Lay.Bthd, Lay.Bthd, Lay.Bthd)]
    [InlineData(Lay.Fused, Lay.Fused, Lay.Fused, Lay.Bthd, Lay.Bthd)]
    [InlineData(Lay.Bthd, Lay.Bhtd, Lay.Fused, Lay.Bhtd, Lay.Fused)]
    [InlineData(Lay.Bhtd, Lay.Fused, Lay.Bthd, Lay.Fused, Lay.Bhtd)]
    public void ForwardBackward_Layouts_MatchReferenceAndWriteNothingOutside(Lay q, Lay k, Lay v, Lay o, Lay dO) =>
        Check(new Case(B: 4, NH: 4, NKV: 2, Tq: 50, Tk: 67, HS: 20, Mask: AttnMask.Causal, Pad: PadKind.Mixed,
                       Q: q, K: k, V: v, O: o, DO: dO, Seed: 31));

    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    public void ForwardBackward_EachVectorWidth_MatchReference(int bits) =>
        Check(new Case(B: 4, NH: 2, NKV: 1, Tq: 67, Tk: 67, HS: 40, Mask: AttnMask.Causal, Pad: PadKind.Mixed, Seed: 41,
                       Tuning: new AttentionTuning(VectorBits: bits)));

    // Odd T (not a multiple of the tile, nor of the 6-row AVX2 block) × HS 32/64/128, with strided (B, T, NH, HS)
    // operands (the layout the model and the bench use, whose rows the kernels copy dense) under both backward strategies.
    [Theory]
    [InlineData(3 * Tile + 5, 32, nameof(BackwardStrategy.PerGroup))]
    [InlineData(3 * Tile + 5, 32, nameof(BackwardStrategy.TwoPass))]
    [InlineData(2 * Tile + 7, 64, nameof(BackwardStrategy.PerGroup))]
    [InlineData(2 * Tile + 7, 64, nameof(BackwardStrategy.TwoPass))]
    [InlineData(Tile + 13, 128, nameof(BackwardStrategy.PerGroup))]
    [InlineData(Tile + 13, 128, nameof(BackwardStrategy.TwoPass))]
    public void ForwardBackward_OddTStridedHeadSizes_EachStrategy_MatchReference(int t, int hs, string strategy)
    {
        var tuning = new AttentionTuning(Strategy: Enum.Parse<BackwardStrategy>(strategy));
        foreach (var mask in new[] { AttnMask.None, AttnMask.Causal })
            Check(new Case(B: 2, NH: 4, NKV: 2, Tq: t, Tk: t, HS: hs, Mask: mask, Pad: PadKind.Mixed,
                           Q: Lay.Bthd, K: Lay.Bthd, V: Lay.Bthd, O: Lay.Bthd, DO: Lay.Bthd, Seed: 300 + t + hs, Tuning: tuning));
    }

    [Theory]
    [InlineData(nameof(BackwardStrategy.PerGroup))]
    [InlineData(nameof(BackwardStrategy.TwoPass))]
    public void Backward_EachStrategy_MatchesReference(string strategy) =>
        Check(new Case(B: 4, NH: 4, NKV: 2, Tq: 90, Tk: 150, HS: 24, Mask: AttnMask.Causal, Pad: PadKind.Mixed, Seed: 51,
                       Tuning: new AttentionTuning(Strategy: Enum.Parse<BackwardStrategy>(strategy))));

    [Theory]
    [InlineData(64, 1, 4, 4, 2, "PerGroup")]     // B8·NKV8 on 2 cores: 32 groups each, no recomputation needed
    [InlineData(1, 8, 8, 8, 2, "TwoPass")]       // B1, NKV1: one group would leave a core idle (5 vs 2 + 1.5 units)
    [InlineData(3, 1, 4, 4, 2, "PerGroup")]      // 2 rounds × 5 = 10 ≤ 6 + 4.5
    [InlineData(1, 8, 8, 8, 1, "PerGroup")]      // one worker: never pay the 40 % extra
    public void ChooseBackwardStrategy_GroupsVersusWorkers_PicksFasterSplit(int groups, int headsPerGroup, int keyTiles, int queryTiles, int workers, string expected) =>
        Assert.Equal(Enum.Parse<BackwardStrategy>(expected),
                     CpuAttention.ChooseBackwardStrategy(groups, headsPerGroup, keyTiles, queryTiles, workers));

    [Fact]
    public void ForwardBackward_FullyPaddedEntry_ZeroOutputInfiniteLseZeroGradients()
    {
        // Batch entry 3 of PadKind.Mixed has every key padded; entry 2 has one real key (Tk/2).
        var c = new Case(B: 4, NH: 2, NKV: 1, Tq: 9, Tk: 9, HS: 5, Mask: AttnMask.None, Pad: PadKind.Mixed, Seed: 61);
        Run run = Check(c);
        for (int h = 0; h < c.NH; h++)
            for (int t = 0; t < c.Tq; t++)
            {
                Assert.Equal(float.PositiveInfinity, run.Lse[(3 * c.NH + h) * c.Tq + t]);
                for (int d = 0; d < c.HS; d++)
                {
                    Assert.Equal(0f, run.O.At(3, h, t, d));
                    Assert.Equal(0f, run.Dq.At(3, h, t, d));
                    // One real key: softmax weight exactly 1 on it, so o equals its value row.
                    Assert.Equal(run.V.At(2, 0, c.Tk / 2, d), run.O.At(2, h, t, d), 5);
                }
            }
        for (int b = 0; b < c.B; b++)
            for (int j = 0; j < c.Tk; j++)
                if (run.Padding![b * c.Tk + j] == 0)
                    for (int d = 0; d < c.HS; d++)
                    {
                        Assert.Equal(0f, run.Dk.At(b, 0, j, d));
                        Assert.Equal(0f, run.Dv.At(b, 0, j, d));
                    }
    }

    [Fact]
    public void ForwardBackward_SingleVersusMultiThreaded_BitwiseIdentical()
    {
        // Every output element is produced by exactly one work item in a fixed order, so threading cannot change bits.
        var c = new Case(B: 2, NH: 4, NKV: 2, Tq: 130, Tk: 130, HS: 32, Mask: AttnMask.Causal, Pad: PadKind.None, Seed: 71);
        Run a = Execute(c, reference: false), b = Execute(c with { Tuning = new AttentionTuning(MaxThreads: 1) }, reference: false);
        Assert.Equal(a.O.Data, b.O.Data);
        Assert.Equal(a.Lse, b.Lse);
        Assert.Equal(a.Dq.Data, b.Dq.Data);
        Assert.Equal(a.Dk.Data, b.Dk.Data);
        Assert.Equal(a.Dv.Data, b.Dv.Data);
    }

    // ---- the reference itself --------------------------------------------------------------------------------------

    [Fact]
    public void ForwardReference_ZeroQueries_AverageValuesWithLseLogTk()
    {
        // q = 0 ⇒ every score is 0 ⇒ softmax is uniform: o_i = (1/Tk)·Σ_j v_j, lse_i = log Tk.
        var s = new AttentionShape(1, 1, 1, 2, 4, 2, 0.5f, AttnMask.None);
        float[] q = new float[4], k = { 1, 2, 3, 4, 5, 6, 7, 8 }, v = { 1, 10, 2, 20, 3, 30, 6, 60 }, o = new float[4], lse = new float[2];
        AttnLayout lq = AttnLayout.Bhtd(1, 2, 2), lk = AttnLayout.Bhtd(1, 4, 2);
        fixed (float* pq = q, pk = k, pv = v, po = o, pl = lse)
            CpuAttention.ForwardReference(s, pq, lq, pk, lk, pv, lk, null, po, lq, pl);
        Assert.Equal(new[] { 3f, 30f, 3f, 30f }, o);          // (1+2+3+6)/4 = 3, (10+20+30+60)/4 = 30
        Assert.Equal(MathF.Log(4), lse[0], 6);
    }

    [Fact]
    public void BackwardReference_TinyCausalPaddedGqa_MatchesCentralFiniteDifferences()
    {
        // L = Σ o ⊙ w, so ∂L/∂o = w; compare BackwardReference(dO = w) with (L(x + h) − L(x − h)) / 2h, all in double.
        var s = new AttentionShape(B: 2, NH: 2, NKV: 1, Tq: 3, Tk: 4, HS: 3, Scale: 0.7f, Mask: AttnMask.Causal);
        var rng = new Random(81);
        double[] q = RandomDoubles(rng, 2 * 2 * 3 * 3), k = RandomDoubles(rng, 2 * 4 * 3), v = RandomDoubles(rng, 2 * 4 * 3);
        double[] w = RandomDoubles(rng, q.Length);
        int[] padding = GC.AllocateArray<int>(8, pinned: true);
        new[] { 1, 1, 1, 1, 1, 0, 1, 1 }.CopyTo(padding, 0);    // entry 1: key 1 padded
        AttnLayout lq = AttnLayout.Bhtd(2, 3, 3), lk = AttnLayout.Bhtd(1, 4, 3);
        double[] o = RandomDoubles(rng, q.Length), lse = RandomDoubles(rng, 2 * 2 * 3);
        double[] dq = RandomDoubles(rng, q.Length), dk = RandomDoubles(rng, k.Length), dv = RandomDoubles(rng, v.Length);
        int* pad = (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(padding));

        double Loss()
        {
            CpuAttention.ForwardReferenceCore(s, Ptr(q), lq, Ptr(k), lk, Ptr(v), lk, pad, Ptr(o), lq, Ptr(lse));
            double sum = 0;
            for (int i = 0; i < o.Length; i++) sum += o[i] * w[i];
            return sum;
        }
        Loss();
        CpuAttention.BackwardReferenceCore(s, Ptr(q), lq, Ptr(k), lk, Ptr(v), lk, pad, Ptr(o), lq, Ptr(lse), Ptr(w), lq,
                                           Ptr(dq), Ptr(dk), Ptr(dv));
        const double h = 1e-5;
        foreach (var (name, x, grad) in new[] { ("dq", q, dq), ("dk", k, dk), ("dv", v, dv) })
            for (int i = 0; i < x.Length; i++)
            {
                double saved = x[i];
                x[i] = saved + h; double up = Loss();
                x[i] = saved - h; double down = Loss();
                x[i] = saved;
                double fd = (up - down) / (2 * h);
                Assert.True(Math.Abs(fd - grad[i]) <= 1e-8 + 1e-7 * Math.Abs(fd),
                    $"{name}[{i}]: finite difference {fd:G10} vs BackwardReference {grad[i]:G10}");
            }
        Assert.Contains(dk, g => g != 0);                     // the check is not vacuous
        Assert.Equal(0, dk[(1 * 4 + 1) * 3]);                 // padded key: no gradient
    }

    [Fact]
    public void Exp_EveryWidthAcrossRange_RelativeErrorBelow3e7AndZeroBelowUnderflow()
    {
        // The kernels' exp (range reduction + degree-7 polynomial) against Math.Exp in double, on all three widths.
        double worst = 0;
        for (float x = -87.3f; x <= 1f; x += 0.00137f)
        {
            double exact = Math.Exp(x);
            foreach (float e in new[]
            {
                SimdMath.Exp<Vector512<float>, Simd512>(Vector512.Create(x)).ToScalar(),
                SimdMath.Exp<Vector256<float>, Simd256>(Vector256.Create(x)).ToScalar(),
                SimdMath.Exp<Vector128<float>, Simd128>(Vector128.Create(x)).ToScalar(),
            })
                worst = Math.Max(worst, Math.Abs(e - exact) / exact);
        }
        Assert.True(worst < 3e-7, $"max relative error {worst:E3}");
        Assert.Equal(0f, SimdMath.Exp<Vector512<float>, Simd512>(Vector512.Create(float.NegativeInfinity)).ToScalar());
        Assert.Equal(0f, SimdMath.Exp<Vector512<float>, Simd512>(Vector512.Create(-100f)).ToScalar());
        Assert.Equal(1f, SimdMath.Exp<Vector512<float>, Simd512>(Vector512<float>.Zero).ToScalar());
    }

    [Fact]
    public void Exp_UnderflowBand_ExactZeroBelowAndSubnormalWithinOneStepAbove()
    {
        // Documented edge: e^x is exactly 0 below −126.5·ln 2 ≈ −87.68 (2^n clamps to the zero bit pattern), and between
        // there and the normal range a subnormal within one subnormal step (2^−149) of e^x, on every width.
        for (float x = -87.69f; x >= -120f; x -= 0.01f)
            Assert.Equal(0f, SimdMath.Exp<Vector256<float>, Simd256>(Vector256.Create(x)).ToScalar());
        for (float x = -87.67f; x <= -87.33f; x += 0.001f)
            foreach (float e in new[]
            {
                SimdMath.Exp<Vector512<float>, Simd512>(Vector512.Create(x)).ToScalar(),
                SimdMath.Exp<Vector256<float>, Simd256>(Vector256.Create(x)).ToScalar(),
                SimdMath.Exp<Vector128<float>, Simd128>(Vector128.Create(x)).ToScalar(),
            })
                Assert.True(Math.Abs(e - Math.Exp(x)) <= Math.Pow(2, -149), $"exp({x}) = {e:E6}, exact {Math.Exp(x):E6}");
    }

    [Theory]
    [InlineData(64, 64, 64, false)]
    [InlineData(64, 64, 64, true)]
    [InlineData(61, 40, 23, true)]      // m not a multiple of 6 or 4, n = 5 vectors of 8: every tail block
    [InlineData(5, 24, 7, false)]
    [InlineData(1, 8, 1, true)]
    public void TileGemm_BothBlockings_MatchNaiveProduct_WithStridedA(int m, int n, int k, bool accumulate)
    {
        // Both register blockings (6×2 for 16-register AVX2, 4×4 for AVX-512 / NEON) on every width, A read through
        // column strides (the P·V orientation), against a double-precision triple loop.
        var rng = new Random(m * 1000 + n * 10 + k);
        int lda = m + 3, ldb = n + 8, ldc = n + 16;
        float[] a = new float[k * lda], b = new float[k * ldb], c0 = new float[m * ldc];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < c0.Length; i++) c0[i] = (float)(rng.NextDouble() * 2 - 1);
        var want = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c0[i * ldc + j] : 0;
                for (int p = 0; p < k; p++) sum += (double)a[p * lda + i] * b[p * ldb + j];   // A(i, p) = a[i·1 + p·lda]
                want[i * n + j] = sum;
            }
        foreach (bool narrow in new[] { true, false })
            foreach (int width in new[] { 16, 8, 4 })
            {
                if (n % width != 0) continue;
                float[] c = (float[])c0.Clone();
                fixed (float* pa = a, pb = b, pc = c)
                {
                    if (width == 16 && narrow) TileGemm.RunNarrow<Vector512<float>, Simd512>(m, n, k, pa, 1, lda, pb, ldb, pc, ldc, accumulate);
                    else if (width == 16) TileGemm.Run<Vector512<float>, Simd512>(m, n, k, pa, 1, lda, pb, ldb, pc, ldc, accumulate);
                    else if (width == 8 && narrow) TileGemm.RunNarrow<Vector256<float>, Simd256>(m, n, k, pa, 1, lda, pb, ldb, pc, ldc, accumulate);
                    else if (width == 8) TileGemm.Run<Vector256<float>, Simd256>(m, n, k, pa, 1, lda, pb, ldb, pc, ldc, accumulate);
                    else if (narrow) TileGemm.RunNarrow<Vector128<float>, Simd128>(m, n, k, pa, 1, lda, pb, ldb, pc, ldc, accumulate);
                    else TileGemm.Run<Vector128<float>, Simd128>(m, n, k, pa, 1, lda, pb, ldb, pc, ldc, accumulate);
                }
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++)
                    {
                        if (j < n) Assert.True(Math.Abs(c[i * ldc + j] - want[i * n + j]) <= 1e-5 * (k + 1), $"narrow {narrow} width {width} C[{i},{j}]");
                        else Assert.Equal(c0[i * ldc + j], c[i * ldc + j]);                                 // nothing written past n
                    }
            }
    }

    [Fact]
    public void TransposeBlock_EveryWidth_TransposesAndScales()
    {
        // The register transposes (AVX-512 16×16, AVX2 8×8) and the scalar fallback: dst[c·ldDst + r] = scale·src[r·ldSrc + c].
        const int ldSrc = 40, ldDst = 24;
        float[] src = new float[16 * ldSrc];
        for (int i = 0; i < src.Length; i++) src[i] = i * 0.25f - 7;
        foreach (int width in new[] { 16, 8, 4 })
        {
            float[] dst = new float[16 * ldDst];
            fixed (float* ps = src, pd = dst)
            {
                if (width == 16) Simd512.TransposeBlock(ps, ldSrc, pd, ldDst, 0.5f);
                else if (width == 8) Simd256.TransposeBlock(ps, ldSrc, pd, ldDst, 0.5f);
                else Simd128.TransposeBlock(ps, ldSrc, pd, ldDst, 0.5f);
            }
            for (int c = 0; c < 16; c++)
                for (int r = 0; r < ldDst; r++)
                    Assert.Equal(r < width && c < width ? 0.5f * src[r * ldSrc + c] : 0f, dst[c * ldDst + r]);
        }
    }

    // ---- argument validation ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData(4, 3, 64, "NH % NKV")]
    [InlineData(4, 4, 0, "HS must be in 1..256")]
    [InlineData(4, 4, 257, "HS must be in 1..256")]
    public void Forward_InvalidShape_ThrowsArgumentExceptionNamingProblem(int nh, int nkv, int hs, string expected)
    {
        var s = new AttentionShape(1, nh, nkv, 4, 4, hs, 1f, AttnMask.None);
        float[] buffer = new float[4096];
        var ex = Assert.Throws<ArgumentException>(() =>
        {
            fixed (float* p = buffer)
            {
                AttnLayout l = AttnLayout.Bhtd(nh, 4, Math.Max(hs, 1));
                CpuAttention.Forward(s, p, l, p, l, p, l, null, p, l, p);
            }
        });
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Backward_NullGradientPointer_ThrowsArgumentExceptionNamingIt()
    {
        var s = new AttentionShape(1, 1, 1, 4, 4, 4, 0.5f, AttnMask.None);
        float[] buffer = new float[64];
        var ex = Assert.Throws<ArgumentException>(() =>
        {
            fixed (float* p = buffer)
            {
                AttnLayout l = AttnLayout.Bhtd(1, 4, 4);
                CpuAttention.Backward(s, p, l, p, l, p, l, null, p, l, p, p, l, p, null, p);
            }
        });
        Assert.Equal("dk", ex.ParamName);
    }

    // ---- harness ---------------------------------------------------------------------------------------------------

    private sealed record Case(int B, int NH, int NKV, int Tq, int Tk, int HS, AttnMask Mask, PadKind Pad = PadKind.None,
                               Lay Q = Lay.Bhtd, Lay K = Lay.Bhtd, Lay V = Lay.Bhtd, Lay O = Lay.Bhtd, Lay DO = Lay.Bhtd,
                               int Seed = 1, AttentionTuning Tuning = default);

    private sealed record Run(Operand Q, Operand K, Operand V, Operand O, float[] Lse, Operand Dq, Operand Dk, Operand Dv,
                              int[]? Padding, Run? Reference);

    /// <summary>Runs Forward and Backward (fed the fast forward's o and lse, as in training) and both references, and asserts agreement.</summary>
    private static Run Check(Case c)
    {
        Run run = Execute(c, reference: true);
        Run r = run.Reference!;
        string what = c.ToString();
        AssertClose("o", run.O, r.O, what, Atol, Rtol);
        AssertLse(run.Lse, r.Lse, what, Atol);
        AssertClose("dq", run.Dq, r.Dq, what, Atol, Rtol);
        AssertClose("dk", run.Dk, r.Dk, what, Atol, Rtol);
        AssertClose("dv", run.Dv, r.Dv, what, Atol, Rtol);
        return run;
    }

    private static Run Execute(Case c, bool reference)
    {
        var rng = new Random(c.Seed);
        var s = new AttentionShape(c.B, c.NH, c.NKV, c.Tq, c.Tk, c.HS, 1f / MathF.Sqrt(c.HS), c.Mask);
        // Inputs: in-range elements random, gaps NaN, so reading outside an operand poisons the result.
        Operand q = Operand.Random(c.Q, c.B, c.NH, c.Tq, c.HS, rng, 2f);
        Operand k = Operand.Random(c.K, c.B, c.NKV, c.Tk, c.HS, rng, 2f);
        Operand v = Operand.Random(c.V, c.B, c.NKV, c.Tk, c.HS, rng, 1f);
        Operand dO = Operand.Random(c.DO, c.B, c.NH, c.Tq, c.HS, rng, 1f);
        int[]? padding = MakePadding(c.Pad, c.B, c.Tk, rng);
        int[] padStore = padding ?? new int[1];
        Run Go(bool fast)
        {
            // Outputs start NaN everywhere: in-range elements must all be written, gaps must stay NaN.
            Operand o = q.EmptyLike(c.O), dq = q.EmptyLike(c.Q), dk = k.EmptyLike(c.K), dv = v.EmptyLike(c.V);
            float[] lse = GC.AllocateArray<float>(c.B * c.NH * c.Tq, pinned: true);
            Array.Fill(lse, float.NaN);
            fixed (float* pl = lse)
            fixed (int* pp = padStore)
            {
                int* pad = padding == null ? null : pp;
                if (fast)
                {
                    CpuAttention.Forward(s, q.Ptr, q.Layout, k.Ptr, k.Layout, v.Ptr, v.Layout, pad, o.Ptr, o.Layout, pl, c.Tuning);
                    CpuAttention.Backward(s, q.Ptr, q.Layout, k.Ptr, k.Layout, v.Ptr, v.Layout, pad, o.Ptr, o.Layout, pl,
                                          dO.Ptr, dO.Layout, dq.Ptr, dk.Ptr, dv.Ptr, c.Tuning);
                }
                else
                {
                    CpuAttention.ForwardReference(s, q.Ptr, q.Layout, k.Ptr, k.Layout, v.Ptr, v.Layout, pad, o.Ptr, o.Layout, pl);
                    CpuAttention.BackwardReference(s, q.Ptr, q.Layout, k.Ptr, k.Layout, v.Ptr, v.Layout, pad, o.Ptr, o.Layout, pl,
                                                   dO.Ptr, dO.Layout, dq.Ptr, dk.Ptr, dv.Ptr);
                }
            }
            return new Run(q, k, v, o, lse, dq, dk, dv, padding, null);
        }
        Run result = Go(fast: true);
        return reference ? result with { Reference = Go(fast: false) } : result;
    }

    private static double* Ptr(double[] pinned) => (double*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    /// <summary>A pinned array of n uniform(−1, 1) doubles.</summary>
    private static double[] RandomDoubles(Random rng, int n)
    {
        var x = GC.AllocateArray<double>(n, pinned: true);
        for (int i = 0; i < n; i++) x[i] = 2 * rng.NextDouble() - 1;
        return x;
    }
}
