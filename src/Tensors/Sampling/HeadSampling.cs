using System.Runtime.CompilerServices;
using LLaDA.Tensors.Random;

namespace LLaDA.Tensors;

/// <summary>The settings of one fused LM-head sampling call in kernel-friendly form (public fields: ILGPU kernels take it as an argument).</summary>
public struct HeadSampleArgs
{
    /// <summary>Vocabulary width (the noise index is (start + j)·V + t, as <see cref="TokenSampler.GumbelArgmax"/>).</summary>
    public int V;

    /// <summary>Banned (−∞ before x0), suppressed (−∞ after x0) ids or −1; <see cref="TokenScore"/> as an int; Cfg 1 under guidance.</summary>
    public int Ban, Suppress1, Suppress2, Score, Cfg, Step, Start;

    public double Temperature, CfgScale;
    public ulong Seed;

    public static HeadSampleArgs From(in TokenSampling s, int vocab) => new()
    {
        V = vocab, Ban = s.BanId, Suppress1 = s.SuppressId, Suppress2 = s.SuppressId2, Score = (int)s.Score, Cfg = s.CfgScale > 0 ? 1 : 0,
        Step = s.Step, Start = s.Start, Temperature = s.Temperature, CfgScale = s.CfgScale, Seed = s.Seed,
    };
}

/// <summary>What one position has seen of its logits so far, streamed over vocabulary tiles in token order (see <see cref="HeadSampler"/>).</summary>
public struct HeadSampleState
{
    /// <summary>First NaN/+Inf token of the raw conditional / unconditional logits (−1: none) and its value.</summary>
    public int BadC, BadU;
    public double BadCValue, BadUValue;

    /// <summary>1 once a raw logit other than −∞ was seen (conditional / unconditional).</summary>
    public int AnyC, AnyU;

    /// <summary>Gumbel-max so far: the token (−1 before the first), its perturbed score, its guided logit (ban applied).</summary>
    public int Best;
    public double BestScore, BestLogit;

    /// <summary>The scoring logits' running partition: max, Σ e^(z − max), Σ e^(z − max)·(z − max).</summary>
    public double Max, Sum, Ent;

    /// <summary>The scoring logits' two largest values (for the margin) and the first token holding the largest.</summary>
    public int Top1;
    public double Top1Value, Top2Value;
}

/// <summary>
/// <see cref="TokenSampler.Sample"/> streamed over the vocabulary: the LM head's logits of one position arrive a tile at a time
/// (in token order) and only this small state is kept, so no (positions × V) logits row exists. Written once for the CPU backend
/// and the kernels (no allocation, no managed calls).
/// </summary>
/// <remarks>
/// x0 and the status codes equal the reference's bit for bit (the same float logits, the same Gumbel noise
/// <see cref="TokenSampler.Noise"/>, the same first-maximum rule, the same first broken token). The scores use an online
/// partition (running max with rescaled sums: Σ e^(z − m) and Σ e^(z − m)(z − m), −H = Ent/Sum − log Sum), so they equal the
/// reference's two-pass sums to a few ulps in float64, not bit for bit.
/// </remarks>
public static class HeadSampler
{
    public static HeadSampleState Start() => new()
    {
        BadC = -1, BadU = -1, Best = -1, BestScore = double.NegativeInfinity, BestLogit = double.NegativeInfinity,
        Max = double.NegativeInfinity, Top1 = -1, Top1Value = double.NegativeInfinity, Top2Value = double.NegativeInfinity,
    };

    /// <summary>The Gumbel noise u ∈ (0, 1) of index k: <see cref="TokenSampler.Noise"/> from one Philox block (words 2k and 2k + 1 share it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Noise(ulong seed, ulong offset, long k)
    {
        ulong counter = offset + (ulong)(k >> 1);
        uint r0 = (uint)counter, r1 = (uint)(counter >> 32), r2 = 0, r3 = 0;
        Philox.Rounds(ref r0, ref r1, ref r2, ref r3, (uint)seed, (uint)(seed >> 32));
        return (k & 1) == 0 ? Philox.ToUniformOpen53(r0, r1) : Philox.ToUniformOpen53(r2, r3);
    }

    /// <summary>Takes token t's raw logits c (conditional) and u (unconditional, read only under CFG) of the position (row, pos); tokens must come in increasing order.</summary>
    /// <param name="offset"><see cref="TokenSampler.StepOffset"/>(step, row).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref HeadSampleState st, HeadSampleArgs a, ulong offset, long pos, int t, float c, float u)
    {
        // 1. The raw output's contract (TokenSampler.RawStatus): the first NaN/+Inf, and whether anything is finite.
        if ((float.IsNaN(c) || float.IsPositiveInfinity(c)) && st.BadC < 0)
        {
            st.BadC = t;
            st.BadCValue = c;
        }
        if (c != float.NegativeInfinity) st.AnyC = 1;
        double x;
        if (a.Cfg != 0)
        {
            if ((float.IsNaN(u) || float.IsPositiveInfinity(u)) && st.BadU < 0)
            {
                st.BadU = t;
                st.BadUValue = u;
            }
            if (u != float.NegativeInfinity) st.AnyU = 1;
            float d = c - u; // float difference, as TokenSampler.Combine
            x = u + (a.CfgScale + 1) * d;
        }
        else x = c;
        if (t == a.Ban) x = double.NegativeInfinity;

        // 2. Gumbel-max: the first maximum of l/T − log(−log u) (TokenSampler.GumbelArgmax).
        double g = x;
        if (a.Temperature > 0 && x != double.NegativeInfinity)
            g = x / a.Temperature - Math.Log(-Math.Log(Noise(a.Seed, offset, pos * a.V + t)));
        if (st.Best < 0 || g > st.BestScore)
        {
            st.BestScore = g;
            st.Best = t;
            st.BestLogit = x;
        }
        if (a.Score == (int)TokenScore.None) return;

        // 3. The scoring row (suppressed ids at −∞): online partition and the top two values.
        double z = t == a.Suppress1 || t == a.Suppress2 ? double.NegativeInfinity : x;
        if (z == double.NegativeInfinity) return;
        if (z > st.Max)
        {
            if (st.Max != double.NegativeInfinity)
            {
                double dm = st.Max - z, e = Math.Exp(dm);
                st.Ent = e * (st.Ent + dm * st.Sum);
                st.Sum *= e;
            }
            st.Max = z;
        }
        double y = z - st.Max, ey = Math.Exp(y);
        st.Sum += ey;
        st.Ent += ey * y;
        if (st.Top1 < 0 || z > st.Top1Value)
        {
            st.Top2Value = st.Top1Value;
            st.Top1Value = z;
            st.Top1 = t;
        }
        else if (z > st.Top2Value) st.Top2Value = z;
    }

    /// <summary>The position's (x0 or status code, score) once every token was seen: <see cref="TokenSampler.Sample"/>'s result.</summary>
    public static void Finish(in HeadSampleState st, HeadSampleArgs a, out int token, out double score)
    {
        int v = a.V;
        if (st.BadC >= 0)
        {
            token = -1 - st.BadC;
            score = st.BadCValue;
            return;
        }
        if (st.AnyC == 0)
        {
            token = -1 - 2 * v;
            score = double.NegativeInfinity;
            return;
        }
        if (a.Cfg != 0 && st.BadU >= 0)
        {
            token = -1 - v - st.BadU;
            score = st.BadUValue;
            return;
        }
        if (a.Cfg != 0 && st.AnyU == 0)
        {
            token = -2 - 2 * v;
            score = double.NegativeInfinity;
            return;
        }
        int x0 = st.Best;
        token = x0;
        score = 0;
        if (a.Score == (int)TokenScore.None) return;
        double lx = x0 == a.Suppress1 || x0 == a.Suppress2 ? double.NegativeInfinity : st.BestLogit;
        if (st.Max == double.NegativeInfinity)
        {
            score = a.Score == (int)TokenScore.NegEntropy ? double.NegativeInfinity : 0;
            return;
        }
        if (a.Score == (int)TokenScore.Probability) score = Math.Exp(lx - st.Max) / st.Sum;
        else if (a.Score == (int)TokenScore.Margin)
        {
            double other = st.Top1 != x0 ? st.Top1Value : st.Top2Value;
            score = (Math.Exp(lx - st.Max) - Math.Exp(other - st.Max)) / st.Sum;
        }
        else score = lx == double.NegativeInfinity ? double.NegativeInfinity : st.Ent / st.Sum - Math.Log(st.Sum);
    }
}
