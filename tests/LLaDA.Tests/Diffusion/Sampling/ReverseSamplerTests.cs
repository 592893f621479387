using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using Xunit;

namespace LLaDA.Tests.Diffusion.Sampling;

public class ReverseSamplerTests
{
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2, EndOfTurn: 3);
    private const int V = 20;

    // Target token of absolute position j: 4 + j % 16 (never a special id); confidence rises with j.
    private static OracleModel Oracle() => new(V, j => 4 + j % 16, j => 1.0 + 0.25 * j);

    [Fact]
    public void TransferSchedule_RemainderGoesToEarliestSteps()
    {
        Assert.Equal(new[] { 7, 7, 6, 6, 6 }, TransferSchedule.Quota(32, 5)); // SPEC §6.3 example
        Assert.Equal(new[] { 1, 1, 0, 0 }, TransferSchedule.Quota(2, 4));
    }

    [Fact]
    public void Generate_CommitsExactlyTheQuotaEachStep_PromptUntouched_OutputIsTarget()
    {
        var oracle = Oracle();
        var sampler = new ReverseSampler(oracle, Sp);
        int[] prompt = [2, 5, 6];
        var steps = new List<SamplerStep>();
        var cfg = new SamplerConfig { GenLength = 12, BlockLength = 12, Steps = 5 };
        var r = sampler.Generate([prompt], cfg, steps.Add);
        var quota = TransferSchedule.Quota(12, 5);
        for (int s = 0; s < 5; s++) Assert.Equal(quota[s], r.FixedAtStep[0].Count(x => x == s));
        Assert.Equal(Enumerable.Range(3, 12).Select(j => 4 + j % 16), r.Generated[0]);
        Assert.All(steps, st => Assert.Equal(prompt, st.Tokens[0][..3]));
        Assert.Equal(5, r.ForwardPasses);
        // Low-confidence remasking: the most confident (latest) positions commit first.
        Assert.Equal(0, r.FixedAtStep[0][11]);
        Assert.Equal(4, r.FixedAtStep[0][0]);
    }

    [Fact]
    public void Generate_SemiAutoregressive_NeverCommitsBeyondTheCurrentBlock()
    {
        var sampler = new ReverseSampler(Oracle(), Sp);
        var cfg = new SamplerConfig { GenLength = 16, BlockLength = 4, Steps = 8 };
        var r = sampler.Generate([[2, 7]], cfg);
        // 4 blocks × 2 steps: positions of block k are fixed at steps 2k and 2k+1 only.
        for (int pos = 0; pos < 16; pos++)
            Assert.InRange(r.FixedAtStep[0][pos], 2 * (pos / 4), 2 * (pos / 4) + 1);
        Assert.Equal(Enumerable.Range(2, 16).Select(j => 4 + j % 16), r.Generated[0]);
    }

    [Fact]
    public void Generate_TemperatureZero_IsDeterministic_TemperatureSamplingIsSeeded()
    {
        var flat = new OracleModel(V, j => 4, _ => 0.0); // uniform logits: every token equally likely at T > 0
        var sampler = new ReverseSampler(flat, Sp);
        var greedy = new SamplerConfig { GenLength = 8, BlockLength = 8, Steps = 8 };
        Assert.Equal(sampler.Generate([[2]], greedy).Generated[0], sampler.Generate([[2]], greedy).Generated[0]);
        var hot = greedy with { Temperature = 1.0, Seed = 3 };
        var a = sampler.Generate([[2]], hot).Generated[0];
        var b = sampler.Generate([[2]], hot).Generated[0];
        var c = sampler.Generate([[2]], hot with { Seed = 4 }).Generated[0];
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Generate_PromptsOfDifferentLengths_AreLeftPaddedAndMasked()
    {
        var oracle = Oracle();
        var sampler = new ReverseSampler(oracle, Sp);
        var r = sampler.Generate([[2, 9, 9, 9], [2, 8]], new SamplerConfig { GenLength = 4, BlockLength = 4, Steps = 4 });
        // Row 1 is left-padded with EOS (pad) by 2; its answer sits at the same absolute positions 4..7.
        var first = oracle.Inputs[0];
        Assert.Equal(new[] { 0, 0, 2, 8 }, first[8..12]);
        Assert.Equal(r.Generated[0], r.Generated[1]);
    }

    [Fact]
    public void Generate_Cfg_RunsConditionalAndUnconditionalInOneBatch()
    {
        var oracle = Oracle();
        var sampler = new ReverseSampler(oracle, Sp);
        var r = sampler.Generate([[2, 5]], new SamplerConfig { GenLength = 4, BlockLength = 4, Steps = 2, CfgScale = 1.0 });
        Assert.Equal(2, oracle.Calls);
        var batch = oracle.Inputs[0];
        Assert.Equal(2 * 6, batch.Length);
        Assert.Equal(new[] { 1, 1 }, batch[6..8]); // unconditional row: prompt replaced by the mask
        Assert.Equal(Enumerable.Range(2, 4).Select(j => 4 + j % 16), r.Generated[0]);
    }

    [Fact]
    public void Generate_LogitsEosInf_NeverEmitsEos()
    {
        var eosLover = new OracleModel(V, _ => 0, _ => 5.0); // EOS has the highest logit everywhere
        var sampler = new ReverseSampler(eosLover, Sp);
        var plain = sampler.Generate([[2]], new SamplerConfig { GenLength = 6, BlockLength = 6, Steps = 6 });
        Assert.All(plain.Generated[0], t => Assert.Equal(0, t));
        var noEos = sampler.Generate([[2]], new SamplerConfig { GenLength = 6, BlockLength = 6, Steps = 6, LogitsEosInf = true });
        Assert.DoesNotContain(0, noEos.Generated[0]);
    }

    [Fact]
    public void Generate_ConfidenceEosInf_CommitsEosLast()
    {
        // Position 3 (absolute 4) predicts EOS with the highest margin; with confidence_eos_eot_inf it must commit last.
        var oracle = new OracleModel(V, j => j == 4 ? 0 : 5, j => j == 4 ? 9.0 : 2.0);
        var sampler = new ReverseSampler(oracle, Sp);
        var r = sampler.Generate([[2]], new SamplerConfig { GenLength = 6, BlockLength = 6, Steps = 6, ConfidenceEosEotInf = true });
        Assert.Equal(0, r.Generated[0][3]);
        Assert.Equal(5, r.FixedAtStep[0][3]);
    }

    [Fact]
    public void Validate_RejectsIndivisibleLengths()
    {
        Assert.Throws<ArgumentException>(() => new SamplerConfig { GenLength = 10, BlockLength = 4 }.Validate());
        Assert.Throws<ArgumentException>(() => new SamplerConfig { GenLength = 8, BlockLength = 4, Steps = 3 }.Validate());
    }
}

public class InfillTests
{
    [Fact]
    public void Infill_MaskedSpanBeforeKnownText_FillsTargetsWithinQuota()
    {
        var sp = new LLaDA.Diffusion.Data.SpecialTokens(Eos: 0, Mask: 1, Bos: 2);
        var oracle = new OracleModel(20, j => 4 + j % 16, j => 1.0 + j);
        var sampler = new ReverseSampler(oracle, sp);
        int[] row = [2, 1, 1, 1, 9, 9, 0];
        var r = sampler.Infill([row], new SamplerConfig { Steps = 3 });
        Assert.Equal(new[] { 5, 6, 7 }, r.Generated[0]);   // targets of positions 1..3
        Assert.Equal(new[] { 2, 1, 0 }, r.FixedAtStep[0]); // most confident (later) positions first, one per step
        Assert.Equal(3, r.ForwardPasses);
    }
}
