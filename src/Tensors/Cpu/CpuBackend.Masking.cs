namespace LLaDA.Tensors.Cpu;

// The forward process's per-token noising: the reference (TokenMasking.Reference) as it stands.
public sealed unsafe partial class CpuBackend
{
    public void MaskTokens(Tensor ids, Tensor pMask, Tensor? promptLengths, int maskId, ulong seed, ulong step, Tensor noisy, Tensor weights)
        => TokenMasking.Reference(Span<int>(ids), Span<float>(pMask), promptLengths is null ? default : Span<int>(promptLengths), promptLengths is not null,
                                  ids.Dim(0), ids.Dim(1), noisy.Dim(1), maskId, seed, step, Span<int>(noisy), Span<float>(weights));
}
