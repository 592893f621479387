using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ILGPU;
using ILGPU.Runtime;
using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;
using static LLaDA.Tests.Testing.AttentionHarness;

namespace LLaDA.Tests.Kernels;

/// <summary>AttentionKernels Forward/Backward on the ILGPU CPU accelerator against CpuAttention's double-precision references.</summary>
/// <remarks>Shapes stay ≤ ~70 (the CPU accelerator is ~1,700× slower than C#) but cross the 64-query/64-key tiles, the
/// 32-wide head-dim chunks and the 128-wide head-dim blocks. Inputs have NaN in the gaps of strided layouts and outputs
/// start NaN, so a read outside an operand or a missed / stray write shows up.</remarks>
public sealed unsafe class AttentionKernelTests : IClassFixture<KernelCpuFixture>
{
    // FP32 kernels (ex2.approx on the GPU) vs the double reference on O(1) data: observed ≤ 2e−6; a bug shows at 1e−3.
    private const double Atol = 2e-5, Rtol = 2e-4;
    private const int Tile = AttentionKernels.Tile;

    private readonly KernelContext _k;

    public AttentionKernelTests(KernelCpuFixture fixture) => _k = fixture.K;



    public sealed record Case(int B, int NH, int NKV, int Tq, int Tk, int HS, AttnMask Mask, PadKind Pad = PadKind.None,
        Lay Q = Lay.Bhtd, Lay K = Lay.Bhtd, Lay V = Lay.Bhtd, Lay O = Lay.Bhtd, Lay DO = Lay.Bhtd, int Seed = 1, bool Naive = false);

    // ---- the naive reference kernels -------------------------------------------------------------------------------

    [Theory]
    [InlineData(AttnMask.None, PadKind.None, 2, 9, 9, 5)]
    [InlineData(AttnMask.Causal, PadKind.Mixed, 1, 7, 12, 3)]     // GQA, Tq < Tk, padding, fully padded entry
    [InlineData(AttnMask.Causal, PadKind.None, 1, 10, 6, 130)]    // Tq > Tk: fully masked rows; HS > 128
    public void ForwardBackwardNaive_MatchReference(AttnMask mask, PadKind pad, int nkv, int tq, int tk, int hs) =>
        Check(new Case(B: 4, NH: 2, NKV: nkv, Tq: tq, Tk: tk, HS: hs, Mask: mask, Pad: pad, Seed: 40 + hs, Naive: true));

    [Fact]
    public void ForwardBackwardNaive_StridedLayouts_MatchReferenceAndWriteNothingOutside() =>
        Check(new Case(B: 2, NH: 2, NKV: 1, Tq: 5, Tk: 8, HS: 4, Mask: AttnMask.Causal, Pad: PadKind.Mixed,
                       Q: Lay.Fused, K: Lay.Bthd, V: Lay.Fused, O: Lay.Fused, DO: Lay.Bthd, Seed: 41, Naive: true));

    [Theory]
    [InlineData(AttnMask.None)]
    [InlineData(AttnMask.Causal)]
    public void ForwardBackward_SmallSquare_MatchReference(AttnMask mask) =>
        Check(new Case(B: 2, NH: 2, NKV: 2, Tq: 19, Tk: 19, HS: 16, Mask: mask, Seed: 1));

    [Theory]
    [InlineData(AttnMask.None)]
    [InlineData(AttnMask.Causal)]
    public void ForwardBackward_KeyPadding_MatchReference(AttnMask mask) =>
        Check(new Case(B: 4, NH: 2, NKV: 1, Tq: 13, Tk: 13, HS: 8, Mask: mask, Pad: PadKind.Mixed, Seed: 2));

    [Theory]
    [InlineData(1, AttnMask.None)]
    [InlineData(2, AttnMask.Causal)]
    public void ForwardBackward_GroupedQueryHeads_MatchReference(int nkv, AttnMask mask) =>
        Check(new Case(B: 1, NH: 4, NKV: nkv, Tq: 11, Tk: 11, HS: 12, Mask: mask, Seed: 3 + nkv));

    [Theory]
    [InlineData(5, 23, AttnMask.None)]
    [InlineData(5, 23, AttnMask.Causal)]
    [InlineData(1, 17, AttnMask.Causal)]
    public void ForwardBackward_FewerQueriesThanKeys_MatchReference(int tq, int tk, AttnMask mask) =>
        Check(new Case(B: 4, NH: 2, NKV: 1, Tq: tq, Tk: tk, HS: 6, Mask: mask, Pad: PadKind.Mixed, Seed: 5 + tq));

    [Fact]
    public void ForwardBackward_CausalMoreQueriesThanKeys_FullyMaskedRowsZero() =>
        // Queries 0..Tq−Tk−1 sit before every key: o = 0, lse = +∞, dq = 0 without any padding.
        Check(new Case(B: 1, NH: 1, NKV: 1, Tq: 12, Tk: 7, HS: 5, Mask: AttnMask.Causal, Seed: 7));

    [Theory]
    [InlineData(1, 1)]          // smallest everything
    [InlineData(7, 33)]         // HS = chunk + 1
    [InlineData(3, 64)]         // HS = 64: lower half of the output block only
    [InlineData(3, 65)]         // HS = 65: upper half with one column
    [InlineData(2, 130)]        // HS = 130: two d blocks
    [InlineData(Tile + 1, 5)]   // two query tiles and two key tiles
    [InlineData(Tile - 1, 3)]
    public void ForwardBackward_OddSizes_MatchReference(int t, int hs)
    {
        Check(new Case(B: 1, NH: 1, NKV: 1, Tq: t, Tk: t, HS: hs, Mask: AttnMask.None, Seed: 100 + t + hs));
        Check(new Case(B: 1, NH: 1, NKV: 1, Tq: t, Tk: t, HS: hs, Mask: AttnMask.Causal, Seed: 200 + t + hs));
    }

    [Fact]
    public void ForwardBackward_TwoTilesCausalPaddedGqa_MatchReference() =>
        Check(new Case(B: 2, NH: 2, NKV: 1, Tq: 40, Tk: 70, HS: 9, Mask: AttnMask.Causal, Pad: PadKind.Mixed, Seed: 9));

    [Theory]
    [InlineData(Lay.Bthd, Lay.Bthd, Lay.Bthd, Lay.Bthd, Lay.Bthd)]
    [InlineData(Lay.Fused, Lay.Fused, Lay.Fused, Lay.Bthd, Lay.Bhtd)]
    [InlineData(Lay.Bthd, Lay.Bhtd, Lay.Fused, Lay.Fused, Lay.Fused)]
    public void ForwardBackward_Layouts_MatchReferenceAndWriteNothingOutside(Lay q, Lay k, Lay v, Lay o, Lay dO) =>
        Check(new Case(B: 2, NH: 4, NKV: 2, Tq: 10, Tk: 14, HS: 7, Mask: AttnMask.Causal, Pad: PadKind.Mixed,
                       Q: q, K: k, V: v, O: o, DO: dO, Seed: 11));

    [Fact]
    public void ForwardBackward_FullyPaddedEntry_ZeroOutputInfiniteLseZeroGradients()
    {
        // PadKind.Mixed: entry 3 has every key padded, entry 2 exactly one real key (Tk/2).
        var c = new Case(B: 4, NH: 2, NKV: 1, Tq: 6, Tk: 6, HS: 3, Mask: AttnMask.None, Pad: PadKind.Mixed, Seed: 12);
        Run run = Check(c);
        for (int h = 0; h < c.NH; h++)
            for (int t = 0; t < c.Tq; t++)
            {
                Assert.Equal(float.PositiveInfinity, run.Lse[(3 * c.NH + h) * c.Tq + t]);
                for (int d = 0; d < c.HS; d++)
                {
                    Assert.Equal(0f, run.O.At(3, h, t, d));
                    Assert.Equal(0f, run.Dq.At(3, h, t, d));
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
    public void ForwardBackward_RunTwice_BitwiseIdentical()
    {
        // No atomics: every output element is produced by one thread in a fixed order.
        var c = new Case(B: 1, NH: 2, NKV: 1, Tq: 9, Tk: 11, HS: 4, Mask: AttnMask.Causal, Seed: 13);
        Run a = Execute(_k, c, reference: false), b = Execute(_k, c, reference: false);
        Assert.Equal(a.O.Data, b.O.Data);
        Assert.Equal(a.Lse, b.Lse);
        Assert.Equal(a.Dq.Data, b.Dq.Data);
        Assert.Equal(a.Dk.Data, b.Dk.Data);
        Assert.Equal(a.Dv.Data, b.Dv.Data);
    }

    [Theory]
    [InlineData(4, 3, 8, "NH % NKV")]
    [InlineData(4, 4, 0, "HS must be in 1..256")]
    [InlineData(4, 4, 257, "HS must be in 1..256")]
    public void Forward_InvalidShape_ThrowsNamingProblem(int nh, int nkv, int hs, string expected)
    {
        var s = new AttentionShape(1, nh, nkv, 4, 4, hs, 1f, AttnMask.None);
        using var buf = _k.Accelerator.Allocate1D<float>(8192);
        ArrayView<float> v = buf.View;
        var l = AttnLayout.Bhtd(nh, 4, Math.Max(hs, 1));
        var ex = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(_k, s, v, l, v, l, v, l, default, v, l, v));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Forward_ViewTooShort_ThrowsNamingOperand()
    {
        var s = new AttentionShape(1, 2, 2, 4, 4, 8, 1f, AttnMask.None);
        using var buf = _k.Accelerator.Allocate1D<float>(64);
        ArrayView<float> v = buf.View;
        var l = AttnLayout.Bhtd(2, 4, 8);   // needs 64 elements per operand: exactly fits
        using var small = _k.Accelerator.Allocate1D<float>(63);
        var ex = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(_k, s, v, l, v, l, v, l, default, small.View, l, v));
        Assert.Equal("o", ex.ParamName);
    }

    // ---- harness ---------------------------------------------------------------------------------------------------

    internal sealed record Run(Operand Q, Operand K, Operand V, Operand O, float[] Lse, Operand Dq, Operand Dk, Operand Dv,
                              int[]? Padding, Run? Reference);

    private Run Check(Case c) => Check(_k, c);

    /// <summary>Runs the kernels and the references for case c on accelerator k and asserts agreement.</summary>
    internal static Run Check(KernelContext k, Case c)
    {
        Run run = Execute(k, c, reference: true);
        Run r = run.Reference!;
        string what = c.ToString();
        AssertClose("o", run.O, r.O, what, Atol, Rtol);
        AssertLse(run.Lse, r.Lse, what, Atol);
        AssertClose("dq", run.Dq, r.Dq, what, Atol, Rtol);
        AssertClose("dk", run.Dk, r.Dk, what, Atol, Rtol);
        AssertClose("dv", run.Dv, r.Dv, what, Atol, Rtol);
        return run;
    }

    /// <summary>Runs the kernels (backward fed the kernel forward's o and lse, as in training) and optionally the references.</summary>
    private static Run Execute(KernelContext kc, Case c, bool reference)
    {
        var rng = new Random(c.Seed);
        var s = new AttentionShape(c.B, c.NH, c.NKV, c.Tq, c.Tk, c.HS, 1f / MathF.Sqrt(c.HS), c.Mask);
        Operand q = Operand.Random(c.Q, c.B, c.NH, c.Tq, c.HS, rng, 2f);
        Operand k = Operand.Random(c.K, c.B, c.NKV, c.Tk, c.HS, rng, 2f);
        Operand v = Operand.Random(c.V, c.B, c.NKV, c.Tk, c.HS, rng, 1f);
        Operand dO = Operand.Random(c.DO, c.B, c.NH, c.Tq, c.HS, rng, 1f);
        int[]? padding = MakePadding(c.Pad, c.B, c.Tk, rng);

        // Kernels.
        Operand o = q.EmptyLike(c.O), dq = q.EmptyLike(c.Q), dk = k.EmptyLike(c.K), dv = v.EmptyLike(c.V);
        float[] lse = Enumerable.Repeat(float.NaN, c.B * c.NH * c.Tq).ToArray();
        var acc = kc.Accelerator;
        using (var bq = acc.Allocate1D(q.Data))
        using (var bk = acc.Allocate1D(k.Data))
        using (var bv = acc.Allocate1D(v.Data))
        using (var bdo = acc.Allocate1D(dO.Data))
        using (var bo = acc.Allocate1D(o.Data))
        using (var bl = acc.Allocate1D(lse))
        using (var bdq = acc.Allocate1D(dq.Data))
        using (var bdk = acc.Allocate1D(dk.Data))
        using (var bdv = acc.Allocate1D(dv.Data))
        using (var bp = acc.Allocate1D(padding ?? new int[1]))
        {
            ArrayView<int> pad = padding == null ? default : bp.View;
            if (c.Naive)
            {
                AttentionKernels.ForwardNaive(kc, s, q.View(bq), q.Layout, k.View(bk), k.Layout, v.View(bv), v.Layout, pad,
                                              o.View(bo), o.Layout, bl.View);
                AttentionKernels.BackwardNaive(kc, s, q.View(bq), q.Layout, k.View(bk), k.Layout, v.View(bv), v.Layout, pad,
                                               o.View(bo), o.Layout, bl.View, dO.View(bdo), dO.Layout, dq.View(bdq), dk.View(bdk), dv.View(bdv));
            }
            else
            {
                AttentionKernels.Forward(kc, s, q.View(bq), q.Layout, k.View(bk), k.Layout, v.View(bv), v.Layout, pad,
                                         o.View(bo), o.Layout, bl.View);
                AttentionKernels.Backward(kc, s, q.View(bq), q.Layout, k.View(bk), k.Layout, v.View(bv), v.Layout, pad,
                                          o.View(bo), o.Layout, bl.View, dO.View(bdo), dO.Layout, dq.View(bdq), dk.View(bdk), dv.View(bdv));
            }
            kc.Synchronize();
            bo.CopyToCPU(o.Data);
            bl.CopyToCPU(lse);
            bdq.CopyToCPU(dq.Data);
            bdk.CopyToCPU(dk.Data);
            bdv.CopyToCPU(dv.Data);
        }
        var run = new Run(q, k, v, o, lse, dq, dk, dv, padding, null);
        if (!reference) return run;

        Operand ro = q.EmptyLike(c.O), rdq = q.EmptyLike(c.Q), rdk = k.EmptyLike(c.K), rdv = v.EmptyLike(c.V);
        float[] rlse = GC.AllocateArray<float>(c.B * c.NH * c.Tq, pinned: true);
        int[] padStore = padding ?? new int[1];
        fixed (float* pl = rlse)
        fixed (int* pp = padStore)
        {
            int* pad = padding == null ? null : pp;
            CpuAttention.ForwardReference(s, q.Ptr, q.Layout, k.Ptr, k.Layout, v.Ptr, v.Layout, pad, ro.Ptr, ro.Layout, pl);
            CpuAttention.BackwardReference(s, q.Ptr, q.Layout, k.Ptr, k.Layout, v.Ptr, v.Layout, pad, ro.Ptr, ro.Layout, pl,
                                           dO.Ptr, dO.Layout, rdq.Ptr, rdk.Ptr, rdv.Ptr);
        }
        return run with { Reference = new Run(q, k, v, ro, rlse, rdq, rdk, rdv, padding, null) };
    }
}
