using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Tensors;

/// <summary>The mixed-precision GEMM (f32 activations × BF16/F16 weights) against its naive triple loop, and the product path
/// (Tensor.MatMul, embedding lookup) against the same product over weights widened to f32 up front.</summary>
public sealed unsafe class MixedGemmTests
{
    private static float[] Floats(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    private static ushort[] Bits(float[] x, DType t) => x.Select(v => t == DType.BF16 ? Half16.ToBf16(v) : Half16.ToF16(v)).ToArray();

    public static TheoryData<int, int, int, bool, DType, float> Shapes()
    {
        var d = new TheoryData<int, int, int, bool, DType, float>();
        // m ≤ 8 with transposed B streams the weights; the rest widens panels (n and k cross the 512/256 panel edges).
        // Streaming: 4-row register blocks plus single rows (m 4, 5, 7, 8), odd n (the last column alone), k below, at and
        // off the 16-wide step, and k blocks (m > 2 cuts k into 4096/m). Column blocks (n ≥ 512, m > 8 or B not
        // transposed): partial last block and k panel (600 = 256 + 256 + 88). Shared panels: n < 512.
        foreach (var (m, n, k) in new[]
        {
            (1, 37, 70), (3, 130, 300), (8, 17, 9), (9, 600, 513), (40, 70, 260), (2, 1030, 17),
            (4, 33, 16), (5, 3, 47), (7, 9, 1100), (8, 2, 2065), (1, 1, 15), (6, 1, 33),
            (33, 1100, 300), (12, 257, 600), (64, 513, 40),
        })
            foreach (bool transB in new[] { true, false })
                foreach (var t in new[] { DType.BF16, DType.F16 })
                    d.Add(m, n, k, transB, t, m % 2 == 0 ? 0f : 0.5f);
        return d;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Gemm_MatchesNaive(int m, int n, int k, bool transB, DType t, float beta)
    {
        var a = Floats(m * k, 1);
        var bw = Bits(Floats(k * n, 2), t);
        var c0 = Floats(m * n, 3);
        var fast = (float[])c0.Clone();
        var slow = (float[])c0.Clone();
        int ldb = transB ? k : n;
        fixed (float* pa = a, pf = fast, ps = slow)
        fixed (ushort* pb = bw)
        {
            CpuMixedGemm.Gemm(1, m, n, k, 1.5f, pa, k, 0, false, pb, t, ldb, 0, transB, beta, pf, n, 0);
            CpuMixedGemm.GemmNaive(1, m, n, k, 1.5f, pa, k, 0, false, pb, t, ldb, 0, transB, beta, ps, n, 0);
        }
        // |a|, |b| ≤ 1: the f32 sums differ from the double ones by at most ~k·2⁻²³ per unit of Σ|a·b| ≤ k.
        for (int i = 0; i < fast.Length; i++)
            Assert.True(Math.Abs(fast[i] - slow[i]) <= 1e-5f * (k + 1), $"[{i}] {fast[i]} vs {slow[i]} (m {m}, n {n}, k {k}, transB {transB}, {t})");
    }

    [Theory]
    [InlineData(3, 600, 70, true)]    // column blocks
    [InlineData(20, 50, 300, false)]  // shared panels
    [InlineData(2, 20, 40, true)]     // m ≤ 8 but A transposed: not the streaming layout
    public void Gemm_TransposedA_MatchesNaive(int m, int n, int k, bool transB)
    {
        var a = Floats(k * m, 11);   // stored (k, m)
        var bw = Bits(Floats(k * n, 12), DType.BF16);
        var fast = Floats(m * n, 13);
        var slow = (float[])fast.Clone();
        int ldb = transB ? k : n;
        fixed (float* pa = a, pf = fast, ps = slow)
        fixed (ushort* pb = bw)
        {
            CpuMixedGemm.Gemm(1, m, n, k, 0.75f, pa, m, 0, true, pb, DType.BF16, ldb, 0, transB, 0.5f, pf, n, 0);
            CpuMixedGemm.GemmNaive(1, m, n, k, 0.75f, pa, m, 0, true, pb, DType.BF16, ldb, 0, transB, 0.5f, ps, n, 0);
        }
        for (int i = 0; i < fast.Length; i++)
            Assert.True(Math.Abs(fast[i] - slow[i]) <= 1e-5f * (k + 1), $"[{i}] {fast[i]} vs {slow[i]} (m {m}, n {n}, k {k}, transB {transB})");
    }

    [Fact]
    public void FromHalfBits_EveryPattern_EqualsScalarConversion()
    {
        // The vector F16 widening of the streaming kernel, all 65,536 patterns: zeros, subnormals, normals, ±∞ bit-exact, NaN as NaN.
        var lanes = new uint[8];
        var got = new float[8];
        for (int h = 0; h < 65536; h += 8)
        {
            for (int l = 0; l < 8; l++) lanes[l] = (uint)(h + l);
            System.Runtime.Intrinsics.Vector256.CopyTo(CpuMixedGemm.FromHalfBits(System.Runtime.Intrinsics.Vector256.Create(lanes)), got);
            for (int l = 0; l < 8; l++)
            {
                float want = Half16.FromF16((ushort)(h + l));
                if (float.IsNaN(want)) Assert.True(float.IsNaN(got[l]), $"0x{h + l:X4}: {got[l]} is not NaN");
                else Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits(got[l]), $"0x{h + l:X4}: {got[l]} vs {want}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(20)]
    public void Gemm_F16SpecialWeights_MatchNaive(int m)
    {
        // F16 weights holding ±0, subnormals, the largest finite values and ±∞, read by every path (m 1, 6 stream; 20 panels).
        int n = 40, k = 48;
        var a = Floats(m * k, 14).Select(v => v == 0f ? 0.5f : v).ToArray();
        ushort[] specials = [0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C00];
        var bw = Bits(Floats(k * n, 15), DType.F16);
        for (int i = 0; i < bw.Length; i += 7) bw[i] = specials[(i / 7) % specials.Length];
        bw[5 * k + 3] = 0x7C00;   // +∞ in column 5 (transposed B): that column's outputs are ±∞
        var fast = new float[m * n];
        var slow = new float[m * n];
        fixed (float* pa = a, pf = fast, ps = slow)
        fixed (ushort* pb = bw)
        {
            CpuMixedGemm.Gemm(1, m, n, k, 1f, pa, k, 0, false, pb, DType.F16, k, 0, true, 0f, pf, n, 0);
            CpuMixedGemm.GemmNaive(1, m, n, k, 1f, pa, k, 0, false, pb, DType.F16, k, 0, true, 0f, ps, n, 0);
        }
        for (int i = 0; i < fast.Length; i++)
        {
            if (float.IsInfinity(slow[i]) || float.IsNaN(slow[i])) Assert.Equal(slow[i], fast[i]);
            else Assert.True(Math.Abs(fast[i] - slow[i]) <= 1e-5f * 65504f * (k + 1), $"[{i}] {fast[i]} vs {slow[i]}");
        }
        Assert.True(float.IsInfinity(fast[5]));
    }

    [Theory]
    [InlineData(4, 4096, 300, true)]   // streaming
    [InlineData(40, 1100, 300, true)]  // column blocks
    [InlineData(40, 1100, 300, false)]
    public void Gemm_SameBitsOnOneOrAllThreads(int m, int n, int k, bool transB)
    {
        var a = Floats(m * k, 16);
        var bw = Bits(Floats(k * n, 17), DType.BF16);
        var one = new float[m * n];
        var all = new float[m * n];
        fixed (float* pa = a, p1 = one, pn = all)
        fixed (ushort* pb = bw)
        {
            using (CpuParallel.Use(1)) CpuMixedGemm.Gemm(1, m, n, k, 1f, pa, k, 0, false, pb, DType.BF16, transB ? k : n, 0, transB, 0f, p1, n, 0);
            CpuMixedGemm.Gemm(1, m, n, k, 1f, pa, k, 0, false, pb, DType.BF16, transB ? k : n, 0, transB, 0f, pn, n, 0);
        }
        Assert.Equal(one, all);
    }

    [Theory]
    [InlineData(2, 3, 33, 0L)] // shared weights across the batch (the model's case)
    [InlineData(3, 12, 40, 1L)] // one weight matrix per batch entry
    [InlineData(2, 9, 600, 0L)] // column blocks, shared weights
    [InlineData(2, 9, 520, 1L)] // column blocks, one weight matrix per batch entry
    public void Gemm_Batched_MatchesNaive(int batch, int m, int n, long perBatchB)
    {
        int k = 50;
        var a = Floats(batch * m * k, 4);
        var bw = Bits(Floats(batch * k * n, 5), DType.BF16);
        var fast = new float[batch * m * n];
        var slow = new float[batch * m * n];
        long sb = perBatchB * k * n;
        fixed (float* pa = a, pf = fast, ps = slow)
        fixed (ushort* pb = bw)
        {
            CpuMixedGemm.Gemm(batch, m, n, k, 1f, pa, k, (long)m * k, false, pb, DType.BF16, k, sb, true, 0f, pf, n, (long)m * n);
            CpuMixedGemm.GemmNaive(batch, m, n, k, 1f, pa, k, (long)m * k, false, pb, DType.BF16, k, sb, true, 0f, ps, n, (long)m * n);
        }
        for (int i = 0; i < fast.Length; i++) Assert.True(Math.Abs(fast[i] - slow[i]) <= 1e-4f, $"[{i}] {fast[i]} vs {slow[i]}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(70)]
    public void TensorMatMul_Bf16Weight_EqualsWidenedWeight(int tokens)
    {
        // x (2, T, 48) · Wᵀ for W (96, 48) stored as BF16 (nn.Linear layout), against the f32 GEMM over W widened first.
        using var scope = new TensorScope();
        var x = Tensor.FromArray(Floats(2 * tokens * 48, 6), [2, tokens, 48]);
        var w32 = Tensor.FromArray(Floats(96 * 48, 7), [96, 48]);
        var w16 = w32.Contiguous(DType.BF16);
        var wide = w16.Contiguous(DType.F32);
        var mixed = x.MatMul(w16.MT).ToArray();
        var reference = x.MatMul(wide.MT).ToArray();
        Assert.Equal(2 * tokens * 96, mixed.Length);
        for (int i = 0; i < mixed.Length; i++) Assert.True(Math.Abs(mixed[i] - reference[i]) <= 1e-4f, $"[{i}] {mixed[i]} vs {reference[i]}");
        // The backward's shape (dy · W, W not transposed) takes the panel path.
        var dy = Tensor.FromArray(Floats(2 * tokens * 96, 8), [2, tokens, 96]);
        var dx = dy.MatMul(w16).ToArray();
        var dxRef = dy.MatMul(wide).ToArray();
        for (int i = 0; i < dx.Length; i++) Assert.True(Math.Abs(dx[i] - dxRef[i]) <= 1e-4f, $"dx[{i}] {dx[i]} vs {dxRef[i]}");
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void Embedding_16BitTable_EqualsWidenedTable(DType t)
    {
        using var scope = new TensorScope();
        var table = Tensor.FromArray(Floats(20 * 12, 9), [20, 12]).Contiguous(t);
        var ids = Tensor.FromArray(new[] { 3, 0, 19, 3, 7, 11 }, [2, 3]);
        var got = Tensor.Embedding(table, ids).ToArray();
        var want = Tensor.Embedding(table.Contiguous(DType.F32), ids).ToArray();
        Assert.Equal(want, got);
    }
}
