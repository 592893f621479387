using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Nn;

/// <summary>y = x·Wᵀ with W stored as nn.Linear's (out, in); no bias (LLaDA: include_bias false).</summary>
public sealed class Linear : Module
{
    public Linear(string name, int inFeatures, int outFeatures, float std, ulong seed, ulong stream, IBackend backend)
    {
        Weight = NewParameter(name + ".weight", [outFeatures, inFeatures], () => Init.Normal([outFeatures, inFeatures], std, seed, stream, backend));
    }

    /// <summary>(out, in): F32, or BF16/F16 when built over a checkpoint's stored weights (inference; see <see cref="ParameterSource"/>).</summary>
    public Variable Weight { get; }

    public int InFeatures => Weight.Data.Dim(1);
    public int OutFeatures => Weight.Data.Dim(0);

    public Variable Forward(Variable x) => F.Linear(x, Weight); // (…, in) → (…, out)

    public override IEnumerable<(string Name, Variable Parameter)> NamedParameters() => [(Weight.Name!, Weight)];
}

/// <summary>Token embedding table (V, C); no scaling, no learned positions (LLaDA uses RoPE only).</summary>
public sealed class Embedding : Module
{
    public Embedding(string name, int vocab, int dim, float std, ulong seed, ulong stream, IBackend backend)
    {
        Weight = NewParameter(name + ".weight", [vocab, dim], () => Init.Normal([vocab, dim], std, seed, stream, backend));
    }

    /// <summary>(V, C).</summary>
    public Variable Weight { get; }

    public Variable Forward(Tensor ids) => F.Embedding(Weight, ids); // (…) → (…, C)

    public override IEnumerable<(string Name, Variable Parameter)> NamedParameters() => [(Weight.Name!, Weight)];
}

/// <summary>RMSNorm with a learned scale and no bias: x·rsqrt(mean(x²) + eps)·w, statistics in fp32.</summary>
public sealed class RmsNorm : Module
{
    public RmsNorm(string name, int dim, float eps, IBackend backend)
    {
        Eps = eps;
        Weight = NewParameter(name + ".weight", [dim], () => Init.Ones([dim], backend));
    }

    public Variable Weight { get; }
    public float Eps { get; }

    public Variable Forward(Variable x) => F.RmsNorm(x, Weight, Eps);

    public override IEnumerable<(string Name, Variable Parameter)> NamedParameters() => [(Weight.Name!, Weight)];
}
