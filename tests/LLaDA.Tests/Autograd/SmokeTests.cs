using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

public class SmokeTests
{
    [Fact]
    public void MulAdd_Broadcast_GradCheckPasses()
    {
        using var a = Rng.Tensor(1, 3, 5);
        using var b = Rng.Tensor(2, 5);
        var rep = GradCheck.Run(v => F.Add(F.Mul(v[0], v[1]), v[1]), [a, b]);
        Assert.True(rep.Passed, rep.ToString());
    }

    [Fact]
    public void LinearRmsNormSoftmax_Composed_GradCheckPasses()
    {
        using var x = Rng.Tensor(3, 2, 3, 6);
        using var w = Rng.Tensor(4, 5, 6);
        using var g = Rng.Tensor(5, 6);
        var rep = GradCheck.Run(v => F.Softmax(F.Linear(F.RmsNorm(v[0], v[2], 1e-5f), v[1])), [x, w, g]);
        Assert.True(rep.Passed, rep.ToString());
    }
}
