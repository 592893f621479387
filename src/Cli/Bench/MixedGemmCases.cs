using LLaDA.Diagnostics;
using LLaDA.Tensors;

namespace LLaDA.Cli.Bench;

// `llada bench mixed-gemm`: f32 activations × BF16 weights (nn.Linear layout, x·Wᵀ) on the 8B checkpoint's projection shapes.
internal static partial class CpuBenchCases
{
    /// <summary>The 8B model's weight shapes (K = in, N = out): attention projections, MLP up/gate, MLP down, and the LM head
    /// (126,464 outputs; timed on its first 16,384 rows, which has the same K and per-column work).</summary>
    private static readonly (int K, int N, string Label)[] MixedShapes =
    [
        (4096, 4096, "q/k/v/o proj"),
        (4096, 12288, "MLP up/gate"),
        (12288, 4096, "MLP down"),
        (4096, 16384, "LM head (16384 of 126464 rows)"),
    ];

    /// <summary>Tokens per call: M ≤ 8 is bound by reading the weights (GB/s of weight bytes, against the triad bandwidth);
    /// M ≥ 32 by the FMAs (GFLOP/s, against the f32 SGEMM on the same shape timed just before).</summary>
    private static readonly int[] MixedTokens = [1, 4, 8, 32, 128, 512];

    private static IEnumerable<BenchResult> MixedGemm(double budget, bool quick)
    {
        var shapes = quick ? MixedShapes[..1] : MixedShapes;
        foreach (var (k, n, label) in shapes)
        {
            using var w32 = Tensor.Randn([n, k], 2, backend: Backend);
            using var w32s = w32.Scale(1f / MathF.Sqrt(k));
            using var w16 = w32s.Contiguous(DType.BF16);
            using var wt32 = w32s.MT;
            using var wt16 = w16.MT;
            foreach (int m in MixedTokens)
            {
                if (quick && m is 4 or 128) continue;
                using var x = Tensor.Randn([m, k], 1, backend: Backend);
                string shape = $"M{m} K{k} N{n} x·Wᵀ";
                double flops = 2.0 * m * n * k;
                if (m <= 8)
                {
                    // Weight-streaming: the figure that matters is GB/s of BF16 weight bytes (2·N·K per call).
                    yield return Time("mixed_gemm.bf16", shape, flops, 2.0 * n * k, budget, () => x.MatMul(wt16),
                        $"{label}; GB/s of weight bytes (goal ≥ 70% triad)");
                    continue;
                }
                var f32 = Time("matmul.f32", shape, flops, 0, budget, () => x.MatMul(wt32), $"{label}; f32 weights, same run");
                yield return f32;
                var bf16 = Time("mixed_gemm.bf16", shape, flops, 0, budget, () => x.MatMul(wt16));
                yield return bf16 with { Note = $"{label}; {bf16.Gflops / f32.Gflops:P0} of f32 SGEMM (goal ≥ 85%)" };
            }
        }
    }
}
