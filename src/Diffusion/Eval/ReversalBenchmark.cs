using LLaDA.Autograd;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Sampling.Policies;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Tensors;

namespace LLaDA.Diffusion.Eval;

/// <summary>Settings of the forward/reversal poem benchmark; defaults finish on 2 CPU cores in well under 30 minutes for 160 poems.</summary>
public sealed record ReversalConfig
{
    public int Poems { get; init; } = 160;

    /// <summary>Model shape for both LLaDA-mini and AR-mini (same size).</summary>
    public string Preset { get; init; } = "poems";

    public int Steps { get; init; } = 20000;
    public int Batch { get; init; } = 16;
    public float Lr { get; init; } = 1e-3f;
    public ulong Seed { get; init; } = 1234;

    /// <summary>Held-out couplets scored per direction (0 = all).</summary>
    public int MaxQueries { get; init; }

    /// <summary>Also train on every poem as plain text (rows as long as the longest poem, so mostly EOS padding for the QA rows).</summary>
    public bool IncludePoemText { get; init; }

    /// <summary>LLaDA decodings besides the reference one (one token per step), each scored on the same trained model: e.g.
    /// Threshold 0.9 or Factor 1 (no KV cache or CFG: answers are infilled); their accuracy and forward passes per token are
    /// reported too.</summary>
    public IReadOnlyList<SamplerConfig> FastDecodings { get; init; } = [];

    /// <summary>Unmasking policies LLaDA is scored with, each with one token per step and with every fast decoding, on the same trained model (default: confidence only).</summary>
    public IReadOnlyList<Remasking> Remaskings { get; init; } = [Remasking.LowConfidence];

    /// <summary>Forward-process settings of LLaDA's training (time sampling, min-t); the random length cut is always off here.</summary>
    public NoiseConfig Noise { get; init; } = new();

    /// <summary>Weight EMA decay of LLaDA's training (0 = off); when set, LLaDA is scored with the averaged weights.</summary>
    public float EmaDecay { get; init; }

    /// <summary>Train and score only LLaDA (no AR baseline).</summary>
    public bool SkipAutoregressive { get; init; }

    /// <summary>Held-out negative ELBO of LLaDA on the never-trained documents (the reverse questions of the evaluated couplets with their answers); TGrid 0 skips it.</summary>
    public ElboConfig HeldOutElbo { get; init; } = new() { TGrid = 8, MaskDraws = 2 };
}

/// <summary>Accuracy of one model (or decoding) in both directions, and the forward passes it spent per generated token.</summary>
/// <param name="PassesPerToken">Forward passes per generated token over the forward and reversal (template) queries.</param>
/// <param name="ForwardPassesPerToken">The same over the forward queries only.</param>
/// <param name="ReversalInfill">LLaDA only: reversal accuracy when the first line is infilled in the forward document.</param>
/// <param name="InfillPassesPerToken">LLaDA only: forward passes per token of those infills.</param>
/// <param name="HeldOut">LLaDA only: negative ELBO per token of the held-out documents (<see cref="ReversalConfig.HeldOutElbo"/>).</param>
public sealed record ReversalScore(string Model, double Forward, double Reversal, int Queries, double TrainSeconds, double FinalLoss,
    double PassesPerToken = 1, double? ReversalInfill = null, double ForwardPassesPerToken = 1, double? InfillPassesPerToken = null,
    ElboResult? HeldOut = null);

/// <summary>The forward/reversal poem benchmark (SPEC §13, ML-GSAI/LLaDA eval_reverse.py), scaled to poems we can train on here.</summary>
/// <remarks>
/// The reversal curse (Berglund et al. 2023): knowledge learned as "A → B" is not available as "B → A" to an
/// autoregressive model. Both models pre-train (masked diffusion vs next-token, same data, same size) on one mixture of
/// documents (optionally with every poem as plain text): the forward question
/// "{上句}的下一句是什么？" → 下句 for every couplet of every poem, and the reverse question "{下句}的上一句是什么？" → 上句
/// only for the odd-numbered poems (the data README's qa = train split), so the reverse format is learned but the
/// even-numbered poems are only ever seen forwards. Both questions are then asked about every couplet of the
/// even-numbered poems: forward accuracy shows the knowledge is there, reversal accuracy whether it can be used
/// backwards. Scoring is LLaDA's: the true line must be a substring of the output. LLaDA answers with gen_length = the
/// line's length followed by the EOS padding the documents had in training, steps = gen_length, greedy, EOS suppressed
/// in the answer (eval_reverse.py --eos_inf); the AR baseline decodes
/// greedily with EOS suppressed. LLaDA is also asked in its native way — the forward question's document with the first
/// line masked and infilled — which needs no transfer between question templates (the mini models here, unlike an 8B
/// model, do not generalise the reverse template to poems they never saw reversed). Expected shape: LLaDA's reversal
/// close to its forward accuracy, AR's near zero.
/// (Training reverse QA on no held-out poem at all, as the data README's split does, leaves models of this size
/// unable to answer held-out poems in either direction within the CPU budget — measured 0–1.5 % — so the forward
/// questions of every poem are trained here. Plain poem text is off by default: its 66-token rows would pad every QA
/// row with ~50 EOS that LLaDA's loss counts while the AR loss stops at the first EOS.)
/// </remarks>
public static class ReversalBenchmark
{
    public static IReadOnlyList<ReversalScore> Run(PoemCorpus corpus, ReversalConfig cfg, IBackend backend, Action<string>? log = null)
    {
        // Checked before minutes of training: answers are infilled inside fixed-length documents (no CFG, no KV cache).
        foreach (var d in cfg.FastDecodings)
        {
            if (d.Cache != CacheMode.None || d.CfgScale > 0)
                throw new ArgumentException($"reversal benchmark: decoding '{Describe(d)}' uses a KV cache or CFG, which infilling does not support");
            d.Validate();
        }
        var poems = corpus.Poems.Take(cfg.Poems).ToList();
        var tok = CharTokenizer.Build(poems.Append("的下一句是什么？上一句"));
        var sp = tok.Specials;
        var couplets = poems.SelectMany((p, i) => PoemCorpus.CoupletsOf(i, p)).ToList();
        var reverseTrain = couplets.Where(c => c.Poem % 2 == 1).ToList();
        var heldOut = couplets.Where(c => c.Poem % 2 == 0).ToList();
        if (cfg.MaxQueries > 0) heldOut = heldOut.Take(cfg.MaxQueries).ToList();

        // One mixture of rows: poems as text (prompt length 0) and QA pairs (prompt never noised / not predicted).
        var pairs = new List<(int[] Prompt, int[] Answer)>();
        if (cfg.IncludePoemText)
            foreach (var p in poems) pairs.Add(([], [.. tok.Encode(p)]));
        foreach (var c in couplets) pairs.Add((tok.Encode(PoemCorpus.ForwardQuestion(c)), tok.Encode(c.Second)));
        foreach (var c in reverseTrain) pairs.Add((tok.Encode(PoemCorpus.ReverseQuestion(c)), tok.Encode(c.First)));
        // Every row is a document ([BOS] question answer [EOS] …) trained with each model's pre-training objective: the
        // knowledge enters the way pre-training puts it there (the reversal curse is about pre-training). Under SFT's
        // prompt protection LLaDA would never predict a question's line from its answer (measured: reversal 0 %).
        int len = pairs.Max(p => p.Prompt.Length + p.Answer.Length) + 2;
        var data = SequenceDataset.PerDocument(pairs.Select(p => p.Prompt.Concat(p.Answer).ToArray()), len, sp);
        log?.Invoke($"{poems.Count} poems, {couplets.Count} forward QA couplets, {reverseTrain.Count} reverse QA couplets (odd poems), {heldOut.Count} evaluated couplets (even poems), vocab {tok.VocabSize}, T {len}");

        var scores = new List<ReversalScore>();
        foreach (bool causal in cfg.SkipAutoregressive ? new[] { false } : new[] { false, true })
        {
            string name = causal ? "AR-mini" : "LLaDA-mini";
            var mc = Presets.ByName(cfg.Preset, tok.VocabSize, sp.Mask, sp.Eos) with { BosTokenId = sp.Bos, Causal = causal, MaxSequenceLength = Math.Max(len, 64) };
            using var model = new MaskPredictor(mc, cfg.Seed, backend);
            var tc = new TrainConfig
            {
                Objective = causal ? Objective.Autoregressive : Objective.Pretrain,
                Steps = cfg.Steps, BatchSize = cfg.Batch, Lr = cfg.Lr, MinLr = cfg.Lr / 10, Warmup = Math.Min(100, cfg.Steps / 10),
                Seed = cfg.Seed, Noise = causal ? new NoiseConfig { RandomLengthProb = 0 } : cfg.Noise with { RandomLengthProb = 0 },
                EmaDecay = causal ? 0 : cfg.EmaDecay,
            };
            var sw = System.Diagnostics.Stopwatch.StartNew();
            double loss = 0;
            using (var trainer = new Trainer(model, tc, data, null))
            {
                for (int s = 0; s < cfg.Steps; s++)
                {
                    var r = trainer.Step();
                    loss = s == 0 ? r.Loss : 0.98 * loss + 0.02 * r.Loss;
                    if ((s + 1) % Math.Max(1, cfg.Steps / 10) == 0) log?.Invoke($"  {name} step {s + 1}/{cfg.Steps} loss {loss:F3} ({sw.Elapsed.TotalSeconds:F0} s)");
                }
                // Sampling uses the moving average when one was kept (as `llada generate` does with ema.safetensors).
                if (trainer.Ema is not null)
                    foreach (var ((_, p), (_, w)) in model.NamedParameters().Zip(trainer.Ema.Weights())) p.Data.CopyFrom(w);
            }
            ElboResult? heldOutElbo = null;
            if (!causal && cfg.HeldOutElbo.TGrid > 0 && heldOut.Count > 0)
            {
                var docs = heldOut.Select(c => tok.Encode(PoemCorpus.ReverseQuestion(c)).Concat(tok.Encode(c.First)).ToArray()).ToList();
                var rows = SequenceDataset.PerDocument(docs, len, sp);
                var seqs = docs.Select((d, i) => new ElboSequence(rows[i], 1, d.Length)).ToList();
                heldOutElbo = new ElboEvaluator(new MaskPredictorLogits(model), sp.Mask).Evaluate(seqs, cfg.HeldOutElbo with { Seed = cfg.Seed });
                log?.Invoke($"  {name}: held-out negative ELBO {heldOutElbo.NelboPerToken:F4} ± {heldOutElbo.StdError:F4} nats/token ({heldOut.Count} reverse-question documents never trained on)");
            }
            double trainSecs = sw.Elapsed.TotalSeconds;
            var decodings = new List<(string Name, SamplerConfig? Cfg)>();
            if (causal) decodings.Add((name, null));
            else
                foreach (var r in cfg.Remaskings)
                {
                    var one = new SamplerConfig { Remasking = r };
                    decodings.Add((r == Remasking.LowConfidence ? name : $"{name} ({Describe(one)})", r == Remasking.LowConfidence ? null : one));
                    foreach (var d in cfg.FastDecodings) decodings.Add(($"{name} ({Describe(d with { Remasking = r })})", d with { Remasking = r }));
                }
            foreach (var (label, dec) in decodings)
            {
                int fwd = 0, rev = 0, infill = 0, tokens = 0;
                int fwdPasses = 0, revPasses = 0, infillPasses = 0, fwdTokens = 0, infillTokens = 0;
                foreach (var c in heldOut)
                {
                    var (a, p1) = Answer(model, tok, PoemCorpus.ForwardQuestion(c), c.Second.Length, dec, len);
                    var (b, p2) = Answer(model, tok, PoemCorpus.ReverseQuestion(c), c.First.Length, dec, len);
                    fwd += a.Contains(c.Second) ? 1 : 0;
                    rev += b.Contains(c.First) ? 1 : 0;
                    fwdPasses += p1;
                    revPasses += p2;
                    fwdTokens += c.Second.Length;
                    tokens += c.Second.Length + c.First.Length;
                    if (!causal)
                    {
                        var (f, p3) = InfillFirstLine(model, tok, c, len, dec);
                        infill += f.Contains(c.First) ? 1 : 0;
                        infillPasses += p3;
                        infillTokens += c.First.Length;
                    }
                }
                int n = Math.Max(1, heldOut.Count);
                double? inf = causal ? null : (double)infill / n;
                double? infPpt = causal ? null : (double)infillPasses / Math.Max(1, infillTokens);
                double ppt = (double)(fwdPasses + revPasses) / Math.Max(1, tokens);
                double fwdPpt = (double)fwdPasses / Math.Max(1, fwdTokens);
                scores.Add(new ReversalScore(label, (double)fwd / n, (double)rev / n, heldOut.Count, trainSecs, loss, ppt, inf, fwdPpt, infPpt, heldOutElbo));
                log?.Invoke($"  {label}: forward {fwd}/{heldOut.Count}, reversal {rev}/{heldOut.Count}{(inf is null ? "" : $", reversal by infilling {infill}/{heldOut.Count}")}; forward passes per token: forward {fwdPpt:F3}, both questions {ppt:F3}{(infPpt is double ip ? $", infilling {ip:F3}" : "")}");
            }
        }
        return scores;
    }

    /// <summary>A short name of a decoding: "threshold 0.9", "factor 1 + dual cache", "margin, one token per step".</summary>
    public static string Describe(SamplerConfig d)
    {
        string how = d.Threshold is double t ? $"threshold {t:0.###}" : d.Factor is double f ? $"factor {f:0.###}" : "one token per step";
        if (d.Remasking != Remasking.LowConfidence) how = $"{UnmaskingPolicies.NameOf(d.Remasking)}, {how}";
        return d.Cache == CacheMode.None ? how : $"{how} + {d.Cache.ToString().ToLowerInvariant()} cache";
    }

    /// <summary>The model's answer to a question and the forward passes it took; EOS suppressed in the answer.</summary>
    /// <remarks>
    /// LLaDA: the document "[BOS] question [MASK]×length [EOS] …" at the training length is denoised (one token per step
    /// unless <paramref name="decoding"/> sets a threshold/factor) — the answer region is exactly the line's length, as with
    /// eval_reverse.py's --eos_inf, and the EOS padding after it is what the model saw in training. AR: greedy decoding.
    /// </remarks>
    public static (string Text, int Passes) Answer(MaskPredictor model, CharTokenizer tok, string question, int length, SamplerConfig? decoding = null, int rowLength = 0)
    {
        var sp = tok.Specials;
        int[] prompt = [sp.Bos!.Value, .. tok.Encode(question)];
        if (model.Config.Causal) return (tok.Decode(GreedyAutoregressive(model, prompt, length, sp.Eos), skipSpecial: true), length);
        var row = new List<int>(prompt);
        row.AddRange(Enumerable.Repeat(sp.Mask, length));
        row.Add(sp.Eos);
        while (row.Count < rowLength) row.Add(sp.PadId);
        var cfg = (decoding ?? new SamplerConfig()) with { Steps = length, LogitsEosInf = true };
        var r = new ReverseSampler(new MaskPredictorLogits(model), sp).Infill([row.ToArray()], cfg);
        return (tok.Decode(r.Generated[0], skipSpecial: true), r.ForwardPasses);
    }

    /// <summary>LLaDA's native reverse query: the forward question's document with its first line masked, "[MASK]…的下一句是什么？{下句}", infilled (EOS-padded to the training length); returns the line and the forward passes it took.</summary>
    public static (string Text, int Passes) InfillFirstLine(MaskPredictor model, CharTokenizer tok, Couplet c, int length, SamplerConfig? decoding = null)
    {
        var sp = tok.Specials;
        var row = new List<int> { sp.Bos!.Value };
        row.AddRange(Enumerable.Repeat(sp.Mask, c.First.Length));
        row.AddRange(tok.Encode("的下一句是什么？" + c.Second));
        row.Add(sp.Eos);
        while (row.Count < length) row.Add(sp.PadId);
        var cfg = (decoding ?? new SamplerConfig()) with { Steps = c.First.Length, LogitsEosInf = true };
        var r = new ReverseSampler(new MaskPredictorLogits(model), sp).Infill([row.ToArray()], cfg);
        return (tok.Decode(r.Generated[0], skipSpecial: true), r.ForwardPasses);
    }

    /// <summary>Greedy decoding of a causal model for n tokens (the banned token never chosen; only the vocabulary's rows, never the
    /// padded embedding rows beyond vocab_size).</summary>
    public static int[] GreedyAutoregressive(MaskPredictor model, int[] prompt, int n, int banned)
    {
        var seq = new List<int>(prompt);
        for (int i = 0; i < n; i++)
        {
            using var scope = new TensorScope();
            var logits = Tape.NoGrad(() => model.Forward(Tensor.FromArray(seq.ToArray(), [1, seq.Count], model.Backend))).Data; // (1, L, V)
            var last = logits.Narrow(1, seq.Count - 1, 1).ToArray(); // (embedding_size)
            int best = -1;
            for (int t = 0; t < model.Config.VocabSize; t++)
                if (t != banned && (best < 0 || last[t] > last[best])) best = t;
            seq.Add(best);
        }
        return seq.Skip(prompt.Length).ToArray();
    }
}
