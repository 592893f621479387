using LLaDA.Autograd;
using LLaDA.Tensors;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Autograd;

/// <summary>Finite-difference checks of MatMul (plain, batched, broadcast batch, transposed views) and Linear.</summary>
public class MatMulGradTests
{
    [Fact]
    public void MatMul_2D_GradCheckPasses()
    {
        using var a = Rng.Tensor(401, 3, 5);
        using var b = Rng.Tensor(402, 5, 7);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_InnerDimOne_GradCheckPasses()
    {
        // (3, 1)·(1, 5): an outer product.
        using var a = Rng.Tensor(403, 3, 1);
        using var b = Rng.Tensor(404, 1, 5);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_RowTimesColumn_GradCheckPasses()
    {
        // (1, 5)·(5, 1) → (1, 1): a dot product.
        using var a = Rng.Tensor(428, 1, 5);
        using var b = Rng.Tensor(429, 5, 1);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_Batched3D_GradCheckPasses()
    {
        using var a = Rng.Tensor(405, 2, 3, 5);
        using var b = Rng.Tensor(406, 2, 5, 7);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_BatchedTimesShared2D_GradCheckPasses()
    {
        // (B, M, K)·(K, N): the shared right operand's gradient sums over the batch.
        using var a = Rng.Tensor(407, 3, 5, 7);
        using var b = Rng.Tensor(408, 7, 3);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_BroadcastLeftBatchOfOne_GradCheckPasses()
    {
        // (1, M, K)·(B, K, N): a's gradient sums over B.
        using var a = Rng.Tensor(409, 1, 3, 5);
        using var b = Rng.Tensor(410, 3, 5, 7);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_2DTimesBatched_GradCheckPasses()
    {
        using var a = Rng.Tensor(411, 3, 5);
        using var b = Rng.Tensor(412, 2, 5, 7);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_Rank4CrossBroadcast_GradCheckPasses()
    {
        // (2, 1, M, K)·(1, 3, K, N) → (2, 3, M, N): each operand is broadcast along a different batch dim.
        using var a = Rng.Tensor(413, 2, 1, 3, 5);
        using var b = Rng.Tensor(414, 1, 3, 5, 7);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_TransposedViews2D_GradCheckPasses()
    {
        // Both operands are column-major views (GEMM transpose flags).
        using var a = Rng.Strided(415, 3, 5);
        using var b = Rng.Strided(416, 5, 7);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_TransposedViewsBatched_GradCheckPasses()
    {
        using var a = Rng.Strided(417, 2, 3, 5);
        using var b = Rng.Strided(418, 5, 7);
        GradAssert.Passes(v => F.MatMul(v[0], v[1]), [a, b]);
    }

    [Fact]
    public void MatMul_TransposeOpInsideGraph_GradCheckPasses()
    {
        // a·aᵀ with the transpose taken by F: a gets the gradient of both operands.
        using var a = Rng.Tensor(419, 3, 5);
        GradAssert.Passes(v => F.MatMul(v[0], F.Transpose(v[0], 0, 1)), [a]);
    }

    [Fact]
    public void MatMul_NarrowedOperand_GradCheckPasses()
    {
        // A row-strided operand (leading dim 7 > 5 columns) from Narrow.
        using var a = Rng.Tensor(420, 3, 7);
        using var b = Rng.Tensor(421, 5, 3);
        GradAssert.Passes(v => F.MatMul(F.Narrow(v[0], 1, 1, 5), v[1]), [a, b]);
    }

    [Fact]
    public void Linear_2D_GradCheckPasses()
    {
        using var x = Rng.Tensor(422, 3, 5);
        using var w = Rng.Tensor(423, 7, 5);
        GradAssert.Passes(v => F.Linear(v[0], v[1]), [x, w]);
    }

    [Fact]
    public void Linear_Batched3DStridedInputAndWeight_GradCheckPasses()
    {
        using var x = Rng.Strided(424, 2, 3, 5);
        using var w = Rng.Strided(425, 7, 5);
        GradAssert.Passes(v => F.Linear(v[0], v[1]), [x, w]);
    }

    [Fact]
    public void Linear_SingleOutput_GradCheckPasses()
    {
        using var x = Rng.Tensor(426, 3, 1, 5);
        using var w = Rng.Tensor(427, 1, 5);
        GradAssert.Passes(v => F.Linear(v[0], v[1]), [x, w]);
    }
}
