using LLaDA.Tensors;

namespace LLaDA.Nn;

/// <summary>How a cached forward pass gets its keys and values (Fast-dLLM, SPEC §8.4–8.6).</summary>
public enum CacheMode
{
    /// <summary>No cache: the window is the whole sequence.</summary>
    None,

    /// <summary>Keys = cached prefix [0, start) + the window's own keys (window = current block and everything after).</summary>
    Prefix,

    /// <summary>Keys = the cached full sequence with positions [start, start + window) replaced in place by the window's keys.</summary>
    Dual,
}

/// <summary>Per-layer keys and values (B, L, NKV, HS) after RoPE (positions never move, so post-RoPE caching is exact and cheaper than the reference's pre-RoPE cache).</summary>
public sealed class KvCache : IDisposable
{
    internal KvCache(Tensor[] k, Tensor[] v)
    {
        K = k;
        V = v;
    }

    public Tensor[] K { get; }
    public Tensor[] V { get; }

    /// <summary>Cached sequence length.</summary>
    public int Length => K[0].Dim(1);

    public void Dispose()
    {
        foreach (var t in K) t.Dispose();
        foreach (var t in V) t.Dispose();
    }
}

// Inference forward: plain Tensor ops (no tape), with optional key/value caching for the samplers.
public sealed partial class MaskPredictor
{
    /// <summary>Logits (B, Lq, V) of a window of ids (B, Lq) whose first token sits at absolute position <paramref name="start"/>.</summary>
    /// <param name="cache">Prefix: holds at least <paramref name="start"/> positions; Dual: holds the whole sequence and is updated in place at the window.</param>
    /// <param name="record">When non-null (and mode None), receives a new cache of this full pass's keys and values.</param>
    /// <param name="keyPadding">(B, Lk) I32 over the keys actually attended (1 = real token), or null.</param>
    public Tensor InferLogits(Tensor ids, int start = 0, KvCache? cache = null, CacheMode mode = CacheMode.None, Action<KvCache>? record = null, Tensor? keyPadding = null)
    {
        using var h = InferHidden(ids, start, cache, mode, record, keyPadding);
        if (Head is not null)
        {
            using var wt = Head.Weight.Data.MT;
            return h.MatMul(wt);
        }
        using var et = Wte.Weight.Data.MT;
        return h.MatMul(et);
    }

    /// <summary>Final hidden states (B, Lq, C) of the inference forward (see <see cref="InferLogits"/>).</summary>
    public Tensor InferHidden(Tensor ids, int start, KvCache? cache, CacheMode mode, Action<KvCache>? record, Tensor? keyPadding)
    {
        var c = Config;
        int b = ids.Dim(0), lq = ids.Dim(1), nh = c.NHeads, nkv = c.KvHeads, hs = c.HeadSize;
        if (mode != CacheMode.None && cache is null) throw new ArgumentException($"InferLogits: cache mode {mode} needs a cache");
        if (mode == CacheMode.Prefix && cache!.Length < start) throw new ArgumentException($"InferLogits: prefix cache holds {cache.Length} positions, need {start}");
        if (mode == CacheMode.Dual && cache!.Length < start + lq) throw new ArgumentException($"InferLogits: dual cache holds {cache.Length} positions, need {start + lq}");
        var recK = record is null ? null : new Tensor[c.NLayers];
        var recV = record is null ? null : new Tensor[c.NLayers];
        var mask = c.Causal ? AttnMask.Causal : AttnMask.None;
        var h = Tensor.Embedding(Wte.Weight.Data, ids); // (B, Lq, C)
        for (int layer = 0; layer < _blocks.Count; layer++)
        {
            var blk = _blocks[layer];
            using var scope = new TensorScope();
            var (a, _) = h.RmsNorm(blk.AttnNorm.Weight.Data, c.RmsNormEps);
            var q = Proj(a, blk.Attention.Q).View(b, lq, nh, hs).Rope(c.RopeTheta, start);   // (B, Lq, NH, HS)
            var k = Proj(a, blk.Attention.K).View(b, lq, nkv, hs).Rope(c.RopeTheta, start);  // (B, Lq, NKV, HS)
            var v = Proj(a, blk.Attention.V).View(b, lq, nkv, hs);
            Tensor keys, values;
            switch (mode)
            {
                case CacheMode.Prefix:
                    keys = Tensor.Cat([cache!.K[layer].Narrow(1, 0, start), k], 1);           // (B, start + Lq, NKV, HS)
                    values = Tensor.Cat([cache.V[layer].Narrow(1, 0, start), v], 1);
                    break;
                case CacheMode.Dual:
                    cache!.K[layer].Narrow(1, start, lq).CopyFrom(k);                          // refresh the window in place
                    cache.V[layer].Narrow(1, start, lq).CopyFrom(v);
                    keys = cache.K[layer].View(cache.K[layer].ShapeArray());
                    values = cache.V[layer].View(cache.V[layer].ShapeArray());
                    break;
                default:
                    keys = k;
                    values = v;
                    break;
            }
            if (recK is not null)
            {
                recK[layer] = k.Clone().Detach();
                recV![layer] = v.Clone().Detach();
            }
            var (o, _) = Tensor.Attention(q.Transpose(1, 2), keys.Transpose(1, 2), values.Transpose(1, 2), mask, keyPadding); // (B, NH, Lq, HS)
            var merged = o.Transpose(1, 2).Reshape(b, lq, c.DModel);
            var h1 = h.Add(Proj(merged, blk.Attention.Out));
            var (f, _) = h1.RmsNorm(blk.FfNorm.Weight.Data, c.RmsNormEps);
            var gated = Tensor.SiluGate(Proj(f, blk.Mlp.Gate), Proj(f, blk.Mlp.Up));
            var h2 = h1.Add(Proj(gated, blk.Mlp.Down)).KeepAlive();
            h.Dispose();
            h = h2;
        }
        if (recK is not null) record!(new KvCache(recK, recV!));
        var (y, rstd) = h.RmsNorm(LnF.Weight.Data, c.RmsNormEps);
        rstd.Dispose();
        h.Dispose();
        return y;
    }

    private static Tensor Proj(Tensor x, Linear l) => x.MatMul(l.Weight.Data.MT); // (…, in) · (in, out)
}
