using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Diffusion.Sampling;

/// <summary>A checkpoint whose embedding_size exceeds vocab_size: the model returns embedding-width logit rows, and the
/// samplers and the likelihood must read and score only the first vocab_size columns of each row.</summary>
public sealed class EmbeddingPaddingTests
{
    private const int Vocab = 12, Rows = 16, Mask = 2, Eos = 0;

    /// <summary>A tiny model whose padded head rows ±1000·row 0 dominate every position's full-width argmax.</summary>
    private static MaskPredictor PaddedModel()
    {
        var cfg = Presets.Tiny(Vocab, Mask, Eos) with { EmbeddingSize = Rows };
        var model = new MaskPredictor(cfg, seed: 7);
        var head = model.Head!.Weight.Data.ToArray(); // (Rows, C)
        int c = cfg.DModel;
        for (int r = Vocab; r < Rows; r++)
            for (int j = 0; j < c; j++) head[r * c + j] = (r % 2 == 0 ? 1000f : -1000f) * head[j];
        using var t = Tensor.FromArray(head, [Rows, c]);
        model.Head.Weight.Data.CopyFrom(t);
        return model;
    }

    /// <summary>The oracle: the model's full-width logits narrowed by hand to the vocabulary columns.</summary>
    private sealed class HandNarrowed(MaskPredictor model) : ILogitsModel
    {
        public int VocabSize => Vocab;
        public IBackend Backend => model.Backend;

        public Tensor Logits(Tensor ids, Tensor? keyPadding)
        {
            using var full = model.Forward(ids, keyPadding).Data;
            var all = full.ToArray();
            int n = all.Length / Rows;
            var narrow = new float[n * Vocab];
            for (int i = 0; i < n; i++) Array.Copy(all, i * Rows, narrow, i * Vocab, Vocab);
            return Tensor.FromArray(narrow, [ids.Dim(0), ids.Dim(1), Vocab], model.Backend);
        }
    }

    [Fact]
    public void GreedySamplerAndLikelihood_ReadOnlyTheVocabularyColumns()
    {
        using var model = PaddedModel();
        var sp = new SpecialTokens(Eos, Mask);
        int[] prompt = [5, 6, 7];
        // Precondition (so this test can fail): over the full embedding width a padded row wins at some position.
        using (var ids = Tensor.FromArray(prompt.Concat(Enumerable.Repeat(Mask, 6)).ToArray(), [1, 9]))
        using (var full = model.Forward(ids).Data)
        {
            var f = full.ToArray();
            Assert.Contains(Enumerable.Range(0, 9), p => Enumerable.Range(0, Rows).MaxBy(j => f[p * Rows + j]) >= Vocab);
        }
        var cfg = new SamplerConfig { Steps = 6, GenLength = 6, BlockLength = 3 };
        var product = new ReverseSampler(new MaskPredictorLogits(model), sp).Generate([prompt], cfg);
        var oracle = new ReverseSampler(new HandNarrowed(model), sp).Generate([prompt], cfg);
        Assert.All(product.Generated[0], t => Assert.InRange(t, 0, Vocab - 1));
        Assert.Equal(oracle.Generated[0], product.Generated[0]);
        Assert.Equal(oracle.FixedAtStep[0], product.FixedAtStep[0]);

        var lc = new LikelihoodConfig { McNum = 4, BatchSize = 2, Seed = 1 };
        var a = new LikelihoodEstimator(new MaskPredictorLogits(model), sp).Estimate(prompt, [8, 9, 10], lc);
        var b = new LikelihoodEstimator(new HandNarrowed(model), sp).Estimate(prompt, [8, 9, 10], lc);
        Assert.Equal(b.Value, a.Value, 9);
    }
}
