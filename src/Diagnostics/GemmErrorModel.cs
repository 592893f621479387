namespace LLaDA.Diagnostics;

/// <summary>
/// The forward-error bound of an fp32 GEMM, per element, and the double-precision reference it is measured from: the one
/// tolerance for every matmul check (the kernel tests on the CPU accelerator, and <see cref="KernelCheck"/>'s "matmul" and
/// "kernel.gemm-*" checks).
/// </summary>
/// <remarks>
/// <para>Model: c_ij = α·Σ_k a_ik·b_kj + β·c0_ij evaluated in floating point with unit roundoff u, in any order of the K
/// products (sequential, tiled, split, tree; with or without FMA), has |ĉ − c| ≤ γ_{K+2}·(|α|·Σ_k |a_ik|·|b_kj| + |β|·|c0_ij|)
/// with γ_n = n·u / (1 − n·u): at most K − 1 roundings in the sum, one each for α·(…), β·c0 and the final add (the
/// standard dot-product bound, Higham, "Accuracy and Stability of Numerical Algorithms", §3.1). It holds for every element
/// and every input, so it is a bound, not a guess, and it follows each element's own magnitudes: an error in a small
/// element is not hidden by a large one elsewhere.</para>
/// <para>u = 2⁻²⁴ for IEEE fp32 accumulation. The tensor-core paths multiply 16-bit inputs exactly but NVIDIA tensor cores
/// truncate their fp32 accumulation instead of rounding it (Fasi, Higham, Mikaitis and Pranesh, PeerJ CS 2021), so they
/// get u = 2⁻²³ (<see cref="TruncatedRoundoff"/>); that factor 2 is the only allowance in the model.</para>
/// <para>The reference is computed in double: its own error, ≤ γ_K in double (u = 2⁻⁵³) times the same Σ|a||b|, is 2²⁹
/// times smaller than the bound and ignored.</para>
/// </remarks>
public static class GemmErrorModel
{
    /// <summary>Unit roundoff of fp32 round-to-nearest, 2⁻²⁴.</summary>
    public const double Roundoff = 1.0 / (1 << 24);

    /// <summary>Unit roundoff of an fp32 accumulation that truncates (tensor cores), 2⁻²³.</summary>
    public const double TruncatedRoundoff = 1.0 / (1 << 23);

    /// <summary>Relative rounding error of f32 → bfloat16 to nearest even, 2⁻⁹ (8 significant bits).</summary>
    public const double Bf16Rounding = 1.0 / (1 << 9);

    /// <summary>γ_n = n·u / (1 − n·u).</summary>
    public static double Gamma(int n, double u) => n * u / (1 - n * u);

    /// <summary>
    /// The exact result (in double) of C[b] = α·op(A[b])·op(B[b]) + β·C0[b] over whole buffers, and the allowed error of
    /// every element: γ_{K+2}(u)·(|α|·Σ|a||b| + |β|·|c0|) inside C, 0 outside C's rows and batch entries (those must come
    /// back untouched). β = 0 never reads C0 (it may hold NaN).
    /// </summary>
    public static (double[] Reference, double[] Bound) Reference(int batch, int m, int n, int k, float alpha,
        float[] a, int offsetA, int lda, long strideA, bool transA, float[] b, int offsetB, int ldb, long strideB, bool transB,
        float beta, float[] c0, int offsetC, int ldc, long strideC, double u = Roundoff, double inputRounding = 0)
    {
        var reference = new double[c0.Length];
        var bound = new double[c0.Length];
        for (int i = 0; i < c0.Length; i++) reference[i] = c0[i];
        double gamma = Gamma(k + 2, u);
        // One (batch entry, row) per iteration: the rows of C are disjoint, and the slow double loop needs every core at
        // the device check's sizes (≈ 10⁹ products).
        Parallel.For(0, (long)batch * m, row =>
        {
            int bi = (int)(row / m), i = (int)(row % m);
            for (int j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = a[offsetA + bi * strideA + (transA ? (long)p * lda + i : (long)i * lda + p)];
                    double y = b[offsetB + bi * strideB + (transB ? (long)j * ldb + p : (long)p * ldb + j)];
                    sum += x * y;                  // exact: a product of two floats fits a double
                    abs += Math.Abs(x * y);
                }
                long e = offsetC + bi * strideC + (long)i * ldc + j;
                double old = beta == 0f ? 0 : beta * (double)c0[e];
                reference[e] = alpha * sum + old;
                // inputRounding: a kernel that may round one operand (relative error ≤ inputRounding per element, e.g. the
                // mixed GEMM's activations to bfloat16, 2⁻⁹) changes Σ a·b by at most inputRounding·Σ|a||b| first.
                bound[e] = (gamma + inputRounding * (1 + gamma)) * Math.Abs(alpha) * abs + gamma * Math.Abs(old);
            }
        });
        return (reference, bound);
    }

    /// <summary>The element whose error most exceeds its bound (−1 when every |actual − reference| ≤ bound, NaN matching NaN) and the largest error/bound ratio seen (0/0 counts as 0).</summary>
    public static (int Worst, double WorstRatio) Compare(double[] reference, double[] bound, float[] actual)
    {
        int worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double r = reference[i], x = actual[i];
            if (double.IsNaN(r) && double.IsNaN(x)) continue;
            double d = Math.Abs(r - x);
            double ratio = d == 0 ? 0 : double.IsNaN(d) ? double.PositiveInfinity : d / bound[i];
            if (ratio > worstRatio) worstRatio = ratio;
            if (ratio > 1 && (worst < 0 || ratio >= worstRatio)) worst = i;
        }
        return (worst, worstRatio);
    }
}
