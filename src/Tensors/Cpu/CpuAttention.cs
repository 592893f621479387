namespace LLaDA.Tensors.Cpu;

// TEMPORARY placeholder until the flash-style kernel lands (same contract).
public readonly record struct AttnLayout(long StrideB, long StrideH, long StrideT);

public readonly record struct AttentionShape(int B, int NH, int NKV, int Tq, int Tk, int HS, float Scale, AttnMask Mask);

public static unsafe class CpuAttention
{
    public static void Forward(in AttentionShape s, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv,
        int* keyPadding, float* o, AttnLayout lo, float* lse) => throw new NotImplementedException();

    public static void Backward(in AttentionShape s, float* q, AttnLayout lq, float* k, AttnLayout lk, float* v, AttnLayout lv,
        int* keyPadding, float* o, AttnLayout lo, float* lse, float* dO, AttnLayout ldo, float* dq, float* dk, float* dv)
        => throw new NotImplementedException();
}
