using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Finite-difference checks of F.Attention (no mask, causal, key padding, grouped heads, Tq &lt; Tk) and of its composed reference.</summary>
public class AttentionGradTests
{
    private static void CheckFused(int b, int nh, int nkv, int tq, int tk, int hs, AttnMask mask, bool padded, bool stridedQ, int seed)
    {
        using var qs = stridedQ ? Rng.Tensor(seed, b, tq, nh, hs) : Rng.Tensor(seed, b, nh, tq, hs);
        using var q = stridedQ ? qs.Transpose(1, 2) : qs.Reshape(b, nh, tq, hs);
        using var k = Rng.Tensor(seed + 1, b, nkv, tk, hs);
        using var v = Rng.Tensor(seed + 2, b, nkv, tk, hs);
        using var keyPadding = padded ? TestData.Ints(FusedVsComposedTests.KeyPadding(b, tk), b, tk) : null;
        GradAssert.Passes(x => F.Attention(x[0], x[1], x[2], mask, keyPadding), [q, k, v]);
    }

    [Fact]
    public void Attention_NoMask_GradCheckPasses() => CheckFused(1, 2, 2, 5, 5, 3, AttnMask.None, padded: false, stridedQ: false, 701);

    [Fact]
    public void Attention_Causal_GradCheckPasses() => CheckFused(2, 1, 1, 5, 5, 4, AttnMask.Causal, padded: false, stridedQ: false, 704);

    [Fact]
    public void Attention_KeyPadding_GradCheckPasses() => CheckFused(2, 2, 2, 5, 5, 3, AttnMask.None, padded: true, stridedQ: false, 707);

    [Fact]
    public void Attention_CausalWithKeyPadding_GradCheckPasses() => CheckFused(2, 1, 1, 5, 5, 3, AttnMask.Causal, padded: true, stridedQ: false, 710);

    [Fact]
    public void Attention_GroupedQueryHeads_GradCheckPasses() => CheckFused(1, 4, 2, 3, 3, 5, AttnMask.None, padded: false, stridedQ: false, 713);

    [Fact]
    public void Attention_FewerQueriesThanKeysCausal_GradCheckPasses() => CheckFused(1, 2, 1, 3, 7, 4, AttnMask.Causal, padded: false, stridedQ: false, 716);

    [Fact]
    public void Attention_FewerQueriesThanKeysNoMask_GradCheckPasses() => CheckFused(1, 1, 1, 3, 7, 3, AttnMask.None, padded: false, stridedQ: false, 719);

    [Fact]
    public void Attention_StridedQueryFromTokenMajorStorage_GradCheckPasses() => CheckFused(2, 3, 1, 5, 5, 2, AttnMask.None, padded: true, stridedQ: true, 722);

    [Fact]
    public void Attention_StridedKeyValue_GradCheckPasses()
    {
        // k, v as (B, NKV, Tk, HS) views of (B, Tk, NKV, HS) storage, the layout after the K/V projections.
        using var q = Rng.Tensor(725, 1, 2, 5, 4);
        using var ks = Rng.Tensor(726, 1, 5, 2, 4);
        using var vs = Rng.Tensor(727, 1, 5, 2, 4);
        using var k = ks.Transpose(1, 2);
        using var v = vs.Transpose(1, 2);
        GradAssert.Passes(x => F.Attention(x[0], x[1], x[2], AttnMask.Causal), [q, k, v]);
    }

    // The composed reference runs today: it validates the mask construction and head grouping used by the skipped comparisons.

    [Theory]
    [InlineData(2, 2, 1, 5, 5, 3, AttnMask.Causal, true)]
    [InlineData(1, 4, 2, 3, 7, 4, AttnMask.Causal, false)]
    [InlineData(2, 3, 3, 3, 5, 2, AttnMask.None, true)]
    public void AttentionReference_GradCheckPasses(int b, int nh, int nkv, int tq, int tk, int hs, AttnMask mask, bool padded)
    {
        using var q = Rng.Tensor(730, b, nh, tq, hs);
        using var k = Rng.Tensor(731, b, nkv, tk, hs);
        using var v = Rng.Tensor(732, b, nkv, tk, hs);
        int[]? kp = padded ? FusedVsComposedTests.KeyPadding(b, tk) : null;
        using var additive = AttentionReference.Mask(b, nh / nkv, tq, tk, mask, kp);
        GradAssert.Passes(x => AttentionReference.Compose(x[0], x[1], x[2], additive), [q, k, v]);
    }

    [Fact]
    public void AttentionReference_MaskedKeys_GetNoWeightAndNoGradient()
    {
        // One query, two keys, the second padded away: o = v₀ exactly and dv₁ = 0, dk = 0 (softmax over one key is constant).
        using var q = Rng.Tensor(733, 1, 1, 1, 3);
        using var k = Rng.Tensor(734, 1, 1, 2, 3);
        using var vt = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], [1, 1, 2, 3]);
        using var additive = AttentionReference.Mask(1, 1, 1, 2, AttnMask.None, [1, 0]);
        var kv = new Variable(k, requiresGrad: true);
        var vv = new Variable(vt, requiresGrad: true);
        using var tape = new Tape();
        var o = AttentionReference.Compose(q, kv, vv, additive);
        TensorAssert.Close(o.Data, [1, 2, 3], [1, 1, 1, 3], what: "o");
        tape.Backward(F.Sum(o));
        TensorAssert.Close(vv.Grad!, [1, 1, 1, 0, 0, 0], [1, 1, 2, 3], what: "dv");
        TensorAssert.Close(kv.Grad!, [0, 0, 0, 0, 0, 0], [1, 1, 2, 3], what: "dk");
        kv.ZeroGrad();
        vv.ZeroGrad();
    }

    [Fact]
    public void AttentionReference_CausalFewerQueries_LastQuerySeesAllKeys()
    {
        // Tq = 2, Tk = 3: query i sits at position 1 + i, so query 0 sees keys {0, 1} and query 1 sees {0, 1, 2}.
        using var m = AttentionReference.Mask(1, 1, 2, 3, AttnMask.Causal, null);
        const float x = AttentionReference.Masked;
        Assert.Equal([0f, 0f, x, 0f, 0f, 0f], m.ToArray());
    }
}
