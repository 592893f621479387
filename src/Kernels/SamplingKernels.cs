using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;
using LLaDA.Tensors.Random;

namespace LLaDA.Kernels;

/// <summary>The sampler's per-step primitives on the device (IBackend.SampleTokens, IBackend.SelectTransfer), bit-identical to the float64 reference <see cref="TokenSampler"/> / <see cref="TransferRules"/> on ILGPU's CPU accelerator.</summary>
/// <remarks>
/// <para>SampleTokens: one group per position. The order-independent parts run across the group — raw-logit checks,
/// the Gumbel-max argmax (max score, then the lowest index reaching it; the reference's NaN rule: a NaN score never wins
/// unless it is token 0's) and the softmax max; the sums (Σ exp, Σ p log p) run in the reference's order on the group's
/// first thread so the float64 result is the reference's bit for bit. A fused LM-head path (large V on a GPU) may replace
/// the sequential sums with tree sums at the price of last-bit differences in the scores.</para>
/// <para>Gumbel noise: u = <see cref="Philox.ToUniformOpen53"/> of words 2k, 2k + 1 of stream (seed, step·2⁴⁰ ⊕ b·2²⁴),
/// k = (start + j)·V + t, score = l/T − log(−log u), all in float64. On CUDA, ILGPU's float64 log/exp may differ from .NET's
/// in the last bit, so near-ties can break differently there; the CPU accelerator runs .NET's own Math.</para>
/// </remarks>
public static class SamplingKernels
{
    /// <summary>The step's settings as one kernel argument (public: ILGPU's runtime assembly must see kernel parameter types).</summary>
    public struct Args
    {
        public int Batch, W, V, Score, Ban, Suppress1, Suppress2, Step, Start, Cfg;
        public double Temperature, CfgScale;
        public ulong Seed;
    }

    /// <summary>.NET's Math.Max(double, double) (NaN propagates, +0 beats −0), written out so every accelerator folds the same way.</summary>
    internal static double MaxNet(double a, double b)
    {
        if (a != b) return double.IsNaN(a) ? a : b < a ? a : b;
        return b == 0 ? (1.0 / b < 0 ? a : b) : b; // equal: prefer +0 over −0
    }

    /// <summary>Logit t of a position in float64: guided (float difference, as the reference), with the banned and (when suppress) the suppressed ids at −∞.</summary>
    private static double Clean(ArrayView<float> l, long c0, long u0, int t, in Args a, bool suppress)
    {
        double x;
        if (a.Cfg != 0)
        {
            float c = l[c0 + t], u = l[u0 + t];
            float d = c - u;
            x = u + (a.CfgScale + 1) * d;
        }
        else x = l[c0 + t];
        if (t == a.Ban || (suppress && (t == a.Suppress1 || t == a.Suppress2))) x = double.NegativeInfinity;
        return x;
    }

    /// <summary>Thread 0 combines every thread's value with op (0 min, 1 max of ints) and broadcasts it.</summary>
    private static int GroupInt(int v, int op, ArrayView<int> s)
    {
        s[Group.IdxX] = v;
        Group.Barrier();
        if (Group.IsFirstThread)
        {
            int r = s[0];
            for (int k = 1; k < Group.DimX; k++) r = op == 0 ? Math.Min(r, s[k]) : Math.Max(r, s[k]);
            s[0] = r;
        }
        Group.Barrier();
        int res = s[0];
        Group.Barrier();
        return res;
    }

    /// <summary>Group-wide MaxNet fold (order-independent), broadcast.</summary>
    private static double GroupMax(double v, ArrayView<double> s)
    {
        s[Group.IdxX] = v;
        Group.Barrier();
        if (Group.IsFirstThread)
        {
            double r = s[0];
            for (int k = 1; k < Group.DimX; k++) r = MaxNet(r, s[k]);
            s[0] = r;
        }
        Group.Barrier();
        double res = s[0];
        Group.Barrier();
        return res;
    }

    /// <summary>One group per (b, j): tokens[b·W + j] = x0 (or a status code), scores[b·W + j] = its score.</summary>
    [Kernel]
    internal static void SampleTokensKernel(ArrayView<float> logits, ArrayView<int> tokens, ArrayView<double> scores, Args a)
    {
        var si = SharedMemory.Allocate<int>(Launch.MaxRowGroup);
        var sd = SharedMemory.Allocate<double>(Launch.MaxRowGroup);
        long rows = (long)a.Batch * a.W;
        int v = a.V;
        for (long r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            int i = (int)(r / a.W), j = (int)(r - (long)i * a.W);
            long c0 = r * v, u0 = ((long)(a.Batch + i) * a.W + j) * v;

            // 1. The raw model output (FiniteLogits' contract): first NaN/+Inf, and whether any logit is finite, per half.
            int badC = v, badU = v, anyC = 0, anyU = 0;
            for (int t = Group.IdxX; t < v; t += Group.DimX)
            {
                float x = logits[c0 + t];
                if ((float.IsNaN(x) || float.IsPositiveInfinity(x)) && t < badC) badC = t;
                if (x != float.NegativeInfinity) anyC = 1;
                if (a.Cfg != 0)
                {
                    float y = logits[u0 + t];
                    if ((float.IsNaN(y) || float.IsPositiveInfinity(y)) && t < badU) badU = t;
                    if (y != float.NegativeInfinity) anyU = 1;
                }
            }
            badC = GroupInt(badC, 0, si);
            anyC = GroupInt(anyC, 1, si);
            badU = GroupInt(badU, 0, si);
            anyU = GroupInt(anyU, 1, si);
            int code = 0;
            double bad = double.NegativeInfinity;
            if (badC < v)
            {
                code = -1 - badC;
                bad = logits[c0 + badC];
            }
            else if (anyC == 0) code = -1 - 2 * v;
            else if (a.Cfg != 0 && badU < v)
            {
                code = -1 - v - badU;
                bad = logits[u0 + badU];
            }
            else if (a.Cfg != 0 && anyU == 0) code = -2 - 2 * v;
            if (code != 0)
            {
                if (Group.IsFirstThread)
                {
                    tokens[r] = code;
                    scores[r] = bad;
                }
                continue;
            }

            // 2. x0 = the reference's first maximum of the (Gumbel-perturbed) scores: NaN scores are skipped, except that a NaN at token 0 wins.
            ulong offset = ((ulong)a.Step << 40) ^ ((ulong)i << 24);
            long pos = (long)a.Start + j;
            int best = -1, nan0 = 0;
            double bestScore = double.NegativeInfinity;
            for (int t = Group.IdxX; t < v; t += Group.DimX)
            {
                double score = Clean(logits, c0, u0, t, a, false);
                if (a.Temperature > 0 && score != double.NegativeInfinity)
                {
                    long k = pos * v + t;
                    double u = Philox.ToUniformOpen53(DevicePhilox.Word(a.Seed, offset, 2 * k), DevicePhilox.Word(a.Seed, offset, 2 * k + 1));
                    score = score / a.Temperature - Math.Log(-Math.Log(u));
                }
                if (double.IsNaN(score))
                {
                    if (t == 0) nan0 = 1;
                    continue;
                }
                if (best < 0 || score > bestScore)
                {
                    bestScore = score;
                    best = t;
                }
            }
            double top = GroupMax(best < 0 ? double.NegativeInfinity : bestScore, sd);
            int x0 = GroupInt(best >= 0 && bestScore == top ? best : int.MaxValue, 0, si);
            nan0 = GroupInt(nan0, 1, si);
            if (nan0 != 0 || x0 == int.MaxValue) x0 = 0;

            // 3. The score of x0 on the scoring logits (banned and suppressed ids at −∞).
            double result = 0;
            if (a.Score != (int)TokenScore.None)
            {
                double m = double.NegativeInfinity, other = double.NegativeInfinity;
                for (int t = Group.IdxX; t < v; t += Group.DimX)
                {
                    double z = Clean(logits, c0, u0, t, a, true);
                    m = MaxNet(m, z);
                    if (t != x0) other = MaxNet(other, z);
                }
                m = GroupMax(m, sd);
                other = GroupMax(other, sd);
                if (Group.IsFirstThread)
                {
                    double zx = Clean(logits, c0, u0, x0, a, true);
                    if (m == double.NegativeInfinity) result = a.Score == (int)TokenScore.NegEntropy ? double.NegativeInfinity : 0;
                    else
                    {
                        double sum = 0;
                        for (int t = 0; t < v; t++) sum += Math.Exp(Clean(logits, c0, u0, t, a, true) - m);
                        if (a.Score == (int)TokenScore.Probability) result = Math.Exp(zx - m) / sum;
                        else if (a.Score == (int)TokenScore.Margin) result = (Math.Exp(zx - m) - Math.Exp(other - m)) / sum;
                        else if (zx == double.NegativeInfinity) result = double.NegativeInfinity;
                        else
                        {
                            double logSum = Math.Log(sum), negH = 0;
                            for (int t = 0; t < v; t++)
                            {
                                double z = Clean(logits, c0, u0, t, a, true);
                                if (z == double.NegativeInfinity) continue;
                                double lp = z - m - logSum;
                                negH += Math.Exp(lp) * lp;
                            }
                            result = negH;
                        }
                    }
                }
            }
            if (Group.IsFirstThread)
            {
                tokens[r] = x0;
                scores[r] = result;
            }
        }
    }

    /// <summary>tokens (B, W) I32 and scores (B, W) F64 from logits (R, W, V) F32; see <see cref="IBackend.SampleTokens"/>.</summary>
    public static void SampleTokens(KernelContext k, ArrayView<float> logits, ArrayView<int> tokens, ArrayView<double> scores, int batch, int w, int v, in TokenSampling s)
    {
        if (v < 1) throw new ArgumentOutOfRangeException(nameof(v), "vocabulary must not be empty");
        if (!(s.Temperature >= 0)) throw new ArgumentOutOfRangeException(nameof(s), $"temperature {s.Temperature} must be ≥ 0");
        long rows = (long)batch * w;
        if (rows == 0) return;
        var a = new Args
        {
            Batch = batch, W = w, V = v, Score = (int)s.Score, Ban = s.BanId, Suppress1 = s.SuppressId, Suppress2 = s.SuppressId2,
            Step = s.Step, Start = s.Start, Cfg = s.CfgScale > 0 ? 1 : 0, Temperature = s.Temperature, CfgScale = s.CfgScale, Seed = s.Seed,
        };
        k.Kernel("Sampling.SampleTokens", acc => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<double>, Args>>(acc, SampleTokensKernel))
            (k.Stream, Launch.Rows(k, rows, v), logits, tokens, scores, a);
    }

    /// <summary>Threshold values of a row's candidates in sorted order (order[row + rank] = column).</summary>
    internal struct DeviceRanked : IRankedValues
    {
        public ArrayView<double> Values;
        public ArrayView<int> Order;
        public long Row;
        public int Exp;

        public readonly double At(int rank)
        {
            double x = Values[Row + Order[Row + rank]];
            return Exp != 0 ? Math.Exp(x) : x;
        }
    }

    /// <summary>One thread per (b, j): a candidate's rank among its row's candidates, written as order[b·W + rank] = j; take cleared.</summary>
    [Kernel]
    internal static void RankKernel(ArrayView<double> scores, ArrayView<int> candidates, ArrayView<int> order, ArrayView<int> take, int batch, int w)
    {
        long n = (long)batch * w;
        for (long e = Idx.Global; e < n; e += Idx.Stride)
        {
            take[e] = 0;
            if (candidates[e] == 0) continue;
            long row = e / w * w;
            int j = (int)(e - row), rank = 0;
            double s = scores[e];
            for (int c = 0; c < w; c++)
                if (c != j && candidates[row + c] != 0 && TransferRules.Before(scores[row + c], c, s, j)) rank++;
            order[row + rank] = j;
        }
    }

    /// <summary>One thread per row: the rule's count over the sorted candidates, then take = 1 for the first count of them.</summary>
    [Kernel]
    internal static void CommitKernel(ArrayView<double> values, ArrayView<int> candidates, ArrayView<int> quota, ArrayView<int> order, ArrayView<int> take,
                                      int batch, int w, int kind, double value, int exp)
    {
        for (long i = Idx.Global; i < batch; i += Idx.Stride)
        {
            long row = i * w;
            int m = 0;
            for (int c = 0; c < w; c++) m += candidates[row + c] != 0 ? 1 : 0;
            var sorted = new DeviceRanked { Values = values, Order = order, Row = row, Exp = exp };
            int count = TransferRules.Count(sorted, m, (TransferKind)kind, value, quota[i]);
            for (int k = 0; k < count; k++) take[row + order[row + k]] = 1;
        }
    }

    /// <summary>take (B, W) from scores, threshold values (the scores themselves when the caller passes them twice), candidates, quota; order is (B, W) I32 scratch.</summary>
    public static void SelectTransfer(KernelContext k, ArrayView<double> scores, ArrayView<double> values, ArrayView<int> candidates, ArrayView<int> quota,
                                      ArrayView<int> order, ArrayView<int> take, int batch, int w, in TransferRule rule, bool exp)
    {
        long n = (long)batch * w;
        if (n == 0) return;
        k.Kernel("Sampling.Rank", acc => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<double>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int>>(acc, RankKernel))
            (k.Stream, Launch.Elementwise(k, n), scores, candidates, order, take, batch, w);
        k.Kernel("Sampling.Commit", acc => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<double>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, double, int>>(acc, CommitKernel))
            (k.Stream, Launch.Elementwise(k, batch), values, candidates, quota, order, take, batch, w, (int)rule.Kind, rule.Value, exp ? 1 : 0);
    }
}
