using LLaDA.Tensors.Random;

namespace LLaDA.Tensors;

/// <summary>How <see cref="IBackend.SampleTokens"/> scores the chosen token x0 (the built-in unmasking policies that read the logits).</summary>
public enum TokenScore
{
    /// <summary>No score (0): the caller scores on the host (random/origin order, or a policy of one's own).</summary>
    None,

    /// <summary>p(x0) = softmax(l)[x0] (LLaDA's low-confidence remasking).</summary>
    Probability,

    /// <summary>p(x0) − max_{v ≠ x0} p(v).</summary>
    Margin,

    /// <summary>−H(p) = Σ_v p_v log p_v; −∞ when p(x0) = 0.</summary>
    NegEntropy,
}

/// <summary>One denoising step's token choice for a block of W positions of B sequences (LLaDA generate.py, SPEC §6.2–6.5).</summary>
/// <param name="Temperature">0 = greedy; &gt; 0 = Gumbel-max in float64 with noise <see cref="TokenSampler.Noise"/>(Seed, StepOffset(Step, b), (Start + j)·V + t).</param>
/// <param name="CfgScale">Classifier-free guidance w &gt; 0: the logits hold 2B rows (conditional, then unconditional) and l = u + (w + 1)(c − u).</param>
/// <param name="Start">Absolute sequence position of block column 0 (keys the noise).</param>
/// <param name="BanId">A token that can never be chosen (generate.py logits_eos_inf), or −1.</param>
/// <param name="SuppressId">Tokens set to −∞ after x0 is chosen, before scoring (confidence_eos_eot_inf, Q1 fixed), or −1.</param>
public readonly record struct TokenSampling(double Temperature, double CfgScale, ulong Seed, int Step, int Start, TokenScore Score,
                                           int BanId = -1, int SuppressId = -1, int SuppressId2 = -1);

/// <summary>Fast-dLLM's rules for how many of a row's candidates, sorted by score, one step commits (SPEC §8.2–8.3).</summary>
public enum TransferKind
{
    /// <summary>The step's quota (LLaDA's top-k of get_num_transfer_tokens).</summary>
    Quota,

    /// <summary>The best always, the others while their threshold value ≥ Value.</summary>
    Threshold,

    /// <summary>The sorted values while v[i] ≥ 1 − Value/(i + 2) (with the reference's edge rule).</summary>
    Factor,
}

/// <summary>Which candidates one step commits: <paramref name="Kind"/> with its threshold or factor <paramref name="Value"/>; with <paramref name="ExpScale"/> the rules compare exp(score) (entropy's exp(−H)).</summary>
public readonly record struct TransferRule(TransferKind Kind, double Value = 0, bool ExpScale = false);

/// <summary>The threshold value of the rank-th best candidate of a row (what <see cref="TransferRules.Count{T}"/> reads; kernels pass device views).</summary>
public interface IRankedValues
{
    double At(int rank);
}

/// <summary>The transfer rules and the candidate order, written once for the CPU backend and the kernels.</summary>
public static class TransferRules
{
    /// <summary>double.CompareTo without the call (kernels): NaN is the smallest, NaN equals NaN, −0 equals +0.</summary>
    public static int Compare(double a, double b)
    {
        if (a < b) return -1;
        if (a > b) return 1;
        if (a == b) return 0;
        bool na = double.IsNaN(a), nb = double.IsNaN(b);
        return na == nb ? 0 : na ? -1 : 1;
    }

    /// <summary>True when candidate (sa, pa) sorts before (sb, pb): higher score first, ties towards the lower position (Q4).</summary>
    public static bool Before(double sa, int pa, double sb, int pb)
    {
        int c = Compare(sa, sb);
        return c > 0 || (c == 0 && pa < pb);
    }

    /// <summary>How many of the m sorted candidates to commit.</summary>
    public static int Count<T>(T sorted, int m, TransferKind kind, double value, int quota) where T : struct, IRankedValues
    {
        if (m == 0) return 0;
        if (kind == TransferKind.Threshold)
        {
            // SPEC §8.2: the most confident always commits, the others iff value ≥ threshold.
            int n = 1;
            while (n < m && sorted.At(n) >= value) n++;
            return n;
        }
        if (kind == TransferKind.Factor)
        {
            // SPEC §8.3: thr[i] = 1 − factor/(i + 2), thr[0] = −1; stop at the first c[i] < thr[i]; accept i*, or i* + 1
            // when i* is 0 or the last index (the reference's quirk: a failure exactly at the last index accepts all).
            int stop = m - 1;
            for (int idx = 1; idx < m; idx++)
                if (sorted.At(idx) < 1 - value / (idx + 2))
                {
                    stop = idx;
                    break;
                }
            return stop == 0 || stop == m - 1 ? stop + 1 : stop;
        }
        return quota < m ? quota : m;
    }
}

/// <summary>The float64 reference of <see cref="IBackend.SampleTokens"/> for one position (what CpuBackend runs and the kernels must equal).</summary>
/// <remarks>
/// Status codes written instead of a token when the raw model logits are broken (FiniteLogits' contract): −1 − t for a
/// NaN/+Inf at token t of the conditional row, −1 − V − t of the unconditional row, −1 − 2V when the conditional row has
/// no finite logit, −2 − 2V for the unconditional row; the score slot then holds the offending value.
/// </remarks>
public static class TokenSampler
{
    /// <summary>The stream offset of a (step, row) pair: step·2⁴⁰ ⊕ row·2²⁴.</summary>
    public static ulong StepOffset(int step, int row) => ((ulong)step << 40) ^ ((ulong)row << 24);

    /// <summary>A double in (0, 1) from Philox words 2·index and 2·index + 1 of the stream (seed, offset).</summary>
    public static double Noise(ulong seed, ulong offset, long index)
        => Philox.ToUniformOpen53(Philox.Word(seed, offset, 2 * index), Philox.Word(seed, offset, 2 * index + 1));

    /// <summary>−1 when the raw row is usable, else the index of its first NaN/+Inf, or V when every logit is −∞.</summary>
    public static int RawStatus(ReadOnlySpan<float> row)
    {
        bool any = false;
        for (int t = 0; t < row.Length; t++)
        {
            float x = row[t];
            if (float.IsNaN(x) || float.IsPositiveInfinity(x)) return t;
            any |= !float.IsNegativeInfinity(x);
        }
        return any ? -1 : row.Length;
    }

    /// <summary>dst = the guided logits in double: c, or u + (w + 1)(c − u) under CFG (SPEC §6.2).</summary>
    public static void Combine(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, double cfgScale, Span<double> dst)
    {
        if (cfgScale <= 0)
        {
            for (int t = 0; t < dst.Length; t++) dst[t] = cond[t];
            return;
        }
        double sc = cfgScale + 1;
        for (int t = 0; t < dst.Length; t++) dst[t] = uncond[t] + sc * (cond[t] - uncond[t]);
    }

    /// <summary>x0 = first argmax of l/T + g (Gumbel-max, an exact sample of softmax(l/T), SPEC §6.4); T = 0 is greedy; −∞ stays −∞.</summary>
    public static int GumbelArgmax(ReadOnlySpan<double> l, double temperature, ulong seed, ulong offset, long pos)
    {
        int v = l.Length, best = -1;
        double bestScore = double.NegativeInfinity;
        for (int t = 0; t < v; t++)
        {
            double score = l[t];
            if (temperature > 0 && !double.IsNegativeInfinity(score))
                score = score / temperature - Math.Log(-Math.Log(Noise(seed, offset, pos * v + t)));
            if (best < 0 || score > bestScore)
            {
                bestScore = score;
                best = t;
            }
        }
        return best;
    }

    /// <summary>The logits a policy scores: the guided logits with the banned and suppressed tokens at −∞ (SPEC §6.5 Q1).</summary>
    public static void ScoringRow(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, in TokenSampling s, Span<double> dst)
    {
        Combine(cond, uncond, s.CfgScale, dst);
        if (s.BanId >= 0) dst[s.BanId] = double.NegativeInfinity;
        if (s.SuppressId >= 0) dst[s.SuppressId] = double.NegativeInfinity;
        if (s.SuppressId2 >= 0) dst[s.SuppressId2] = double.NegativeInfinity;
    }

    /// <summary>(x0 or a status code, score) of the position (row, pos): the whole step for one position, in float64.</summary>
    /// <param name="scratch">V doubles.</param>
    public static (int Token, double Score) Sample(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, in TokenSampling s, int row, long pos, Span<double> scratch)
    {
        int v = cond.Length;
        int bad = RawStatus(cond);
        if (bad >= 0) return bad < v ? (-1 - bad, cond[bad]) : (-1 - 2 * v, double.NegativeInfinity);
        if (s.CfgScale > 0)
        {
            bad = RawStatus(uncond);
            if (bad >= 0) return bad < v ? (-1 - v - bad, uncond[bad]) : (-2 - 2 * v, double.NegativeInfinity);
        }
        Combine(cond, uncond, s.CfgScale, scratch);
        if (s.BanId >= 0) scratch[s.BanId] = double.NegativeInfinity;
        int x0 = GumbelArgmax(scratch, s.Temperature, s.Seed, StepOffset(s.Step, row), pos);
        if (s.SuppressId >= 0) scratch[s.SuppressId] = double.NegativeInfinity;
        if (s.SuppressId2 >= 0) scratch[s.SuppressId2] = double.NegativeInfinity;
        return (x0, Score(s.Score, scratch, x0));
    }

    /// <summary>The score of x0 under a built-in kind (None: 0).</summary>
    public static double Score(TokenScore kind, ReadOnlySpan<double> l, int x0) => kind switch
    {
        TokenScore.Probability => Probability(l, x0),
        TokenScore.Margin => Margin(l, x0),
        TokenScore.NegEntropy => NegEntropy(l, x0),
        _ => 0,
    };

    /// <summary>(max, Σ exp(z − max)) of a logits row; max is −∞ when every logit is −∞ (then the sum is 0). SPEC §6.5 Q3: never in low precision.</summary>
    public static (double Max, double Sum) Partition(ReadOnlySpan<double> logits)
    {
        double max = double.NegativeInfinity;
        foreach (double z in logits) max = Math.Max(max, z);
        if (double.IsNegativeInfinity(max)) return (max, 0);
        double sum = 0;
        foreach (double z in logits) sum += Math.Exp(z - max);
        return (max, sum);
    }

    /// <summary>softmax(l)[x0]; 0 for a row of only −∞.</summary>
    public static double Probability(ReadOnlySpan<double> l, int x0)
    {
        var (max, sum) = Partition(l);
        if (double.IsNegativeInfinity(max)) return 0;
        return Math.Exp(l[x0] - max) / sum;
    }

    /// <summary>p(x0) − max_{v ≠ x0} p(v); 0 for a row of only −∞.</summary>
    public static double Margin(ReadOnlySpan<double> l, int x0)
    {
        var (max, sum) = Partition(l);
        if (double.IsNegativeInfinity(max)) return 0;
        double other = double.NegativeInfinity;
        for (int v = 0; v < l.Length; v++)
            if (v != x0) other = Math.Max(other, l[v]);
        return (Math.Exp(l[x0] - max) - Math.Exp(other - max)) / sum;
    }

    /// <summary>Σ p log p (= −H); −∞ when the row is all −∞ or p(x0) = 0.</summary>
    public static double NegEntropy(ReadOnlySpan<double> l, int x0)
    {
        var (max, sum) = Partition(l);
        if (double.IsNegativeInfinity(max) || double.IsNegativeInfinity(l[x0])) return double.NegativeInfinity;
        // Σ p log p with p = e^(z − max)/sum, log p = z − max − log sum; p = 0 terms contribute 0.
        double logSum = Math.Log(sum), negH = 0;
        foreach (double z in l)
        {
            if (double.IsNegativeInfinity(z)) continue;
            double lp = z - max - logSum;
            negH += Math.Exp(lp) * lp;
        }
        return negH;
    }
}
