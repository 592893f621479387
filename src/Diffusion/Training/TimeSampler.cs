using System.Text.Json.Serialization;
using LLaDA.Tensors.Random;

namespace LLaDA.Diffusion.Training;

/// <summary>How the per-row diffusion times t of a batch are drawn; every mode gives each row a marginally uniform t, so the 1/t-weighted loss keeps its expectation and only its variance changes.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TimeSampling>))]
public enum TimeSampling
{
    /// <summary>Independent t_i ~ U[0, 1) per row (LLaDA GUIDELINES.md; the default).</summary>
    Uniform,

    /// <summary>One offset u ~ U[0, 1) per batch, t_i = (u + i/B) mod 1: the batch covers [0, 1) evenly (MDLM's "antithetic_sampling", Kingma et al. 2021's low-discrepancy sampler).</summary>
    LowDiscrepancy,

    /// <summary>Antithetic pairs: rows 2k and 2k + 1 get t and 1 − t from one draw (an odd last row draws its own).</summary>
    Antithetic,
}

/// <summary>Draws the diffusion times of a batch from the Philox stream (seed, offset): words 2 … 2 + B − 1, the layout of <see cref="ForwardProcess"/>.</summary>
/// <remarks>
/// Min-t floor: t ← t_min + (1 − t_min)·t maps [0, 1) onto [t_min, 1). It is not the same knob as the forward process's
/// ε: ε only keeps the loss weight finite (p_mask = (1 − ε)t + ε ≥ ε, weight ≤ 1/ε = 1000 at ε = 1e-3) and the masking
/// probability and the weight stay matched, so the estimator still targets the ELBO. A floor t_min drops the times
/// below it altogether: weights become ≤ 1/((1 − ε)t_min + ε) (≈ 20 at t_min = 0.05), cutting the heavy tail of the
/// estimator at the price of a bias — the loss no longer counts the nearly-clean inputs that t &lt; t_min would produce.
/// Default 0 (off).
/// </remarks>
public static class TimeSampler
{
    /// <summary>Throws unless 0 ≤ t_min &lt; 1.</summary>
    public static void CheckMinT(float minT)
    {
        if (!(minT >= 0 && minT < 1)) throw new ArgumentException($"min-t {minT} must be in [0, 1)");
    }

    /// <summary>t of every row (B), each in [t_min, 1].</summary>
    public static float[] Draw(int batch, ulong seed, ulong offset, TimeSampling mode = TimeSampling.Uniform, float minT = 0)
    {
        CheckMinT(minT);
        var t = new float[batch];
        switch (mode)
        {
            case TimeSampling.Uniform:
                for (int i = 0; i < batch; i++) t[i] = Philox.ToUniform(Philox.Word(seed, offset, 2 + i));
                break;
            case TimeSampling.LowDiscrepancy:
            {
                double u = Philox.ToUniform(Philox.Word(seed, offset, 2));
                for (int i = 0; i < batch; i++) t[i] = (float)((u + (double)i / batch) % 1.0);
                break;
            }
            case TimeSampling.Antithetic:
                for (int i = 0; i < batch; i++)
                {
                    float u = Philox.ToUniform(Philox.Word(seed, offset, 2 + i / 2));
                    t[i] = i % 2 == 1 ? 1 - u : u;
                }
                break;
            default:
                throw new ArgumentException($"unknown time sampling {mode}");
        }
        if (minT > 0)
            for (int i = 0; i < batch; i++) t[i] = minT + (1 - minT) * t[i];
        return t;
    }
}
