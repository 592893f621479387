namespace LLaDA.Nn.Optim;

/// <summary>Learning rate as a function of the (0-based) step.</summary>
public interface ILrSchedule
{
    float At(int step);
}

/// <summary>Constant learning rate after a linear warm-up.</summary>
public sealed record ConstantSchedule(float Lr, int Warmup = 0) : ILrSchedule
{
    public float At(int step) => Warmup > 0 && step < Warmup ? Lr * (step + 1) / Warmup : Lr;
}

/// <summary>Warmup-Stable-Decay (LLaDA pre-training): linear warm-up to Lr, flat, then linear decay to MinLr over the last DecayFraction of the run.</summary>
public sealed record WsdSchedule(float Lr, int TotalSteps, int Warmup, float DecayFraction = 0.1f, float MinLr = 0f) : ILrSchedule
{
    public float At(int step)
    {
        if (Warmup > 0 && step < Warmup) return Lr * (step + 1) / Warmup;
        int decaySteps = (int)MathF.Round(TotalSteps * DecayFraction);
        int decayStart = TotalSteps - decaySteps;
        if (decaySteps <= 0 || step < decayStart) return Lr;
        float frac = Math.Min(1f, (step - decayStart + 1) / (float)decaySteps);
        return Lr + (MinLr - Lr) * frac;
    }
}

/// <summary>Linear warm-up then cosine decay from Lr to MinLr at TotalSteps.</summary>
public sealed record CosineSchedule(float Lr, int TotalSteps, int Warmup, float MinLr = 0f) : ILrSchedule
{
    public float At(int step)
    {
        if (Warmup > 0 && step < Warmup) return Lr * (step + 1) / Warmup;
        float span = Math.Max(1, TotalSteps - Warmup);
        float p = Math.Clamp((step - Warmup) / span, 0f, 1f);
        return MinLr + 0.5f * (Lr - MinLr) * (1f + MathF.Cos(MathF.PI * p));
    }
}
