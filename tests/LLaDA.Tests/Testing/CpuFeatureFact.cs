using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xunit;

namespace LLaDA.Tests.Testing;

/// <summary>The SIMD kernel paths this CPU can run; tests enumerate them so a path the CPU lacks is not run.</summary>
public static class CpuFeatures
{
    public static bool Avx2Fma => Avx2.IsSupported && Fma.IsSupported;
    public static bool Avx512 => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;
}

/// <summary>A fact that is skipped, with the reason, on a CPU without AVX2 + FMA: it records that the Vector256 paths went untested there instead of dropping them silently.</summary>
public sealed class Avx2FactAttribute : FactAttribute
{
    public Avx2FactAttribute()
    {
        if (!CpuFeatures.Avx2Fma) Skip = "this CPU has no AVX2 + FMA: the Vector256 kernel paths are not tested here";
    }
}

/// <summary>A fact that is skipped, with the reason, on a CPU without (accelerated) AVX-512: it records that the Vector512 paths went untested there.</summary>
public sealed class Avx512FactAttribute : FactAttribute
{
    public Avx512FactAttribute()
    {
        if (!CpuFeatures.Avx512) Skip = "this CPU has no accelerated AVX-512: the Vector512 kernel paths are not tested here";
    }
}
