using LLaDA.Autograd;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Distributed;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Distributed;

/// <summary>The pieces of data-parallel training that need no MPI: the tape's gradient-final hook, the loader's skip, the state checksum.</summary>
public class DataParallelPartsTests
{
    [Fact]
    public void GradFinalHook_ReportsEachLeafOnceWithItsFinalGradient()
    {
        // y = Σ (a·b + a)·c: a is read by two ops, so it is final only after the earlier one's backward; d is never read.
        using var at = Rng.Tensor(11, 3, 4);
        using var bt = Rng.Tensor(12, 3, 4);
        using var ct = Rng.Tensor(13, 3, 4);
        using var dt = Rng.Tensor(14, 3, 4);
        var a = new Variable(at, true, "a");
        var b = new Variable(bt, true, "b");
        var c = new Variable(ct, true, "c");
        var d = new Variable(dt, true, "d");
        for (int pass = 0; pass < 2; pass++) // the second pass accumulates onto the first's gradients
        {
            var seen = new Dictionary<string, float[]>();
            using (var tape = new Tape())
            {
                var y = F.Sum(F.Mul(F.Add(F.Mul(a, b), a), c));
                tape.Backward(y, gradFinal: v =>
                {
                    Assert.False(seen.ContainsKey(v.Name!), $"{v.Name} reported twice");
                    seen[v.Name!] = v.Grad!.ToArray();
                });
            }
            Assert.Equal(["a", "b", "c"], seen.Keys.Order());
            foreach (var v in new[] { a, b, c }) Assert.Equal(v.Grad!.ToArray(), seen[v.Name!]);
        }
        // And the gradients themselves: da = 2(b + 1)c, db = 2ac, dc = 2(ab + a) over the two passes.
        var (x, y2, z) = (at.ToArray(), bt.ToArray(), ct.ToArray());
        TensorAssert.Close(a.Grad!, x.Select((_, i) => 2.0 * (y2[i] + 1) * z[i]).ToArray(), [3, 4], what: "da");
        Assert.Null(d.Grad);
        foreach (var v in new[] { a, b, c }) v.ZeroGrad();
    }

    [Fact]
    public void Skip_LandsWhereReadingTheSameRowsDoes_AcrossEpochs()
    {
        var rows = Enumerable.Range(0, 7).Select(i => new[] { i, i }).ToList();
        var data = new SequenceDataset(rows, 2);
        foreach (int n in new[] { 0, 1, 3, 7, 8, 15, 20 })
        {
            var read = new BatchLoader(data, 1, 5, new DataPosition(0, 2));
            for (int i = 0; i < n; i++) read.Next();
            var skip = new BatchLoader(data, 1, 5, new DataPosition(0, 2));
            skip.Skip(n);
            Assert.Equal(read.Position, skip.Position);
            Assert.Equal(read.Next(), skip.Next()); // and the next row read is the same
        }
    }

    [Fact]
    public void Checksum_ChangesWithOneBit_AndIsOrderSensitive()
    {
        using var a = Rng.Tensor(21, 5, 3);
        using var b = Rng.Tensor(22, 7);
        var x = a.ToArray();
        x[7] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x[7]) ^ 1);
        using var a2 = Tensor.FromArray(x, [5, 3]);
        using var same = Tensor.FromArray(a.ToArray(), [5, 3]);
        long h = DataParallel.Checksum([a, b]);
        Assert.Equal(h, DataParallel.Checksum([same, b]));
        Assert.NotEqual(h, DataParallel.Checksum([a2, b]));
        Assert.NotEqual(h, DataParallel.Checksum([b, a]));
    }
}
