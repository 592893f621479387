using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Each fused op against the same function composed from primitives: values and the gradient of every input under a fixed seed gradient.</summary>
public class FusedVsComposedTests
{
    /// <summary>Forward + Backward(seed) of f; returns y and the gradients of the inputs that require grad.</summary>
    private static (float[] Y, int[] Shape, float[][] Grads) Run(Func<Variable[], Variable> f, Tensor[] inputs, bool[] requiresGrad, int seed)
    {
        using var scope = new TensorScope();
        var vars = new Variable[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) vars[i] = new Variable(inputs[i], requiresGrad[i], $"input{i}");
        using var tape = new Tape();
        var y = f(vars);
        using var g = Tensor.FromArray(Rng.Floats((int)y.Data.Numel, seed), y.Shape);
        tape.Backward(y, g);
        var grads = new List<float[]>();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!requiresGrad[i]) continue;
            Assert.NotNull(vars[i].Grad);
            grads.Add(vars[i].Grad!.ToArray());
            vars[i].ZeroGrad();
        }
        return (y.Data.ToArray(), y.Shape.ToArray(), grads.ToArray());
    }

    /// <summary>Asserts fused ≈ composed for the output and every input gradient.</summary>
    private static void AssertSame(Func<Variable[], Variable> fused, Func<Variable[], Variable> composed, Tensor[] inputs,
                                   bool[]? requiresGrad = null, double atol = 1e-5, double rtol = 1e-4, int seed = 99)
    {
        requiresGrad ??= inputs.Select(t => t.DType == DType.F32).ToArray();
        var (yc, sc, gc) = Run(composed, inputs, requiresGrad, seed);
        var (yf, sf, gf) = Run(fused, inputs, requiresGrad, seed);
        Assert.Equal(sc, sf);
        TensorAssert.Close(yc, yf, atol, rtol, "output");
        Assert.Equal(gc.Length, gf.Length);
        for (int i = 0; i < gc.Length; i++)
        {
            Assert.Contains(gc[i], x => x != 0f);
            TensorAssert.Close(gc[i], gf[i], atol, rtol, $"gradient {i}");
        }
    }

    // ---------------------------------------------------------------- RMSNorm

    [Theory]
    [InlineData(1e-5f)]
    [InlineData(0.1f)]
    public void RmsNorm_MatchesComposed(float eps)
    {
        // x / √(mean(x²) + eps) · w over the last dim.
        using var x = Rng.Strided(601, 2, 3, 7);
        using var w = TestData.Uniform(602, 0.5f, 1.5f, 7);
        AssertSame(
            v => F.RmsNorm(v[0], v[1], eps),
            v => F.Mul(F.Div(v[0], F.Sqrt(F.AddScalar(F.Mean(F.Square(v[0]), -1, keepDim: true), eps))), v[1]),
            [x, w]);
    }

    // ---------------------------------------------------------------- softmax

    private static Variable ComposedSoftmax(Variable x, int dim)
    {
        // exp(x − max) / Σ exp(x − max)
        var e = F.Exp(F.Sub(x, F.Max(x, dim, keepDim: true)));
        return F.Div(e, F.Sum(e, dim, keepDim: true));
    }

    private static Variable ComposedLogSoftmax(Variable x, int dim)
    {
        // (x − max) − log Σ exp(x − max)
        var z = F.Sub(x, F.Max(x, dim, keepDim: true));
        return F.Sub(z, F.Log(F.Sum(F.Exp(z), dim, keepDim: true)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    [InlineData(0)]
    public void Softmax_MatchesComposed(int dim)
    {
        using var x = TestData.StridedUniform(603, -3f, 3f, 3, 5, 7);
        AssertSame(v => F.Softmax(v[0], dim), v => ComposedSoftmax(v[0], dim), [x]);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void LogSoftmax_MatchesComposed(int dim)
    {
        using var x = TestData.StridedUniform(604, -3f, 3f, 3, 5, 7);
        AssertSame(v => F.LogSoftmax(v[0], dim), v => ComposedLogSoftmax(v[0], dim), [x]);
    }

    // ---------------------------------------------------------------- SiLU gate

    [Fact]
    public void SiluGate_MatchesComposed()
    {
        // silu(g)·u
        using var gate = TestData.StridedUniform(605, -4f, 4f, 3, 21);
        using var up = Rng.Tensor(606, 3, 21);
        AssertSame(v => F.SiluGate(v[0], v[1]), v => F.Mul(F.Silu(v[0]), v[1]), [gate, up]);
    }

    // ---------------------------------------------------------------- cross-entropy

    [Fact]
    public void CrossEntropy_WeightsZeroWeightIgnoredTarget_MatchesComposed()
    {
        // loss[i] = −w[i]·logsoftmax(logits)[i, t[i]]; an ignored target (−1) behaves as weight 0 (gathered at 0 here).
        int[] t = [3, 0, 6, -1, 2];
        float[] wv = [1f, 0.5f, 0f, 2f, 1.5f];
        using var logits = TestData.StridedUniform(607, -3f, 3f, 5, 7);
        using var targets = TestData.Ints(t, 5);
        using var weights = Tensor.FromArray(wv);
        using var safeIdx = TestData.Ints(t.Select(x => Math.Max(x, 0)).ToArray(), 5, 1);
        using var effW = Tensor.FromArray(wv.Select((w, i) => t[i] < 0 ? 0f : w).ToArray());
        AssertSame(
            v => F.CrossEntropy(v[0], targets, weights),
            v => F.Neg(F.Mul(F.Reshape(F.Gather(F.LogSoftmax(v[0]), safeIdx), 5), effW)),
            [logits]);
    }

    [Fact]
    public void CrossEntropy_NoWeights_MatchesComposed()
    {
        using var logits = TestData.Uniform(608, -3f, 3f, 3, 7);
        using var targets = TestData.Ints([6, 0, 3], 3);
        using var idx = TestData.Ints([6, 0, 3], 3, 1);
        AssertSame(
            v => F.CrossEntropy(v[0], targets),
            v => F.Neg(F.Reshape(F.Gather(F.LogSoftmax(v[0]), idx), 3)),
            [logits]);
    }

    // ---------------------------------------------------------------- RoPE

    /// <summary>cos and sin tables (1, T, 1, D) of the half-rotation layout: angle(t, i) = (offset + t)·θ^(−2i/D), repeated over both halves.</summary>
    private static (Tensor Cos, Tensor Sin) RopeTables(int t, int d, float theta, int offset)
    {
        int half = d / 2;
        var cos = new float[t * d];
        var sin = new float[t * d];
        for (int p = 0; p < t; p++)
            for (int i = 0; i < half; i++)
            {
                double invFreq = 1.0 / Math.Pow(theta, 2.0 * i / d);
                double a = (offset + p) * invFreq;
                cos[p * d + i] = cos[p * d + i + half] = (float)Math.Cos(a);
                sin[p * d + i] = sin[p * d + i + half] = (float)Math.Sin(a);
            }
        return (Tensor.FromArray(cos, [1, t, 1, d]), Tensor.FromArray(sin, [1, t, 1, d]));
    }

    private static Variable ComposedRope(Variable x, Tensor cos, Tensor sin)
    {
        // x·cos + rotate_half(x)·sin with rotate_half(x) = (−x₂, x₁).
        int half = x.Shape[3] / 2;
        var rot = F.Cat([F.Neg(F.Narrow(x, -1, half, half)), F.Narrow(x, -1, 0, half)], -1);
        return F.Add(F.Mul(x, cos), F.Mul(rot, sin));
    }

    [Theory]
    [InlineData(10000f, 0)]
    [InlineData(10f, 0)]
    [InlineData(10f, 9)]
    [InlineData(500000f, 3)]
    public void Rope_MatchesComposed(float theta, int offset)
    {
        const int b = 2, t = 5, h = 3, d = 8;
        using var bhtd = Rng.Tensor(609, b, h, t, d);
        using var x = bhtd.Transpose(1, 2); // (B, T, H, D) view of head-major storage
        var (cos, sin) = RopeTables(t, d, theta, offset);
        using (cos)
        using (sin)
            AssertSame(v => F.Rope(v[0], theta, offset), v => ComposedRope(v[0], cos, sin), [x]);
    }

    [Fact]
    public void Rope_OffsetMatters()
    {
        // Guard for the test above: offset 0 and offset 9 must give different rotations.
        using var x = Rng.Tensor(610, 1, 5, 1, 4);
        using var y0 = F.Rope(x, 10f, 0).Data;
        using var y9 = F.Rope(x, 10f, 9).Data;
        Assert.NotEqual(y0.ToArray(), y9.ToArray());
    }

    // ---------------------------------------------------------------- linear

    [Fact]
    public void Linear_MatchesMatMulTranspose()
    {
        // x·Wᵀ
        using var x = Rng.Strided(611, 2, 3, 5);
        using var w = Rng.Tensor(612, 7, 5);
        AssertSame(v => F.Linear(v[0], v[1]), v => F.MatMul(v[0], F.Transpose(v[1], 0, 1)), [x, w]);
    }

    // ---------------------------------------------------------------- attention

    public static TheoryData<int, int, int, int, int, int, AttnMask, bool> AttentionCases => new()
    {
        // B, NH, NKV, Tq, Tk, HS, mask, key padding
        { 1, 2, 2, 5, 5, 3, AttnMask.None, false },
        { 2, 1, 1, 5, 5, 4, AttnMask.Causal, false },
        { 2, 2, 2, 5, 5, 3, AttnMask.None, true },
        { 2, 2, 1, 5, 5, 3, AttnMask.Causal, true },
        { 1, 4, 2, 3, 3, 5, AttnMask.None, false },
        { 1, 6, 2, 3, 7, 4, AttnMask.Causal, false },
        { 2, 3, 1, 3, 7, 2, AttnMask.None, true },
    };

    /// <summary>Key padding (B, Tk): key 0 is always real, so no query is left without a visible key.</summary>
    internal static int[] KeyPadding(int b, int tk)
    {
        var kp = new int[b * tk];
        for (int bb = 0; bb < b; bb++)
            for (int j = 0; j < tk; j++) kp[bb * tk + j] = j == 0 || (j + bb) % 3 != 1 ? 1 : 0;
        return kp;
    }

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void Attention_MatchesComposed(int b, int nh, int nkv, int tq, int tk, int hs, AttnMask mask, bool padded)
    {
        // q as a (B, NH, Tq, HS) view of (B, Tq, NH, HS) storage, as the model passes it.
        using var qs = Rng.Tensor(613, b, tq, nh, hs);
        using var q = qs.Transpose(1, 2);
        using var k = Rng.Tensor(614, b, nkv, tk, hs);
        using var v = Rng.Strided(615, b, nkv, tk, hs);
        int[]? kp = padded ? KeyPadding(b, tk) : null;
        using var keyPadding = kp is null ? null : TestData.Ints(kp, b, tk);
        using var additive = AttentionReference.Mask(b, nh / nkv, tq, tk, mask, kp);
        AssertSame(
            x => F.Attention(x[0], x[1], x[2], mask, keyPadding),
            x => AttentionReference.Compose(x[0], x[1], x[2], additive),
            [q, k, v], atol: 2e-5, rtol: 2e-4);
    }

    [Fact]
    public void Attention_ExplicitScale_MatchesComposed()
    {
        using var q = Rng.Tensor(616, 1, 2, 5, 3);
        using var k = Rng.Tensor(617, 1, 2, 5, 3);
        using var v = Rng.Tensor(618, 1, 2, 5, 3);
        using var additive = AttentionReference.Mask(1, 1, 5, 5, AttnMask.Causal, null);
        AssertSame(
            x => F.Attention(x[0], x[1], x[2], AttnMask.Causal, scale: 0.3f),
            x => AttentionReference.Compose(x[0], x[1], x[2], additive, 0.3f),
            [q, k, v], atol: 2e-5, rtol: 2e-4);
    }
}
