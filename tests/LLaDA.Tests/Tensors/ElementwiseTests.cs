using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class ElementwiseTests
{
    public static TheoryData<string> UnaryNames => new() { "Neg", "Abs", "Exp", "Log", "Sqrt", "Rsqrt", "Square", "Reciprocal", "Tanh", "Sigmoid", "Silu", "Relu", "Scale", "AddScalar", "Pow", "Clamp" };

    private static (Func<Tensor, Tensor> Op, Func<double, double> Ref, bool Positive) Unary(string name) => name switch
    {
        "Neg" => (t => t.Neg(), x => -x, false),
        "Abs" => (t => t.Abs(), Math.Abs, false),
        "Exp" => (t => t.Exp(), Math.Exp, false),
        "Log" => (t => t.Log(), Math.Log, true),
        "Sqrt" => (t => t.Sqrt(), Math.Sqrt, true),
        "Rsqrt" => (t => t.Rsqrt(), x => 1 / Math.Sqrt(x), true),
        "Square" => (t => t.Square(), x => x * x, false),
        "Reciprocal" => (t => t.Reciprocal(), x => 1 / x, true),
        "Tanh" => (t => t.Tanh(), Math.Tanh, false),
        "Sigmoid" => (t => t.Sigmoid(), x => 1 / (1 + Math.Exp(-x)), false),
        "Silu" => (t => t.Silu(), x => x / (1 + Math.Exp(-x)), false),
        "Relu" => (t => t.Relu(), x => Math.Max(x, 0), false),
        "Scale" => (t => t.Scale(-2.5f), x => -2.5 * x, false),
        "AddScalar" => (t => t.AddScalar(0.75f), x => x + 0.75, false),
        "Pow" => (t => t.Pow(1.5f), x => Math.Pow(x, 1.5), true),
        "Clamp" => (t => t.Clamp(-0.3f, 0.4f), x => Math.Clamp(x, -0.3, 0.4), false),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void Unary_ContiguousAndStrided_MatchesScalarMath(string name)
    {
        var (op, reference, positive) = Unary(name);
        // 37 × 19 exercises the 16/8-wide vector loops and the scalar tail; the strided view the gather path.
        foreach (bool strided in new[] { false, true })
        {
            float lo = positive ? 0.05f : -4f, hi = 4f;
            var data = Rng.Floats(37 * 19, 3, lo, hi);
            using var c = Tensor.FromArray(data, [19, 37]);
            using var x = strided ? c.Transpose(0, 1) : c.View(19, 37);
            using var y = op(x);
            var xs = x.ToArray();
            var expected = xs.Select(v => reference(v)).ToArray();
            TensorAssert.Close(expected, y.ToArray(), atol: 1e-6, rtol: 3e-6, what: $"{name} strided={strided}");
        }
    }

    public static TheoryData<int[], int[]> BroadcastShapes => new()
    {
        { new[] { 3, 5 }, new[] { 3, 5 } },
        { new[] { 3, 5 }, new[] { 5 } },
        { new[] { 3, 1 }, new[] { 1, 5 } },
        { new[] { 2, 1, 7 }, new[] { 4, 1 } },
        { new[] { 1 }, new[] { 2, 3, 17 } },
        { new[] { 2, 3, 17 }, new int[0] },
        { new[] { 1, 1, 1 }, new[] { 1 } },
    };

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void Binary_Broadcasting_MatchesIndexMath(int[] sa, int[] sb)
    {
        var da = Rng.Floats((int)sa.Aggregate(1L, (p, s) => p * s), 1, 0.5f, 2f);
        var db = Rng.Floats((int)sb.Aggregate(1L, (p, s) => p * s), 2, 0.5f, 2f);
        using var a = Tensor.FromArray(da, sa);
        using var b = Tensor.FromArray(db, sb);
        var ops = new (string, Func<Tensor, Tensor, Tensor>, Func<double, double, double>)[]
        {
            ("Add", (x, y) => x + y, (x, y) => x + y),
            ("Sub", (x, y) => x - y, (x, y) => x - y),
            ("Mul", (x, y) => x * y, (x, y) => x * y),
            ("Div", (x, y) => x / y, (x, y) => x / y),
            ("Maximum", (x, y) => x.Maximum(y), Math.Max),
            ("Minimum", (x, y) => x.Minimum(y), Math.Min),
            ("Pow", (x, y) => x.Pow(y), Math.Pow),
            ("Gt", (x, y) => x.Gt(y), (x, y) => x > y ? 1 : 0),
        };
        var outShape = LLaDA.Tensors.Layout.BroadcastShapes("test", sa, sb);
        long n = outShape.Aggregate(1L, (p, s) => p * s);
        foreach (var (name, op, reference) in ops)
        {
            using var y = op(a, b);
            Assert.Equal(outShape, y.ShapeArray());
            var expected = new double[n];
            for (long i = 0; i < n; i++)
            {
                var idx = Naive.Unravel(i, outShape);
                expected[i] = reference(Naive.At(da, sa, idx), Naive.At(db, sb, idx));
            }
            TensorAssert.Close(expected, y.ToArray(), 1e-6, 1e-6, name);
        }
    }

    [Fact]
    public void Binary_BothStridedLargeTensor_MatchesContiguous()
    {
        // Large enough to run on both cores; operands are transposed views.
        using var a = Rng.Strided(1, 300, 257);
        using var b = Rng.Strided(2, 300, 257);
        using var y = a * b;
        using var ac = a.Contiguous();
        using var bc = b.Contiguous();
        var av = ac.ToArray();
        var bv = bc.ToArray();
        TensorAssert.Close(av.Select((v, i) => (double)v * bv[i]).ToArray(), y.ToArray(), 1e-7, 1e-6);
    }

    [Fact]
    public void Binary_IncompatibleShapes_ErrorNamesOpAndShapes()
    {
        using var a = Tensor.Zeros([2, 3]);
        using var b = Tensor.Zeros([4]);
        var ex = Assert.Throws<TensorException>(() => a.Add(b));
        Assert.Contains("Add", ex.Message);
        Assert.Contains("(2, 3)", ex.Message);
        Assert.Contains("(4,)", ex.Message);
    }

    [Fact]
    public void Where_AndMaskedFill_BroadcastCondition()
    {
        using var cond = Tensor.FromArray(new[] { 1, 0, 1 }, [1, 3]);
        using var a = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        using var b = Tensor.Full([2, 3], -1f);
        using var w = Tensor.Where(cond, a, b);
        Assert.Equal(new float[] { 1, -1, 3, 4, -1, 6 }, w.ToArray());
        using var m = a.MaskedFill(cond, 9f);
        Assert.Equal(new float[] { 9, 2, 9, 9, 5, 9 }, m.ToArray());
        // Integer payloads (token ids): mask id replaces masked positions.
        using var ids = Tensor.FromArray(new[] { 5, 6, 7, 8, 9, 10 }, [2, 3]);
        using var noisy = ids.MaskedFill(cond, 126336);
        Assert.Equal(new[] { 126336, 6, 126336, 126336, 9, 126336 }, noisy.ToIntArray());
    }

    [Fact]
    public void MixedBackends_ErrorNamesBackends()
    {
        var other = new LLaDA.Tensors.Cpu.CpuBackend();
        using var a = Tensor.Zeros([2]);
        using var b = Tensor.Zeros([2], backend: other);
        var ex = Assert.Throws<TensorException>(() => a.Add(b));
        Assert.Contains("different backends", ex.Message);
    }

    [Fact]
    public void WrongDType_ErrorSaysWhich()
    {
        using var ids = Tensor.FromArray(new[] { 1, 2 });
        var ex = Assert.Throws<TensorException>(() => ids.Exp());
        Assert.Contains("I32", ex.Message);
        using var logits = Tensor.Zeros([2, 3]);
        using var badTargets = Tensor.Zeros([2]);
        var ce = Assert.Throws<TensorException>(() => Tensor.CrossEntropy(logits, badTargets));
        Assert.Contains("CrossEntropy", ce.Message);
        Assert.Contains("I32", ce.Message);
    }
}
