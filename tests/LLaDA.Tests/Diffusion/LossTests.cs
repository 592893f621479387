using LLaDA.Autograd;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Diffusion;

public class LossTests
{
    [Fact]
    public void MaskedLoss_Hand2x3Example_MatchesHandComputed()
    {
        // B = 2, L = 3, V = 3. Masked: (0,1) target 2 with p = 0.5, (1,0) target 0 and (1,2) target 1 with p = 0.25.
        // Logits at (0,1) = [0, 0, ln 2] → CE = ln 4 − ln 2 = ln 2; at (1,0) = [ln 3, 0, 0] → CE = ln 5 − ln 3;
        // at (1,2) = [0, 0, 0] → CE = ln 3.
        // loss = [ln 2 / 0.5 + (ln 5 − ln 3)/0.25 + ln 3 / 0.25] / (B·L = 6) = [2 ln 2 + 4 ln 5] / 6.
        double expected = (2 * Math.Log(2) + 4 * Math.Log(5)) / 6;
        using var logits = Tensor.FromArray(new float[] { 0, 0, MathF.Log(2), MathF.Log(3), 0, 0, 0, 0, 0 }, [3, 3]);
        using var targets = Tensor.FromArray(new[] { 2, 0, 1 });
        using var weights = Tensor.FromArray(new float[] { 1f / (0.5f * 6), 1f / (0.25f * 6), 1f / (0.25f * 6) });
        var loss = F.Sum(F.CrossEntropy(logits, targets, weights));
        Assert.Equal(expected, loss.Data.Item(), 5);
    }
}
