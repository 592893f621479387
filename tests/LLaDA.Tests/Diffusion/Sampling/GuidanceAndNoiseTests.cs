using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tensors.Random;
using Xunit;

namespace LLaDA.Tests.Diffusion.Sampling;

/// <summary>A fake predictor whose logits are any function of the whole input row and the position: it sees its input, unlike <see cref="OracleModel"/>.</summary>
public sealed class InputDependentModel(int vocab, Func<int[], int, double[]> logits) : ILogitsModel
{
    public int VocabSize => vocab;
    public IBackend Backend => CpuBackend.Default;
    public List<int[]> Rows { get; } = new();

    public Tensor Logits(Tensor ids, Tensor? keyPadding)
    {
        int b = ids.Dim(0), l = ids.Dim(1);
        var all = ids.ToIntArray();
        var res = new float[b * l * vocab];
        for (int i = 0; i < b; i++)
        {
            var row = all.AsSpan(i * l, l).ToArray();
            Rows.Add(row);
            for (int j = 0; j < l; j++)
            {
                var z = logits(row, j);
                for (int t = 0; t < vocab; t++) res[(i * l + j) * vocab + t] = (float)z[t];
            }
        }
        return Tensor.FromArray(res, [b, l, vocab]);
    }
}

/// <summary>Classifier-free guidance in the sampler and the likelihood, random remasking and temperature sampling, against hand-computed or independent references.</summary>
public class GuidanceAndNoiseTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2);
    private const int V = 6, A = 3, B = 4, PromptToken = 5;

    /// <summary>
    /// Conditional rows (prompt [BOS, 5] visible) prefer A over B by 0.9 at position 2 and by 1.1 at position 3; the
    /// unconditional rows (prompt masked) by 1.9 and 2.1. Guided, A − B = u + s(c − u) with s = w + 1, so position 2 turns
    /// to B exactly when s &gt; 1.9 and position 3 when s &gt; 2.1. Any other row is an error: the model checks its input.
    /// </summary>
    private static InputDependentModel Guided() => new(V, (row, j) =>
    {
        bool cond = row[0] == 2 && row[1] == PromptToken, uncond = row[0] == Sp.Mask && row[1] == Sp.Mask;
        if (!cond && !uncond) throw new InvalidOperationException($"unexpected prompt [{row[0]}, {row[1]}]");
        double margin = (j == 2 ? 0.9 : 1.1) + (uncond ? 1.0 : 0.0);
        var z = Enumerable.Repeat(-20.0, V).ToArray();
        z[A] = margin;
        z[B] = 0;
        return z;
    });

    [Theory]
    [InlineData(0.0, new[] { A, A })]   // no guidance: the conditional margins 0.9, 1.1
    [InlineData(0.5, new[] { A, A })]   // s = 1.5: A − B = 1.9 − 1.5 = 0.4 and 2.1 − 1.5 = 0.6
    [InlineData(1.0, new[] { B, A })]   // s = 2:   −0.1 and 0.1
    [InlineData(1.5, new[] { B, B })]   // s = 2.5: −0.6 and −0.4
    public void Generate_Cfg_CombinesUnconditionalAndConditionalAsWPlusOne(double w, int[] expected)
    {
        var model = Guided();
        var r = new ReverseSampler(model, Sp).Generate([[2, PromptToken]], new SamplerConfig { GenLength = 2, BlockLength = 2, Steps = 2, CfgScale = w });
        Assert.Equal(expected, r.Generated[0]);
        if (w > 0)
        {
            // Second pass: the unconditional row has the prompt masked and keeps the token committed in the first step.
            var cond = model.Rows[2];
            var uncond = model.Rows[3];
            Assert.Equal(new[] { Sp.Mask, Sp.Mask }, uncond[..2]);
            Assert.Equal(cond[2..], uncond[2..]);
            Assert.Equal(1, cond[2..].Count(t => t == Sp.Mask));
        }
    }

    [Fact]
    public void Likelihood_Cfg_EqualsHandComputedGuidedLogProbability()
    {
        // Every answer position: conditional logits 1 for token 3 and 0 for the other five, unconditional 0.5.
        // Guided (w = 1, s = 2): 0.5 + 2·(1 − 0.5) = 1.5 → log p(3) = 1.5 − ln(5 + e^1.5) = −0.74936.
        // The logits do not depend on which answer positions are masked, so every sample is T·CE and the estimate is exact:
        // answer "3 3" → 2·(−0.74936) = −1.49873 (unguided: 2·(1 − ln(5 + e)) = −2.08714).
        var model = new InputDependentModel(V, (row, j) =>
        {
            bool uncond = row[0] == Sp.Mask && row[1] == Sp.Mask;
            if (!uncond && row[1] != PromptToken) throw new InvalidOperationException("unexpected prompt");
            var z = new double[V];
            z[A] = uncond ? 0.5 : 1.0;
            return z;
        });
        var est = new LikelihoodEstimator(model, Sp);
        var guided = est.Estimate([2, PromptToken], [A, A], new LikelihoodConfig { McNum = 8, BatchSize = 4, CfgScale = 1.0, Seed = 5 });
        Assert.Equal(2 * (1.5 - Math.Log(5 + Math.Exp(1.5))), guided.Value, 5);
        Assert.Equal(-1.49873, guided.Value, 4);
        var plain = est.Estimate([2, PromptToken], [A, A], new LikelihoodConfig { McNum = 8, BatchSize = 4, Seed = 5 });
        Assert.Equal(2 * (1 - Math.Log(5 + Math.E)), plain.Value, 5);
        // The unconditional rows the estimator built: prompt masked, answer as in its conditional twin.
        Assert.Contains(model.Rows, r => r[0] == Sp.Mask && r[1] == Sp.Mask);
    }

    /// <summary>The sampler's documented random-remasking rule, written out: each step every still-masked position j of row i
    /// draws u = 53-bit uniform from Philox(seed ⊕ 0x5EED, step·2⁴⁰ ⊕ i·2²⁴, words 2j and 2j + 1); the quota with the largest u commits.</summary>
    private static int[] RandomRemaskingOrder(int promptLength, int genLength, int steps, ulong seed)
    {
        var fixedAt = Enumerable.Repeat(-1, genLength).ToArray();
        int perStep = genLength / steps;
        for (int s = 0; s < steps; s++)
        {
            ulong offset = (ulong)s << 40;
            var open = Enumerable.Range(0, genLength).Where(g => fixedAt[g] < 0).Select(g =>
            {
                long j = promptLength + g;
                ulong hi = Philox.Word(seed ^ 0x5EED, offset, 2 * j) >> 5, lo = Philox.Word(seed ^ 0x5EED, offset, 2 * j + 1) >> 6;
                return (G: g, U: ((hi << 26) + lo + 0.5) / Math.Pow(2, 53));
            }).OrderByDescending(x => x.U).ThenBy(x => x.G).Take(perStep);
            foreach (var (g, _) in open) fixedAt[g] = s;
        }
        return fixedAt;
    }

    [Theory]
    [InlineData(11UL)]
    [InlineData(12UL)]
    public void Generate_RandomRemasking_CommitsThePositionsTheRuleDraws_NotTheConfidentOnes(ulong seed)
    {
        // Confidence rises with the position: low-confidence remasking would commit 7, 6 first.
        var oracle = new OracleModel(20, j => 4 + j % 16, j => 1.0 + 0.25 * j);
        var cfg = new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 4, Remasking = Remasking.Random, Seed = seed };
        var r = new ReverseSampler(oracle, Sp).Generate([[2, 9]], cfg);
        Assert.Equal(RandomRemaskingOrder(2, 8, 4, seed), r.FixedAtStep[0]);
        Assert.Equal(Enumerable.Range(2, 8).Select(j => 4 + j % 16), r.Generated[0]); // which token: still the model's choice
    }

    [Fact]
    public void Generate_RandomRemasking_FirstCommittedPositionIsUniform()
    {
        // 800 seeds, 8 positions, one commit per step: the first position committed is uniform over the 8, whatever the
        // confidences (which here favour the last). Chi-square with 7 degrees of freedom; critical value 29.88 at p = 1e-4.
        var oracle = new OracleModel(20, j => 4 + j % 16, j => 1.0 + 0.25 * j);
        var counts = new int[8];
        for (ulong seed = 0; seed < 800; seed++)
        {
            var r = new ReverseSampler(oracle, Sp).Generate([[2]], new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8, Remasking = Remasking.Random, Seed = seed });
            counts[Array.IndexOf(r.FixedAtStep[0], 0)]++;
        }
        double chi2 = counts.Sum(c => (c - 100.0) * (c - 100.0) / 100.0);
        Assert.True(chi2 < 29.88, $"chi-square {chi2:F2} ≥ 29.88 (p < 1e-4) for first-commit counts [{string.Join(", ", counts)}]");
    }

    [Fact]
    public void Generate_Temperature_SamplesFollowSoftmaxOfLogitsOverT()
    {
        // 4,000 positions committed in one step, each an independent Gumbel-max draw from the same logits. The counts over
        // the 5 allowed tokens (the mask id has logit −∞) are tested against softmax(l/T) by chi-square with 4 degrees of
        // freedom; critical value 23.51 at p = 1e-4 (fixed seed, so the outcome is deterministic).
        const int n = 4000;
        const double temperature = 0.7;
        double[] l = [0.3, double.NegativeInfinity, 1.0, 0.0, 0.5, -1.0];
        var model = new InputDependentModel(V, (_, _) => l);
        var r = new ReverseSampler(model, Sp).Generate([[2]], new SamplerConfig { GenLength = n, BlockLength = n, Steps = 1, Temperature = temperature, Seed = 42 });
        var counts = new int[V];
        foreach (int t in r.Generated[0]) counts[t]++;
        Assert.Equal(0, counts[Sp.Mask]);
        double z = l.Sum(x => Math.Exp(x / temperature));
        double chi2 = 0;
        for (int t = 0; t < V; t++)
        {
            if (t == Sp.Mask) continue;
            double expected = n * Math.Exp(l[t] / temperature) / z;
            chi2 += (counts[t] - expected) * (counts[t] - expected) / expected;
        }
        Assert.True(chi2 < 23.51, $"chi-square {chi2:F2} ≥ 23.51 (p < 1e-4) for counts [{string.Join(", ", counts)}]");
    }
}
