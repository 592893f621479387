using LLaDA.Tensors;
using LLaDA.Diffusion.Training;

namespace LLaDA.Diffusion;

/// <summary>Noise settings of the forward process (LLaDA GUIDELINES.md: ε 1e-3, 1 % of batches cut to a random length).</summary>
public sealed record NoiseConfig
{
    /// <summary>p_mask = (1 − ε)·t + ε keeps the 1/p_mask weight finite.</summary>
    public float Eps { get; init; } = 1e-3f;

    /// <summary>Probability that a whole pre-training batch is cut to a random length r ~ U{1..L}.</summary>
    public float RandomLengthProb { get; init; } = 0.01f;

    /// <summary>How the rows' times t are drawn (variance reduction); Uniform is LLaDA's.</summary>
    public LLaDA.Diffusion.Training.TimeSampling Time { get; init; } = LLaDA.Diffusion.Training.TimeSampling.Uniform;

    /// <summary>Floor t_min of the time: t ∈ [t_min, 1) before p_mask = (1 − ε)t + ε; 0 = off (see <see cref="LLaDA.Diffusion.Training.TimeSampler"/> for how it differs from ε).</summary>
    public float MinT { get; init; }
}

/// <summary>A noised batch: the model input and, for every masked token, where it is, what it was and its loss weight.</summary>
/// <remarks>Its tensors belong to the TensorScope open when it was made (a training step's scope), or to the caller.</remarks>
public sealed class MaskedBatch : IDisposable
{
    public required int Batch { get; init; }

    /// <summary>Sequence length after any random cut.</summary>
    public required int Length { get; init; }

    /// <summary>(B, L) I32 with masked positions replaced by the mask id.</summary>
    public required Tensor Noisy { get; init; }

    /// <summary>(Nm) I32 flat positions b·L + j of the masked tokens (row-major order).</summary>
    public required Tensor MaskedRows { get; init; }

    /// <summary>(Nm) I32 original ids of the masked tokens.</summary>
    public required Tensor Targets { get; init; }

    /// <summary>(Nm) F32 loss weights: 1/(p_mask·B·L) for pre-training, 1/(p_mask·answer_len·B) for SFT.</summary>
    public required Tensor Weights { get; init; }

    /// <summary>p_mask per row.</summary>
    public required float[] PMask { get; init; }

    /// <summary>Number of masked tokens.</summary>
    public int MaskedCount => MaskedRows.Dim(0);

    public void Dispose()
    {
        Noisy.Dispose();
        MaskedRows.Dispose();
        Targets.Dispose();
        Weights.Dispose();
    }
}

/// <summary>The forward (noising) process of LLaDA (SPEC §5.1, §5.3), drawn from Philox so a (seed, step) pair always gives the same batch on every backend.</summary>
/// <remarks>
/// <para>Counter layout of step s (<see cref="TokenMasking"/>): the stream (seed, offset = s·2³²); word 0 decides the random cut, word 1 its length,
/// words 2 + i the row times t[i] (<see cref="TimeSampler"/>), words 2 + B + i·L + j the token draws. A resumed run therefore reproduces the masks exactly.</para>
/// <para>The row probabilities p_mask (B values) are drawn on the host; the per-token noising runs on the backend
/// (<see cref="Tensor.MaskTokens"/>), which keeps the noisy ids there. The compacted lists (masked rows, targets, weights)
/// are built from the dense (B, L') weights, which on a device backend are read back to the host: B·L' floats per step, not logits.</para>
/// </remarks>
public static class ForwardProcess
{
    /// <summary>Pre-training noise: t per row from <see cref="TimeSampler"/>, p = (1−ε)t + ε, each token masked with probability p; loss weight 1/(p·B·L).</summary>
    /// <param name="ids">(B, L) clean ids, row-major.</param>
    public static MaskedBatch Pretrain(ReadOnlySpan<int> ids, int batch, int length, int maskId, ulong seed, ulong step, NoiseConfig? config = null, IBackend? backend = null)
    {
        config ??= new NoiseConfig();
        // 1 % of batches: the whole batch is cut to the same random length r ∈ [1, L].
        int l = TokenMasking.CutLength(seed, step, length, config.RandomLengthProb);
        return Noise(ids, batch, length, l, null, maskId, seed, step, config, backend);
    }

    /// <summary>SFT noise: as pre-training, but positions j &lt; promptLengths[i] are never masked, and weights are 1/(p·answer_len·B) with answer_len = L − prompt_len (EOS padding counts as answer).</summary>
    public static MaskedBatch Sft(ReadOnlySpan<int> ids, int batch, int length, ReadOnlySpan<int> promptLengths, int maskId, ulong seed, ulong step, NoiseConfig? config = null, IBackend? backend = null)
    {
        config ??= new NoiseConfig();
        if (promptLengths.Length != batch) throw new ArgumentException($"Sft: {promptLengths.Length} prompt lengths for batch {batch}");
        for (int i = 0; i < batch; i++)
        {
            int p = promptLengths[i];
            if (p < 0 || p >= length) throw new ArgumentException($"Sft: prompt length {p} of row {i} leaves no answer in length {length}");
        }
        return Noise(ids, batch, length, length, promptLengths.ToArray(), maskId, seed, step, config, backend);
    }

    /// <summary>p_mask per row on the host, the tokens on the backend, then the compacted lists from the dense weights (row-major).</summary>
    private static MaskedBatch Noise(ReadOnlySpan<int> ids, int batch, int length, int l, int[]? prompts, int maskId, ulong seed, ulong step, NoiseConfig config, IBackend? backend)
    {
        if (ids.Length != batch * length) throw new ArgumentException($"ForwardProcess: {ids.Length} ids for batch {batch} × length {length}");
        var pmask = TimeSampler.Draw(batch, seed, TokenMasking.Offset(step), config.Time, config.MinT);
        for (int i = 0; i < batch; i++) pmask[i] = (1 - config.Eps) * pmask[i] + config.Eps;
        var clean = ids.ToArray();
        Tensor noisy, dense;
        using (var tIds = Tensor.FromArray(clean, [batch, length], backend))
        using (var tP = Tensor.FromArray(pmask, [batch], backend))
        using (var tPrompt = prompts is null ? null : Tensor.FromArray(prompts, [batch], backend))
            (noisy, dense) = Tensor.MaskTokens(tIds, tP, tPrompt, l, maskId, seed, step);
        float[] w;
        using (dense) w = dense.ToArray(); // B·L' floats cross to the host (a device backend's only read-back of the forward process)
        var rows = new List<int>();
        var targets = new List<int>();
        var weights = new List<float>();
        for (int i = 0; i < batch; i++)
            for (int j = 0; j < l; j++)
                if (w[i * l + j] != 0f) // a masked token's weight is 1/(p·…) > 0; a kept one's is 0
                {
                    rows.Add(i * l + j);
                    targets.Add(clean[i * length + j]);
                    weights.Add(w[i * l + j]);
                }
        return new MaskedBatch
        {
            Batch = batch,
            Length = l,
            Noisy = noisy,
            MaskedRows = Tensor.FromArray(rows.ToArray(), [rows.Count], backend),
            Targets = Tensor.FromArray(targets.ToArray(), [targets.Count], backend),
            Weights = Tensor.FromArray(weights.ToArray(), [weights.Count], backend),
            PMask = pmask,
        };
    }
}
