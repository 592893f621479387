using LLaDA.Autograd;
using LLaDA.Diffusion;
using LLaDA.Tests.Testing;
using LLaDA.Tensors;
using Xunit;

namespace LLaDA.Tests.Diffusion;

public class LossTests
{
    [Fact]
    public void MaskedLoss_Hand2x3Example_MatchesHandComputed()
    {
        // B = 2, L = 3, V = 3. Masked: (0,1) target 2 with p = 0.5, (1,0) target 0 and (1,2) target 1 with p = 0.25.
        // Logits at (0,1) = [0, 0, ln 2] → CE = ln 4 − ln 2 = ln 2; at (1,0) = [ln 3, 0, 0] → CE = ln 5 − ln 3;
        // at (1,2) = [0, 0, 0] → CE = ln 3.
        // loss = [ln 2 / 0.5 + (ln 5 − ln 3)/0.25 + ln 3 / 0.25] / (B·L = 6) = [2 ln 2 + 4 ln 5] / 6.
        double expected = (2 * Math.Log(2) + 4 * Math.Log(5)) / 6;
        using var logits = Tensor.FromArray(new float[] { 0, 0, MathF.Log(2), MathF.Log(3), 0, 0, 0, 0, 0 }, [3, 3]);
        using var targets = Tensor.FromArray(new[] { 2, 0, 1 });
        using var weights = Tensor.FromArray(new float[] { 1f / (0.5f * 6), 1f / (0.25f * 6), 1f / (0.25f * 6) });
        var loss = F.Sum(F.CrossEntropy(logits, targets, weights));
        Assert.Equal(expected, loss.Data.Item(), 5);
    }
}

/// <summary>Losses.Masked and Losses.NextToken on a model whose logits are known by construction, against values worked out by hand.</summary>
public class LossValueTests
{
    private const int V = 6, Eos = 0, Mask = 1;

    // Logits by input token: the mask token predicts [0, 0, 0, ln 3, ln 2, 0] (Σ exp = 1 + 1 + 1 + 3 + 2 + 1 = 9);
    // token k ≠ mask predicts ln 2 at (k + 1) mod 6 and 0 elsewhere (Σ exp = 7).
    private static double[][] Rows() => Enumerable.Range(0, V).Select(k => k == Mask
        ? new[] { 0, 0, 0, Math.Log(3), Math.Log(2), 0 }
        : Enumerable.Range(0, V).Select(t => t == (k + 1) % V ? Math.Log(2) : 0).ToArray()).ToArray();

    [Fact]
    public void Masked_KnownLogits_EqualsWeightedSumOfHandComputedCrossEntropies()
    {
        // B = 2, L = 3; masked: (0,1) target 3 with p = 0.5; (1,0) target 4 and (1,2) target 0 with p = 0.25; weights 1/(p·B·L).
        // CE at a masked position (mask logits, Σ exp 9): target 3 → ln 9 − ln 3 = ln 3; target 4 → ln 9 − ln 2 = ln 4.5;
        // target 0 → ln 9. loss = ln 3/3 + ln 4.5·2/3 + ln 9·2/3.
        double expected = Math.Log(3) / 3 + Math.Log(4.5) * 2 / 3 + Math.Log(9) * 2 / 3;
        using var model = KnownLogitsModel.Create(Rows(), Mask, Eos);
        using var batch = new MaskedBatch
        {
            Batch = 2, Length = 3,
            Noisy = Tensor.FromArray(new[] { 2, Mask, 5, Mask, 3, Mask }, [2, 3]),
            MaskedRows = Tensor.FromArray(new[] { 1, 3, 5 }),
            Targets = Tensor.FromArray(new[] { 3, 4, 0 }),
            Weights = Tensor.FromArray(new[] { 1f / (0.5f * 6), 1f / (0.25f * 6), 1f / (0.25f * 6) }),
            PMask = [0.5f, 0.25f],
        };
        var loss = Losses.Masked(model, batch)!;
        Assert.Equal(expected, loss.Data.Item(), 4);
    }

    [Fact]
    public void Masked_NothingMasked_IsNull()
    {
        using var model = KnownLogitsModel.Create(Rows(), Mask, Eos);
        using var batch = new MaskedBatch
        {
            Batch = 1, Length = 2, Noisy = Tensor.FromArray(new[] { 2, 3 }, [1, 2]),
            MaskedRows = Tensor.FromArray(Array.Empty<int>()), Targets = Tensor.FromArray(Array.Empty<int>()),
            Weights = Tensor.FromArray(Array.Empty<float>()), PMask = [0.1f],
        };
        Assert.Null(Losses.Masked(model, batch));
    }

    [Fact]
    public void NextToken_KnownLogits_IsMeanCrossEntropyOverValidPositions()
    {
        // Token k predicts (k + 1) mod 6 with logit ln 2: CE is ln 7 − ln 2 = ln 3.5 on a hit, ln 7 on a miss.
        // Row 0 = [2, 3, 4, 0], valid 4: 2→3 hit, 3→4 hit, 4→0 miss. Row 1 = [2, 3, 5, 4], valid 3: 2→3 hit, 3→5 miss (5→4 is past the end).
        using var model = KnownLogitsModel.Create(Rows(), Mask, Eos, causal: true);
        int[] ids = [2, 3, 4, 0, 2, 3, 5, 4];
        var loss = Losses.NextToken(model, ids, 2, 4, [4, 3]);
        Assert.Equal((3 * Math.Log(3.5) + 2 * Math.Log(7)) / 5, loss.Data.Item(), 4);
        // With prompt lengths [2, 1] only targets at j + 1 ≥ prompt count: row 0 3→4 hit, 4→0 miss; row 1 2→3 hit, 3→5 miss.
        var sft = Losses.NextToken(model, ids, 2, 4, [4, 3], [2, 1]);
        Assert.Equal((2 * Math.Log(3.5) + 2 * Math.Log(7)) / 4, sft.Data.Item(), 4);
    }
}
