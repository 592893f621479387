using System;
using System.Numerics;

namespace LLaDA.Tensors.Cpu;

// Slow, obvious references: per (b, h) materialise the Tq×Tk score matrix in double and apply the textbook formulas.
// They define the contract that the tiled kernels are tested against, and are themselves checked against central
// finite differences (in double, through the generic T = double instantiation) in the tests.
public static unsafe partial class CpuAttention
{
    /// <summary>Reference for <see cref="Forward(in AttentionShape, float*, AttnLayout, float*, AttnLayout, float*, AttnLayout, int*, float*, AttnLayout, float*)"/>: o = softmax(q·kᵀ·scale + mask)·v and lse = log Σ_j exp(s_ij), computed in double with the full score matrix.</summary>
    public static void ForwardReference(in AttentionShape s, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv,
                                        int* keyPadding, float* o, AttnLayout lo, float* lse)
        => ForwardReferenceCore(s, q, lq, k, lk, v, lv, keyPadding, o, lo, lse);

    /// <summary>Reference for <see cref="Backward(in AttentionShape, float*, AttnLayout, float*, AttnLayout, float*, AttnLayout, int*, float*, AttnLayout, float*, float*, AttnLayout, float*, float*, float*)"/>: dq = scale·dS·k, dk = scale·dSᵀ·q, dv = Pᵀ·dO with dS = P ⊙ (dO·vᵀ − rowsum(P ⊙ dO·vᵀ)), in double; o and lse are accepted for parity but recomputed in double.</summary>
    public static void BackwardReference(in AttentionShape s, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv,
                                         int* keyPadding, float* o, AttnLayout lo, float* lse, float* dO, AttnLayout ldo,
                                         float* dq, float* dk, float* dv)
        => BackwardReferenceCore(s, q, lq, k, lk, v, lv, keyPadding, o, lo, lse, dO, ldo, dq, dk, dv);

    /// <summary>The forward reference for any element type (double for finite-difference checks); arithmetic is in double.</summary>
    internal static void ForwardReferenceCore<T>(in AttentionShape s, T* q, AttnLayout lq, T* k, AttnLayout lk, T* v, AttnLayout lv,
                                                 int* keyPadding, T* o, AttnLayout lo, T* lse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(s);
        RequireNonNull(q, nameof(q)); RequireNonNull(k, nameof(k)); RequireNonNull(v, nameof(v));
        RequireNonNull(o, nameof(o)); RequireNonNull(lse, nameof(lse));
        var p = new double[s.Tq, s.Tk];
        var rowLse = new double[s.Tq];
        for (int b = 0; b < s.B; b++)
            for (int h = 0; h < s.NH; h++)
            {
                int kvHead = h / (s.NH / s.NKV);
                Probabilities(s, q, lq, k, lk, keyPadding, b, h, p, rowLse);
                for (int i = 0; i < s.Tq; i++)
                {
                    lse[((long)b * s.NH + h) * s.Tq + i] = T.CreateChecked(rowLse[i]);
                    for (int d = 0; d < s.HS; d++)
                    {
                        double sum = 0;
                        for (int j = 0; j < s.Tk; j++) sum += p[i, j] * At(v, lv, b, kvHead, j, d);
                        o[Offset(lo, b, h, i, d)] = T.CreateChecked(sum);
                    }
                }
            }
    }

    /// <summary>The backward reference for any element type (double for finite-difference checks); arithmetic is in double.</summary>
    internal static void BackwardReferenceCore<T>(in AttentionShape s, T* q, AttnLayout lq, T* k, AttnLayout lk, T* v, AttnLayout lv,
                                                  int* keyPadding, T* o, AttnLayout lo, T* lse, T* dO, AttnLayout ldo,
                                                  T* dq, T* dk, T* dv)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(s);
        RequireNonNull(q, nameof(q)); RequireNonNull(k, nameof(k)); RequireNonNull(v, nameof(v));
        RequireNonNull(o, nameof(o)); RequireNonNull(lse, nameof(lse)); RequireNonNull(dO, nameof(dO));
        RequireNonNull(dq, nameof(dq)); RequireNonNull(dk, nameof(dk)); RequireNonNull(dv, nameof(dv));
        int g = s.NH / s.NKV;
        var p = new double[s.Tq, s.Tk];
        var ds = new double[s.Tq, s.Tk];
        var rowLse = new double[s.Tq];
        var dkSum = new double[s.Tk, s.HS];
        var dvSum = new double[s.Tk, s.HS];
        for (int b = 0; b < s.B; b++)
            for (int kvHead = 0; kvHead < s.NKV; kvHead++)
            {
                Array.Clear(dkSum);
                Array.Clear(dvSum);
                for (int h = kvHead * g; h < (kvHead + 1) * g; h++)
                {
                    Probabilities(s, q, lq, k, lk, keyPadding, b, h, p, rowLse);
                    for (int i = 0; i < s.Tq; i++)
                    {
                        // dP_ij = dO_i·v_j;  D_i = Σ_j P_ij dP_ij;  dS_ij = P_ij (dP_ij − D_i)
                        double rowTerm = 0;
                        for (int j = 0; j < s.Tk; j++)
                        {
                            double dp = 0;
                            for (int d = 0; d < s.HS; d++) dp += At(dO, ldo, b, h, i, d) * At(v, lv, b, kvHead, j, d);
                            ds[i, j] = dp;
                            rowTerm += p[i, j] * dp;
                        }
                        for (int j = 0; j < s.Tk; j++) ds[i, j] = p[i, j] * (ds[i, j] - rowTerm);
                    }
                    for (int i = 0; i < s.Tq; i++)
                        for (int d = 0; d < s.HS; d++)
                        {
                            double sum = 0;
                            for (int j = 0; j < s.Tk; j++) sum += ds[i, j] * At(k, lk, b, kvHead, j, d);
                            dq[Offset(lq, b, h, i, d)] = T.CreateChecked(s.Scale * sum);
                        }
                    for (int j = 0; j < s.Tk; j++)
                        for (int d = 0; d < s.HS; d++)
                            for (int i = 0; i < s.Tq; i++)
                            {
                                dkSum[j, d] += s.Scale * ds[i, j] * At(q, lq, b, h, i, d);
                                dvSum[j, d] += p[i, j] * At(dO, ldo, b, h, i, d);
                            }
                }
                for (int j = 0; j < s.Tk; j++)
                    for (int d = 0; d < s.HS; d++)
                    {
                        dk[Offset(lk, b, kvHead, j, d)] = T.CreateChecked(dkSum[j, d]);
                        dv[Offset(lv, b, kvHead, j, d)] = T.CreateChecked(dvSum[j, d]);
                    }
            }
    }

    /// <summary>p[i, j] = exp(s_ij − lse_i) with s_ij = scale·q_i·k_j or −∞ when masked; a row with no visible key gets p = 0 and lse = +∞.</summary>
    private static void Probabilities<T>(in AttentionShape s, T* q, AttnLayout lq, T* k, AttnLayout lk, int* keyPadding,
                                         int b, int h, double[,] p, double[] lse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int kvHead = h / (s.NH / s.NKV);
        for (int i = 0; i < s.Tq; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < s.Tk; j++)
            {
                bool visible = (keyPadding == null || keyPadding[(long)b * s.Tk + j] != 0)
                               && (s.Mask != AttnMask.Causal || j <= s.Tk - s.Tq + i);
                double score = double.NegativeInfinity;
                if (visible)
                {
                    score = 0;
                    for (int d = 0; d < s.HS; d++) score += At(q, lq, b, h, i, d) * At(k, lk, b, kvHead, j, d);
                    score *= s.Scale;
                }
                p[i, j] = score;
                max = Math.Max(max, score);
            }
            if (double.IsNegativeInfinity(max))
            {
                for (int j = 0; j < s.Tk; j++) p[i, j] = 0;
                lse[i] = double.PositiveInfinity;
                continue;
            }
            double sum = 0;
            for (int j = 0; j < s.Tk; j++) sum += Math.Exp(p[i, j] - max);
            lse[i] = max + Math.Log(sum);
            for (int j = 0; j < s.Tk; j++) p[i, j] = Math.Exp(p[i, j] - lse[i]);
        }
    }

    private static long Offset(AttnLayout l, int b, int h, int t, int d) => b * l.StrideB + h * l.StrideH + t * l.StrideT + d;

    private static double At<T>(T* x, AttnLayout l, int b, int h, int t, int d) where T : unmanaged, IFloatingPointIeee754<T>
        => double.CreateChecked(x[Offset(l, b, h, t, d)]);
}
