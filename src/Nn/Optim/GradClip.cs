using LLaDA.Autograd;
using LLaDA.Tensors;

namespace LLaDA.Nn.Optim;

/// <summary>Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_).</summary>
public static class GradClip
{
    /// <summary>The global norm √(Σ‖g‖²) over every gradient (double accumulation on the host).</summary>
    public static double GlobalNorm(IEnumerable<Variable> parameters)
    {
        double sq = 0;
        foreach (var p in parameters)
        {
            if (p.Grad is null) continue;
            using var s = TensorScope.Unscoped(() => p.Grad.Square());
            using var t = s.Sum();
            sq += t.Item();
        }
        return Math.Sqrt(sq);
    }

    /// <summary>Scales every gradient by min(1, maxNorm/(norm + 1e-6)); returns the norm before clipping.</summary>
    public static double ClipByGlobalNorm(IReadOnlyCollection<Variable> parameters, double maxNorm)
    {
        double norm = GlobalNorm(parameters);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var p in parameters) p.Grad?.MapInPlace(new LLaDA.Tensors.Ops.ScaleOp(scale), "ClipGrad");
        }
        return norm;
    }
}
