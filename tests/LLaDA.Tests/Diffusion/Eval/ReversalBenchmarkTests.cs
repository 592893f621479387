using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Eval;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Diffusion.Eval;

public class ReversalBenchmarkTests
{
    [Fact]
    public void GreedyAutoregressive_NeverPicksAPaddedEmbeddingRow()
    {
        // Vocabulary 12 in 16 embedding rows. The head's real rows are zero (every real logit is 0) and the padded rows 13 and 14
        // are +c and −c, so one padded logit is |h·c| > 0: an argmax over all rows would pick it, over the vocabulary never.
        var cfg = LLaDA.Nn.Presets.Tiny(12, 1, 0) with { EmbeddingSize = 16, Causal = true };
        using var model = new LLaDA.Nn.MaskPredictor(cfg, seed: 3);
        var head = model.NamedParameters().Single(p => p.Name == "model.transformer.ff_out.weight").Parameter.Data; // (16, d)
        int d = cfg.DModel;
        var w = new float[16 * d];
        for (int j = 0; j < d; j++)
        {
            w[13 * d + j] = 1f + j % 3;
            w[14 * d + j] = -(1f + j % 3);
        }
        head.CopyFrom(LLaDA.Tensors.Tensor.FromArray(w, [16, d]));
        var ids = ReversalBenchmark.GreedyAutoregressive(model, [2, 5, 7], 4, banned: 0);
        Assert.Equal(4, ids.Length);
        Assert.All(ids, t => Assert.InRange(t, 1, 11)); // below vocab_size, never the banned 0
    }

    [Fact]
    public void Run_TinyBudget_ScoresBothModelsOnEvenPoems()
    {
        var corpus = PoemCorpus.FromLines(
        [
            "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
            "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
            "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
            "红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
        ]);
        // 200 steps at lr 1e-2: enough for AR-mini to memorise the forward questions (measured: final loss ≈ 0.2), not for LLaDA-mini.
        var cfg = new ReversalConfig { Poems = 4, Steps = 200, Batch = 4, Lr = 1e-2f, Preset = "tiny", FastDecodings = [new SamplerConfig { Threshold = 0.9 }] };
        var scores = ReversalBenchmark.Run(corpus, cfg, CpuBackend.Default);
        Assert.Equal(new[] { "LLaDA-mini", "LLaDA-mini (threshold 0.9)", "AR-mini" }, scores.Select(s => s.Model));
        Assert.All(scores, s =>
        {
            Assert.Equal(4, s.Queries); // two couplets each of poems 0 and 2
            // Accuracies are counts out of the 4 queries.
            foreach (double acc in new[] { s.Forward, s.Reversal, s.ReversalInfill ?? 0 })
                Assert.Contains(acc, new[] { 0, 0.25, 0.5, 0.75, 1 });
        });
        // The reversal curse in miniature: AR-mini answers every trained forward question and none of the reversed ones
        // (the reverse template was only trained on the odd poems).
        Assert.Equal(1.0, scores[2].Forward);
        Assert.Equal(0.0, scores[2].Reversal);
        // One token per step: exactly one forward pass per generated token, in every query kind.
        Assert.Equal(1.0, scores[0].PassesPerToken);
        Assert.Equal(1.0, scores[0].ForwardPassesPerToken);
        Assert.Equal(1.0, scores[0].InfillPassesPerToken);
        // Threshold decoding commits at least one token per pass, so never more passes than tokens (and at least one per query).
        var fast = scores[1];
        Assert.NotNull(fast.ReversalInfill);
        Assert.InRange(fast.PassesPerToken, 1.0 / 5, 1.0);
        Assert.InRange(fast.ForwardPassesPerToken, 1.0 / 5, 1.0);
        Assert.InRange(fast.InfillPassesPerToken!.Value, 1.0 / 5, 1.0);
        Assert.NotNull(scores[0].ReversalInfill);
        Assert.Null(scores[2].ReversalInfill);
        Assert.Null(scores[2].InfillPassesPerToken);
    }

    [Fact]
    public void Run_CachedDecoding_IsRejectedBeforeTraining()
    {
        // Infilling inside fixed-length documents has no KV-cache path: the error must come at once, not after training.
        var corpus = PoemCorpus.FromLines(["白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"]);
        var cfg = new ReversalConfig { Poems = 1, Steps = 1_000_000, Preset = "tiny", FastDecodings = [new SamplerConfig { Threshold = 0.9, Cache = LLaDA.Nn.CacheMode.Dual }] };
        var e = Assert.Throws<ArgumentException>(() => ReversalBenchmark.Run(corpus, cfg, CpuBackend.Default));
        Assert.Contains("threshold 0.9 + dual cache", e.Message);
    }
}
