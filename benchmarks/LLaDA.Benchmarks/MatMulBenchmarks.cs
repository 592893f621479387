using BenchmarkDotNet.Attributes;
using LLaDA.Tensors;

namespace LLaDA.Benchmarks;

/// <summary>SGEMM on square and transformer shapes (flops = 2·M·N·K per call); `llada bench matmul` prints GFLOP/s for the same cases.</summary>
[MemoryDiagnoser]
public class MatMulBenchmarks
{
    private Tensor _a = null!, _b = null!, _c = null!;

    // Square, every layout at 1024³, the 4096-token transformer shapes, the deep dW shapes that split k (256x4096x256,
    // 1024x4096x256), the LM head's dW, and decoding x·Wᵀ with 8 and 32 tokens (8 runs as Cᵀ = W·xᵀ).
    [Params("256x256x256", "1024x1024x1024", "1024x1024x1024:NT", "1024x1024x1024:TN", "1024x1024x1024:TT",
        "4096x512x2048", "4096x2048x512:NT", "512x4096x2048:TN", "256x4096x256:TN", "1024x4096x256:TN", "4096x4096x256:TN",
        "8x256x1024:NT", "32x256x1024:NT")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var parts = Shape.Split(':');
        var d = parts[0].Split('x').Select(int.Parse).ToArray();
        int m = d[0], k = d[1], n = d[2];
        string t = parts.Length > 1 ? parts[1] : "NN";
        _a = t[0] == 'T' ? Tensor.Rand([k, m], 1).Transpose(0, 1) : Tensor.Rand([m, k], 1);
        _b = t[1] == 'T' ? Tensor.Rand([n, k], 2).Transpose(0, 1) : Tensor.Rand([k, n], 2);
        _c = Tensor.Empty([m, n]);
    }

    [Benchmark]
    public void Sgemm() => _c.MatMulInto(_a, _b);

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }
}
