namespace LLaDA.Tensors;

/// <summary>Element type of a tensor: F32 for compute, I32 for ids, BF16/F16 as compact storage upcast to F32 on read, F64 for the sampler's scores.</summary>
public enum DType
{
    F32,
    I32,
    BF16,
    F16,

    /// <summary>Float64 results of the sampling primitives (token scores, SPEC §6.5 Q3); no compute primitive takes it.</summary>
    F64,
}

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.F32 or DType.I32 => 4,
        DType.BF16 or DType.F16 => 2,
        DType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>True for the floating-point storage types (F32, BF16, F16).</summary>
    public static bool IsFloat(this DType dtype) => dtype is DType.F32 or DType.BF16 or DType.F16;

    /// <summary>The safetensors name of the dtype ("F32", "I32", "BF16", "F16").</summary>
    public static string Name(this DType dtype) => dtype.ToString();
}
