using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LLaDA.Tensors.Cpu;

/// <summary>
/// Mixed-precision GEMM, C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b], with A and C in F32 (activations) and B stored as
/// BF16 or F16 (a checkpoint's weights, used in place): B is widened to f32 inside the kernel, a block at a time, and never
/// converted as a whole matrix.
/// </summary>
/// <remarks>
/// Two paths, both compared against <see cref="GemmNaive"/>:
/// <list type="bullet">
/// <item>Streaming (m ≤ <see cref="StreamMaxM"/>, B transposed as nn.Linear's (out, in) weight, A row-major): the decode
/// shape. Each weight row is read once, widened in registers and dotted with the m activation rows; the output columns are
/// split between the cores, so the weights stream at memory bandwidth.</item>
/// <item>Panels (everything else): op(B) is widened one <see cref="Kc"/>×<see cref="Nc"/> panel at a time into a per-thread
/// f32 buffer (the packing step), and the f32 GEMM (<see cref="CpuMatMul.Sgemm"/>) multiplies A by the panel, accumulating
/// over the K panels (beta for the first, 1 after). The widening is O(k·n) against the GEMM's O(m·k·n).</item>
/// </list>
/// </remarks>
public static unsafe class CpuMixedGemm
{
    /// <summary>Largest m that takes the streaming (matrix–vector style) path.</summary>
    public const int StreamMaxM = 8;

    /// <summary>Panel depth (rows of op(B)) and width (columns of op(B)) of the widening buffer: 256 × 512 floats = 512 KiB.</summary>
    public const int Kc = 256, Nc = 512;

    [ThreadStatic] private static float* _panel;

    /// <summary>C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b]; arguments as <see cref="CpuMatMul.Sgemm"/>, B 16-bit of <paramref name="bType"/>.</summary>
    public static void Gemm(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA,
        ushort* b, DType bType, int ldb, long strideB, bool transB,
        float beta, float* c, int ldc, long strideC)
    {
        if (bType is not (DType.BF16 or DType.F16)) throw new ArgumentException($"mixed GEMM: B must be BF16 or F16, got {bType}", nameof(bType));
        if (batch < 0 || m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(batch), $"negative size (batch {batch}, m {m}, n {n}, k {k})");
        if (batch == 0 || m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            // BLAS semantics: A and B are not read.
            CpuMatMul.Sgemm(batch, m, n, 0, alpha, a, Math.Max(lda, 1), strideA, transA, (float*)b, Math.Max(ldb, 1), strideB, transB, beta, c, ldc, strideC);
            return;
        }
        if (m <= StreamMaxM && transB && !transA)
        {
            for (int bi = 0; bi < batch; bi++)
                Stream(m, n, k, alpha, a + bi * strideA, lda, b + bi * strideB, bType, ldb, beta, c + bi * strideC, ldc);
            return;
        }
        if (strideB == 0)
        {
            Panels(batch, m, n, k, alpha, a, lda, strideA, transA, b, bType, ldb, transB, beta, c, ldc, strideC);
            return;
        }
        for (int bi = 0; bi < batch; bi++)
            Panels(1, m, n, k, alpha, a + bi * strideA, lda, 0, transA, b + bi * strideB, bType, ldb, transB, beta, c + bi * strideC, ldc, 0);
    }

    /// <summary>The test oracle: the triple loop in double, each B element widened where it is read.</summary>
    public static void GemmNaive(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA,
        ushort* b, DType bType, int ldb, long strideB, bool transB,
        float beta, float* c, int ldc, long strideC)
    {
        for (int bi = 0; bi < batch; bi++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                    {
                        float aip = transA ? a[bi * strideA + (long)p * lda + i] : a[bi * strideA + (long)i * lda + p];
                        ushort bits = transB ? b[bi * strideB + (long)j * ldb + p] : b[bi * strideB + (long)p * ldb + j];
                        sum += (double)aip * Widen(bits, bType);
                    }
                    float* cij = c + bi * strideC + (long)i * ldc + j;
                    *cij = beta == 0f ? (float)(alpha * sum) : (float)(alpha * sum + (double)beta * *cij);
                }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Widen(ushort bits, DType t) => t == DType.BF16 ? Half16.FromBf16(bits) : Half16.FromF16(bits);

    // ---------------------------------------------------------------- streaming path (small m)

    private static void Stream(int m, int n, int k, float alpha, float* a, int lda, ushort* w, DType t, int ldw, float beta, float* c, int ldc)
    {
        CpuParallel.For(n, (long)k * (m + 1), (j0, j1) =>
        {
            float* sums = stackalloc float[StreamMaxM];
            for (long j = j0; j < j1; j++)
            {
                DotRows(m, k, a, lda, w + j * ldw, t, sums);
                for (int i = 0; i < m; i++)
                {
                    float* cij = c + (long)i * ldc + j;
                    *cij = beta == 0f ? alpha * sums[i] : alpha * sums[i] + beta * *cij;
                }
            }
        });
    }

    /// <summary>sums[i] = Σ_p a[i·lda + p]·widen(w[p]) for i &lt; m: one pass over the weight row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotRows(int m, int k, float* a, int lda, ushort* w, DType t, float* sums)
    {
        int p = 0;
        if (Vector256.IsHardwareAccelerated && k >= 8)
        {
            var acc = stackalloc Vector256<float>[StreamMaxM];
            for (int i = 0; i < m; i++) acc[i] = Vector256<float>.Zero;
            float* tmp = stackalloc float[8];
            for (; p + 8 <= k; p += 8)
            {
                Vector256<float> wv;
                if (t == DType.BF16)
                {
                    var (lo, hi) = Vector128.Widen(Vector128.Load(w + p));
                    wv = Vector256.ShiftLeft(Vector256.Create(lo, hi), 16).AsSingle();
                }
                else
                {
                    for (int q = 0; q < 8; q++) tmp[q] = Half16.FromF16(w[p + q]);
                    wv = Vector256.Load(tmp);
                }
                for (int i = 0; i < m; i++) acc[i] = Vector256.FusedMultiplyAdd(Vector256.Load(a + (long)i * lda + p), wv, acc[i]);
            }
            for (int i = 0; i < m; i++) sums[i] = Vector256.Sum(acc[i]);
        }
        else
        {
            for (int i = 0; i < m; i++) sums[i] = 0f;
        }
        for (; p < k; p++)
        {
            float wp = Widen(w[p], t);
            for (int i = 0; i < m; i++) sums[i] += a[(long)i * lda + p] * wp;
        }
    }

    // ---------------------------------------------------------------- panel path

    private static void Panels(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA, ushort* b, DType t, int ldb, bool transB,
        float beta, float* c, int ldc, long strideC)
    {
        float* panel = _panel;
        if (panel == null) _panel = panel = (float*)NativeMemory.AlignedAlloc((nuint)Kc * Nc * sizeof(float), 64);
        for (int jc = 0; jc < n; jc += Nc)
        {
            int nc = Math.Min(Nc, n - jc);
            for (int pc = 0; pc < k; pc += Kc)
            {
                int kc = Math.Min(Kc, k - pc);
                // Pack: op(B)[pc.., jc..] widened, stored like the source (transposed: nc rows of kc; else kc rows of nc).
                if (transB) WidenRows(b + (long)jc * ldb + pc, ldb, nc, kc, t, panel);
                else WidenRows(b + (long)pc * ldb + jc, ldb, kc, nc, t, panel);
                float* ap = transA ? a + (long)pc * lda : a + pc;
                CpuMatMul.Sgemm(batch, m, nc, kc, alpha, ap, lda, strideA, transA,
                    panel, transB ? kc : nc, 0, transB, pc == 0 ? beta : 1f, c + jc, ldc, strideC);
            }
        }
    }

    /// <summary>dst[r·width + q] = widen(src[r·ld + q]) for r &lt; rows, q &lt; width.</summary>
    private static void WidenRows(ushort* src, int ld, int rows, int width, DType t, float* dst)
    {
        CpuParallel.For(rows, width, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++) WidenRow(src + r * ld, dst + r * width, width, t);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WidenRow(ushort* s, float* d, int count, DType t)
    {
        int q = 0;
        if (t == DType.BF16)
        {
            if (Vector256.IsHardwareAccelerated)
                for (; q + 8 <= count; q += 8)
                {
                    var (lo, hi) = Vector128.Widen(Vector128.Load(s + q));
                    Vector256.ShiftLeft(Vector256.Create(lo, hi), 16).AsSingle().Store(d + q);
                }
            for (; q < count; q++) d[q] = Half16.FromBf16(s[q]);
        }
        else
        {
            for (; q < count; q++) d[q] = Half16.FromF16(s[q]);
        }
    }
}
