using LLaDA.Autograd;
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

    /// <summary>Keeps private copies of one layer's keys and values (B, L, NKV, HS) while a forward pass records a cache.</summary>
    internal void Store(int layer, Tensor k, Tensor v)
    {
        K[layer] = k.Clone().Detach();
        V[layer] = v.Clone().Detach();
    }

    public void Dispose()
    {
        foreach (var t in K) t?.Dispose();
        foreach (var t in V) t?.Dispose();
    }
}

/// <summary>Which part of the sequence a forward pass computes and where its other keys and values come from.</summary>
/// <param name="Start">Absolute position of the window's first token (RoPE positions start there).</param>
/// <param name="Cache">Prefix: holds at least <paramref name="Start"/> positions; Dual: holds the whole sequence and is updated in place at the window.</param>
/// <param name="Mode">How <paramref name="Cache"/> is used; None needs no cache.</param>
/// <param name="Record">When non-null, receives a new cache of this pass's keys and values (a pass over the whole sequence builds the cache the samplers then reuse).</param>
/// <remarks>The default is the whole sequence from position 0 with no cache: the training forward.</remarks>
public readonly record struct KvWindow(int Start = 0, KvCache? Cache = null, CacheMode Mode = CacheMode.None, Action<KvCache>? Record = null)
{
    /// <summary>Throws unless the cache can serve a window of <paramref name="length"/> tokens.</summary>
    internal void Validate(int length)
    {
        if (Start < 0) throw new ArgumentException($"MaskPredictor: window start {Start} is negative");
        if (Mode != CacheMode.None && Cache is null) throw new ArgumentException($"MaskPredictor: cache mode {Mode} needs a cache");
        if (Mode == CacheMode.Prefix && Cache!.Length < Start) throw new ArgumentException($"MaskPredictor: prefix cache holds {Cache.Length} positions, need {Start}");
        if (Mode == CacheMode.Dual && Cache!.Length < Start + length) throw new ArgumentException($"MaskPredictor: dual cache holds {Cache.Length} positions, need {Start + length}");
    }

    /// <summary>The keys and values (B, Lk, NKV, HS) one layer attends to, given the window's own k and v (B, Lq, NKV, HS).</summary>
    /// <remarks>
    /// Untaped, the dual cache is refreshed in place and attended as it is (no copy). Taped (k or v carries a gradient),
    /// the window's keys must reach the attention through the tape, so the cached rest is concatenated around them:
    /// the same values in the same contiguous layout as the refreshed cache, so both runs compute the same floats.
    /// </remarks>
    internal (Variable Keys, Variable Values) KeysValues(int layer, Variable k, Variable v)
    {
        switch (Mode)
        {
            case CacheMode.Prefix:
                return (F.Cat([Cache!.K[layer].Narrow(1, 0, Start), k], 1),   // (B, Start + Lq, NKV, HS)
                        F.Cat([Cache.V[layer].Narrow(1, 0, Start), v], 1));
            case CacheMode.Dual:
                var ck = Cache!.K[layer];
                var cv = Cache.V[layer];
                int lq = k.Data.Dim(1);
                using (var slot = ck.Narrow(1, Start, lq)) slot.CopyFrom(k.Data); // refresh the window in place
                using (var slot = cv.Narrow(1, Start, lq)) slot.CopyFrom(v.Data);
                if (!k.RequiresGrad && !v.RequiresGrad) return (ck.View(ck.ShapeArray()), cv.View(cv.ShapeArray())); // (B, L, NKV, HS)
                return (Around(ck, k), Around(cv, v));
            default:
                return (k, v);
        }
    }

    /// <summary>cached[:, :Start] ++ window ++ cached[:, Start + Lq:] along the sequence dim.</summary>
    private Variable Around(Tensor cached, Variable window)
    {
        int lq = window.Data.Dim(1), rest = cached.Dim(1) - Start - lq;
        var parts = new List<Variable>(3);
        if (Start > 0) parts.Add(cached.Narrow(1, 0, Start));
        parts.Add(window);
        if (rest > 0) parts.Add(cached.Narrow(1, Start + lq, rest));
        return F.Cat(parts, 1);
    }
}
