namespace LLaDA.Tensors.Cpu;

// TEMPORARY placeholder until the packed SGEMM lands (same contract).
public enum GemmKernel { Auto, Scalar, Vector256, Vector512 }

public static unsafe partial class CpuMatMul
{
    public static GemmKernel BestAvailable => GemmKernel.Scalar;

    public static void Sgemm(int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, bool transA,
        float* b, int ldb, long strideB, bool transB,
        float beta, float* c, int ldc, long strideC, GemmKernel kernel = GemmKernel.Auto)
    {
        CpuParallel.For((long)batch * m, (long)n * k * 2, (s, e) =>
        {
            for (long bi = s; bi < e; bi++)
            {
                long bb = bi / m; int i = (int)(bi % m);
                float* pa = a + bb * strideA, pb = b + bb * strideB, pc = c + bb * strideC;
                for (int j = 0; j < n; j++)
                {
                    float acc = 0;
                    for (int p = 0; p < k; p++)
                        acc += (transA ? pa[(long)p * lda + i] : pa[(long)i * lda + p]) * (transB ? pb[(long)j * ldb + p] : pb[(long)p * ldb + j]);
                    pc[(long)i * ldc + j] = beta == 0 ? alpha * acc : alpha * acc + beta * pc[(long)i * ldc + j];
                }
            }
        });
    }
}
