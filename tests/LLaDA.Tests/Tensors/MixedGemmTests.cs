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
        foreach (var (m, n, k) in new[] { (1, 37, 70), (3, 130, 300), (8, 17, 9), (9, 600, 513), (40, 70, 260), (2, 1030, 17) })
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
    [InlineData(2, 3, 33, 0L)] // shared weights across the batch (the model's case)
    [InlineData(3, 12, 40, 1L)] // one weight matrix per batch entry
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
