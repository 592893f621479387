using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Sampling.Policies;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Diffusion.Sampling.Policies;

/// <summary>Each policy's score against hand-computed values on a V = 4 vocabulary, and its effect on the sampler's commit order.</summary>
public class PolicyScoreTests
{
    // logits ln 4, ln 2, ln 1, ln 1 → softmax = 4/8, 2/8, 1/8, 1/8 = 0.5, 0.25, 0.125, 0.125.
    private static readonly double[] L = [Math.Log(4), Math.Log(2), 0, 0];
    private static readonly ScoreSite Site = new(Seed: 7, Step: 3, Row: 1, Pos: 5);
    private const double Tol = 1e-12;

    [Fact]
    public void Confidence_IsSoftmaxProbabilityOfX0()
    {
        Assert.Equal(0.5, ConfidencePolicy.Instance.Score(L, 0, Site), Tol);
        Assert.Equal(0.25, ConfidencePolicy.Instance.Score(L, 1, Site), Tol);
        Assert.Equal(0.125, ConfidencePolicy.Instance.Score(L, 3, Site), Tol);
        // Suppressed x0 (−∞) has probability 0; all −∞ gives 0 (commits last).
        Assert.Equal(0.0, ConfidencePolicy.Instance.Score([0, double.NegativeInfinity, 0, 0], 1, Site));
        Assert.Equal(0.0, ConfidencePolicy.Instance.Score([double.NegativeInfinity, double.NegativeInfinity], 0, Site));
    }

    [Fact]
    public void Margin_IsX0ProbabilityMinusBestOther()
    {
        Assert.Equal(0.5 - 0.25, MarginPolicy.Instance.Score(L, 0, Site), Tol);   // top-1 − top-2
        Assert.Equal(0.25 - 0.5, MarginPolicy.Instance.Score(L, 1, Site), Tol);   // x0 not the top: negative
        Assert.Equal(0.125 - 0.5, MarginPolicy.Instance.Score(L, 2, Site), Tol);
        // ln 3, ln 3, ln 1, −∞ → 3/7, 3/7, 1/7, 0: a tie at the top has margin 0.
        Assert.Equal(0.0, MarginPolicy.Instance.Score([Math.Log(3), Math.Log(3), 0, double.NegativeInfinity], 0, Site), Tol);
        // One finite logit: p = 1, runner-up 0 → margin 1; suppressed x0: 0 − 1 = −1.
        double[] one = [double.NegativeInfinity, 2.0, double.NegativeInfinity, double.NegativeInfinity];
        Assert.Equal(1.0, MarginPolicy.Instance.Score(one, 1, Site), Tol);
        Assert.Equal(-1.0, MarginPolicy.Instance.Score(one, 0, Site), Tol);
        Assert.Equal(0.25, ((IUnmaskingPolicy)MarginPolicy.Instance).ThresholdValue(0.25)); // the margin itself
    }

    [Fact]
    public void Entropy_IsNegativeEntropy_ThresholdOnInversePerplexity()
    {
        // −H = ½ ln ½ + ¼ ln ¼ + 2 · ⅛ ln ⅛ = −(½ + ½ + ¾) ln 2 = −1.75 ln 2.
        double negH = -1.75 * Math.Log(2);
        Assert.Equal(negH, EntropyPolicy.Instance.Score(L, 0, Site), Tol);
        Assert.Equal(negH, EntropyPolicy.Instance.Score(L, 2, Site), Tol);  // does not depend on x0
        Assert.Equal(Math.Pow(2, -1.75), EntropyPolicy.Instance.ThresholdValue(negH), Tol);
        // Uniform over 4: −ln 4, exp(−H) = ¼; one-hot (others −∞): 0, exp = 1.
        Assert.Equal(-Math.Log(4), EntropyPolicy.Instance.Score([1, 1, 1, 1], 0, Site), Tol);
        Assert.Equal(0.0, EntropyPolicy.Instance.Score([double.NegativeInfinity, 3, double.NegativeInfinity, double.NegativeInfinity], 1, Site), Tol);
        // Uniform over the 2 finite tokens: −ln 2; a suppressed x0 scores −∞ (commits last), exp(−∞) = 0.
        double[] two = [0, 0, double.NegativeInfinity, double.NegativeInfinity];
        Assert.Equal(-Math.Log(2), EntropyPolicy.Instance.Score(two, 1, Site), Tol);
        Assert.Equal(double.NegativeInfinity, EntropyPolicy.Instance.Score(two, 2, Site));
        Assert.Equal(0.0, EntropyPolicy.Instance.ThresholdValue(double.NegativeInfinity));
    }

    [Fact]
    public void Random_IsAFreshUniformDrawPerStep_Origin_IsFixedAcrossSteps()
    {
        double r = RandomPolicy.Instance.Score(L, 0, Site);
        Assert.InRange(r, 0, 1);
        Assert.Equal(SamplerNoise.UniformOpen(Site.Seed ^ 0x5EED, SamplerNoise.StepOffset(Site.Step, Site.Row), Site.Pos), r); // the pre-policy draw
        Assert.NotEqual(r, RandomPolicy.Instance.Score(L, 0, Site with { Step = 4 }));
        Assert.Equal(r, RandomPolicy.Instance.Score([0, 0, 0, 0], 2, Site));   // ignores the logits

        double o = OriginPolicy.Instance.Score(L, 0, Site);
        Assert.InRange(o, 0, 1);
        Assert.Equal(o, OriginPolicy.Instance.Score([0, 0, 0, 0], 3, Site with { Step = 99 })); // same at every step, any logits
        Assert.NotEqual(o, OriginPolicy.Instance.Score(L, 0, Site with { Pos = 6 }));
        Assert.NotEqual(o, OriginPolicy.Instance.Score(L, 0, Site with { Row = 2 }));
        Assert.NotEqual(o, OriginPolicy.Instance.Score(L, 0, Site with { Seed = 8 }));
    }

    [Fact]
    public void Parse_AcceptsEveryNameAndTheLowConfidenceAlias_RejectsOthers()
    {
        foreach (var name in UnmaskingPolicies.Names.Split('|'))
            Assert.Equal(name, UnmaskingPolicies.NameOf(UnmaskingPolicies.Parse(name)));
        Assert.Equal(Remasking.LowConfidence, UnmaskingPolicies.Parse("low_confidence"));
        var e = Assert.Throws<ArgumentException>(() => UnmaskingPolicies.Parse("greedy"));
        Assert.Contains("confidence,margin,entropy,random,origin", e.Message);
    }

    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2);

    /// <summary>Fixed probabilities per absolute position (V = 4; tokens 2 and 3 are the candidates): position j gets row j of the table.</summary>
    private sealed class TableModel(double[][] probs) : ILogitsModel
    {
        public int VocabSize => 4;
        public IBackend Backend => CpuBackend.Default;

        public Tensor Logits(Tensor ids, Tensor? keyPadding)
        {
            int b = ids.Dim(0), l = ids.Dim(1);
            var f = new float[b * l * 4];
            for (int i = 0; i < b; i++)
                for (int j = 0; j < l; j++)
                    for (int t = 0; t < 4; t++)
                        f[(i * l + j) * 4 + t] = (float)Math.Log(probs[Math.Min(j, probs.Length - 1)][t]);
            return Tensor.FromArray(f, [b, l, 4]);
        }
    }

    [Fact]
    public void Sampler_CommitOrder_FollowsEachPolicysScores()
    {
        // Position 1: (.01, .01, .50, .48): conf .50, margin .02, −H = −(2·.01 ln 100 + .5 ln 2 + .48 ln(1/.48)) ≈ −0.790
        // Position 2: (.05, .05, .05, .85): conf .85, margin .80, −H ≈ −0.588   → first for every probability policy
        // Position 3: (.10, .10, .45, .35): conf .45, margin .10, −H ≈ −1.193
        double[][] table = [[0.25, 0.25, 0.25, 0.25], [0.01, 0.01, 0.50, 0.48], [0.05, 0.05, 0.05, 0.85], [0.10, 0.10, 0.45, 0.35]];
        var sampler = new ReverseSampler(new TableModel(table), Sp);
        int[] Order(Remasking r) => sampler.Generate([[2]], new SamplerConfig { GenLength = 3, BlockLength = 3, Steps = 3, Remasking = r }).FixedAtStep[0];
        Assert.Equal(new[] { 1, 0, 2 }, Order(Remasking.LowConfidence)); // .85 > .50 > .45
        Assert.Equal(new[] { 2, 0, 1 }, Order(Remasking.Margin));        // .80 > .10 > .02
        Assert.Equal(new[] { 1, 0, 2 }, Order(Remasking.Entropy));       // −0.588 > −0.790 > −1.193
        // Threshold 0.4 on the margin scale commits position 2 (margin .8) and nothing else in the first step.
        var thr = sampler.Generate([[2]], new SamplerConfig { GenLength = 3, BlockLength = 3, Threshold = 0.4, Remasking = Remasking.Margin });
        Assert.Equal(new[] { 2, 0, 1 }, thr.FixedAtStep[0]);
        // Threshold 0.5 on exp(−H): position 2 (e^−0.588 = .56) passes, position 1 (e^−0.790 = .45) does not.
        var ent = sampler.Generate([[2]], new SamplerConfig { GenLength = 3, BlockLength = 3, Threshold = 0.5, Remasking = Remasking.Entropy });
        Assert.Equal(0, ent.FixedAtStep[0][1]);
        Assert.Equal(1, ent.FixedAtStep[0].Count(s => s == 0));
        // Threshold 0.4: positions 2 and 1 (e^−0.790 = .45) pass, position 3 (e^−1.187 = .31) waits — on the raw −H scale nothing would.
        var ent4 = sampler.Generate([[2]], new SamplerConfig { GenLength = 3, BlockLength = 3, Threshold = 0.4, Remasking = Remasking.Entropy });
        Assert.Equal(new[] { 0, 0, 1 }, ent4.FixedAtStep[0]);
    }

    [Fact]
    public void Origin_CommitsInOneFixedRandomOrder_IndependentOfTheModel()
    {
        double[][] a = [[0.25, 0.25, 0.25, 0.25], [0.01, 0.01, 0.50, 0.48], [0.05, 0.05, 0.05, 0.85], [0.10, 0.10, 0.45, 0.35]];
        double[][] b = [[0.25, 0.25, 0.25, 0.25], [0.05, 0.05, 0.05, 0.85]];
        var cfg = new SamplerConfig { GenLength = 6, BlockLength = 6, Steps = 6, Remasking = Remasking.Origin, Seed = 11 };
        var ra = new ReverseSampler(new TableModel(a), Sp).Generate([[2], [2]], cfg);
        var rb = new ReverseSampler(new TableModel(b), Sp).Generate([[2], [2]], cfg);
        Assert.Equal(ra.FixedAtStep, rb.FixedAtStep);
        // The order is the descending order of the origin draws of (seed, row, absolute position 1..6).
        for (int row = 0; row < 2; row++)
        {
            var expected = Enumerable.Range(1, 6).OrderByDescending(p => OriginPolicy.Instance.Score([], 0, new ScoreSite(11, 0, row, p))).ToList();
            for (int s = 0; s < 6; s++) Assert.Equal(s, ra.FixedAtStep[row][expected[s] - 1]);
        }
        Assert.NotEqual(ra.FixedAtStep[0], ra.FixedAtStep[1]);            // each sequence has its own order
        var other = new ReverseSampler(new TableModel(a), Sp).Generate([[2], [2]], cfg with { Seed = 12 });
        Assert.NotEqual(ra.FixedAtStep[0], other.FixedAtStep[0]);         // seeded
    }
}
