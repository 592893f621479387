using LLaDA.Diffusion;
using LLaDA.Diffusion.Training;
using LLaDA.Tensors.Random;
using Xunit;

namespace LLaDA.Tests.Diffusion.Training;

public class TimeSamplerTests
{
    private const ulong Seed = 21, Offset = 5UL << 32;

    [Fact]
    public void Uniform_IsTheIndependentDrawOfEveryRow_AsBefore()
    {
        var t = TimeSampler.Draw(5, Seed, Offset);
        for (int i = 0; i < 5; i++) Assert.Equal(Philox.ToUniform(Philox.Word(Seed, Offset, 2 + i)), t[i]);
    }

    [Fact]
    public void LowDiscrepancy_IsOneOffsetPlusIOverB_ModOne()
    {
        // B = 4: t = u, u + ¼, u + ½, u + ¾ (mod 1) with u the batch's single draw (word 2).
        float u = Philox.ToUniform(Philox.Word(Seed, Offset, 2));
        var t = TimeSampler.Draw(4, Seed, Offset, TimeSampling.LowDiscrepancy);
        for (int i = 0; i < 4; i++) Assert.Equal((u + i / 4.0) % 1.0, t[i], 1e-7);
        // Whatever the draw, one t in each quarter of [0, 1) (offsets chosen so that u passes ¼, ½ and ¾ too).
        for (ulong o = 0; o < 12; o++)
            Assert.Equal(new[] { 0, 1, 2, 3 }, TimeSampler.Draw(4, Seed, o << 32, TimeSampling.LowDiscrepancy).Select(x => (int)(x * 4)).Order().ToArray());
        Assert.Contains(Enumerable.Range(0, 12), o => Philox.ToUniform(Philox.Word(Seed, (ulong)o << 32, 2)) > 0.75f);
    }

    [Fact]
    public void Antithetic_PairsSumToOne_OddLastRowDrawsItsOwn()
    {
        var t = TimeSampler.Draw(7, Seed, Offset, TimeSampling.Antithetic);
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(Philox.ToUniform(Philox.Word(Seed, Offset, 2 + k)), t[2 * k]);
            Assert.Equal(1f, t[2 * k] + t[2 * k + 1]);
        }
        Assert.Equal(Philox.ToUniform(Philox.Word(Seed, Offset, 2 + 3)), t[6]);
    }

    [Fact]
    public void MinT_MapsOntoTheFloor_AndRejectsOutOfRange()
    {
        var plain = TimeSampler.Draw(6, Seed, Offset);
        var floored = TimeSampler.Draw(6, Seed, Offset, TimeSampling.Uniform, minT: 0.2f);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(0.2f + 0.8f * plain[i], floored[i]);
            Assert.InRange(floored[i], 0.2f, 1f);
        }
        Assert.Throws<ArgumentException>(() => TimeSampler.Draw(2, Seed, Offset, TimeSampling.Uniform, 1f));
        Assert.Throws<ArgumentException>(() => TimeSampler.Draw(2, Seed, Offset, TimeSampling.Uniform, -0.1f));
    }

    /// <summary>Mean and standard deviation over S batches of the 1/p-weighted loss of a fake predictor whose per-token
    /// cross-entropy is a + b·(masked share of its row) — harder with more masks, as for a real model.</summary>
    private static (double Mean, double Sd) LossMoments(TimeSampling mode, float minT, int steps, int batch, int length, double a, double b)
    {
        var ids = new int[batch * length];
        var noise = new NoiseConfig { RandomLengthProb = 0, Time = mode, MinT = minT };
        double sum = 0, sum2 = 0;
        for (int s = 0; s < steps; s++)
        {
            using var mb = ForwardProcess.Pretrain(ids, batch, length, 1, seed: 3, step: (ulong)s, noise);
            var rows = mb.MaskedRows.ToIntArray();
            var w = mb.Weights.ToArray();
            var perRow = new int[batch];
            foreach (int r in rows) perRow[r / length]++;
            double loss = 0;
            for (int k = 0; k < rows.Length; k++) loss += w[k] * (a + b * perRow[rows[k] / length] / (double)length);
            sum += loss;
            sum2 += loss * loss;
        }
        double mean = sum / steps;
        return (mean, Math.Sqrt(Math.Max(0, sum2 / steps - mean * mean)));
    }

    [Fact]
    public void WeightedLoss_Expectation_UnchangedByLowDiscrepancyAndAntithetic_ShiftedOnlyByMinT()
    {
        // Exact expectation: E[K(a + bK/L)]/(pL) = a + b((1 − p)/L + p) for K ~ Bin(L, p), averaged over p = (1 − ε)t + ε.
        // Uniform t: E p = (1 + ε)/2. With a floor t_min: E t = (1 + t_min)/2.
        const int S = 3000, B = 8, L = 16;
        const double A = 1.0, Bc = 2.0, Eps = 1e-3;
        double Exact(double et) { double ep = (1 - Eps) * et + Eps; return A + Bc * ((1 - ep) / L + ep); }
        var uniform = LossMoments(TimeSampling.Uniform, 0, S, B, L, A, Bc);
        var ld = LossMoments(TimeSampling.LowDiscrepancy, 0, S, B, L, A, Bc);
        var anti = LossMoments(TimeSampling.Antithetic, 0, S, B, L, A, Bc);
        foreach (var (name, m) in new[] { ("uniform", uniform), ("low-discrepancy", ld), ("antithetic", anti) })
            Assert.True(Math.Abs(m.Mean - Exact(0.5)) < 4 * m.Sd / Math.Sqrt(S), $"{name}: mean {m.Mean:F4} ± {m.Sd / Math.Sqrt(S):F4}, exact {Exact(0.5):F4}");
        // The point of the options: the same expectation with a smaller spread between batches.
        Assert.True(ld.Sd < 0.9 * uniform.Sd, $"low-discrepancy sd {ld.Sd:F4} vs uniform {uniform.Sd:F4}");
        Assert.True(anti.Sd < uniform.Sd, $"antithetic sd {anti.Sd:F4} vs uniform {uniform.Sd:F4}");
        // The floor is a bias, by exactly the predicted amount.
        var floored = LossMoments(TimeSampling.Uniform, 0.5f, S, B, L, A, Bc);
        Assert.True(Math.Abs(floored.Mean - Exact(0.75)) < 4 * floored.Sd / Math.Sqrt(S), $"min-t 0.5: mean {floored.Mean:F4}, exact {Exact(0.75):F4}");
        Assert.True(Math.Abs(Exact(0.75) - Exact(0.5)) > 8 * floored.Sd / Math.Sqrt(S));
    }
}
