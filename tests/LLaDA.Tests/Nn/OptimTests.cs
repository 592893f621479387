using LLaDA.Autograd;
using LLaDA.Nn.Optim;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Nn;

/// <summary>Learning-rate schedules at their breakpoints, gradient clipping and AdamW's decay rule, against values worked out by hand.</summary>
public class OptimTests
{
    [Fact]
    public void Constant_WarmsUpLinearlyThenHolds()
    {
        var s = new ConstantSchedule(0.8f, Warmup: 4);
        Assert.Equal(0.2f, s.At(0), 6);  // (0 + 1)/4 of the peak
        Assert.Equal(0.6f, s.At(2), 6);
        Assert.Equal(0.8f, s.At(3), 6);  // the last warm-up step reaches the peak
        Assert.Equal(0.8f, s.At(4), 6);
        Assert.Equal(0.8f, s.At(10_000), 6);
        Assert.Equal(0.8f, new ConstantSchedule(0.8f).At(0), 6); // no warm-up
    }

    [Fact]
    public void Wsd_WarmupStableThenLinearDecayToMinLr()
    {
        // 100 steps, warm-up 10, last 20 % (20 steps, from step 80) decay linearly from 1 to 0.1.
        var s = new WsdSchedule(1f, TotalSteps: 100, Warmup: 10, DecayFraction: 0.2f, MinLr: 0.1f);
        Assert.Equal(0.1f, s.At(0), 6);
        Assert.Equal(0.5f, s.At(4), 6);
        Assert.Equal(1f, s.At(9), 6);      // end of warm-up
        Assert.Equal(1f, s.At(10), 6);     // stable
        Assert.Equal(1f, s.At(79), 6);     // last stable step
        Assert.Equal(1f - 0.9f / 20, s.At(80), 6);  // first decay step: 1/20 of the way
        Assert.Equal(1f - 0.9f * 10 / 20, s.At(89), 6);
        Assert.Equal(0.1f, s.At(99), 6);   // the last step reaches MinLr
        Assert.Equal(0.1f, s.At(150), 6);  // and stays there
    }

    [Fact]
    public void Cosine_WarmupThenHalfCosineToMinLr()
    {
        // Warm-up 10, then lr = min + ½(peak − min)(1 + cos(π (step − 10)/90)) until step 100.
        var s = new CosineSchedule(1f, TotalSteps: 100, Warmup: 10, MinLr: 0.2f);
        Assert.Equal(0.1f, s.At(0), 6);
        Assert.Equal(1f, s.At(9), 6);
        Assert.Equal(1f, s.At(10), 6);     // cos 0 = 1: the peak
        Assert.Equal(0.6f, s.At(55), 5);   // half way: cos(π/2) = 0 → midpoint of 1 and 0.2
        Assert.Equal(0.2f + 0.4f * (1 + MathF.Cos(MathF.PI / 3)), s.At(40), 5); // a third of the way: 0.8
        Assert.Equal(0.2f, s.At(100), 6);  // cos π = −1: MinLr
        Assert.Equal(0.2f, s.At(500), 6);
    }

    private static Variable Param(float[] data, int[] shape, float[] grad)
    {
        var p = new Variable(Tensor.FromArray(data, shape), true, "p");
        using var tape = new Tape();
        using var g = Tensor.FromArray(grad, shape);
        tape.Backward(F.Sum(F.Mul(p, g))); // d/dp Σ p·g = g
        return p;
    }

    [Fact]
    public void GlobalNorm_AndClip_MatchHandComputed()
    {
        // ‖(3, 4)‖² + ‖(12)‖² = 25 + 144 = 169 → norm 13.
        var a = Param([1, 1], [2], [3, 4]);
        var b = Param([1], [1], [12]);
        Assert.Equal(13.0, GradClip.GlobalNorm([a, b]), 6);
        // Below the threshold: untouched, and the norm is still reported.
        Assert.Equal(13.0, GradClip.ClipByGlobalNorm([a, b], 20), 6);
        Assert.Equal(new float[] { 3, 4 }, a.Grad!.ToArray());
        // Above: every gradient scaled by 6.5/13 = 0.5 (to within the 1e-6 guard), the returned norm is the one before.
        Assert.Equal(13.0, GradClip.ClipByGlobalNorm([a, b], 6.5), 6);
        Assert.Equal(new[] { 1.5, 2.0 }, a.Grad!.ToArray().Select(x => Math.Round(x, 5)));
        Assert.Equal(6.0, b.Grad!.ToArray()[0], 5);
        Assert.Equal(6.5, GradClip.GlobalNorm([a, b]), 5);
        // maxNorm 0 disables clipping.
        GradClip.ClipByGlobalNorm([a, b], 0);
        Assert.Equal(6.0, b.Grad!.ToArray()[0], 5);
    }

    [Fact]
    public void AdamW_FirstStep_DecaysMatricesButNot1DParameters()
    {
        // Step 1: m̂ = g, v̂ = g², so the Adam step is lr·g/(|g| + ε) = lr·sign(g) = 0.1; decoupled decay multiplies by 1 − lr·wd = 0.95.
        // Matrix: 2·0.95 − 0.1 = 1.8 (and −1·0.95 + 0.1 = −0.85 for g < 0); norm scale (1-D): 2 − 0.1 = 1.9, not decayed.
        var w = Param([2, -1, 2, -1], [2, 2], [0.3f, -0.2f, 0.3f, -0.2f]);
        var n = Param([2, 2], [2], [0.3f, 0.3f]);
        using (var opt = new AdamW([("w", w), ("n", n)], new AdamWConfig { WeightDecay = 0.5f }))
        {
            opt.Update(0.1f);
            Assert.Equal(1, opt.Step);
        }
        Assert.Equal(new[] { 1.8, -0.85, 1.8, -0.85 }, w.Data.ToArray().Select(x => Math.Round(x, 5)));
        Assert.Equal(new[] { 1.9, 1.9 }, n.Data.ToArray().Select(x => Math.Round(x, 5)));

        // DecayNorms decays the 1-D parameter too: 2·0.95 − 0.1 = 1.8.
        var n2 = Param([2, 2], [2], [0.3f, 0.3f]);
        using (var opt = new AdamW([("n", n2)], new AdamWConfig { WeightDecay = 0.5f, DecayNorms = true })) opt.Update(0.1f);
        Assert.Equal(new[] { 1.8, 1.8 }, n2.Data.ToArray().Select(x => Math.Round(x, 5)));
    }
}
