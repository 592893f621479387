using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Training;
using LLaDA.Diagnostics;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Bench;

/// <summary>The workloads of `llada bench`, one method per op family. Inputs are made once; each timed call runs in a TensorScope so outputs return to the pool.</summary>
internal static partial class CpuBenchCases
{
    public static IEnumerable<BenchResult> Run(string family, double budget, bool quick) => family switch
    {
        "matmul" => MatMul(budget, quick),
        "mixed-gemm" => MixedGemm(budget, quick),
        "attention" => Attention(budget, quick),
        "elementwise" => Elementwise(budget),
        "reduce" => Reduce(budget),
        "softmax" => Softmax(budget),
        "rmsnorm" => RmsNorm(budget),
        "rope" => Rope(budget),
        "crossentropy" => CrossEntropy(budget),
        "embedding" => Embedding(budget),
        "adamw" => AdamW(budget),
        "train" => Train(budget, quick),
        "sample" => Sample(budget, quick),
        "sample-head" => SampleHead(quick),
        _ => [],
    };

    private static BenchResult Time(string op, string shape, double flops, double bytes, double budget, Action body, string? note = null)
    {
        var (med, best, it) = BenchTimer.Measure(() =>
        {
            using var scope = new TensorScope();
            body();
            // Device kernels run asynchronously: time them to completion.
            (Backend as LLaDA.Kernels.IlgpuBackend)?.Synchronize();
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
            // The bench-preset model's projections (d 256, MLP 1024, 4096 tokens): forward, dX and dW.
            (4096, 256, 256, false, true, "d256 proj x·Wᵀ"),
            (4096, 256, 256, false, false, "d256 proj dX = dY·W"),
            (256, 4096, 256, true, false, "d256 proj dW = dYᵀ·X"),
            (4096, 256, 1024, false, true, "MLP up x·Wᵀ"),
            (4096, 1024, 256, false, false, "MLP up dX = dY·W"),
            (1024, 4096, 256, true, false, "MLP up dW"),
            (4096, 1024, 256, false, true, "MLP down x·Wᵀ"),
            (4096, 256, 1024, false, false, "MLP down dX = dY·W"),
            (256, 4096, 1024, true, false, "MLP down dW"),
            (4096, 256, 4096, false, true, "LM head x·Wᵀ"),
            (4096, 4096, 256, false, false, "LM head dX = dY·W"),
            (4096, 4096, 256, true, false, "LM head dW = dYᵀ·X"),
        };
        if (quick) cases.RemoveAll(c => c.M == 1024 && (c.TA || c.TB));
        foreach (var (m, k, n, ta, tb, label) in cases)
        {
            using var a = ta ? Tensor.Rand([k, m], 1, backend: Backend).Transpose(0, 1) : Tensor.Rand([m, k], 1, backend: Backend);
            using var b = tb ? Tensor.Rand([n, k], 2, backend: Backend).Transpose(0, 1) : Tensor.Rand([k, n], 2, backend: Backend);
            using var c = Tensor.Empty([m, n], backend: Backend);
            string shape = $"M{m} K{k} N{n} {(ta ? "T" : "N")}{(tb ? "T" : "N")}";
            yield return Time("matmul", shape, 2.0 * m * n * k, 0, budget, () => c.MatMulInto(a, b), label == "" ? null : label);
        }
        // Decoding: the bench preset's forward projections x·Wᵀ at M = 1..32 tokens (a block of 32 is one forward of
        // block decoding). The weights are read once per call, so these are bounded by bandwidth as much as by the FMA
        // peak: the fraction printed is of the nearer limit (bytes = weights + activations, counted once).
        foreach (var (k, n, label) in new[] { (256, 1024, "decode MLP up"), (1024, 256, "decode MLP down"), (256, 4096, "decode LM head") })
        {
            foreach (int m in quick ? new[] { 1, 32 } : new[] { 1, 4, 8, 16, 32 })
            {
                using var a = Tensor.Rand([m, k], 1, backend: Backend);
                using var w = Tensor.Rand([n, k], 2, backend: Backend).Transpose(0, 1);
                using var c = Tensor.Empty([m, n], backend: Backend);
                yield return Time("matmul.decode", $"M{m} K{k} N{n} NT", 2.0 * m * n * k, 4.0 * ((double)k * n + (double)m * k + (double)m * n), budget, () => c.MatMulInto(a, w), label);
            }
        }
        // Batched products of attention-sized heads: (B·H, T, HS)·(B·H, HS, T).
        {
            using var q = Tensor.Rand([64, 256, 64], 3, backend: Backend);
            using var kt = Tensor.Rand([64, 256, 64], 4, backend: Backend).Transpose(1, 2);
            using var s = Tensor.Empty([64, 256, 256], backend: Backend);
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
            using var q = Tensor.Randn([b, t, h, hs], 1, backend: Backend).Transpose(1, 2);
            using var k = Tensor.Randn([b, t, h, hs], 2, backend: Backend).Transpose(1, 2);
            using var v = Tensor.Randn([b, t, h, hs], 3, backend: Backend).Transpose(1, 2);
            using var dO = Tensor.Randn([b, t, h, hs], 4, backend: Backend).Transpose(1, 2);
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
        using var a = Tensor.Rand([4096, 4096], 1, backend: Backend);
        using var b = Tensor.Rand([4096, 4096], 2, backend: Backend);
        using var row = Tensor.Rand([4096], 3, backend: Backend);
        using var at = a.Transpose(0, 1);
        yield return Time("add", "16M", 0, 12.0 * Big, budget, () => a.Add(b));
        yield return Time("mul.broadcast-row", "(4096, 4096) × (4096,)", 0, 8.0 * Big, budget, () => a.Mul(row));
        yield return Time("exp", "16M", 0, 8.0 * Big, budget, () => a.Exp());
        yield return Time("silu_gate", "16M", 0, 12.0 * Big, budget, () => Tensor.SiluGate(a, b));
        yield return Time("contiguous.transpose", "(4096, 4096)ᵀ", 0, 8.0 * Big, budget, () => at.Contiguous());
    }

    private static IEnumerable<BenchResult> Reduce(double budget)
    {
        using var a = Tensor.Rand([4096, 4096], 1, backend: Backend);
        yield return Time("sum.lastdim", "(4096, 4096) → (4096,)", 0, 4.0 * Big, budget, () => a.Sum(-1));
        yield return Time("sum.firstdim", "(4096, 4096) → (4096,)", 0, 4.0 * Big, budget, () => a.Sum(0));
        yield return Time("max.lastdim", "(4096, 4096) → (4096,)", 0, 4.0 * Big, budget, () => a.Max(-1));
        using var v = Tensor.Rand([8, 126464], 2, backend: Backend);
        yield return Time("argmax.vocab", "(8, 126464)", 0, 4.0 * v.Numel, budget, () => v.ArgMax(-1));
    }

    private static IEnumerable<BenchResult> Softmax(double budget)
    {
        using var a = Tensor.Randn([4096, 4096], 1, backend: Backend);
        using var y = a.Softmax();
        using var dy = Tensor.Randn([4096, 4096], 2, backend: Backend);
        yield return Time("softmax", "(4096, 4096)", 0, 8.0 * Big, budget, () => a.Softmax());
        yield return Time("log_softmax", "(4096, 4096)", 0, 8.0 * Big, budget, () => a.LogSoftmax());
        yield return Time("softmax.bwd", "(4096, 4096)", 0, 12.0 * Big, budget, () => Tensor.SoftmaxBackward(y, dy, false));
    }

    private static IEnumerable<BenchResult> RmsNorm(double budget)
    {
        using var x = Tensor.Randn([16384, 1024], 1, backend: Backend);
        using var w = Tensor.Rand([1024], 2, backend: Backend);
        using var dy = Tensor.Randn([16384, 1024], 3, backend: Backend);
        var (_, rstd) = x.RmsNorm(w, 1e-5f);
        using (rstd)
        {
            yield return Time("rmsnorm.fwd", "(16384, 1024)", 0, 8.0 * Big, budget, () => x.RmsNorm(w, 1e-5f));
            yield return Time("rmsnorm.bwd", "(16384, 1024)", 0, 12.0 * Big, budget, () => Tensor.RmsNormBackward(dy, x, w, rstd));
        }
    }

    private static IEnumerable<BenchResult> Rope(double budget)
    {
        using var x = Tensor.Randn([16, 256, 64, 64], 1, backend: Backend);
        yield return Time("rope", "(B16, T256, H64, HS64)", 0, 8.0 * x.Numel, budget, () => x.Rope(500000f));
    }

    private static IEnumerable<BenchResult> CrossEntropy(double budget)
    {
        foreach (int v in new[] { 4096, 32000 })
        {
            int n = v == 4096 ? 4096 : 1024;
            using var logits = Tensor.Randn([n, v], 1, backend: Backend);
            using var targets = Tensor.FromArray(Enumerable.Range(0, n).Select(i => i * 7919 % v).ToArray(), Backend);
            using var dloss = Tensor.Ones([n], backend: Backend);
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
        using var w = Tensor.Randn([4096, 512], 1, backend: Backend);
        using var ids = Tensor.FromArray(Enumerable.Range(0, 4096).Select(i => (int)((long)i * 2654435 % 4096)).ToArray(), Backend);
        using var g = Tensor.Randn([4096, 512], 2, backend: Backend);
        using var dw = Tensor.Zeros([4096, 512], backend: Backend);
        yield return Time("embedding.gather", "4096 ids × (4096, 512)", 0, 8.0 * 4096 * 512, budget, () => Tensor.Embedding(w, ids));
        yield return Time("embedding.scatter_add", "4096 ids × (4096, 512)", 0, 12.0 * 4096 * 512, budget, () => dw.IndexAdd(ids, g));
    }

    private static IEnumerable<BenchResult> AdamW(double budget)
    {
        using var p = Tensor.Randn([Big], 1, backend: Backend);
        using var g = Tensor.Randn([Big], 2, backend: Backend);
        using var m = Tensor.Zeros([Big], backend: Backend);
        using var v = Tensor.Zeros([Big], backend: Backend);
        int step = 0;
        yield return Time("adamw", "16M params", 0, 28.0 * Big, budget, () => p.AdamWStep(g, m, v, new AdamWStep(1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, ++step)));
    }

    // ---------------------------------------------------------------- full training steps: throughput and fresh memory

    /// <summary>Training steps of the mask predictor (issue preset: 6 layers, d 256, 4 heads, T 256, B 16, vocab 4096) on synthetic tokens.</summary>
    private static IEnumerable<BenchResult> Train(double budget, bool quick)
    {
        var shapes = new List<(string Name, MaskPredictorConfig Cfg, int T, int B)> { ("bench-preset", Presets.Bench(4096), 256, 16) };
        if (!quick) shapes.Add(("poems-preset", Presets.Poems(3000, 2, 0), 66, 16));
        if (Backend is not CpuBackend)
            shapes.Add(("d1024x12", Presets.Bench(32000) with { DModel = 1024, NLayers = 12, NHeads = 16, MlpHiddenSize = 4096, MaxSequenceLength = 512 }, 512, 16));
        foreach (var (name, mc, t, b) in shapes)
        {
            var backend = Backend;
            var rows = new List<int[]>();
            for (int r = 0; r < 64; r++)
                rows.Add(Enumerable.Range(0, t).Select(j => (int)((uint)(r * 7919 + j * 104729) % (uint)(mc.VocabSize - 3))).ToArray());
            var data = new SequenceDataset(rows, t);
            using var model = new MaskPredictor(mc, 1, backend);
            using var trainer = new Trainer(model, new TrainConfig { Steps = 1_000_000, BatchSize = b, Lr = 1e-3f, Warmup = 0, Seed = 1 }, data, null);
            var pool = (backend as CpuBackend)?.Pool;
            // Warm the JIT and the pool until steady state: at least 8 steps, then until four steps in a row touch no fresh
            // memory, at most 40. The masked-row count varies per step, and blocks left idle by earlier benchmarks (`llada
            // bench` runs every family in one process) take a dozen steps to settle into the sizes a step needs: the pool
            // hands out the smallest idle block up to 2× the request, so one step's order of requests can still need a new
            // block after a quiet step.
            for (int i = 0, quiet = 0; i < 40 && (i < 8 || quiet < 4); i++)
            {
                long before = pool?.FreshBytes ?? 0;
                trainer.Step();
                quiet = (pool?.FreshBytes ?? 0) == before ? quiet + 1 : 0;
            }
            long fresh0 = pool?.FreshBytes ?? 0;
            long managed0 = GC.GetTotalAllocatedBytes(true);
            int steps = quick ? 4 : 8;
            var times = new List<double>();
            for (int i = 0; i < steps; i++) times.Add(trainer.Step().Seconds * 1000);
            long freshPerStep = ((pool?.FreshBytes ?? 0) - fresh0) / steps;
            long managedPerStep = (GC.GetTotalAllocatedBytes(true) - managed0) / steps;
            bool profile = LLaDA.Autograd.OpProfiler.Enabled;
            long poolTicks0 = profile ? TrainProfile.Begin(pool) : 0;
            var (med, best, it) = BenchTimer.Measure(() => trainer.Step(), budget, warmup: 0);
            if (profile) TrainProfile.Print(ProfileOut, name, it, med, pool, poolTicks0);
            times.Add(med);
            double tokPerS = b * t / (med / 1000);
            // Nominal model FLOPs per step (PaLM appendix B): 6·N per token for the N weights a token passes through (the
            // embedding lookup excluded, the LM head included on every row) + 12·L·T·d for attention's two T×T products.
            long nMatmul = mc.ParameterCount() - (mc.WeightTying ? 0 : (long)mc.Rows * mc.DModel);
            double stepFlops = (double)b * t * (6.0 * nMatmul + 12.0 * mc.NLayers * t * mc.DModel);
            yield return new BenchResult("train_step", $"{name}: {mc.NLayers}L d{mc.DModel} H{mc.NHeads} T{t} B{b} V{mc.VocabSize}", med, best, stepFlops, 0, it,
                $"{tokPerS:F0} tok/s; fresh pool bytes/step {freshPerStep}; managed bytes/step {managedPerStep}")
            { TokensPerSecond = tokPerS, FreshBytesPerStep = freshPerStep, ManagedBytesPerStep = managedPerStep };
        }
    }

    /// <summary>Where `--profile` tables go (stderr when stdout carries JSON).</summary>
    public static TextWriter ProfileOut { get; set; } = Console.Out;

    /// <summary>Backend of the "train" family (the CPU unless --device names another).</summary>
    public static IBackend Backend { get; set; } = CpuBackend.Default;

    /// <summary>Checkpoint used by the "sample" family (null: a randomly initialised bench-preset model).</summary>
    public static string? SampleCheckpoint { get; set; }

    /// <summary>The two forwards dual-cache decoding runs: the full sequence (recording the cache, once per block) and the
    /// steady-state one at the block width over that cache (B 1): time per forward and the GEMM + attention flops it ran
    /// (<see cref="CpuFlops"/>) as a fraction of the peak. With --profile, the block-width forward's time by op family.</summary>
    private static IEnumerable<BenchResult> DecodeForwards(MaskPredictor model, int[] prompt, int maskId, int gen, int block, double budget)
    {
        int len = prompt.Length + gen;
        var ids = new int[len];
        Array.Fill(ids, maskId);
        prompt.CopyTo(ids, 0);
        using var full = Tensor.FromArray(ids, [1, len], Backend);
        using var window = full.Narrow(1, prompt.Length, block).Contiguous(); // the first block, at absolute position |prompt|
        KvCache? cache = null;
        void Full() => model.Forward(full, null, new KvWindow(0, null, CacheMode.None, c => { cache?.Dispose(); cache = c; })).Data.Dispose();
        void Block() => model.Forward(window, null, new KvWindow(prompt.Length, cache, CacheMode.Dual)).Data.Dispose();
        Full();
        try
        {
            foreach (var (name, width, body) in new (string, int, Action)[] { ("full sequence, records the cache", len, Full), ("block width, dual cache", block, Block) })
            {
                long flops0 = CpuFlops.Executed;
                body();
                double flops = Backend is CpuBackend ? CpuFlops.Executed - flops0 : 0;
                var (med, best, it) = BenchTimer.Measure(() =>
                {
                    using var scope = new TensorScope();
                    body();
                }, budget);
                if (LLaDA.Autograd.OpProfiler.Enabled && width == block)
                {
                    var pool = (Backend as CpuBackend)?.Pool;
                    long poolTicks0 = TrainProfile.Begin(pool);
                    const int n = 32;
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    for (int i = 0; i < n; i++)
                    {
                        using var scope = new TensorScope();
                        body();
                    }
                    TrainProfile.Print(ProfileOut, $"decoding forward ({name}, {width} tokens)", n, sw.Elapsed.TotalMilliseconds / n, pool, poolTicks0, "forward", "cache window bookkeeping, timer overhead");
                }
                yield return new BenchResult("decode_forward", $"{name}: {width} of {len} tokens", med, best, flops, 0, it,
                    $"{width / (med / 1000):F0} positions/s; flops = GEMM + attention run (CpuFlops)");
            }
        }
        finally
        {
            cache?.Dispose();
        }
    }

    /// <summary>Reverse-process decoding modes at gen length 256, block 32 (Fast-dLLM's settings): tokens/s and forward passes per token.</summary>
    private static IEnumerable<BenchResult> Sample(double budget, bool quick)
    {
        MaskPredictor model;
        LLaDA.Diffusion.Data.SpecialTokens sp;
        int[] prompt;
        if (SampleCheckpoint is not null)
        {
            var (m, tok, _) = LLaDA.Cli.Commands.ModelLoader.Load(SampleCheckpoint, Backend);
            model = m;
            sp = LLaDA.Cli.Commands.ModelLoader.Specials(tok, m.Config);
            prompt = [.. (sp.Bos is int b ? new[] { b } : []), .. tok.Encode("床前明月光，")];
        }
        else
        {
            var mc = Presets.Bench(4096);
            model = new MaskPredictor(mc, 1, Backend);
            sp = new LLaDA.Diffusion.Data.SpecialTokens(Eos: mc.EosTokenId, Mask: mc.MaskTokenId, Bos: mc.BosTokenId);
            prompt = [mc.BosTokenId!.Value, 5, 6, 7, 8, 9, 10];
        }
        using var _ = model;
        int gen = quick ? 64 : 256, block = 32;
        var sampler = new LLaDA.Diffusion.Sampling.ReverseSampler(new LLaDA.Diffusion.Sampling.MaskPredictorLogits(model), sp);
        var baseCfg = new LLaDA.Diffusion.Sampling.SamplerConfig { GenLength = gen, BlockLength = block, Steps = gen };
        var modes = new (string Name, LLaDA.Diffusion.Sampling.SamplerConfig Cfg)[]
        {
            ("1 token/step", baseCfg),
            ("threshold 0.9", baseCfg with { Threshold = 0.9 }),
            ("thr 0.9 + prefix cache", baseCfg with { Threshold = 0.9, Cache = CacheMode.Prefix }),
            ("thr 0.9 + dual cache", baseCfg with { Threshold = 0.9, Cache = CacheMode.Dual }),
        };
        foreach (var row in DecodeForwards(model, prompt, sp.Mask, gen, block, budget)) yield return row;
        double baseline = 0;
        foreach (var (name, cfg) in modes)
        {
            sampler.Generate([prompt], cfg with { GenLength = block, BlockLength = block, Steps = block }); // JIT and pool warm-up
            long flops0 = CpuFlops.Executed;
            // --profile: time per op family of the dual-cache run (the mode the issue measures), per forward pass.
            bool profile = LLaDA.Autograd.OpProfiler.Enabled && cfg.Cache == CacheMode.Dual;
            var pool = (Backend as CpuBackend)?.Pool;
            long poolTicks0 = profile ? TrainProfile.Begin(pool) : 0;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var r = sampler.Generate([prompt], cfg);
            double ms = sw.Elapsed.TotalMilliseconds;
            if (profile)
                TrainProfile.Print(ProfileOut, $"decoding ({name}, gen {gen} block {block})", r.ForwardPasses, ms / r.ForwardPasses, pool, poolTicks0,
                    "forward", "the sampler's own steps (confidence, transfer), cache windows, timer overhead");
            // The work the CPU kernels did (GEMM + attention flops counted by CpuFlops): GFLOP/s and its fraction of the peak.
            double flops = Backend is CpuBackend ? CpuFlops.Executed - flops0 : 0;
            if (baseline == 0) baseline = ms;
            yield return new BenchResult("sample", $"{name}: gen {gen} block {block}", ms, ms, flops, 0, 1,
                $"{gen / (ms / 1000):F1} tok/s; {ms / r.ForwardPasses:F2} ms/forward; {(double)r.ForwardPasses / gen:F3} passes/token; {baseline / ms:F2}× vs one token per step"
                + (SampleCheckpoint is null ? " (random weights: no confidence reaches a threshold; --checkpoint DIR for a trained model)" : ""))
            { TokensPerSecond = gen / (ms / 1000) };
        }
    }

    /// <summary>Sampler steps at LLaDA's vocabulary of 126,464 (bench-preset body, random weights), the LM head fused with the token choice
    /// over vocabulary tiles vs the unfused reference (full (B, L, V) logits, then SampleTokens): ms and head+body GFLOP per step, and the
    /// pool's high-water mark above the model during the run.</summary>
    private static IEnumerable<BenchResult> SampleHead(bool quick)
    {
        const int vocab = 126464;
        var mc = Presets.Bench(vocab);
        using var model = new MaskPredictor(mc, 1, Backend);
        var sp = new LLaDA.Diffusion.Data.SpecialTokens(Eos: mc.EosTokenId, Mask: mc.MaskTokenId, Bos: mc.BosTokenId);
        int[] prompt = [mc.BosTokenId!.Value, 5, 6, 7, 8, 9, 10];
        int gen = quick ? 32 : 64, block = 32, l = prompt.Length + gen;
        var sampler = new LLaDA.Diffusion.Sampling.ReverseSampler(new LLaDA.Diffusion.Sampling.MaskPredictorLogits(model), sp);
        var baseCfg = new LLaDA.Diffusion.Sampling.SamplerConfig { GenLength = gen, BlockLength = block, Steps = gen };
        var modes = new (string Name, LLaDA.Diffusion.Sampling.SamplerConfig Cfg)[]
        {
            ("greedy confidence", baseCfg),
            ("T 1 margin", baseCfg with { Temperature = 1, Remasking = LLaDA.Diffusion.Sampling.Remasking.Margin, Seed = 1 }),
        };
        var pool = (Backend as CpuBackend)?.Pool;
        foreach (var (name, cfg0) in modes)
            foreach (bool fused in new[] { true, false })
            {
                var cfg = cfg0 with { FusedHead = fused };
                sampler.Generate([prompt], cfg with { GenLength = block, BlockLength = block, Steps = 2 }); // JIT and pool warm-up
                long before = pool?.BytesInUse ?? 0;
                pool?.ResetPeak();
                long flops0 = CpuFlops.Executed;
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var r = sampler.Generate([prompt], cfg);
                double ms = sw.Elapsed.TotalMilliseconds / r.Steps;
                double flops = Backend is CpuBackend ? (double)(CpuFlops.Executed - flops0) / r.Steps : 0;
                long peak = pool is null ? 0 : pool.PeakBytesInUse - before;
                double logitsMiB = 4.0 * l * vocab / (1 << 20);
                yield return new BenchResult("sample head", $"{(fused ? "fused" : "unfused")} {name}: V {vocab} L {l} block {block}", ms, ms, flops, 0, 1,
                    $"per step; peak pool {peak / (double)(1 << 20):F1} MiB above the model (one L×V logits tensor: {logitsMiB:F1} MiB); {r.Steps} steps");
            }
    }
}
