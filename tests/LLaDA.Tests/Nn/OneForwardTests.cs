using LLaDA.Autograd;
using LLaDA.Nn;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Nn;

/// <summary>
/// MaskPredictor's one forward: the taped run (training) and the untaped run (inference) give the same bits with and
/// without key/value caches, the untaped run keeps nothing but its result, and the taped run's gradients match central
/// finite differences of the untaped run, through the prefix and dual caches too.
/// </summary>
public class OneForwardTests
{
    private const int B = 2, L = 12, Vocab = 24;

    /// <summary>Two layers, grouped K/V heads (4 query heads share 2), large weights so every path matters.</summary>
    private static MaskPredictor Model(bool tied, ulong seed, IBackend? backend = null, float std = 0.5f)
        => new(Presets.Tiny(Vocab, 1, 0) with { NHeads = 4, NKvHeads = 2, WeightTying = tied, InitStd = std }, seed, backend);

    /// <summary>The window a mode computes, as the samplers use them: the whole sequence, a block start to the end (prefix), one block (dual).</summary>
    private static (int Start, int Length) Window(CacheMode mode) => mode switch
    {
        CacheMode.None => (0, L),
        CacheMode.Prefix => (4, L - 4),
        _ => (4, 4),
    };

    /// <summary>Row 1 is left-padded by two positions; the keys attended always span the whole sequence here.</summary>
    private static Tensor Padding(IBackend? backend = null)
    {
        var pad = new int[B * L];
        for (int i = 0; i < pad.Length; i++) pad[i] = i == L || i == L + 1 ? 0 : 1;
        return Tensor.FromArray(pad, [B, L], backend);
    }

    /// <summary>The cache of a full pass over <paramref name="ids"/>, and the window's ids (new tokens, as after sampler steps).</summary>
    private static (KvCache Cache, Tensor WindowIds) CacheAndWindow(MaskPredictor m, CacheMode mode, Tensor ids, Tensor pad)
    {
        KvCache? cache = null;
        using (new TensorScope()) m.Forward(ids, pad, new KvWindow(Record: c => cache = c));
        var (_, len) = Window(mode);
        return (cache!, Tensor.FromArray(Rng.Ints(B * len, 29, 2, Vocab), [B, len], ids.Backend));
    }

    private static KvWindow For(CacheMode mode, KvCache cache) => new(Window(mode).Start, mode == CacheMode.None ? null : cache, mode);

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}: element {i} differs, untaped {expected[i]:R} vs taped {actual[i]:R}");
    }

    [Theory]
    [InlineData(CacheMode.None, false)]
    [InlineData(CacheMode.None, true)]
    [InlineData(CacheMode.Prefix, false)]
    [InlineData(CacheMode.Dual, false)]
    [InlineData(CacheMode.Dual, true)]
    public void TapedAndUntaped_GiveTheSameBits(CacheMode mode, bool tied)
    {
        using var m = Model(tied, 5);
        using var scope = new TensorScope();
        var ids = Tensor.FromArray(Rng.Ints(B * L, 17, 2, Vocab), [B, L]);
        var pad = Padding();

        // The caches a full pass records, untaped and taped.
        var (cache, win) = CacheAndWindow(m, mode, ids, pad);
        using var _ = cache;
        KvCache? tapedCache = null;
        using (var tape = new Tape())
        {
            m.Forward(ids, pad, new KvWindow(Record: c => tapedCache = c));
            Assert.True(tape.Count > 0, "a taped forward records its ops");
        }
        using (tapedCache)
            for (int layer = 0; layer < m.Config.NLayers; layer++)
            {
                AssertSameBits(cache.K[layer].ToArray(), tapedCache!.K[layer].ToArray(), $"recorded keys, layer {layer}");
                AssertSameBits(cache.V[layer].ToArray(), tapedCache.V[layer].ToArray(), $"recorded values, layer {layer}");
            }

        // The window's hidden states and logits.
        var window = For(mode, cache);
        var hidden = m.Hidden(win, pad, window).Data.ToArray();
        var logits = m.Forward(win, pad, window).Data.ToArray();
        float[] tapedHidden, tapedLogits;
        using (var tape = new Tape())
        {
            var h = m.Hidden(win, pad, window);
            var y = m.Logits(h);
            Assert.True(y.RequiresGrad && tape.Count > 0, "a taped forward records its ops");
            tapedHidden = h.Data.ToArray();
            tapedLogits = y.Data.ToArray();
        }
        Assert.Equal(B * Window(mode).Length * m.Config.DModel, hidden.Length);
        AssertSameBits(hidden, tapedHidden, $"{mode} hidden");
        AssertSameBits(logits, tapedLogits, $"{mode} logits");
        Assert.All(logits, x => Assert.True(float.IsFinite(x)));
    }

    [Theory]
    [InlineData(CacheMode.None)]
    [InlineData(CacheMode.Prefix)]
    [InlineData(CacheMode.Dual)]
    public void UntapedForward_KeepsNothingButItsResult(CacheMode mode)
    {
        // No scope is open: a layer temporary or hidden state the forward failed to free would stay in use.
        var backend = new CpuBackend();
        using var m = Model(false, 6, backend);
        using var ids = Tensor.FromArray(Rng.Ints(B * L, 18, 2, Vocab), [B, L], backend);
        using var pad = Padding(backend);
        var (cache, win) = CacheAndWindow(m, mode, ids, pad);
        using var _ = cache;
        using var __ = win;
        var window = For(mode, cache);
        using (m.Forward(win, pad, window).Data) { } // warm the pool
        long before = backend.Pool.BytesInUse;
        using (var y = m.Forward(win, pad, window).Data)
        {
            long want = CpuMemoryPool.SizeClass(y.Numel * sizeof(float));
            long held = backend.Pool.BytesInUse - before;
            Assert.True(held >= want && held <= want * CpuMemoryPool.MaxOversize, $"{mode}: {held} bytes in use after the forward, its logits need {want}");
        }
        Assert.Equal(before, backend.Pool.BytesInUse);
    }

    [Theory]
    [InlineData(CacheMode.None)]
    [InlineData(CacheMode.Prefix)]
    [InlineData(CacheMode.Dual)]
    public void TapedGradients_MatchFiniteDifferences(CacheMode mode)
    {
        // Loss Σ r⊙logits of the window: analytic dLoss/dθ from the tape, numeric from central differences of untaped passes
        // (Richardson-extrapolated over steps h and h/2, error O(h⁴), so fp32 rounding, not truncation, sets the tolerance).
        // The cache is a constant of both (the samplers never differentiate through it); the window's own keys and
        // values reach the attention through the cache path, so its gradient is what this checks beyond the plain forward.
        const double h = 2e-2, atol = 2e-3, rtol = 2e-2;
        using var m = Model(false, 7, std: 0.2f);
        using var scope = new TensorScope();
        var ids = Tensor.FromArray(Rng.Ints(B * L, 19, 2, Vocab), [B, L]);
        var pad = Padding();
        var (cache, win) = CacheAndWindow(m, mode, ids, pad);
        using var _ = cache;
        var window = For(mode, cache);
        int lq = Window(mode).Length;
        var r = Rng.Floats(B * lq * m.Config.Rows, 31);
        var rt = Tensor.FromArray(r, [B, lq, m.Config.Rows]);

        var blocks = m.Blocks;
        var checkedParams = new[]
        {
            blocks[0].Attention.K.Weight, blocks[0].Attention.V.Weight, blocks[1].Attention.K.Weight, blocks[1].Attention.Q.Weight,
            blocks[0].Attention.Out.Weight, blocks[1].Mlp.Down.Weight, blocks[0].AttnNorm.Weight, m.LnF.Weight, m.Head!.Weight,
        };
        var analytic = new float[checkedParams.Length][];
        using (var tape = new Tape())
        {
            var y = m.Forward(win, pad, window);
            tape.Backward(y, rt);
            for (int p = 0; p < checkedParams.Length; p++) analytic[p] = checkedParams[p].Grad?.ToArray() ?? new float[checkedParams[p].Data.Numel]; // no gradient = zeros
        }
        m.ZeroGrad();

        double Loss()
        {
            using var s = new TensorScope();
            var y = m.Forward(win, pad, window).Data.ToArray();
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += (double)y[i] * r[i];
            return sum;
        }

        for (int p = 0; p < checkedParams.Length; p++)
        {
            var w = checkedParams[p];
            var host = w.Data.ToArray();
            double largest = 0;
            for (int j = 0; j < 5; j++)
            {
                int idx = (int)((j * 7919L + p * 104729L) % host.Length);
                float orig = host[idx];
                double Central(double step)
                {
                    host[idx] = (float)(orig + step);
                    Write(w.Data, host);
                    double lp = Loss();
                    host[idx] = (float)(orig - step);
                    Write(w.Data, host);
                    double lm = Loss();
                    host[idx] = orig;
                    Write(w.Data, host);
                    return (lp - lm) / ((double)(float)(orig + step) - (float)(orig - step)); // the step fp32 can represent
                }
                double numeric = (4 * Central(h / 2) - Central(h)) / 3;
                double a = analytic[p][idx];
                largest = Math.Max(largest, Math.Abs(numeric));
                Assert.True(Math.Abs(a - numeric) <= atol + rtol * Math.Abs(numeric),
                    $"{mode}: d/d {w.Name}[{idx}] analytic {a:G6} vs finite difference {numeric:G6}");
            }
            Assert.True(largest > 10 * atol, $"{mode}: every compared derivative of {w.Name} is ~0, so the check proves nothing");
        }
    }

    private static void Write(Tensor t, float[] host)
    {
        using var src = Tensor.FromArray(host, t.ShapeArray(), t.Backend);
        t.CopyFrom(src);
    }
}
