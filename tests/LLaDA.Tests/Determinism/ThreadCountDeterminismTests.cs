using LLaDA.Autograd;
using LLaDA.Diffusion;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Determinism;

/// <summary>
/// The README promises that results do not depend on --threads: every CPU kernel cuts its reductions at boundaries
/// fixed by the problem, never by the worker count. A model big enough that every op takes its parallel path
/// (B·L = 512 rows, d 64, vocab 300: matmuls above the SGEMM threshold, attention, RMSNorm, cross-entropy, embedding
/// scatter-add, AdamW and the gradient norm above CpuParallel.InlineCost) must give the same bits for 1…8 threads.
/// </summary>
public class ThreadCountDeterminismTests
{
    private const int Vocab = 300, B = 8, L = 64;
    private static readonly SpecialTokens Sp = new(Eos: 0, Mask: 1, Bos: 2);

    private static MaskPredictorConfig Config() => Presets.Tiny(Vocab, Sp.Mask, Sp.Eos) with
    {
        DModel = 64, NHeads = 4, MlpHiddenSize = 256, NLayers = 2, BosTokenId = 2, InitStd = 0.2f,
    };

    /// <summary>Loss, every parameter gradient of one forward + backward, then two optimizer steps (clip, AdamW) and the parameters after them, all as raw bits.</summary>
    private static List<uint[]> TrainBits(int threads)
    {
        using var _ = CpuParallel.Use(threads);
        var bits = new List<uint[]>();
        using var model = new MaskPredictor(Config(), seed: 5);
        var ids = Rng.Ints(B * L, 17, 3, Vocab);
        using (var scope = new TensorScope())
        using (var tape = new Tape())
        {
            var batch = ForwardProcess.Pretrain(ids, B, L, Sp.Mask, seed: 3, step: 0, backend: model.Backend);
            var loss = Losses.Masked(model, batch)!;
            bits.Add(Bits(loss.Data));
            tape.Backward(loss);
            foreach (var (_, p) in model.NamedParameters()) bits.Add(Bits(p.Grad!));
        }
        model.ZeroGrad();

        var docs = Enumerable.Range(0, 24).Select(i => Rng.Ints(40 + i % 7, 100 + i, 3, Vocab)).ToList();
        var data = SequenceDataset.Packed(docs, L, Sp);
        var cfg = new TrainConfig { Steps = 2, BatchSize = B, Lr = 1e-2f, Warmup = 1, Seed = 7 };
        using var trainer = new Trainer(model, cfg, data, data);
        for (int s = 0; s < cfg.Steps; s++)
        {
            var r = trainer.Step();
            ulong loss = BitConverter.DoubleToUInt64Bits(r.Loss), norm = BitConverter.DoubleToUInt64Bits(r.GradNorm);
            bits.Add([(uint)loss, (uint)(loss >> 32), (uint)norm, (uint)(norm >> 32)]);
        }
        foreach (var (_, p) in model.NamedParameters()) bits.Add(Bits(p.Data));
        return bits;
    }

    /// <summary>The logits of one inference forward (bits) and the tokens of a low-confidence and a sampled (temperature 1) run.</summary>
    private static List<int[]> SampleBits(int threads)
    {
        using var _ = CpuParallel.Use(threads);
        using var model = new MaskPredictor(Config(), seed: 9);
        var result = new List<int[]>();
        using (var ids = Tensor.FromArray(Rng.Ints(B * L, 23, 3, Vocab), [B, L]))
        using (var logits = model.Forward(ids).Data)
            result.Add(Array.ConvertAll(logits.ToArray(), BitConverter.SingleToInt32Bits));
        var sampler = new ReverseSampler(new MaskPredictorLogits(model), Sp);
        int[][] prompts = Enumerable.Range(0, 4).Select(i => new[] { 2 }.Concat(Rng.Ints(5 + i, 40 + i, 3, Vocab)).ToArray()).ToArray();
        foreach (var cfg in new[]
                 {
                     new SamplerConfig { GenLength = 48, BlockLength = 16, Steps = 24 },
                     new SamplerConfig { GenLength = 48, BlockLength = 16, Steps = 24, Temperature = 1, Seed = 4 },
                 })
            result.AddRange(sampler.Generate(prompts, cfg).Generated);
        return result;
    }

    private static uint[] Bits(Tensor t) => Array.ConvertAll(t.ToArray(), BitConverter.SingleToUInt32Bits);

    [Fact]
    public void TrainingStep_OneToEightThreads_SameBits()
    {
        var reference = TrainBits(1);
        for (int threads = 2; threads <= 8; threads++)
        {
            var got = TrainBits(threads);
            Assert.Equal(reference.Count, got.Count);
            for (int i = 0; i < reference.Count; i++)
                Assert.True(reference[i].AsSpan().SequenceEqual(got[i]), $"threads {threads}: array {i} differs from threads 1 (first at {FirstDiff(reference[i], got[i])})");
        }
    }

    [Fact]
    public void Sampling_OneToEightThreads_SameTokens()
    {
        var reference = SampleBits(1);
        for (int threads = 2; threads <= 8; threads++)
        {
            var got = SampleBits(threads);
            for (int i = 0; i < reference.Count; i++)
                Assert.True(reference[i].AsSpan().SequenceEqual(got[i]), $"threads {threads}: output {i} differs from threads 1");
        }
    }

    /// <summary>Output and input gradients of f on the given leaves, as raw bits, with the calling flow on the given thread count.</summary>
    private static List<uint[]> OpBits(int threads, Func<Variable[], Variable> f, params Tensor[] inputs)
    {
        using var _ = CpuParallel.Use(threads);
        using var scope = new TensorScope();
        using var tape = new Tape();
        var leaves = inputs.Select(t => new Variable(t, requiresGrad: true)).ToArray();
        var y = f(leaves);
        tape.Backward(F.Sum(F.Mul(y, y)));
        return [Bits(y.Data), .. leaves.Select(v => Bits(v.Grad!))];
    }

    private static void SameBitsForOneToEightThreads(Func<Variable[], Variable> f, params Tensor[] inputs)
    {
        var reference = OpBits(1, f, inputs);
        for (int threads = 2; threads <= 8; threads++)
        {
            var got = OpBits(threads, f, inputs);
            for (int i = 0; i < reference.Count; i++)
                Assert.True(reference[i].AsSpan().SequenceEqual(got[i]), $"threads {threads}: {(i == 0 ? "output" : $"gradient of input {i - 1}")} differs from threads 1 (first at {FirstDiff(reference[i], got[i])})");
        }
    }

    [Theory]
    [InlineData(1, 1, 1, 256)]      // one (b, head) group: the backward's work split would follow the worker count
    [InlineData(1, 4, 2, 192)]      // grouped query heads, a partial query/key tile
    [InlineData(2, 2, 2, 130)]
    public void AttentionForwardBackward_OneToEightThreads_SameBits(int b, int nh, int nkv, int t)
    {
        const int hs = 32;
        using var q = Rng.Tensor(31, b, nh, t, hs);
        using var k = Rng.Tensor(32, b, nkv, t, hs);
        using var v = Rng.Tensor(33, b, nkv, t, hs);
        SameBitsForOneToEightThreads(x => F.Attention(x[0], x[1], x[2]), q, k, v);
    }

    [Theory]
    [InlineData(389, 77, 301)]      // edge tiles in M and N, K not a multiple of the vector width
    [InlineData(1, 300, 1027)]      // matrix-vector
    [InlineData(1030, 3, 64)]       // narrow N
    public void MatMul_OneToEightThreads_SameBits(int m, int n, int kk)
    {
        using var a = Rng.Tensor(41, m, kk);
        using var w = Rng.Tensor(42, kk, n);
        SameBitsForOneToEightThreads(x => F.MatMul(x[0], x[1]), a, w);
    }

    [Fact]
    public void ElementwiseNormAndReductions_OneToEightThreads_SameBits()
    {
        // Row counts and lengths that no power-of-two split divides: every range boundary lands mid-vector.
        using var x = Rng.Tensor(51, 1021, 67);
        using var w = Rng.Tensor(52, 67);
        SameBitsForOneToEightThreads(v => F.Sum(F.Silu(F.Exp(F.RmsNorm(v[0], v[1], 1e-5f))), 0), x, w);
        SameBitsForOneToEightThreads(v => F.Softmax(F.Sum(v[0], 1)), x);
        SameBitsForOneToEightThreads(v => F.Sum(F.Mul(v[0], v[0])), x);
    }

    private static int FirstDiff(uint[] a, uint[] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++) if (a[i] != b[i]) return i;
        return -1;
    }
}
