namespace LLaDA.Diffusion.Sampling.Policies;

/// <summary>The float64 softmax pieces the policies share: max and partition sum of a logits row (SPEC §6.5 Q3: never in low precision).</summary>
internal static class Softmax
{
    /// <summary>(max, Σ exp(z − max)) of a logits row; max is −∞ when every logit is −∞ (then the sum is 0).</summary>
    public static (double Max, double Sum) Partition(ReadOnlySpan<double> logits)
    {
        double max = double.NegativeInfinity;
        foreach (double z in logits) max = Math.Max(max, z);
        if (double.IsNegativeInfinity(max)) return (max, 0);
        double sum = 0;
        foreach (double z in logits) sum += Math.Exp(z - max);
        return (max, sum);
    }
}
