using LLaDA.Diffusion;
using Xunit;

namespace LLaDA.Tests.Diffusion;

public class ForwardProcessTests
{
    private const int Mask = 99;

    [Fact]
    public void Pretrain_MaskRate_MatchesPMaskPerRow()
    {
        // For each row the masked count is Binomial(L, p_i): mean L·p_i, sd √(L·p_i(1−p_i)) ≤ √L/2 = 32 for L = 4096.
        const int b = 8, l = 4096;
        var ids = Enumerable.Range(0, b * l).Select(i => i % 50).ToArray();
        using var batch = ForwardProcess.Pretrain(ids, b, l, Mask, seed: 3, step: 0, new NoiseConfig { RandomLengthProb = 0 });
        var noisy = batch.Noisy.ToIntArray();
        for (int i = 0; i < b; i++)
        {
            int masked = noisy.Skip(i * l).Take(l).Count(t => t == Mask);
            double p = batch.PMask[i], sd = Math.Sqrt(l * p * (1 - p));
            Assert.InRange(masked, l * p - 5 * sd - 1, l * p + 5 * sd + 1);
            Assert.InRange(p, 1e-3, 1.0);
        }
    }

    [Fact]
    public void Pretrain_PMask_IsUniformOnEpsToOne()
    {
        // p = (1−ε)t + ε with t ~ U[0,1): mean (1+ε)/2; over 4096 rows the sd of the mean is 0.289/64 ≈ 0.0045.
        const int b = 4096, l = 1;
        var ids = new int[b];
        using var batch = ForwardProcess.Pretrain(ids, b, l, Mask, seed: 11, step: 5, new NoiseConfig { RandomLengthProb = 0 });
        double mean = batch.PMask.Average(x => (double)x);
        Assert.InRange(mean, 0.5005 - 5 * 0.0045, 0.5005 + 5 * 0.0045);
        Assert.All(batch.PMask, p => Assert.InRange(p, 1e-3f, 1f));
    }

    [Fact]
    public void Pretrain_WeightsTargetsAndRows_AreConsistent()
    {
        const int b = 3, l = 17;
        var ids = Enumerable.Range(0, b * l).Select(i => 1000 + i).ToArray();
        using var batch = ForwardProcess.Pretrain(ids, b, l, Mask, seed: 1, step: 2, new NoiseConfig { RandomLengthProb = 0 });
        var rows = batch.MaskedRows.ToIntArray();
        var targets = batch.Targets.ToIntArray();
        var weights = batch.Weights.ToArray();
        var noisy = batch.Noisy.ToIntArray();
        Assert.Equal(noisy.Count(t => t == Mask), rows.Length);
        for (int k = 0; k < rows.Length; k++)
        {
            Assert.Equal(Mask, noisy[rows[k]]);
            Assert.Equal(ids[rows[k]], targets[k]);
            // SPEC §5.1: weight = 1/(p_mask·B·L), the divisor counting every token.
            Assert.Equal(1f / (batch.PMask[rows[k] / l] * b * l), weights[k], 6);
        }
    }

    [Fact]
    public void Pretrain_SameSeedAndStep_IsReproducible_DifferentStepDiffers()
    {
        var ids = Enumerable.Range(0, 4 * 32).ToArray();
        using var a = ForwardProcess.Pretrain(ids, 4, 32, Mask, 5, 10);
        using var c = ForwardProcess.Pretrain(ids, 4, 32, Mask, 5, 10);
        using var d = ForwardProcess.Pretrain(ids, 4, 32, Mask, 5, 11);
        Assert.Equal(a.Noisy.ToIntArray(), c.Noisy.ToIntArray());
        Assert.NotEqual(a.Noisy.ToIntArray(), d.Noisy.ToIntArray());
    }

    [Fact]
    public void Pretrain_RandomLengthCut_HappensAtStatedRateAndCutsWholeBatch()
    {
        // With probability 0.5 per batch over 400 steps: 200 ± 5·10 cuts; a cut batch has the same new length for all rows.
        const int b = 2, l = 40;
        var ids = new int[b * l];
        int cuts = 0;
        for (int step = 0; step < 400; step++)
        {
            using var batch = ForwardProcess.Pretrain(ids, b, l, Mask, 9, (ulong)step, new NoiseConfig { RandomLengthProb = 0.5f });
            Assert.Equal(b, batch.Noisy.Dim(0));
            Assert.InRange(batch.Length, 1, l);
            if (batch.Length < l) cuts++;
        }
        Assert.InRange(cuts, 150, 250);
    }

    [Fact]
    public void Sft_NeverMasksThePrompt_AndWeightsUseAnswerLength()
    {
        const int b = 64, l = 24;
        var ids = Enumerable.Range(0, b * l).Select(i => i % 90).ToArray();
        var prompts = Enumerable.Range(0, b).Select(i => 1 + i % 20).ToArray();
        for (int step = 0; step < 20; step++)
        {
            using var batch = ForwardProcess.Sft(ids, b, l, prompts, Mask, 4, (ulong)step);
            var noisy = batch.Noisy.ToIntArray();
            for (int i = 0; i < b; i++)
                for (int j = 0; j < prompts[i]; j++)
                    Assert.Equal(ids[i * l + j], noisy[i * l + j]);
            var rows = batch.MaskedRows.ToIntArray();
            var w = batch.Weights.ToArray();
            for (int k = 0; k < rows.Length; k++)
            {
                int i = rows[k] / l;
                Assert.True(rows[k] % l >= prompts[i]);
                // SPEC §5.3: 1/(p_mask · answer_len · B), answer_len = L − prompt_len (EOS padding included).
                Assert.Equal(1f / (batch.PMask[i] * (l - prompts[i]) * b), w[k], 6);
            }
        }
    }
}
