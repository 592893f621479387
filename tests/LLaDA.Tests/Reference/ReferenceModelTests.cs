using System.Text.Json;
using LLaDA.Autograd;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using Xunit;

namespace LLaDA.Tests.Reference;

/// <summary>The product loader, forward passes, likelihood estimator and sampler against an independent float64 PyTorch
/// implementation of LLaDA written from the SPEC (tools/llada_reference.py; regenerate with tools/make_fixtures.sh).</summary>
/// <remarks>
/// Error model for the logits: the reference runs in float64 on the same weights (float32, or bfloat16 upcast exactly);
/// ours runs in float32, so each of the ~40 dependent steps of two layers (dot products of ≤ 48 terms, RMSNorm, softmax,
/// RoPE's float32 angles) adds a relative error of a few ulps (6e-8). Measured: at most 1.25e-5 absolute at
/// max|logit| ≈ 10–22, i.e. ≲ 1.3e-6 of the scale; we allow 2e-5·max|logit|, about 15× that; the breakages these tests exist for (ε dropped, RoPE layout, a causal mask, GQA head
/// mapping, no final norm, …) move logits by 1e-3 of that scale or much more.
/// </remarks>
public class ReferenceModelTests
{
    public static TheoryData<string> Cases() => [.. ReferenceFixture.Cases];

    private const double LogitTolerance = 2e-5;

    private static SpecialTokens Specials(MaskPredictorConfig c) => new(Eos: c.EosTokenId, Mask: c.MaskTokenId, Bos: c.BosTokenId, Pad: c.PadTokenId);

    private static (Tensor Ids, Tensor? KeyPadding) Input(JsonElement input, IBackend backend)
    {
        var rows = ReferenceFixture.IntRows(input.GetProperty("ids"));
        int b = rows.Length, l = rows[0].Length;
        var ids = Tensor.FromArray(rows.SelectMany(r => r).ToArray(), [b, l], backend);
        var am = input.GetProperty("attention_mask");
        var pad = am.ValueKind == JsonValueKind.Null ? null : Tensor.FromArray(ReferenceFixture.IntRows(am).SelectMany(r => r).ToArray(), [b, l], backend);
        return (ids, pad);
    }

    private static void AssertLogits(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs), worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(actual[i] - expected[i]);
            if (d > worst) (worst, at) = (d, i);
        }
        Assert.True(worst <= LogitTolerance * scale, $"{what}: |Δ| {worst:E3} at flat index {at} (ours {actual[at]}, reference {expected[at]}) exceeds {LogitTolerance:E0}·max|logit| {scale:F3}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Logits_InferenceAndTrainingForward_MatchReference(string name) => AssertLogitsMatch(name, CpuBackend.Default);

    /// <summary>Loads the case on <paramref name="backend"/> and compares both forward paths with the reference logits.</summary>
    internal static void AssertLogitsMatch(string name, IBackend backend)
    {
        using var fx = new ReferenceFixture(name);
        using var model = Checkpoint.LoadModel(fx.Directory, backend);
        int rows = model.Config.Rows;
        foreach (var input in fx.Expected.GetProperty("logits").EnumerateArray())
        {
            using var scope = new TensorScope();
            var (ids, pad) = Input(input, backend);
            var expected = ReferenceFixture.Doubles(input.GetProperty("logits"));
            string what = $"{name}, attention mask {(pad is null ? "none" : "left padding")}";
            var infer = model.Forward(ids, pad).Data; // (B, L, embedding_size), untaped
            Assert.Equal([ids.Dim(0), ids.Dim(1), rows], infer.ShapeArray());
            AssertLogits(expected, infer.ToArray(), what + ", inference forward");
            using (var tape = new Tape()) AssertLogits(expected, model.Forward(ids, pad).Data.ToArray(), what + ", training forward (taped)");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Likelihood_MaskCountsAndBatchLosses_MatchReference(string name)
    {
        using var fx = new ReferenceFixture(name);
        using var model = Checkpoint.LoadModel(fx.Directory);
        var est = new LikelihoodEstimator(new MaskPredictorLogits(model), Specials(model.Config));
        foreach (var lk in fx.Expected.GetProperty("likelihood").EnumerateArray())
        {
            int[] prompt = ReferenceFixture.Ints(lk.GetProperty("prompt")), answer = ReferenceFixture.Ints(lk.GetProperty("answer"));
            int b = lk.GetProperty("batch_size").GetInt32(), t = answer.Length;
            double cfg = lk.GetProperty("cfg_scale").GetDouble();
            var seq = prompt.Concat(answer).ToArray();
            var losses = new List<double>();
            foreach (var draw in lk.GetProperty("draws").EnumerateArray())
            {
                int k = draw.GetProperty("k").GetInt32();
                Assert.Equal(ReferenceFixture.Ints(draw.GetProperty("counts")), LikelihoodEstimator.MaskCounts(k, t, b));
                var positions = ReferenceFixture.IntRows(draw.GetProperty("positions"));
                double expected = draw.GetProperty("loss").GetDouble(), loss = est.BatchLoss(seq, prompt.Length, positions, cfg);
                // Each CE term inherits the logits' error (≤ 2e-5·max|logit|, |logit| ≲ 20) times the 1/p_mask ≤ T weight.
                Assert.True(Math.Abs(loss - expected) <= 1e-4 * Math.Abs(expected), $"{name}, cfg {cfg}, k {k}: batch loss {loss} vs reference {expected}");
                losses.Add(loss);
            }
            double estimate = lk.GetProperty("estimate").GetDouble();
            Assert.True(Math.Abs(-losses.Average() - estimate) <= 1e-4 * Math.Abs(estimate), $"{name}, cfg {cfg}: estimate {-losses.Average()} vs reference {estimate}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedySampler_CommitsTheReferenceTokensAtTheReferenceSteps(string name) => AssertTracesMatch(name, CpuBackend.Default);

    /// <summary>Runs the reverse sampler on <paramref name="backend"/> and compares each trace token for token.</summary>
    internal static void AssertTracesMatch(string name, IBackend backend)
    {
        using var fx = new ReferenceFixture(name);
        using var model = Checkpoint.LoadModel(fx.Directory, backend);
        var sampler = new ReverseSampler(new MaskPredictorLogits(model), Specials(model.Config));
        foreach (var tr in fx.Expected.GetProperty("traces").EnumerateArray())
        {
            var prompts = ReferenceFixture.IntRows(tr.GetProperty("prompts"));
            var cfg = new SamplerConfig
            {
                Steps = tr.GetProperty("steps").GetInt32(),
                GenLength = tr.GetProperty("gen_length").GetInt32(),
                BlockLength = tr.GetProperty("block_length").GetInt32(),
            };
            var res = sampler.Generate(prompts, cfg);
            var generated = ReferenceFixture.IntRows(tr.GetProperty("generated"));
            var fixedAt = ReferenceFixture.IntRows(tr.GetProperty("fixed_at_step"));
            for (int i = 0; i < prompts.Length; i++)
            {
                Assert.True(generated[i].SequenceEqual(res.Generated[i]), $"{name} {cfg.Steps}/{cfg.GenLength}/{cfg.BlockLength}, row {i}: generated [{string.Join(' ', res.Generated[i])}], reference [{string.Join(' ', generated[i])}]");
                Assert.True(fixedAt[i].SequenceEqual(res.FixedAtStep[i]), $"{name} {cfg.Steps}/{cfg.GenLength}/{cfg.BlockLength}, row {i}: commit steps [{string.Join(' ', res.FixedAtStep[i])}], reference [{string.Join(' ', fixedAt[i])}]");
            }
        }
    }
}
