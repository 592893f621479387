using BenchmarkDotNet.Attributes;
using LLaDA.Tensors;

namespace LLaDA.Benchmarks;

/// <summary>Fused attention forward and forward+backward (flops 4·B·H·T²·HS per forward).</summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private Tensor _q = null!, _k = null!, _v = null!, _do = null!;

    [Params(AttnMask.None, AttnMask.Causal)]
    public AttnMask Mask { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _q = Tensor.Randn([8, 256, 8, 64], 1).Transpose(1, 2);
        _k = Tensor.Randn([8, 256, 8, 64], 2).Transpose(1, 2);
        _v = Tensor.Randn([8, 256, 8, 64], 3).Transpose(1, 2);
        _do = Tensor.Randn([8, 256, 8, 64], 4).Transpose(1, 2);
    }

    [Benchmark]
    public void Forward()
    {
        using var s = new TensorScope();
        Tensor.Attention(_q, _k, _v, Mask);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var s = new TensorScope();
        var (o, lse) = Tensor.Attention(_q, _k, _v, Mask);
        Tensor.AttentionBackward(_q, _k, _v, o, lse, _do, Mask);
    }
}
