namespace LLaDA.Tests.Testing;

/// <summary>Whether the suite runs under CI (environment variable CI=true, as .ci/run and CI services set it): there a missing fixture is a failure, never a skip.</summary>
public static class Ci
{
    public static bool Active => IsTrue(Environment.GetEnvironmentVariable("CI"));

    /// <summary>CI's convention: "true" (any case) or "1".</summary>
    public static bool IsTrue(string? value) => value is not null && (value.Equals("true", StringComparison.OrdinalIgnoreCase) || value == "1");
}
