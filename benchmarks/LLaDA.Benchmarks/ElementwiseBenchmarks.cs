using BenchmarkDotNet.Attributes;
using LLaDA.Tensors;

namespace LLaDA.Benchmarks;

/// <summary>Bandwidth-bound families on 16 Mi floats: elementwise, reductions, softmax, RMSNorm, cross-entropy, AdamW.</summary>
[MemoryDiagnoser]
public class ElementwiseBenchmarks
{
    private Tensor _a = null!, _b = null!, _w = null!, _logits = null!, _targets = null!, _m = null!, _v = null!;
    private int _step;

    [GlobalSetup]
    public void Setup()
    {
        _a = Tensor.Randn([4096, 4096], 1);
        _b = Tensor.Randn([4096, 4096], 2);
        _w = Tensor.Rand([4096], 3);
        _logits = Tensor.Randn([4096, 4096], 4);
        _targets = Tensor.FromArray(Enumerable.Range(0, 4096).Select(i => i * 7 % 4096).ToArray());
        _m = Tensor.Zeros([4096, 4096]);
        _v = Tensor.Zeros([4096, 4096]);
    }

    private static void Scoped(Action a)
    {
        using var s = new TensorScope();
        a();
    }

    [Benchmark] public void Add() => Scoped(() => _a.Add(_b));
    [Benchmark] public void Exp() => Scoped(() => _a.Exp());
    [Benchmark] public void SiluGate() => Scoped(() => Tensor.SiluGate(_a, _b));
    [Benchmark] public void SumLastDim() => Scoped(() => _a.Sum(-1));
    [Benchmark] public void SumFirstDim() => Scoped(() => _a.Sum(0));
    [Benchmark] public void Softmax() => Scoped(() => _a.Softmax());
    [Benchmark] public void RmsNorm() => Scoped(() => _a.RmsNorm(_w, 1e-5f));
    [Benchmark] public void RopeForward() => Scoped(() => { using var x = _a.View(16, 256, 64, 64); x.Rope(10000f); });
    [Benchmark] public void CrossEntropy() => Scoped(() => Tensor.CrossEntropy(_logits, _targets));
    [Benchmark] public void AdamW() => _a.AdamWStep(_b, _m, _v, new AdamWStep(1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, ++_step));
}
