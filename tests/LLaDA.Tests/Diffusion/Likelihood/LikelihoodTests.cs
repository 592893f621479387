using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Diffusion.Likelihood;

public class LikelihoodTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2);

    private static MaskPredictor Model() => new(Presets.Tiny(12, Sp.Mask, Sp.Eos) with { InitStd = 0.6f }, seed: 9);

    /// <summary>Exact ELBO by enumeration: (1/T) Σ_n (T/n) · mean over |S| = n of Σ_{i∈S} log p(x_i | x with S masked).</summary>
    private static double ExactBound(ILogitsModel m, int[] prompt, int[] answer)
    {
        int p = prompt.Length, t = answer.Length, l = p + t, v = m.VocabSize;
        var seq = prompt.Concat(answer).ToArray();
        double total = 0;
        for (int n = 1; n <= t; n++)
        {
            var subsets = Enumerable.Range(0, 1 << t).Where(s => System.Numerics.BitOperations.PopCount((uint)s) == n).ToList();
            double sumN = 0;
            foreach (int s in subsets)
            {
                var ids = (int[])seq.Clone();
                for (int i = 0; i < t; i++) if ((s >> i & 1) != 0) ids[p + i] = Sp.Mask;
                using var logits = m.Logits(Tensor.FromArray(ids, [1, l]), null);
                var f = logits.ToArray();
                for (int i = 0; i < t; i++)
                {
                    if ((s >> i & 1) == 0) continue;
                    var row = f.AsSpan((p + i) * v, v).ToArray().Select(x => (double)x).ToArray();
                    double max = row.Max();
                    double lse = max + Math.Log(row.Sum(z => Math.Exp(z - max)));
                    sumN += row[seq[p + i]] - lse;
                }
            }
            total += (double)t / n * sumN / subsets.Count;
        }
        return total / t;
    }

    [Fact]
    public void Estimate_Mean_WithinFourSigmaOfExactBound()
    {
        using var model = Model();
        var m = new MaskPredictorLogits(model);
        int[] prompt = [2, 5], answer = [7, 3, 9, 4];
        double exact = ExactBound(m, prompt, answer);
        var est = new LikelihoodEstimator(m, Sp).Estimate(prompt, answer, new LikelihoodConfig { McNum = 512, BatchSize = 4, Seed = 3 });
        Assert.True(est.StdError > 0);
        Assert.True(Math.Abs(est.Value - exact) < 4 * est.StdError, $"estimate {est.Value:F4} ± {est.StdError:F4}, exact {exact:F4}");
    }

    [Fact]
    public void Estimate_SingleTokenAnswer_IsExactLogProbability()
    {
        // T = 1: every sample masks the one token with p_mask = 1, so the estimate is exactly log p(x | prompt).
        using var model = Model();
        var m = new MaskPredictorLogits(model);
        double exact = ExactBound(m, [2, 6, 7], [8]);
        var est = new LikelihoodEstimator(m, Sp).Estimate([2, 6, 7], [8], new LikelihoodConfig { McNum = 4, BatchSize = 2 });
        Assert.Equal(exact, est.Value, 4);
    }

    [Fact]
    public void MultipleChoice_PicksTheOptionTheModelPrefers()
    {
        using var model = Model();
        var m = new MaskPredictorLogits(model);
        var est = new LikelihoodEstimator(m, Sp);
        int[] prompt = [2, 5];
        int[][] options = [[3], [4], [7], [9]];
        var (best, scores) = est.MultipleChoice(prompt, options, new LikelihoodConfig { McNum = 2, BatchSize = 2 });
        var exact = options.Select(o => ExactBound(m, prompt, o)).ToArray();
        Assert.Equal(Array.IndexOf(exact, exact.Max()), best);
        for (int i = 0; i < 4; i++) Assert.Equal(exact[i], scores[i].Value, 4);
    }

    [Fact]
    public void Estimate_BadBatching_Throws()
    {
        using var model = Model();
        var est = new LikelihoodEstimator(new MaskPredictorLogits(model), Sp);
        Assert.Throws<ArgumentException>(() => est.Estimate([2], [3, 4], new LikelihoodConfig { McNum = 10, BatchSize = 4 }));
    }
}
