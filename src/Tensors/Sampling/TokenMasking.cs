using LLaDA.Tensors.Random;

namespace LLaDA.Tensors;

/// <summary>The per-token part of LLaDA's forward (noising) process (<see cref="IBackend.MaskTokens"/>): its Philox counter layout, the random cut, and the slow obvious reference that CpuBackend runs and the kernels must equal bit for bit.</summary>
/// <remarks>
/// Counter layout of training step s: the stream (seed, offset = s·2³²); word 0 decides the random cut, word 1 its length,
/// words 2 … the row times (drawn on the host by the diffusion layer's TimeSampler), word 2 + B + i·L + j the token draw of
/// (i, j) — L is the uncut length, so a cut batch reads the same draws as an uncut one.
/// </remarks>
public static class TokenMasking
{
    /// <summary>Philox offset of training step <paramref name="step"/>.</summary>
    public static ulong Offset(ulong step) => step << 32;

    /// <summary>The batch length after pre-training's random cut: with probability <paramref name="randomLengthProb"/> the whole batch is cut to r ∈ [1, L].</summary>
    public static int CutLength(ulong seed, ulong step, int length, float randomLengthProb)
    {
        ulong offset = Offset(step);
        if (Philox.ToUniform(Philox.Word(seed, offset, 0)) < randomLengthProb)
            return 1 + (int)(Philox.Word(seed, offset, 1) % (uint)length);
        return length;
    }

    /// <summary>Noises ids (B, L) row-major into noisy (B, L') and weights (B, L'), one token at a time: masked when j ≥ prompt[i] and u[i, j] &lt; p[i]; weight 1/(p·B·L') (pre-training, prompts null) or 1/(p·(L − prompt)·B) (SFT), 0 where kept.</summary>
    public static void Reference(ReadOnlySpan<int> ids, ReadOnlySpan<float> pMask, ReadOnlySpan<int> prompts, bool sft, int batch, int length, int cut,
                                 int maskId, ulong seed, ulong step, Span<int> noisy, Span<float> weights)
    {
        ulong offset = Offset(step);
        for (int i = 0; i < batch; i++)
        {
            float p = pMask[i];
            int prompt = sft ? prompts[i] : 0;
            // SPEC §5.1: pre-training divides by every token of the (possibly cut) batch, masked or not; §5.3: SFT by the answer length.
            float w = sft ? 1f / (p * (length - prompt) * batch) : 1f / (p * batch * cut);
            for (int j = 0; j < cut; j++)
            {
                int x = ids[i * length + j];
                // The draw is made for every position so SFT's stream layout matches pre-training; the prompt ignores it.
                float u = Philox.ToUniform(Philox.Word(seed, offset, 2 + batch + (long)i * length + j));
                bool masked = j >= prompt && u < p;
                noisy[i * cut + j] = masked ? maskId : x;
                weights[i * cut + j] = masked ? w : 0f;
            }
        }
    }
}
