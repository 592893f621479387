using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
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

    public int Steps { get; init; } = 3000;
    public int Batch { get; init; } = 16;
    public float Lr { get; init; } = 3e-3f;
    public ulong Seed { get; init; } = 1234;

    /// <summary>Held-out couplets scored per direction (0 = all).</summary>
    public int MaxQueries { get; init; }

    /// <summary>LLaDA decoding besides the reference one (one token per step): e.g. Threshold 0.9 and/or a cache; its accuracy and forward passes are reported too.</summary>
    public SamplerConfig? FastDecoding { get; init; }
}

/// <summary>Accuracy of one model (or decoding) in both directions, and the forward passes it spent per generated token.</summary>
public sealed record ReversalScore(string Model, double Forward, double Reversal, int Queries, double TrainSeconds, double FinalLoss, double PassesPerToken = 1);

/// <summary>The forward/reversal poem benchmark (SPEC §13, ML-GSAI/LLaDA eval_reverse.py), scaled to poems we can train on here.</summary>
/// <remarks>
/// Both models train on one mixture: every poem as plain text (so each knows every poem only in its written order) and
/// QA pairs in both directions — "{上句}的下一句是什么？" → 下句 and "{下句}的上一句是什么？" → 上句 — for the odd-numbered
/// poems only (the data README's qa = train split). They are then asked both questions about every couplet of the
/// even-numbered poems, whose QA they never saw. Scoring is LLaDA's: the true line must be a substring of the output.
/// LLaDA answers with gen_length = the line's length, steps = gen_length, greedy, EOS suppressed (eval_reverse.py
/// --eos_inf); the AR baseline decodes greedily with EOS suppressed. Expected shape: LLaDA's reversal close to its
/// forward accuracy, AR's reversal near zero (the reversal curse).
/// </remarks>
public static class ReversalBenchmark
{
    public static IReadOnlyList<ReversalScore> Run(PoemCorpus corpus, ReversalConfig cfg, IBackend backend, Action<string>? log = null)
    {
        var poems = corpus.Poems.Take(cfg.Poems).ToList();
        var tok = CharTokenizer.Build(poems.Append("的下一句是什么？上一句"));
        var sp = tok.Specials;
        var couplets = poems.SelectMany((p, i) => PoemCorpus.CoupletsOf(i, p)).ToList();
        var train = couplets.Where(c => c.Poem % 2 == 1).ToList();
        var heldOut = couplets.Where(c => c.Poem % 2 == 0).ToList();
        if (cfg.MaxQueries > 0) heldOut = heldOut.Take(cfg.MaxQueries).ToList();

        // One mixture of rows: poems as text (prompt length 0) and QA pairs (prompt never noised / not predicted).
        var pairs = new List<(int[] Prompt, int[] Answer)>();
        foreach (var p in poems) pairs.Add(([], [.. tok.Encode(p)]));
        foreach (var c in train)
        {
            pairs.Add((tok.Encode(PoemCorpus.ForwardQuestion(c)), tok.Encode(c.Second)));
            pairs.Add((tok.Encode(PoemCorpus.ReverseQuestion(c)), tok.Encode(c.First)));
        }
        int len = pairs.Max(p => p.Prompt.Length + p.Answer.Length) + 2;
        var data = SequenceDataset.PromptAnswer(pairs, len, sp);
        log?.Invoke($"{poems.Count} poems, {train.Count} QA-train couplets (×2 directions), {heldOut.Count} held-out couplets, vocab {tok.VocabSize}, T {len}");

        var scores = new List<ReversalScore>();
        foreach (bool causal in new[] { false, true })
        {
            string name = causal ? "AR-mini" : "LLaDA-mini";
            var mc = Presets.ByName(cfg.Preset, tok.VocabSize, sp.Mask, sp.Eos) with { BosTokenId = sp.Bos, Causal = causal, MaxSequenceLength = Math.Max(len, 64) };
            using var model = new MaskPredictor(mc, cfg.Seed, backend);
            var tc = new TrainConfig
            {
                Objective = causal ? Objective.Autoregressive : Objective.Sft,
                Steps = cfg.Steps, BatchSize = cfg.Batch, Lr = cfg.Lr, MinLr = cfg.Lr / 10, Warmup = Math.Min(100, cfg.Steps / 10),
                Seed = cfg.Seed, Noise = new NoiseConfig { RandomLengthProb = 0 },
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
            }
            double trainSecs = sw.Elapsed.TotalSeconds;
            var decodings = new List<(string Name, SamplerConfig? Cfg)> { (name, null) };
            if (!causal && cfg.FastDecoding is not null) decodings.Add(($"{name} (fast decoding)", cfg.FastDecoding));
            foreach (var (label, dec) in decodings)
            {
                int fwd = 0, rev = 0, passes = 0, tokens = 0;
                foreach (var c in heldOut)
                {
                    var (a, p1) = Answer(model, tok, PoemCorpus.ForwardQuestion(c), c.Second.Length, dec);
                    var (b, p2) = Answer(model, tok, PoemCorpus.ReverseQuestion(c), c.First.Length, dec);
                    fwd += a.Contains(c.Second) ? 1 : 0;
                    rev += b.Contains(c.First) ? 1 : 0;
                    passes += p1 + p2;
                    tokens += c.Second.Length + c.First.Length;
                }
                int n = Math.Max(1, heldOut.Count);
                scores.Add(new ReversalScore(label, (double)fwd / n, (double)rev / n, heldOut.Count, trainSecs, loss, (double)passes / Math.Max(1, tokens)));
                log?.Invoke($"  {label}: forward {fwd}/{heldOut.Count}, reversal {rev}/{heldOut.Count}, {(double)passes / Math.Max(1, tokens):F3} forward passes per token");
            }
        }
        return scores;
    }

    /// <summary>The model's answer to a question and the forward passes it took: the diffusion sampler (one token per step unless <paramref name="decoding"/> says otherwise) or greedy next-token decoding; EOS suppressed.</summary>
    public static (string Text, int Passes) Answer(MaskPredictor model, CharTokenizer tok, string question, int length, SamplerConfig? decoding = null)
    {
        var sp = tok.Specials;
        int[] prompt = [sp.Bos!.Value, .. tok.Encode(question)];
        if (model.Config.Causal) return (tok.Decode(GreedyAutoregressive(model, prompt, length, sp.Eos), skipSpecial: true), length);
        var cfg = (decoding ?? new SamplerConfig()) with { GenLength = length, BlockLength = length, Steps = length, LogitsEosInf = true };
        var r = new ReverseSampler(new MaskPredictorLogits(model), sp).Generate([prompt], cfg);
        return (tok.Decode(r.Generated[0], skipSpecial: true), r.ForwardPasses);
    }

    /// <summary>Greedy decoding of a causal model for n tokens (the banned token never chosen).</summary>
    public static int[] GreedyAutoregressive(MaskPredictor model, int[] prompt, int n, int banned)
    {
        var seq = new List<int>(prompt);
        for (int i = 0; i < n; i++)
        {
            using var scope = new TensorScope();
            var logits = model.InferLogits(Tensor.FromArray(seq.ToArray(), [1, seq.Count], model.Backend)); // (1, L, V)
            var last = logits.Narrow(1, seq.Count - 1, 1).ToArray();
            int best = -1;
            for (int t = 0; t < last.Length; t++)
                if (t != banned && (best < 0 || last[t] > last[best])) best = t;
            seq.Add(best);
        }
        return seq.Skip(prompt.Length).ToArray();
    }
}
