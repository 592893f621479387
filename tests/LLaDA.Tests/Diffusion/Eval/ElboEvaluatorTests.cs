using LLaDA.Diffusion.Eval;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Diffusion.Eval;

public class ElboEvaluatorTests
{
    private const int Mask = 1;

    /// <summary>An oracle that, at a masked position, gives the true token probability q and spreads 1 − q evenly over the other V − 1 tokens, whatever the context: −log p = −ln q per masked token.</summary>
    private sealed class KnowsTheAnswer(int vocab, int[] truth, double q) : ILogitsModel
    {
        public int VocabSize => vocab;
        public IBackend Backend => CpuBackend.Default;

        public Tensor Logits(Tensor ids, Tensor? keyPadding)
        {
            int b = ids.Dim(0), l = ids.Dim(1);
            var f = new float[b * l * vocab];
            float other = (float)Math.Log((1 - q) / (vocab - 1)), hit = (float)Math.Log(q);
            for (int i = 0; i < b; i++)
                for (int j = 0; j < l; j++)
                    for (int t = 0; t < vocab; t++) f[(i * l + j) * vocab + t] = t == truth[j] ? hit : other;
            return Tensor.FromArray(f, [b, l, vocab]);
        }
    }

    [Fact]
    public void ContextFreeOracle_NelboPerToken_IsMinusLogQ_WithinFourSe()
    {
        // ∫ (1/t)·E[#masked]·(−ln q) dt / n = (1/t)·t·n·(−ln q)/n = −ln q exactly at every t; only the mask draws vary.
        int[] seq = [2, 5, 6, 7, 8, 9, 4, 0];
        var seqs = Enumerable.Range(0, 6).Select(_ => new ElboSequence(seq, 1, 6)).ToList();
        var r = new ElboEvaluator(new KnowsTheAnswer(10, seq, 0.25), Mask).Evaluate(seqs, new ElboConfig { TGrid = 16, MaskDraws = 8, Seed = 4 });
        Assert.True(r.StdError > 0 && r.StdError < 0.1, $"se {r.StdError}");
        Assert.True(Math.Abs(r.NelboPerToken - Math.Log(4)) < 4 * r.StdError, $"{r.NelboPerToken:F4} ± {r.StdError:F4} vs ln 4 = {Math.Log(4):F4}");
        Assert.Equal(36, r.Tokens);
        Assert.Equal(Math.Log(4) / Math.Log(2), r.BitsPerChar, 4 * r.StdError / Math.Log(2) + 1e-12); // 2 bits per char
    }

    [Fact]
    public void PerfectOracle_HasZeroNelbo()
    {
        int[] seq = [2, 5, 6, 7, 0];
        var r = new ElboEvaluator(new KnowsTheAnswer(10, seq, 1 - 1e-12), Mask).Evaluate([new(seq, 1, 3), new(seq, 1, 3)]);
        Assert.Equal(0, r.NelboPerToken, 1e-9);
    }

    /// <summary>Exact negative ELBO of a sequence by enumeration: Σ_S (1/|S|)·C(n,|S|)⁻¹ Σ_(i∈S) −log p(x_i | x with S masked), the integral over t of the Bernoulli-masked 1/t-weighted loss.</summary>
    private static double ExactNelbo(ILogitsModel m, int[] ids, int start, int n)
    {
        int l = ids.Length, v = m.VocabSize;
        double total = 0;
        for (int s = 1; s < 1 << n; s++)
        {
            int size = System.Numerics.BitOperations.PopCount((uint)s);
            var x = (int[])ids.Clone();
            for (int i = 0; i < n; i++) if ((s >> i & 1) != 0) x[start + i] = Mask;
            using var logits = m.Logits(Tensor.FromArray(x, [1, l]), null);
            var f = logits.ToArray();
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                if ((s >> i & 1) == 0) continue;
                var row = f.AsSpan((start + i) * v, v).ToArray().Select(z => (double)z).ToArray();
                double max = row.Max();
                sum += max + Math.Log(row.Sum(z => Math.Exp(z - max))) - row[ids[start + i]];
            }
            total += sum / size / Binomial(n, size);
        }
        return total;
    }

    private static double Binomial(int n, int k)
    {
        double c = 1;
        for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
        return c;
    }

    [Fact]
    public void TinyModel_MatchesExactEnumeration_WithinFourSe()
    {
        using var model = new MaskPredictor(Presets.Tiny(12, Mask, 0) with { InitStd = 0.6f }, seed: 9);
        var m = new MaskPredictorLogits(model);
        int[][] docs = [[2, 5, 7, 3, 9, 0], [2, 4, 4, 8, 6, 0], [2, 10, 11, 5, 3, 0], [2, 6, 9, 9, 7, 0]];
        var seqs = docs.Select(d => new ElboSequence(d, 1, 4)).ToList();
        double exact = docs.Sum(d => ExactNelbo(m, d, 1, 4)) / 16;
        var r = new ElboEvaluator(m, Mask).Evaluate(seqs, new ElboConfig { TGrid = 32, MaskDraws = 16, Seed = 2 });
        Assert.True(Math.Abs(r.NelboPerToken - exact) < 4 * r.StdError, $"{r.NelboPerToken:F4} ± {r.StdError:F4}, exact {exact:F4}");
        Assert.Equal(r, new ElboEvaluator(m, Mask).Evaluate(seqs, new ElboConfig { TGrid = 32, MaskDraws = 16, Seed = 2 })); // fixed draws: reproducible
    }
}
