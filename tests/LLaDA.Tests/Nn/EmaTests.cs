using LLaDA.Autograd;
using LLaDA.Nn;
using LLaDA.Nn.Optim;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Nn;

public sealed class EmaTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-ema-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    [Fact]
    public void Update_ByHand()
    {
        var w = new Variable(Tensor.FromArray([1f, -2f, 4f]), requiresGrad: true);
        using var ema = new Ema([("w", w)], decay: 0.9f);
        Assert.Equal(new[] { 1f, -2f, 4f }, ema.Weights().Single().Weight.ToArray()); // starts at the weights
        w.Data.CopyFrom(Tensor.FromArray([2f, 0f, 4f]));
        ema.Update();
        // 0.9·(1, −2, 4) + 0.1·(2, 0, 4) = (1.1, −1.8, 4)
        Assert.Equal(new[] { 1.1f, -1.8f, 4f }, ema.Weights().Single().Weight.ToArray(), new FloatTol(1e-6f));
        w.Data.CopyFrom(Tensor.FromArray([0f, 0f, 0f]));
        ema.Update();
        // 0.9·(1.1, −1.8, 4) + 0.1·0 = (0.99, −1.62, 3.6)
        Assert.Equal(new[] { 0.99f, -1.62f, 3.6f }, ema.Weights().Single().Weight.ToArray(), new FloatTol(1e-6f));
        Assert.Throws<ArgumentException>(() => new Ema([("w", w)], 1f));
        Assert.Throws<ArgumentException>(() => new Ema([("w", w)], -0.5f));
    }

    [Fact]
    public void CopyIntoParameters_PutsTheAverageIntoTheAveragedWeights()
    {
        var w = new Variable(Tensor.FromArray([1f, -2f, 4f]), requiresGrad: true);
        using var ema = new Ema([("w", w)], decay: 0.5f);
        w.Data.CopyFrom(Tensor.FromArray([3f, 0f, 0f]));
        ema.Update(); // 0.5·(1, −2, 4) + 0.5·(3, 0, 0) = (2, −1, 2)
        ema.CopyIntoParameters();
        Assert.Equal(new[] { 2f, -1f, 2f }, w.Data.ToArray());
    }

    [Fact]
    public void SaveAndLoadInto_PutsTheAverageIntoAModel()
    {
        using var a = new MaskPredictor(Presets.Tiny(12, 1, 0), seed: 1);
        using var b = new MaskPredictor(Presets.Tiny(12, 1, 0), seed: 2);
        using var ema = new Ema(a.NamedParameters(), 0.5f);
        foreach (var (_, p) in a.NamedParameters()) p.Data.CopyFrom(p.Data.Scale(3f));
        ema.Update(); // average = 0.5·w + 0.5·3w = 2w
        Directory.CreateDirectory(_dir);
        ema.Save(_dir);
        Assert.True(Ema.Exists(_dir));
        Ema.LoadInto(b, _dir);
        foreach (var ((_, pa), (_, pb)) in a.NamedParameters().Zip(b.NamedParameters()))
            Assert.Equal(pa.Data.Scale(2f / 3f).ToArray(), pb.Data.ToArray(), new FloatTol(1e-5f));
    }

    private sealed class FloatTol(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tol * Math.Max(1, Math.Abs(x));
        public int GetHashCode(float obj) => 0;
    }
}
