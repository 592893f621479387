using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LLaDA.Tensors.Cpu;

// m == 1 or n == 1: a vector times a matrix. The tiled path would pad the single row to MR = 6 or the single column
// to NarrowNR = 16 (6- to 16-fold wasted work) and pack a matrix that is used once, while the product is memory-bound
// anyway, so these shapes stream the matrix once, unpacked (≈ 40 GB/s on this machine's two cores):
//
//   m == 1:  c[0, j] = alpha·Σ_p x[p]·op(B)(p, j) + beta·c[0, j],  x[p] = op(A)(0, p)
//   n == 1:  c[i, 0] = alpha·Σ_p w[p]·op(A)(i, p) + beta·c[i, 0],  w[p] = op(B)(p, 0)
//
// Both are y[o] = Σ_p x[p]·M(p, o) for a matrix M whose element (p, o) is either mat[p·ld + o] ("rows": accumulate
// x[p]·row p into a y block, AXPY style) or mat[o·ld + p] ("columns": one dot product per output).
public static unsafe partial class CpuMatMul
{
    /// <summary>Outputs accumulated at once in the AXPY form (8 KiB of y stays in L1).</summary>
    private const int GemvBlock = 2048;

    /// <summary>Computes outputs [i0, i1) × [j0, j1) of C[batchIndex] when m == 1 or n == 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunGemv(in GemmArgs g, GemmKernel kernel, int batchIndex, int i0, int i1, int j0, int j1)
    {
        float* a = g.A + batchIndex * g.StrideA;
        float* b = g.B + batchIndex * g.StrideB;
        float* c = g.C + batchIndex * g.StrideC;
        Scratch scratch = Scratch.ForCurrentThread();
        if (g.M == 1)
        {
            // x[p] = op(A)(0, p) = a[p·lda] (transA) or a[p]; M(p, j) = op(B)(p, j).
            float* x = g.TransA ? Gather(a, g.Lda, g.K, scratch) : a;
            VectorTimesMatrix(x, g.K, b, g.Ldb, matrixByRows: !g.TransB, j0, j1, g.Alpha, g.Beta, c, 1, kernel, scratch);
        }
        else
        {
            // w[p] = op(B)(p, 0) = b[p] (transB) or b[p·ldb]; M(p, i) = op(A)(i, p) = a[p·lda + i] (transA) or a[i·lda + p].
            float* w = g.TransB ? b : Gather(b, g.Ldb, g.K, scratch);
            VectorTimesMatrix(w, g.K, a, g.Lda, matrixByRows: g.TransA, i0, i1, g.Alpha, g.Beta, c, g.Ldc, kernel, scratch);
        }
    }

    /// <summary>Copies a strided vector v[p] = src[p·stride] into contiguous scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float* Gather(float* src, nint stride, int count, Scratch scratch)
    {
        if (stride == 1)
        {
            return src;
        }

        float* dst = scratch.Get(Scratch.Slot.Vector, count);
        for (int p = 0; p < count; p++)
        {
            dst[p] = src[p * stride];
        }

        return dst;
    }

    /// <summary>
    /// Computes c[o·ldOut] = alpha·Σ_p x[p]·M(p, o) + beta·c[o·ldOut] for o in [o0, o1), where M(p, o) is mat[p·ld + o]
    /// (<paramref name="matrixByRows"/>) or mat[o·ld + p].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void VectorTimesMatrix(float* x, int k, float* mat, nint ld, bool matrixByRows, int o0, int o1,
        float alpha, float beta, float* c, nint ldOut, GemmKernel kernel, Scratch scratch)
    {
        if (matrixByRows)
        {
            float* y = scratch.Get(Scratch.Slot.PackedB, GemvBlock);
            for (int ob = o0; ob < o1; ob += GemvBlock)
            {
                int len = Math.Min(GemvBlock, o1 - ob);
                new Span<float>(y, len).Clear();
                int p = 0;
                for (; p + 4 <= k; p += 4)
                {
                    float* row = mat + p * ld + ob;
                    Axpy4(y, len, x[p], row, x[p + 1], row + ld, x[p + 2], row + 2 * ld, x[p + 3], row + 3 * ld, kernel);
                }

                for (; p < k; p++)
                {
                    float* row = mat + p * ld + ob;
                    Axpy1(y, len, x[p], row, kernel);
                }

                for (int o = 0; o < len; o++)
                {
                    float* co = c + (ob + o) * ldOut;
                    *co = beta == 0f ? alpha * y[o] : alpha * y[o] + beta * *co;
                }
            }
        }
        else
        {
            for (int o = o0; o < o1; o++)
            {
                float dot = Dot(x, mat + o * ld, k, kernel);
                float* co = c + o * ldOut;
                *co = beta == 0f ? alpha * dot : alpha * dot + beta * *co;
            }
        }
    }

    /// <summary>Computes y += s0·r0 + s1·r1 + s2·r2 + s3·r3 over <paramref name="len"/> elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy4(float* y, int len, float s0, float* r0, float s1, float* r1, float s2, float* r2, float s3, float* r3, GemmKernel kernel)
    {
        int i = 0;
        if (kernel == GemmKernel.Vector512)
        {
            Vector512<float> v0 = Vector512.Create(s0), v1 = Vector512.Create(s1), v2 = Vector512.Create(s2), v3 = Vector512.Create(s3);
            for (; i + 16 <= len; i += 16)
            {
                Vector512<float> acc = Vector512.Load(y + i);
                acc = Vector512.FusedMultiplyAdd(v0, Vector512.Load(r0 + i), acc);
                acc = Vector512.FusedMultiplyAdd(v1, Vector512.Load(r1 + i), acc);
                acc = Vector512.FusedMultiplyAdd(v2, Vector512.Load(r2 + i), acc);
                acc = Vector512.FusedMultiplyAdd(v3, Vector512.Load(r3 + i), acc);
                Vector512.Store(acc, y + i);
            }
        }
        else if (kernel == GemmKernel.Vector256)
        {
            Vector256<float> v0 = Vector256.Create(s0), v1 = Vector256.Create(s1), v2 = Vector256.Create(s2), v3 = Vector256.Create(s3);
            for (; i + 8 <= len; i += 8)
            {
                Vector256<float> acc = Vector256.Load(y + i);
                acc = Vector256.FusedMultiplyAdd(v0, Vector256.Load(r0 + i), acc);
                acc = Vector256.FusedMultiplyAdd(v1, Vector256.Load(r1 + i), acc);
                acc = Vector256.FusedMultiplyAdd(v2, Vector256.Load(r2 + i), acc);
                acc = Vector256.FusedMultiplyAdd(v3, Vector256.Load(r3 + i), acc);
                Vector256.Store(acc, y + i);
            }
        }

        for (; i < len; i++)
        {
            y[i] += s0 * r0[i] + s1 * r1[i] + s2 * r2[i] + s3 * r3[i];
        }
    }

    /// <summary>Computes y += s·r over <paramref name="len"/> elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy1(float* y, int len, float s, float* r, GemmKernel kernel)
    {
        int i = 0;
        if (kernel == GemmKernel.Vector512)
        {
            Vector512<float> v = Vector512.Create(s);
            for (; i + 16 <= len; i += 16)
            {
                Vector512.Store(Vector512.FusedMultiplyAdd(v, Vector512.Load(r + i), Vector512.Load(y + i)), y + i);
            }
        }
        else if (kernel == GemmKernel.Vector256)
        {
            Vector256<float> v = Vector256.Create(s);
            for (; i + 8 <= len; i += 8)
            {
                Vector256.Store(Vector256.FusedMultiplyAdd(v, Vector256.Load(r + i), Vector256.Load(y + i)), y + i);
            }
        }

        for (; i < len; i++)
        {
            y[i] += s * r[i];
        }
    }

    /// <summary>Computes Σ_p x[p]·y[p] over <paramref name="k"/> elements with four independent accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* x, float* y, int k, GemmKernel kernel)
    {
        int p = 0;
        float sum = 0f;
        if (kernel == GemmKernel.Vector512)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; p + 64 <= k; p += 64)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(y + p), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(x + p + 16), Vector512.Load(y + p + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(x + p + 32), Vector512.Load(y + p + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(x + p + 48), Vector512.Load(y + p + 48), a3);
            }

            for (; p + 16 <= k; p += 16)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + p), Vector512.Load(y + p), a0);
            }

            sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (kernel == GemmKernel.Vector256)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; p + 32 <= k; p += 32)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p + 8), Vector256.Load(y + p + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p + 16), Vector256.Load(y + p + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p + 24), Vector256.Load(y + p + 24), a3);
            }

            for (; p + 8 <= k; p += 8)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), a0);
            }

            sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        else
        {
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (; p + 4 <= k; p += 4)
            {
                s0 += x[p] * y[p];
                s1 += x[p + 1] * y[p + 1];
                s2 += x[p + 2] * y[p + 2];
                s3 += x[p + 3] * y[p + 3];
            }

            sum = (s0 + s1) + (s2 + s3);
        }

        for (; p < k; p++)
        {
            sum += x[p] * y[p];
        }

        return sum;
    }
}
