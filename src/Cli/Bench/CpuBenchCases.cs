using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Bench;

/// <summary>The workloads of `llada bench`, one method per op family. Inputs are made once; each timed call runs in a TensorScope so outputs return to the pool.</summary>
internal static class CpuBenchCases
{
    public static IEnumerable<BenchResult> Run(string family, double budget, bool quick) => family switch
    {
        "matmul" => MatMul(budget, quick),
        "attention" => Attention(budget, quick),
        "elementwise" => Elementwise(budget),
        "reduce" => Reduce(budget),
        "softmax" => Softmax(budget),
        "rmsnorm" => RmsNorm(budget),
        "rope" => Rope(budget),
        "crossentropy" => CrossEntropy(budget),
        "embedding" => Embedding(budget),
        "adamw" => AdamW(budget),
        "step" => Step(budget, quick),
        _ => [],
    };

    private static BenchResult Time(string op, string shape, double flops, double bytes, double budget, Action body, string? note = null)
    {
        var (med, best, it) = BenchTimer.Measure(() =>
        {
            using var scope = new TensorScope();
            body();
        }, budget);
        return new BenchResult(op, shape, med, best, flops, bytes, it, note);
    }

    // ---------------------------------------------------------------- GEMM

    private static IEnumerable<BenchResult> MatMul(double budget, bool quick)
    {
        var cases = new List<(int M, int K, int N, bool TA, bool TB, string Label)>
        {
            (256, 256, 256, false, false, ""),
            (512, 512, 512, false, false, ""),
            (1024, 1024, 1024, false, false, ""),
            (1024, 1024, 1024, false, true, ""),
            (1024, 1024, 1024, true, false, ""),
            (1024, 1024, 1024, true, true, ""),
            (4096, 512, 2048, false, false, "fwd x·W"),
            (4096, 2048, 512, false, true, "bwd dX = dY·Wᵀ"),
            (512, 4096, 2048, true, false, "bwd dW = Xᵀ·dY"),
            (64, 64, 64, false, false, ""),
        };
        if (quick) cases.RemoveAll(c => c.M == 1024 && (c.TA || c.TB));
        foreach (var (m, k, n, ta, tb, label) in cases)
        {
            using var a = ta ? Tensor.Rand([k, m], 1).Transpose(0, 1) : Tensor.Rand([m, k], 1);
            using var b = tb ? Tensor.Rand([n, k], 2).Transpose(0, 1) : Tensor.Rand([k, n], 2);
            using var c = Tensor.Empty([m, n]);
            string shape = $"M{m} K{k} N{n} {(ta ? "T" : "N")}{(tb ? "T" : "N")}";
            yield return Time("matmul", shape, 2.0 * m * n * k, 0, budget, () => c.MatMulInto(a, b), label == "" ? null : label);
        }
        // Batched products of attention-sized heads: (B·H, T, HS)·(B·H, HS, T).
        {
            using var q = Tensor.Rand([64, 256, 64], 3);
            using var kt = Tensor.Rand([64, 256, 64], 4).Transpose(1, 2);
            using var s = Tensor.Empty([64, 256, 256]);
            yield return Time("matmul.batched", "64×(M256 K64 N256) NT", 2.0 * 64 * 256 * 256 * 64, 0, budget, () => s.MatMulInto(q, kt));
        }
    }

    // ---------------------------------------------------------------- attention

    private static IEnumerable<BenchResult> Attention(double budget, bool quick)
    {
        var cases = new List<(int B, int H, int T, int HS, AttnMask Mask)> { (8, 8, 256, 64, AttnMask.None), (8, 8, 256, 64, AttnMask.Causal) };
        if (!quick) cases.Add((1, 8, 1024, 64, AttnMask.None));
        foreach (var (b, h, t, hs, mask) in cases)
        {
            using var q = Tensor.Randn([b, t, h, hs], 1).Transpose(1, 2);
            using var k = Tensor.Randn([b, t, h, hs], 2).Transpose(1, 2);
            using var v = Tensor.Randn([b, t, h, hs], 3).Transpose(1, 2);
            using var dO = Tensor.Randn([b, t, h, hs], 4).Transpose(1, 2);
            double fwd = 4.0 * b * h * t * t * hs;
            if (mask == AttnMask.Causal) fwd /= 2;
            string shape = $"B{b} H{h} T{t} HS{hs}{(mask == AttnMask.Causal ? " causal" : "")}";
            yield return Time("attention.fwd", shape, fwd, 0, budget, () => Tensor.Attention(q, k, v, mask));
            var (o, lse) = Tensor.Attention(q, k, v, mask);
            using (o)
            using (lse)
                yield return Time("attention.fwd+bwd", shape, 3 * fwd, 0, budget, () =>
                {
                    var (o2, lse2) = Tensor.Attention(q, k, v, mask);
                    Tensor.AttentionBackward(q, k, v, o2, lse2, dO, mask);
                }, "flops = 3 × forward");
        }
    }

    // ---------------------------------------------------------------- bandwidth-bound families

    private const int Big = 1 << 24; // 16 Mi floats = 64 MiB per operand

    private static IEnumerable<BenchResult> Elementwise(double budget)
    {
        using var a = Tensor.Rand([4096, 4096], 1);
        using var b = Tensor.Rand([4096, 4096], 2);
        using var row = Tensor.Rand([4096], 3);
        using var at = a.Transpose(0, 1);
        yield return Time("add", "16M", 0, 12.0 * Big, budget, () => a.Add(b));
        yield return Time("mul.broadcast-row", "(4096, 4096) × (4096,)", 0, 8.0 * Big, budget, () => a.Mul(row));
        yield return Time("exp", "16M", 0, 8.0 * Big, budget, () => a.Exp());
        yield return Time("silu_gate", "16M", 0, 12.0 * Big, budget, () => Tensor.SiluGate(a, b));
        yield return Time("contiguous.transpose", "(4096, 4096)ᵀ", 0, 8.0 * Big, budget, () => at.Contiguous());
    }

    private static IEnumerable<BenchResult> Reduce(double budget)
    {
        using var a = Tensor.Rand([4096, 4096], 1);
        yield return Time("sum.lastdim", "(4096, 4096) → (4096,)", 0, 4.0 * Big, budget, () => a.Sum(-1));
        yield return Time("sum.firstdim", "(4096, 4096) → (4096,)", 0, 4.0 * Big, budget, () => a.Sum(0));
        yield return Time("max.lastdim", "(4096, 4096) → (4096,)", 0, 4.0 * Big, budget, () => a.Max(-1));
        using var v = Tensor.Rand([8, 126464], 2);
        yield return Time("argmax.vocab", "(8, 126464)", 0, 4.0 * v.Numel, budget, () => v.ArgMax(-1));
    }

    private static IEnumerable<BenchResult> Softmax(double budget)
    {
        using var a = Tensor.Randn([4096, 4096], 1);
        using var y = a.Softmax();
        using var dy = Tensor.Randn([4096, 4096], 2);
        yield return Time("softmax", "(4096, 4096)", 0, 8.0 * Big, budget, () => a.Softmax());
        yield return Time("log_softmax", "(4096, 4096)", 0, 8.0 * Big, budget, () => a.LogSoftmax());
        yield return Time("softmax.bwd", "(4096, 4096)", 0, 12.0 * Big, budget, () => Tensor.SoftmaxBackward(y, dy, false));
    }

    private static IEnumerable<BenchResult> RmsNorm(double budget)
    {
        using var x = Tensor.Randn([16384, 1024], 1);
        using var w = Tensor.Rand([1024], 2);
        using var dy = Tensor.Randn([16384, 1024], 3);
        var (_, rstd) = x.RmsNorm(w, 1e-5f);
        using (rstd)
        {
            yield return Time("rmsnorm.fwd", "(16384, 1024)", 0, 8.0 * Big, budget, () => x.RmsNorm(w, 1e-5f));
            yield return Time("rmsnorm.bwd", "(16384, 1024)", 0, 12.0 * Big, budget, () => Tensor.RmsNormBackward(dy, x, w, rstd));
        }
    }

    private static IEnumerable<BenchResult> Rope(double budget)
    {
        using var x = Tensor.Randn([16, 256, 64, 64], 1);
        yield return Time("rope", "(B16, T256, H64, HS64)", 0, 8.0 * x.Numel, budget, () => x.Rope(500000f));
    }

    private static IEnumerable<BenchResult> CrossEntropy(double budget)
    {
        foreach (int v in new[] { 4096, 32000 })
        {
            int n = v == 4096 ? 4096 : 1024;
            using var logits = Tensor.Randn([n, v], 1);
            using var targets = Tensor.FromArray(Enumerable.Range(0, n).Select(i => i * 7919 % v).ToArray());
            using var dloss = Tensor.Ones([n]);
            var (_, lse) = Tensor.CrossEntropy(logits, targets);
            using (lse)
            {
                yield return Time("cross_entropy.fwd", $"N{n} V{v}", 0, 4.0 * n * v, budget, () => Tensor.CrossEntropy(logits, targets));
                yield return Time("cross_entropy.bwd", $"N{n} V{v}", 0, 8.0 * n * v, budget, () => Tensor.CrossEntropyBackward(logits, targets, null, lse, dloss));
            }
        }
    }

    private static IEnumerable<BenchResult> Embedding(double budget)
    {
        using var w = Tensor.Randn([4096, 512], 1);
        using var ids = Tensor.FromArray(Enumerable.Range(0, 4096).Select(i => i * 2654435 % 4096).ToArray());
        using var g = Tensor.Randn([4096, 512], 2);
        using var dw = Tensor.Zeros([4096, 512]);
        yield return Time("embedding.gather", "4096 ids × (4096, 512)", 0, 8.0 * 4096 * 512, budget, () => Tensor.Embedding(w, ids));
        yield return Time("embedding.scatter_add", "4096 ids × (4096, 512)", 0, 12.0 * 4096 * 512, budget, () => dw.IndexAdd(ids, g));
    }

    private static IEnumerable<BenchResult> AdamW(double budget)
    {
        using var p = Tensor.Randn([Big], 1);
        using var g = Tensor.Randn([Big], 2);
        using var m = Tensor.Zeros([Big]);
        using var v = Tensor.Zeros([Big]);
        int step = 0;
        yield return Time("adamw", "16M params", 0, 28.0 * Big, budget, () => p.AdamWStep(g, m, v, new AdamWStep(1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, ++step)));
    }

    // ---------------------------------------------------------------- a training-like step: time and fresh memory

    private static IEnumerable<BenchResult> Step(double budget, bool quick)
    {
        // One pre-norm transformer block (d 256, 4 heads, MLP 1024, T 256, B 4) + LM head (V 4096), forward and backward.
        const int B = 4, T = 256, C = 256, H = 4, HS = C / H, M = 1024, V = 4096;
        var backend = CpuBackend.Default;
        using var wte = new Variable(Tensor.Randn([V, C], 1) * 0.02f, true, "wte");
        var names = new[] { "q", "k", "v", "o", "gate", "up", "down", "head" };
        var shapes = new[] { new[] { C, C }, [C, C], [C, C], [C, C], [M, C], [M, C], [C, M], [V, C] };
        var ws = names.Select((n, i) => new Variable(Tensor.Randn(shapes[i], (ulong)(10 + i)) * 0.02f, true, n)).ToArray();
        using var n1 = new Variable(Tensor.Ones([C]), true, "n1");
        using var n2 = new Variable(Tensor.Ones([C]), true, "n2");
        using var ids = Tensor.FromArray(Enumerable.Range(0, B * T).Select(i => i * 31 % V).ToArray(), [B, T]);
        using var targets = Tensor.FromArray(Enumerable.Range(0, B * T).Select(i => (i * 17 + 3) % V).ToArray());
        using var weights = Tensor.Full([B * T], 1f / (B * T));

        void TrainStep()
        {
            using var tape = new Tape();
            var x = F.Embedding(wte, ids);                                     // (B, T, C)
            var a = F.RmsNorm(x, n1, 1e-5f);
            var q = F.Rope(F.Reshape(F.Linear(a, ws[0]), B, T, H, HS), 10000f); // (B, T, H, HS)
            var k = F.Rope(F.Reshape(F.Linear(a, ws[1]), B, T, H, HS), 10000f);
            var v = F.Reshape(F.Linear(a, ws[2]), B, T, H, HS);
            var o = F.Attention(F.Transpose(q, 1, 2), F.Transpose(k, 1, 2), F.Transpose(v, 1, 2)); // (B, H, T, HS)
            x = F.Add(x, F.Linear(F.Reshape(F.Transpose(o, 1, 2), B, T, C), ws[3]));
            var f = F.RmsNorm(x, n2, 1e-5f);
            x = F.Add(x, F.Linear(F.SiluGate(F.Linear(f, ws[4]), F.Linear(f, ws[5])), ws[6]));
            var logits = F.Linear(F.Reshape(x, B * T, C), ws[7]);               // (B·T, V)
            var loss = F.Sum(F.CrossEntropy(logits, targets, weights));
            tape.Backward(loss);
        }

        // Warm up the pool and the JIT, then count what a steady-state step takes.
        for (int i = 0; i < 3; i++)
        {
            using var s = new TensorScope();
            TrainStep();
        }
        long fresh0 = backend.Pool.FreshBytes;
        long managed0 = GC.GetTotalAllocatedBytes(true);
        const int steps = 5;
        for (int i = 0; i < steps; i++)
        {
            using var s = new TensorScope();
            TrainStep();
        }
        long freshPerStep = (backend.Pool.FreshBytes - fresh0) / steps;
        long managedPerStep = (GC.GetTotalAllocatedBytes(true) - managed0) / steps;
        foreach (var w in ws) w.Dispose();
        double tokens = B * T;
        var r = Time("train_step.block", $"B{B} T{T} C{C} H{H} MLP{M} V{V}", 0, 0, budget, TrainStep);
        yield return r with { Note = $"{tokens / (r.MedianMs / 1000):F0} tok/s; fresh pool bytes/step {freshPerStep}; managed bytes/step {managedPerStep}" };
        _ = quick;
    }
}
