using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Kernels;

/// <summary>Memory, transfers, error paths and layouts of IlgpuBackend on the CPU accelerator, against CpuBackend.</summary>
[Collection(IlgpuCollection.Name)]
public class IlgpuBackendTests(IlgpuFixture fx)
{
    private IlgpuBackend Gpu => fx.Gpu;

    [Fact]
    public void Name_OfCpuAccelerator_IsIlgpuCpu() => Assert.Equal("ilgpu-cpu", Gpu.Name);

    [Fact]
    public void UploadDownload_EveryDType_RoundTripsBits()
    {
        var f = new[] { 1.5f, -0f, float.NaN, float.PositiveInfinity, 1e-40f };
        var i = new[] { int.MinValue, -1, 0, 7, int.MaxValue };
        var h = new ushort[] { 0, 0x8000, 0x7C00, 0x3C00, 0xFFFF };
        using var tf = Tensor.FromSpan<float>(f, [5], DType.F32, Gpu);
        using var ti = Tensor.FromSpan<int>(i, [5], DType.I32, Gpu);
        using var tb = Tensor.FromSpan<ushort>(h, [5], DType.BF16, Gpu);
        using var th = Tensor.FromSpan<ushort>(h, [5], DType.F16, Gpu);
        var rf = new float[5];
        Gpu.Download<float>(tf, rf);
        Assert.Equal(f.Select(BitConverter.SingleToInt32Bits), rf.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(i, ti.ToIntArray());
        var rh = new ushort[5];
        Gpu.Download<ushort>(tb, rh);
        Assert.Equal(h, rh);
        Gpu.Download<ushort>(th, rh);
        Assert.Equal(h, rh);
    }

    [Fact]
    public void Upload_IntoView_WritesAtItsOffset()
    {
        using var t = Tensor.Zeros([3, 4], DType.F32, Gpu);
        using var row = t.Select(0, 1);
        Gpu.Upload<float>(new float[] { 1, 2, 3, 4 }, row);
        Assert.Equal(new float[] { 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0 }, t.ToArray());
    }

    [Fact]
    public void Upload_WrongLength_Throws()
    {
        using var t = Tensor.Empty([3], DType.F32, Gpu);
        Assert.Throws<TensorException>(() => Gpu.Upload<float>(new float[2], t));
        Assert.Throws<TensorException>(() => Gpu.Download<float>(t, new float[4]));
    }

    [Fact]
    public void Op_OnCpuTensor_ThrowsNamingBothBackends()
    {
        using var x = Tensor.FromArray(new float[] { 1, 2 });
        using var y = Tensor.Empty([2], DType.F32, Gpu);
        var e = Assert.Throws<TensorException>(() => Gpu.Unary(new LLaDA.Tensors.Ops.ExpOp(), x, y));
        Assert.Contains("lives on cpu", e.Message);
    }

    [Fact]
    public void EmptyTensors_LaunchNothing()
    {
        using var x = Tensor.Zeros([0, 3], DType.F32, Gpu);
        using var y = x.Exp();
        using var s = x.Sum(1);
        using var c = x.Cast(DType.BF16);
        Assert.Equal(0, y.Numel);
        Assert.Equal(0, s.Numel);
        using var z = Tensor.Zeros([2, 0], DType.F32, Gpu);
        Assert.Equal(new[] { 0f, 0f }, z.Sum(1).ToArray());
        Assert.True(float.IsNaN(z.Mean(1).ToArray()[0]));
        Assert.Equal(float.NegativeInfinity, z.Max(1).ToArray()[0]);
    }

    [Fact]
    public void ArgMax_OfEmptyDim_Throws()
    {
        using var z = Tensor.Zeros([2, 0], DType.F32, Gpu);
        Assert.Throws<TensorException>(() => z.ArgMax(1));
    }

    [Fact]
    public void Pool_SteadyState_AllocatesNothingNew()
    {
        using var x = Tensor.FromArray(Rng.Floats(4 * 33, 1), [4, 33], Gpu);
        void Step()
        {
            using var scope = new TensorScope();
            var y = x.Softmax().Mul(x).Sum(1);
            var (n, _) = x.RmsNorm(Tensor.Ones([33], DType.F32, Gpu), 1e-5f);
            _ = n.Cast(DType.BF16);
            _ = y.ToArray();
        }
        Step();
        long fresh = Gpu.Pool.FreshBlocks, inUse = Gpu.Pool.BytesInUse;
        for (int i = 0; i < 3; i++) Step();
        Assert.Equal(fresh, Gpu.Pool.FreshBlocks);
        Assert.Equal(inUse, Gpu.Pool.BytesInUse);
    }

    [Fact]
    public void Dispose_FreesEveryBuffer()
    {
        var b = IlgpuBackend.CreateCpu(warpsPerGroup: 1);
        var t = Tensor.FromArray(new float[] { 1, 2, 3 }, [3], b);
        Assert.True(b.Pool.BytesReserved > 0);
        b.Dispose();
        Assert.Equal(0, b.Pool.BytesReserved);
        Assert.Throws<ObjectDisposedException>(() => b.Allocate(4, DType.F32));
        t.Dispose(); // returning to a disposed pool is a no-op
    }

    // ---------------------------------------------------------------- index errors (same messages as CpuBackend)

    public static TheoryData<string> IndexOps() => new() { "IndexSelect", "IndexAdd", "Gather", "ScatterAdd", "CrossEntropy" };

    private static void RunBadIndex(string op, IBackend b)
    {
        using var scope = new TensorScope();
        var w = Tensor.Zeros([4, 3], DType.F32, b);
        var bad = Tensor.FromArray(new[] { 1, 4, 0 }, b);
        switch (op)
        {
            case "IndexSelect": Tensor.Embedding(w, bad); break;
            case "IndexAdd": w.IndexAdd(bad, Tensor.Zeros([3, 3], DType.F32, b)); break;
            case "Gather": Tensor.Zeros([2, 3], DType.F32, b).Gather(Tensor.FromArray(new[] { 0, 1, 2, 3, 0, 1 }, [2, 3], b)); break;
            case "ScatterAdd": Tensor.Zeros([2, 3], DType.F32, b).ScatterAdd(Tensor.FromArray(new[] { 0, 1, 2, 3, 0, 1 }, [2, 3], b), Tensor.Zeros([2, 3], DType.F32, b)); break;
            default: Tensor.CrossEntropy(w, bad); break;
        }
    }

    [Theory]
    [MemberData(nameof(IndexOps))]
    public void OutOfRangeIndex_ThrowsSameMessageAsCpu(string op)
    {
        var cpu = Assert.Throws<TensorException>(() => RunBadIndex(op, CpuBackend.Default));
        var gpu = Assert.Throws<TensorException>(() => RunBadIndex(op, Gpu));
        Assert.Equal(cpu.Message, gpu.Message);
        // The backend is usable afterwards: the error slots were cleared.
        using var w = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, [2, 2], Gpu);
        using var ids = Tensor.FromArray(new[] { 1, 0 }, Gpu);
        Assert.Equal(new float[] { 3, 4, 1, 2 }, Tensor.Embedding(w, ids).ToArray());
    }

    [Fact]
    public void OutOfRangeIndex_Deferred_ThrowsAtNextDownload()
    {
        Gpu.EagerIndexChecks = false;
        try
        {
            using var w = Tensor.Zeros([4, 3], DType.F32, Gpu);
            using var ids = Tensor.FromArray(new[] { 9 }, Gpu);
            using var y = Tensor.Embedding(w, ids); // no throw yet
            var e = Assert.Throws<TensorException>(() => y.ToArray());
            Assert.Contains("IndexSelect: id 9 at position 0", e.Message);
            _ = y.ToArray(); // reported once: the rows of bad ids are left unwritten, as the error says
        }
        finally
        {
            Gpu.EagerIndexChecks = true;
        }
    }

    // ---------------------------------------------------------------- layouts

    [Fact]
    public void StridedView_OfHighRank_CollapsesOrThrowsClearly()
    {
        // Rank 8 with size-1 dims and mergeable dims collapses to a small iteration space.
        using var x = Tensor.FromArray(Rng.Floats(2 * 3 * 4, 2), [1, 2, 1, 3, 1, 4, 1, 1], Gpu);
        using var xt = x.Transpose(1, 5); // (1, 4, 1, 3, 1, 2, 1, 1)
        using var cpu = Tensor.FromArray(Rng.Floats(2 * 3 * 4, 2), [1, 2, 1, 3, 1, 4, 1, 1]).Transpose(1, 5);
        TensorAssert.Close(cpu.Contiguous().ToArray(), xt.Contiguous().ToArray(), 0, 0);
        // Seven dims that cannot merge exceed the kernels' rank limit.
        int[] shape = [2, 2, 2, 2, 2, 2, 2];
        using var big = Tensor.Zeros(shape, DType.F32, Gpu);
        using var perm = big.Permute(6, 5, 4, 3, 2, 1, 0);
        var e = Assert.Throws<TensorException>(() => perm.Contiguous());
        Assert.Contains("rank 7", e.Message);
    }

    [Fact]
    public void Copy_IntoStridedDestination_WritesOnlyTheView()
    {
        using var dst = Tensor.Zeros([4, 5], DType.F32, Gpu);
        using var slot = dst.Narrow(1, 1, 3);
        using var src = Tensor.FromArray(Enumerable.Range(1, 12).Select(i => (float)i).ToArray(), [4, 3], Gpu);
        using var srcT = src.Transpose(0, 1).Contiguous().Transpose(0, 1); // same values, column-major
        slot.CopyFrom(srcT);
        var v = dst.ToArray();
        for (int r = 0; r < 4; r++)
        {
            Assert.Equal(0f, v[r * 5]);
            Assert.Equal(0f, v[r * 5 + 4]);
            for (int c = 0; c < 3; c++) Assert.Equal(r * 3 + c + 1, v[r * 5 + c + 1]);
        }
    }
}
