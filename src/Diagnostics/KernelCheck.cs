using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tensors.Ops;
using LLaDA.Tensors.Random;

namespace LLaDA.Diagnostics;

/// <summary>Whether a kernel matched the CPU backend (printed PASS / FAIL).</summary>
public enum CheckStatus
{
    Pass,
    Fail,
    Skip,
}

/// <summary>Outcome of one kernel-vs-CpuBackend comparison.</summary>
/// <param name="Name">Check name ("softmax", "copy.f32-bf16", …).</param>
/// <param name="Shape">The shape it ran at.</param>
/// <param name="MaxAbsDiff">Largest |cpu − device| over all outputs (0 for exact matches).</param>
/// <param name="Status">Pass, Fail, or Skip (a kernel path this accelerator cannot run, e.g. 256-thread tiles on a small-group device).</param>
/// <param name="Detail">Why it failed or was skipped (worst element, exception), else empty.</param>
public sealed record CheckResult(string Name, string Shape, double MaxAbsDiff, CheckStatus Status, string Detail, double Milliseconds)
{
    public bool Passed => Status != CheckStatus.Fail;

    /// <summary>The status as printed: PASS, FAIL or SKIP.</summary>
    public string StatusText => Status.ToString().ToUpperInvariant();

    /// <summary>One JSON line: check, shape, max_abs_err (null when not finite), status, ok, detail, ms.</summary>
    public string ToJson() => JsonSerializer.Serialize(new
    {
        check = Name,
        shape = Shape,
        max_abs_err = double.IsFinite(MaxAbsDiff) ? MaxAbsDiff : (double?)null,
        status = StatusText,
        ok = Passed,
        detail = Detail,
        ms = Math.Round(Milliseconds, 3),
    });

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Name,-24} {Shape,-22} max|diff| {MaxAbsDiff,-10:G3} {StatusText}{(Detail.Length > 0 ? "  " + Detail : "")}");
}

/// <summary>Every IBackend primitive run on a device backend and on CpuBackend with the same seeded inputs, compared elementwise.</summary>
/// <remarks>
/// The one correctness check of the kernels, shared by the test suite (tiny shapes on ILGPU's CPU accelerator), `llada check`
/// (every check; moderate shapes on the GPU, where no test host exists) and `llada kernels check` (the "kernel.*" checks:
/// each matmul path and the attention kernels called directly, see KernelCheck.KernelPaths.cs). A check passes when every output satisfies |cpu − device| ≤ atol + rtol·|cpu| (NaN matches NaN,
/// ±∞ must match exactly); "matmul" instead holds each device element to the exact product within GemmErrorModel's bound.
/// </remarks>
public static partial class KernelCheck
{
    /// <summary>Tiny: edge sizes around the warp for the CPU accelerator (~1,700× slower than C#). Moderate: model-like sizes for a GPU.</summary>
    public enum Size { Tiny, Moderate }

    private delegate Tensor[] Runner(IBackend backend, int[] shape);

    /// <summary>Per output: the exact result (double) and each element's allowed error, for checks with an error model.</summary>
    private delegate (double[] Reference, double[] Bound)[] Exact(int[] shape);

    /// <summary>One check: with <paramref name="Exact"/> the device output is held to it element by element (atol and rtol
    /// unused), otherwise to the CPU backend's within atol + rtol·|cpu|.</summary>
    private sealed record Case(string Name, int[][] Tiny, int[][] Moderate, Runner Run, double Atol, double Rtol, Exact? Exact = null);

    /// <summary>Names of all checks, in run order.</summary>
    public static IReadOnlyList<string> Names => Cases.Select(c => c.Name).ToArray();

    /// <summary>Runs one check at every shape of the size class.</summary>
    public static List<CheckResult> Run(string name, IBackend device, Size size)
    {
        var c = Cases.FirstOrDefault(x => x.Name == name) ?? throw new ArgumentException($"no kernel check named '{name}'");
        var res = new List<CheckResult>();
        foreach (var shape in size == Size.Tiny ? c.Tiny : c.Moderate) res.Add(RunOne(c, device, shape));
        return res;
    }

    /// <summary>Runs every check (optionally only names containing <paramref name="filter"/>), reporting each result as it completes.</summary>
    public static List<CheckResult> RunAll(IBackend device, Size size, string? filter = null, Action<CheckResult>? report = null)
    {
        var all = new List<CheckResult>();
        foreach (var c in Cases)
        {
            if (filter is not null && !c.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var shape in size == Size.Tiny ? c.Tiny : c.Moderate)
            {
                var r = RunOne(c, device, shape);
                report?.Invoke(r);
                all.Add(r);
            }
        }
        return all;
    }

    private static CheckResult RunOne(Case c, IBackend device, int[] shape)
    {
        string shapeText = Check.Fmt(shape);
        var sw = Stopwatch.StartNew();
        try
        {
            using var scope = new TensorScope();
            if (c.Exact is not null) return CompareExact(c, shapeText, c.Exact(shape), c.Run(device, shape), sw);
            var expected = c.Run(CpuBackend.Default, shape);
            var actual = c.Run(device, shape);
            double maxDiff = 0;
            for (int k = 0; k < expected.Length; k++)
            {
                if (!expected[k].Shape.SequenceEqual(actual[k].Shape))
                    return new CheckResult(c.Name, shapeText, double.NaN, CheckStatus.Fail, $"output {k}: shape {Check.Fmt(actual[k].Shape)} != {Check.Fmt(expected[k].Shape)}", sw.Elapsed.TotalMilliseconds);
                var e = expected[k].ToArray();
                var a = actual[k].ToArray();
                var (diff, bad) = Compare(e, a, c.Atol, c.Rtol);
                maxDiff = Math.Max(maxDiff, diff);
                if (bad >= 0)
                    return new CheckResult(c.Name, shapeText, maxDiff, CheckStatus.Fail,
                        string.Create(CultureInfo.InvariantCulture, $"output {k} [{bad}]: cpu {e[bad]:G9}, device {a[bad]:G9} (atol {c.Atol}, rtol {c.Rtol})"), sw.Elapsed.TotalMilliseconds);
            }
            return new CheckResult(c.Name, shapeText, maxDiff, CheckStatus.Pass, "", sw.Elapsed.TotalMilliseconds);
        }
        catch (SkipCheck e)
        {
            return new CheckResult(c.Name, shapeText, 0, CheckStatus.Skip, e.Message, sw.Elapsed.TotalMilliseconds);
        }
        catch (Exception e)
        {
            return new CheckResult(c.Name, shapeText, double.NaN, CheckStatus.Fail, $"{e.GetType().Name}: {e.Message}", sw.Elapsed.TotalMilliseconds);
        }
    }

    private static CheckResult CompareExact(Case c, string shapeText, (double[] Reference, double[] Bound)[] exact, Tensor[] actual, Stopwatch sw)
    {
        double maxDiff = 0;
        for (int k = 0; k < exact.Length; k++)
        {
            var (reference, bound) = exact[k];
            var a = actual[k].ToArray();
            if (a.Length != reference.Length)
                return new CheckResult(c.Name, shapeText, double.NaN, CheckStatus.Fail, $"output {k}: {a.Length} elements, expected {reference.Length}", sw.Elapsed.TotalMilliseconds);
            for (int i = 0; i < a.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(reference[i] - a[i]));
            var (bad, ratio) = GemmErrorModel.Compare(reference, bound, a);
            if (bad >= 0)
                return new CheckResult(c.Name, shapeText, maxDiff, CheckStatus.Fail,
                    string.Create(CultureInfo.InvariantCulture, $"output {k} [{bad}]: exact {reference[bad]:G9}, device {a[bad]:G9} (bound {bound[bad]:G3}, error/bound {ratio:G3})"), sw.Elapsed.TotalMilliseconds);
        }
        return new CheckResult(c.Name, shapeText, maxDiff, CheckStatus.Pass, "", sw.Elapsed.TotalMilliseconds);
    }

    /// <summary>Max |e − a| and the index of the worst element out of tolerance (−1 when all pass).</summary>
    private static (double MaxDiff, int Worst) Compare(float[] e, float[] a, double atol, double rtol)
    {
        double max = 0, worstRatio = 0;
        int worst = -1;
        for (int i = 0; i < e.Length; i++)
        {
            double x = e[i], y = a[i];
            if (double.IsNaN(x) && double.IsNaN(y)) continue;
            if (double.IsInfinity(x) || double.IsInfinity(y))
            {
                if (x == y) continue;
                return (double.PositiveInfinity, i);
            }
            double d = Math.Abs(x - y);
            if (double.IsNaN(d)) return (double.NaN, i);
            max = Math.Max(max, d);
            double ratio = d / (atol + rtol * Math.Abs(x));
            if (ratio > 1 && ratio > worstRatio)
            {
                worstRatio = ratio;
                worst = i;
            }
        }
        return (max, worst);
    }

    // ---------------------------------------------------------------- inputs

    /// <summary>U[lo, hi) floats from System.Random(seed) on the CPU, moved to the backend.</summary>
    private static Tensor Uniform(IBackend b, int seed, int[] shape, float lo = -2f, float hi = 2f)
    {
        long n = 1;
        foreach (int s in shape) n *= s;
        var r = new System.Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = lo + (float)r.NextDouble() * (hi - lo);
        return Tensor.FromSpan<float>(a, shape, DType.F32, b);
    }

    private static Tensor Ints(IBackend b, int seed, int[] shape, int lo, int hi)
    {
        long n = 1;
        foreach (int s in shape) n *= s;
        var r = new System.Random(seed);
        var a = new int[n];
        for (long i = 0; i < n; i++) a[i] = r.Next(lo, hi);
        return Tensor.FromSpan<int>(a, shape, DType.I32, b);
    }

    /// <summary>A non-contiguous view with the given shape: the transpose of (…, last, second-last) storage.</summary>
    private static Tensor Transposed(IBackend b, int seed, int[] shape, float lo = -2f, float hi = 2f)
    {
        var swapped = (int[])shape.Clone();
        (swapped[^1], swapped[^2]) = (swapped[^2], swapped[^1]);
        return Uniform(b, seed, swapped, lo, hi).Transpose(-1, -2);
    }

    private static int[][] S(params int[][] shapes) => shapes;

    // ---------------------------------------------------------------- the checks

    private static readonly Case[] Cases = BuildCases();

    private static Case Unary<TOp>(string name, TOp op, float lo = -2f, float hi = 2f, double atol = 1e-6, double rtol = 1e-5) where TOp : struct, IUnaryOp
        => new("unary." + name, S([33]), S([4096, 1024]), (b, s) => [Uniform(b, 11, s, lo, hi).Map(op)], atol, rtol);

    private static Case Binary<TOp>(string name, TOp op, float lo = -2f, float hi = 2f, double atol = 1e-6, double rtol = 1e-5) where TOp : struct, IBinaryOp
        => new("binary." + name, S([33], [257]), S([4096, 1024]), (b, s) => [Tensor.Zip(op, Uniform(b, 12, s, lo, hi), Uniform(b, 13, s, lo, hi))], atol, rtol);

    private static Case[] BuildCases() =>
    [
        // ---- copies and dtype conversions (strided views on both sides)
        new("copy.transpose", S([3, 33, 2], [1, 5, 32]), S([64, 512, 512]), (b, s) => [Transposed(b, 1, s).Contiguous()], 0, 0),
        new("copy.narrow-dst", S([4, 5]), S([1024, 4096]), (b, s) =>
        {
            var x = Uniform(b, 2, s);
            var y = Uniform(b, 3, [s[0], s[1] - 1]);
            return [Tensor.Cat([x, y], 1)];
        }, 0, 0),
        new("copy.f32-bf16", S([37]), S([1 << 22]), (b, s) => [Uniform(b, 4, s, -70000f, 70000f).Cast(DType.BF16).Cast(DType.F32)], 0, 0),
        new("copy.f32-f16", S([37]), S([1 << 22]), (b, s) => [Uniform(b, 5, s, -70000f, 70000f).Cast(DType.F16).Cast(DType.F32)], 0, 0),
        new("copy.f16-small", S([37]), S([1 << 22]), (b, s) => [Uniform(b, 6, s, -1e-4f, 1e-4f).Cast(DType.F16).Cast(DType.F32)], 0, 0),
        new("copy.f32-i32", S([37]), S([1 << 22]), (b, s) => [Uniform(b, 7, s, -1000f, 1000f).Cast(DType.I32).Cast(DType.F32)], 0, 0),
        new("copy.i32-bf16-f16", S([37]), S([1 << 22]), (b, s) =>
        {
            var i = Ints(b, 8, s, -100000, 100000);
            return [i.Cast(DType.BF16).Cast(DType.F32), i.Cast(DType.F16).Cast(DType.F32)];
        }, 0, 0),
        new("copy.bf16-transpose", S([3, 4]), S([2048, 2048]), (b, s) =>
        {
            using var h = Transposed(b, 9, s).Cast(DType.BF16);
            return [h.Transpose(0, 1).Contiguous(DType.F16).Cast(DType.F32)];
        }, 0, 0),
        new("fill", S([5]), S([1 << 22]), (b, s) =>
            [Tensor.Full(s, 1.5f, DType.F32, b), Tensor.Full(s, -3.7f, DType.I32, b).Cast(DType.F32),
             Tensor.Full(s, 3.14159f, DType.BF16, b).Cast(DType.F32), Tensor.Full(s, 3.14159f, DType.F16, b).Cast(DType.F32)], 0, 0),

        // ---- unary functors (every IUnaryOp), then a strided one
        Unary("neg", new NegOp()), Unary("abs", new AbsOp()), Unary("exp", new ExpOp()),
        Unary("log", new LogOp(), 0.01f, 4f), Unary("sqrt", new SqrtOp(), 0f, 4f), Unary("rsqrt", new RsqrtOp(), 0.01f, 4f),
        Unary("square", new SquareOp()), Unary("reciprocal", new ReciprocalOp(), 0.1f, 4f), Unary("tanh", new TanhOp()),
        Unary("sigmoid", new SigmoidOp()), Unary("silu", new SiluOp()), Unary("relu", new ReluOp()), Unary("step", new StepOp()),
        Unary("scale", new ScaleOp(-2.5f)), Unary("addscalar", new AddScalarOp(0.75f)), Unary("powscalar", new PowScalarOp(1.7f), 0f, 3f),
        Unary("clamp", new ClampOp(-0.5f, 1f)), Unary("identity", new IdentityOp()),
        new("unary.strided", S([3, 33], [2, 3, 5]), S([1024, 4096]), (b, s) => [Transposed(b, 14, s).Map(new SiluOp())], 1e-6, 1e-5),

        // ---- binary functors (every IBinaryOp), broadcasting
        Binary("add", new AddOp()), Binary("sub", new SubOp()), Binary("mul", new MulOp()), Binary("div", new DivOp(), 0.5f, 2f),
        Binary("maximum", new MaximumOp()), Binary("minimum", new MinimumOp()), Binary("pow", new PowOp(), 0.1f, 2f),
        Binary("gt", new GreaterOp()), Binary("lt", new LessOp()),
        new("binary.eq", S([33]), S([4096, 1024]), (b, s) => [Ints(b, 61, s, 0, 3).Cast(DType.F32).Eq(Ints(b, 62, s, 0, 3).Cast(DType.F32))], 0, 0),
        new("binary.broadcast", S([3, 1, 33], [1, 4, 1]), S([64, 1, 4096]), (b, s) =>
        {
            var x = Uniform(b, 15, s);
            var row = Uniform(b, 16, [s[^1]]);
            var col = Uniform(b, 17, [s[0], s[1], 1]);
            return [x.Add(row), x.Mul(col), Transposed(b, 18, [s[0], s[^1]]).Sub(row)];
        }, 1e-6, 1e-5),

        // ---- where
        new("where", S([3, 33]), S([1024, 4096]), (b, s) =>
        {
            var cf = Uniform(b, 19, s).Gt(Tensor.Scalar(0f, b));                          // F32 0/1
            var ci = Ints(b, 20, [s[^1]], 0, 2);                                          // I32, broadcast over rows
            var x = Uniform(b, 21, s);
            var y = Uniform(b, 22, [s[0], 1]);
            var ix = Ints(b, 23, s, -9, 9);
            return [Tensor.Where(cf, x, y), Tensor.Where(ci, x, Transposed(b, 24, s)), Tensor.Where(ci, ix, Ints(b, 25, [1], 5, 6)).Cast(DType.F32), x.MaskedFill(ci, -1e9f)];
        }, 0, 0),

        // ---- reductions along every kind of dim
        new("reduce.last", S([3, 1], [2, 31], [2, 32], [1, 257]), S([256, 32768]), (b, s) =>
        {
            var x = Uniform(b, 26, s);
            return [x.Sum(-1), x.Mean(-1), x.Max(-1), x.Min(-1)];
        }, 2e-3, 1e-5), // sums of 32 K values ≈ ±200: summation orders differ by ~1e-4 absolute
        new("reduce.middle", S([2, 5, 3], [1, 33, 2]), S([64, 512, 256]), (b, s) =>
        {
            var x = Uniform(b, 27, s);
            return [x.Sum(1), x.Mean(1), x.Max(0), x.Min(1)];
        }, 2e-4, 1e-5),
        new("argmax", S([3, 33], [2, 257], [2, 5, 3]), S([256, 32768]), (b, s) =>
        {
            var x = Uniform(b, 28, s);
            return [x.ArgMax(-1).Cast(DType.F32), x.ArgMax(0).Cast(DType.F32)];
        }, 0, 0),
        new("topk", S([3, 33], [1, 5]), S([64, 4096]), (b, s) =>
        {
            var (v, i) = Uniform(b, 29, s).TopK(Math.Min(5, s[^1]));
            return [v, i.Cast(DType.F32)];
        }, 0, 0),

        // ---- fused transformer primitives
        new("softmax", S([3, 1], [2, 31], [2, 33], [1, 130], [1, 257]), S([256, 32768]), (b, s) =>
        {
            var x = Uniform(b, 30, s, -8f, 8f);
            var y = x.Softmax();
            var ly = x.LogSoftmax();
            var dy = Uniform(b, 31, s);
            return [y, ly, Tensor.SoftmaxBackward(y, dy, false), Tensor.SoftmaxBackward(ly, dy, true)];
        }, 1e-6, 1e-4),
        new("softmax.dim0", S([5, 3]), S([4096, 256]), (b, s) => [Uniform(b, 32, s).Softmax(0)], 1e-6, 1e-4),
        new("rmsnorm", S([3, 32], [1, 130], [1, 1025]), S([2048, 4096]), (b, s) =>
        {
            var x = Uniform(b, 33, s);
            var w = Uniform(b, 34, [s[^1]], 0.5f, 1.5f);
            var (y, rstd) = x.RmsNorm(w, 1e-5f);
            var (dx, dw) = Tensor.RmsNormBackward(Uniform(b, 35, s), x, w, rstd);
            return [y, rstd, dx, dw];
        }, 3e-4, 1e-4), // dweight sums 2 K rows in a different (chunked) order than the CPU
        new("rope", S([2, 3, 2, 8]), S([2, 512, 32, 128]), (b, s) =>
        {
            var x = Uniform(b, 36, s);
            return [x.Rope(10000f), x.Rope(500000f, 7), x.RopeBackward(10000f, 3)];
        }, 1e-6, 1e-5),
        new("silugate", S([33], [257]), S([2048, 4096]), (b, s) =>
        {
            var g = Uniform(b, 37, s, -6f, 6f);
            var u = Uniform(b, 38, s);
            var (dg, du) = Tensor.SiluGateBackward(g, u, Uniform(b, 39, s));
            return [Tensor.SiluGate(g, u), dg, du];
        }, 1e-6, 1e-5),
        new("crossentropy", S([5, 33], [3, 129]), S([256, 32000]), (b, s) =>
        {
            int n = s[0], v = s[1];
            var logits = Uniform(b, 40, s, -6f, 6f);
            var t = Ints(b, 41, [n], -1, v);                       // some rows ignored (target −1)
            var w = Uniform(b, 42, [n], 0f, 2f);
            var (loss, lse) = Tensor.CrossEntropy(logits, t, w);
            var dl = Tensor.CrossEntropyBackward(logits, t, w, lse, Uniform(b, 43, [n]));
            return [loss, lse, dl];
        }, 1e-5, 1e-4),
        new("embedding", S([7, 33]), S([8192, 1024]), (b, s) =>
        {
            int v = s[0], c = s[1];
            var w = Uniform(b, 44, s);
            var ids = Ints(b, 45, [3, v / 2 + 1], 0, v);        // repeated ids
            var y = Tensor.Embedding(w, ids);
            var dw = Tensor.Zeros(s, DType.F32, b);
            dw.IndexAdd(ids, Uniform(b, 46, [3, v / 2 + 1, c]));
            return [y, dw];
        }, 1e-5, 1e-5),
        new("gather-scatter", S([3, 33]), S([512, 4096]), (b, s) =>
        {
            var x = Uniform(b, 47, s);
            var idx = Ints(b, 48, [s[0], 9], 0, s[1]);
            var dst = Tensor.Zeros(s, DType.F32, b);
            dst.ScatterAdd(idx, Uniform(b, 49, [s[0], 9]));
            return [x.Gather(idx), dst];
        }, 1e-5, 1e-5),
        new("adamw", S([255], [1]), S([1 << 22]), (b, s) =>
        {
            var p = Uniform(b, 50, s);
            var m = Uniform(b, 51, s, -0.1f, 0.1f);
            var v = Uniform(b, 52, s, 0f, 0.01f);
            p.AdamWStep(Uniform(b, 53, s), m, v, new AdamWStep(1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 7));
            return [p, m, v];
        }, 1e-6, 1e-5),
        new("random.uniform", S([1], [37]), S([1 << 22]), (b, s) => [Tensor.Rand(s, 1234, 5, b), Tensor.Rand(s, ulong.MaxValue - 3, 1UL << 40, b)], 0, 0),
        new("random.normal", S([1], [37]), S([1 << 22]), (b, s) => [Tensor.Randn(s, 1234, 5, b)], 1e-5, 1e-5),

        // ---- diffusion kernels: the device against CpuBackend's references (TokenMasking, TokenSampler)
        new("masking", S([3, 37]), S([64, 4096]), Masking, 0, 0),
        new("sampling", S([3, 33], [2, 130]), S([256, 32000]), Sampling, 1e-6, 1e-5),

        // ---- matmul and attention
        new("matmul", S([1, 3, 5, 33], [2, 33, 4, 7]), S([1, 1024, 1024, 1024], [8, 256, 256, 64]), (b, s) =>
        {
            int bt = s[0], m = s[1], k = s[2], n = s[3];
            var a = Uniform(b, 54, [bt, m, k], -1f, 1f);
            var w = Uniform(b, 55, [bt, k, n], -1f, 1f);
            var wt = Transposed(b, 56, [k, n], -1f, 1f);
            return [a.MatMul(w), a.MatMul(wt)];
        }, 0, 0, MatMulExact),
        // The mixed GEMM through IBackend.MatMul (BF16 weights as nn.Linear stores them, x·Wᵀ, and the backward's dY·W):
        // on CUDA the tensor-core path (activations rounded to bfloat16 per tile, hence the 2⁻⁹ allowance), else the generic kernel.
        new("matmul.bf16-weight", S([1, 3, 5, 33], [2, 33, 4, 7], [1, 2, 40, 300]), S([1, 128, 4096, 1024], [1, 8, 4096, 512]), (b, s) =>
        {
            int bt = s[0], m = s[1], k = s[2], n = s[3];
            var a = Uniform(b, 65, [bt, m, k], -1f, 1f);
            var w = Uniform(b, 66, [n, k], -1f, 1f).Cast(DType.BF16);
            var dy = Uniform(b, 67, [bt, m, n], -1f, 1f);
            return [a.MatMul(w.MT), dy.MatMul(w)];
        }, 0, 0, MatMulBf16Exact),
        new("attention", S([1, 2, 1, 5, 8], [2, 4, 2, 33, 16]), S([2, 8, 2, 256, 64]), (b, s) =>
        {
            int bt = s[0], nh = s[1], nkv = s[2], t = s[3], hs = s[4];
            var q = Uniform(b, 57, [bt, t, nh, hs], -1f, 1f).Transpose(1, 2);
            var k = Uniform(b, 58, [bt, t, nkv, hs], -1f, 1f).Transpose(1, 2);
            var v = Uniform(b, 59, [bt, t, nkv, hs], -1f, 1f).Transpose(1, 2);
            var (o, lse) = Tensor.Attention(q, k, v, AttnMask.Causal);
            var (dq, dk, dv) = Tensor.AttentionBackward(q, k, v, o, lse, Uniform(b, 60, [bt, nh, t, hs], -1f, 1f), AttnMask.Causal);
            return [o, lse, dq, dk, dv];
        }, 1e-4, 1e-4),
        .. KernelPathCases(),
    ];

    /// <summary>The "matmul" check's products in double with GemmErrorModel's bound: the same seeded inputs, read back on the host.</summary>
    private static (double[], double[])[] MatMulExact(int[] s)
    {
        int bt = s[0], m = s[1], k = s[2], n = s[3];
        var cpu = CpuBackend.Default;
        float[] a = Uniform(cpu, 54, [bt, m, k], -1f, 1f).ToArray();
        float[] w = Uniform(cpu, 55, [bt, k, n], -1f, 1f).ToArray();
        float[] wtStorage = Uniform(cpu, 56, [n, k], -1f, 1f).ToArray();   // wt (K, N) is the transpose of this, shared by every batch entry
        float[] c0 = new float[bt * m * n];
        return
        [
            GemmErrorModel.Reference(bt, m, n, k, 1f, a, 0, k, (long)m * k, false, w, 0, n, (long)k * n, false, 0f, c0, 0, n, (long)m * n),
            GemmErrorModel.Reference(bt, m, n, k, 1f, a, 0, k, (long)m * k, false, wtStorage, 0, k, 0, true, 0f, c0, 0, n, (long)m * n),
        ];
    }

    /// <summary>The "matmul.bf16-weight" products in double from the same seeded inputs (the weights rounded to BF16 as the
    /// device sees them), each element allowed the tensor-core bound plus the activations' rounding to bfloat16.</summary>
    private static (double[], double[])[] MatMulBf16Exact(int[] s)
    {
        int bt = s[0], m = s[1], k = s[2], n = s[3];
        var cpu = CpuBackend.Default;
        float[] a = Uniform(cpu, 65, [bt, m, k], -1f, 1f).ToArray();
        float[] w = Uniform(cpu, 66, [n, k], -1f, 1f).Cast(DType.BF16).Cast(DType.F32).ToArray();
        float[] dy = Uniform(cpu, 67, [bt, m, n], -1f, 1f).ToArray();
        return
        [
            GemmErrorModel.Reference(1, bt * m, n, k, 1f, a, 0, k, 0, false, w, 0, k, 0, true, 0f, new float[bt * m * n], 0, n, 0,
                GemmErrorModel.TruncatedRoundoff, GemmErrorModel.Bf16Rounding),
            GemmErrorModel.Reference(1, bt * m, k, n, 1f, dy, 0, n, 0, false, w, 0, k, 0, false, 0f, new float[bt * m * k], 0, k, 0,
                GemmErrorModel.TruncatedRoundoff, GemmErrorModel.Bf16Rounding),
        ];
    }

    // ---------------------------------------------------------------- diffusion kernels and their references

    private const int MaskId = 7;

    /// <summary>Pre-training (random cut forced) and SFT noise of ids (B, L) through <see cref="Tensor.MaskTokens"/>: the device's kernel against CpuBackend (<see cref="TokenMasking.Reference"/>).</summary>
    private static Tensor[] Masking(IBackend b, int[] s)
    {
        int batch = s[0], l = s[1];
        var ids = new int[batch * l];
        var r = new System.Random(63);
        for (int i = 0; i < ids.Length; i++) ids[i] = r.Next(0, 100);
        var prompts = new int[batch];
        for (int i = 0; i < batch; i++) prompts[i] = r.Next(0, l);
        var pm = new float[batch];
        for (int i = 0; i < batch; i++) pm[i] = (1 - 1e-3f) * Philox.ToUniform(Philox.Word(91, TokenMasking.Offset(3), 2 + i)) + 1e-3f;
        int cut = TokenMasking.CutLength(91, 3, l, 1f);
        var res = new List<Tensor>();
        foreach (var (p, c, step) in new[] { ((int[]?)null, cut, 3UL), (prompts, l, 4UL) })
        {
            using var scope = new TensorScope();
            var tIds = Tensor.FromArray(ids, [batch, l], b);
            var tPm = Tensor.FromArray(pm, [batch], b);
            var tP = p is null ? null : Tensor.FromArray(p, [batch], b);
            var (noisy, w) = Tensor.MaskTokens(tIds, tPm, tP, c, MaskId, 91, step);
            res.Add(noisy.Cast(DType.F32).KeepAlive());
            res.Add(w.KeepAlive());
        }
        return res.ToArray();
    }

    /// <summary>IBackend.SampleTokens of logits (N, V) as one row of N positions, at T = 0 and T = 0.8, with and without CFG: the device against CpuBackend (the float64 reference).</summary>
    private static Tensor[] Sampling(IBackend b, int[] s)
    {
        int rows = s[0], v = s[1];
        using var lt = Uniform(CpuBackend.Default, 64, [2, rows, v], -5f, 5f);
        var logits = lt.ToArray();
        logits[1] = float.NegativeInfinity;
        var res = new List<Tensor>();
        using var scope = new TensorScope();
        var all = Tensor.FromSpan<float>(logits, [2, rows, v], DType.F32, b);
        foreach (var (temperature, cfg) in new[] { (0.0, 0.0), (0.8, 0.0), (0.8, 1.5) })
        {
            var x = cfg > 0 ? all : all.Narrow(0, 0, 1);
            var (tokens, scores) = Tensor.SampleTokens(x, 1, new TokenSampling(temperature, cfg, 5, 3, 7, TokenScore.Probability));
            var sc = new double[rows];
            b.Download<double>(scores, sc);
            res.Add(tokens.Cast(DType.F32).To(CpuBackend.Default).KeepAlive());
            res.Add(Tensor.FromArray(Array.ConvertAll(sc, z => (float)z), [rows], CpuBackend.Default).KeepAlive());
        }
        return res.ToArray();
    }
}
