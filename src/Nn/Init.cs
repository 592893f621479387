using LLaDA.Tensors;

namespace LLaDA.Nn;

/// <summary>Deterministic parameter initialisation from Philox: every parameter draws from its own counter range, so the same seed gives the same model on every backend.</summary>
public static class Init
{
    /// <summary>N(0, std²) truncated to ±3·std (OLMo/LLaDA "normal" init with cutoff 3).</summary>
    public static Tensor Normal(int[] shape, float std, ulong seed, ulong stream, IBackend backend)
    {
        using var scope = new TensorScope();
        var n = Tensor.Randn(shape, seed, stream << 40, backend);
        var y = n.Clamp(-3f, 3f).Scale(std);
        return y.KeepAlive();
    }

    /// <summary>All ones (RMSNorm scales).</summary>
    public static Tensor Ones(int[] shape, IBackend backend) => Tensor.Ones(shape, DType.F32, backend);
}
