using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Tensors;

public class ScopeTests
{
    [Fact]
    public void Scope_DisposesOwnedTensors_KeepAliveSurvives()
    {
        var backend = new CpuBackend();
        Tensor kept;
        Tensor dropped;
        using (new TensorScope())
        {
            dropped = Tensor.Ones([4, 4], backend: backend);
            kept = dropped.Scale(2f).KeepAlive();
            Assert.True(backend.Pool.BytesInUse > 0);
        }
        Assert.True(dropped.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal(2f, kept.ToArray()[0]);
        kept.Dispose();
        Assert.Equal(0, backend.Pool.BytesInUse);
    }

    [Fact]
    public void Views_ShareStorage_FreedWithLastView()
    {
        var backend = new CpuBackend();
        var a = Tensor.Zeros([8, 8], backend: backend);
        var t = a.Transpose(0, 1);
        Assert.Equal(2, a.Storage.RefCount);
        a.Dispose();
        Assert.True(backend.Pool.BytesInUse > 0);
        Assert.Equal(0f, t.ToArray()[5]);
        t.Dispose();
        Assert.Equal(0, backend.Pool.BytesInUse);
    }

    [Fact]
    public void UseAfterDispose_ThrowsClearError()
    {
        var a = Tensor.Zeros([2, 3]);
        a.Dispose();
        var ex = Assert.Throws<ObjectDisposedException>(() => a.ToArray());
        Assert.Contains("(2, 3)", ex.Message);
    }

    [Fact]
    public void Pool_SteadyStateLoop_TouchesNoFreshMemory()
    {
        var backend = new CpuBackend();
        void Step()
        {
            using var scope = new TensorScope();
            var x = Tensor.Rand([64, 96], 1, backend: backend);
            var w = Tensor.Rand([96, 32], 2, backend: backend);
            var y = x.MatMul(w).Silu().Sum(0);
            _ = y.Softmax();
        }
        Step();
        long fresh = backend.Pool.FreshBytes;
        for (int i = 0; i < 5; i++) Step();
        Assert.Equal(fresh, backend.Pool.FreshBytes);
        Assert.Equal(0, backend.Pool.BytesInUse);
    }

    [Fact]
    public void SizeClass_IsMonotoneAndWithinEighthSlack()
    {
        long prev = 0;
        for (long b = 1; b < 1 << 22; b = b * 5 / 4 + 1)
        {
            long c = CpuMemoryPool.SizeClass(b);
            Assert.True(c >= b);
            Assert.True(c >= prev);
            // Eight classes per power of two (12.5 % slack), but never finer than 64 bytes (cache-line alignment).
            Assert.True(c <= b + Math.Max(64, b / 8), $"{b} -> {c}");
            prev = c;
        }
    }
}
