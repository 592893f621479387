using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Nn.Optim;

/// <summary>AdamW hyper-parameters (LLaDA pre-training: β 0.9/0.95, weight decay 0.1).</summary>
public sealed record AdamWConfig
{
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float Eps { get; init; } = 1e-8f;
    public float WeightDecay { get; init; } = 0.1f;

    /// <summary>Decay 1-D parameters (norm scales) too; off by default as in most LLaMA recipes.</summary>
    public bool DecayNorms { get; init; }
}

/// <summary>AdamW with decoupled weight decay (Loshchilov &amp; Hutter): p ← p(1 − lr·wd) − lr·m̂/(√v̂ + ε), one fused in-place update per parameter.</summary>
public sealed class AdamW : IDisposable
{
    private readonly List<(string Name, Variable Param, Tensor M, Tensor V)> _state = new();

    public AdamW(IEnumerable<(string Name, Variable Param)> parameters, AdamWConfig? config = null)
    {
        Config = config ?? new AdamWConfig();
        foreach (var (name, p) in parameters)
            _state.Add((name, p, Tensor.ZerosLike(p.Data).Detach(), Tensor.ZerosLike(p.Data).Detach()));
    }

    public AdamWConfig Config { get; }

    /// <summary>Updates taken so far (the bias-correction step count).</summary>
    public int Step { get; set; }

    /// <summary>Moments by parameter name, in parameter order (for checkpoints).</summary>
    public IEnumerable<(string Name, Tensor M, Tensor V)> Moments() => _state.Select(s => (s.Name, s.M, s.V));

    /// <summary>One update of every parameter that has a gradient, at learning rate <paramref name="lr"/>.</summary>
    public void Update(float lr)
    {
        Step++;
        foreach (var (_, p, m, v) in _state)
        {
            if (p.Grad is null) continue;
            float wd = p.Data.Rank == 1 && !Config.DecayNorms ? 0f : Config.WeightDecay;
            p.Data.AdamWStep(p.Grad, m, v, new AdamWStep(lr, Config.Beta1, Config.Beta2, Config.Eps, wd, Step));
        }
    }

    public void Dispose()
    {
        foreach (var s in _state)
        {
            s.M.Dispose();
            s.V.Dispose();
        }
        _state.Clear();
    }
}
