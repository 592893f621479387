namespace LLaDA.Diffusion.Sampling.Policies;

/// <summary>The built-in policies by <see cref="Remasking"/> value and by CLI name (the one list of names).</summary>
public static class UnmaskingPolicies
{
    /// <summary>CLI names; "low_confidence" (LLaDA generate.py's name) is accepted as an alias of "confidence".</summary>
    public const string Names = "confidence|margin|entropy|random|origin";

    public static IUnmaskingPolicy For(Remasking r) => r switch
    {
        Remasking.LowConfidence => ConfidencePolicy.Instance,
        Remasking.Random => RandomPolicy.Instance,
        Remasking.Margin => MarginPolicy.Instance,
        Remasking.Entropy => EntropyPolicy.Instance,
        Remasking.Origin => OriginPolicy.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(r), r, "unknown remasking"),
    };

    /// <summary>The remasking named on the command line; throws ArgumentException naming the choices.</summary>
    public static Remasking Parse(string name) => name switch
    {
        "confidence" or "low_confidence" => Remasking.LowConfidence,
        "margin" => Remasking.Margin,
        "entropy" => Remasking.Entropy,
        "random" => Remasking.Random,
        "origin" => Remasking.Origin,
        _ => throw new ArgumentException($"--remasking '{name}' ({Names.Replace('|', ',')}; low_confidence = confidence)"),
    };

    /// <summary>The CLI name of a remasking.</summary>
    public static string NameOf(Remasking r) => For(r).Name;
}
