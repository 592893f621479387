using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Kernels;

// The transformer's fused primitives: each converts tensors to device views and calls its kernel family.
public sealed partial class IlgpuBackend
{
    // ---------------------------------------------------------------- matmul, attention (MatMulKernels / AttentionKernels)

    public void MatMul(Tensor a, Tensor b, Tensor c, float alpha, float beta)
    {
        var oa = GemmOperand.TryGet(a) ?? throw new TensorException($"MatMul: operand a {a.Layout} is not a GEMM layout");
        var ob = GemmOperand.TryGet(b) ?? throw new TensorException($"MatMul: operand b {b.Layout} is not a GEMM layout");
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2], k = a.Shape[2];
        if (b.DType is DType.BF16 or DType.F16)
        {
            // A 16-bit weight operand, read as stored: the tensor-core kernel on CUDA (BF16), the generic mixed kernel elsewhere.
            MatMulKernels.GemmMixed(Kernels, b.DType == DType.F16, batch, m, n, k, alpha,
                F(a), oa.Ld, oa.BatchStride, oa.Transposed,
                ViewOf<ushort>(b), ob.Ld, ob.BatchStride, ob.Transposed,
                beta, F(c), Math.Max(n, 1), (long)m * n);
            return;
        }
        MatMulKernels.Sgemm(Kernels, batch, m, n, k, alpha,
            F(a), oa.Ld, oa.BatchStride, oa.Transposed,
            F(b), ob.Ld, ob.BatchStride, ob.Transposed,
            beta, F(c), Math.Max(n, 1), (long)m * n);
    }

    public void Attention(Tensor q, Tensor k, Tensor v, Tensor? keyPadding, AttnMask mask, float scale, Tensor o, Tensor lse)
    {
        AttentionKernels.Forward(Kernels, AttentionShape.Of(q, k, mask, scale), F(q), AttnLayout.Of(q), F(k), AttnLayout.Of(k), F(v), AttnLayout.Of(v),
            keyPadding is null ? ArrayView<int>.Empty : I(keyPadding), F(o), AttnLayout.Of(o), F(lse));
    }

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? keyPadding, AttnMask mask, float scale, Tensor o, Tensor lse, Tensor dO, Tensor dq, Tensor dk, Tensor dv)
    {
        AttentionKernels.Backward(Kernels, AttentionShape.Of(q, k, mask, scale), F(q), AttnLayout.Of(q), F(k), AttnLayout.Of(k), F(v), AttnLayout.Of(v),
            keyPadding is null ? ArrayView<int>.Empty : I(keyPadding), F(o), AttnLayout.Of(o), F(lse), F(dO), AttnLayout.Of(dO), F(dq), F(dk), F(dv));
    }

    // ---------------------------------------------------------------- softmax, RMSNorm, RoPE

    public void Softmax(Tensor x, Tensor y, bool log)
    {
        int n = x.Dim(-1);
        SoftmaxKernels.Forward(Kernels, F(x), F(y), x.Numel / Math.Max(n, 1), n, log);
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, bool log)
    {
        int n = y.Dim(-1);
        SoftmaxKernels.Backward(Kernels, F(y), F(dy), F(dx), y.Numel / Math.Max(n, 1), n, log);
    }

    public void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd)
    {
        int c = x.Dim(-1);
        RmsNormKernels.Forward(Kernels, F(x), F(weight), eps, F(y), F(rstd), x.Numel / Math.Max(c, 1), c);
    }

    public void RmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd, Tensor dx, Tensor dweight)
    {
        int c = x.Dim(-1);
        long rows = x.Numel / Math.Max(c, 1);
        var partial = _pool.Rent((long)RmsNormKernels.DweightChunks(rows) * c * sizeof(float));
        try
        {
            RmsNormKernels.Backward(Kernels, F(dy), F(x), F(weight), F(rstd), F(dx), F(dweight), ((ArrayView<byte>)partial.View).Cast<float>(), rows, c);
        }
        finally
        {
            _pool.Return(partial); // later users of the buffer queue behind these kernels on the one stream
        }
    }

    private readonly Dictionary<(float Theta, int D), RopeDeviceTable> _ropeTables = new();

    public void Rope(Tensor x, Tensor y, float theta, int positionOffset, bool inverse)
    {
        int b = x.Shape[0], t = x.Shape[1], h = x.Shape[2], d = x.Shape[3];
        var table = RopeTableFor(theta, d, positionOffset + t);
        RopeKernels.Apply(Kernels, F(x), F(y), table.Cos, table.Sin, b, t, h, d, positionOffset, inverse);
    }

    /// <summary>The device copy of RopeTable's cos/sin for (θ, D), uploaded once (again only when more positions are needed).</summary>
    private RopeDeviceTable RopeTableFor(float theta, int d, int positions)
    {
        lock (_ropeTables)
        {
            if (_ropeTables.TryGetValue((theta, d), out var cached) && cached.Positions >= positions) return cached;
            var (cos, sin) = RopeTable.Get(theta, d, positions); // fp32 tables exactly as CpuBackend uses them
            var table = new RopeDeviceTable(_pool, Kernels.Stream, cos, sin, cos.Length / Math.Max(d / 2, 1));
            cached?.Dispose();
            _ropeTables[(theta, d)] = table;
            return table;
        }
    }

    /// <summary>cos/sin tables (positions, D/2) in pooled device buffers.</summary>
    private sealed class RopeDeviceTable : IDisposable
    {
        private readonly IlgpuMemoryPool _pool;
        private readonly MemoryBuffer1D<byte, Stride1D.Dense> _cos, _sin;

        public RopeDeviceTable(IlgpuMemoryPool pool, AcceleratorStream stream, float[] cos, float[] sin, int positions)
        {
            _pool = pool;
            Positions = positions;
            _cos = pool.Rent((long)cos.Length * sizeof(float));
            _sin = pool.Rent((long)sin.Length * sizeof(float));
            Cos = ((ArrayView<byte>)_cos.View).Cast<float>().SubView(0, cos.Length);
            Sin = ((ArrayView<byte>)_sin.View).Cast<float>().SubView(0, sin.Length);
            Cos.CopyFromCPU(stream, ref cos[0], cos.Length);
            Sin.CopyFromCPU(stream, ref sin[0], sin.Length);
        }

        public int Positions { get; }
        public ArrayView<float> Cos { get; }
        public ArrayView<float> Sin { get; }

        public void Dispose()
        {
            _pool.Return(_cos);
            _pool.Return(_sin);
        }
    }

    // ---------------------------------------------------------------- cross-entropy

    public void CrossEntropy(Tensor logits, Tensor targets, Tensor weights, Tensor loss, Tensor lse)
    {
        int v = logits.Dim(-1);
        long rows = logits.Numel / Math.Max(v, 1);
        CrossEntropyKernels.Forward(Kernels, F(logits), I(targets), F(weights), F(loss), F(lse), rows, v, ErrorView(IndexOp.CrossEntropy));
        AfterIndexKernel(IndexOp.CrossEntropy, v);
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor weights, Tensor lse, Tensor dloss, Tensor dlogits)
    {
        int v = logits.Dim(-1);
        long rows = logits.Numel / Math.Max(v, 1);
        CrossEntropyKernels.Backward(Kernels, F(logits), I(targets), F(weights), F(lse), F(dloss), F(dlogits), rows, v);
    }

    // ---------------------------------------------------------------- embedding, gather, scatter

    public void IndexSelect(Tensor src, Tensor ids, Tensor y)
    {
        if (src.DType is DType.BF16 or DType.F16)
        {
            using var wide = src.Contiguous(DType.F32);
            IndexSelect(wide, ids, y);
            return;
        }
        int v = src.Shape[0], c = src.Shape[1];
        EmbeddingKernels.IndexSelect(Kernels, F(src), I(ids), F(y), ids.Numel, c, v, ErrorView(IndexOp.IndexSelect));
        AfterIndexKernel(IndexOp.IndexSelect, v);
    }

    public void IndexAdd(Tensor src, Tensor ids, Tensor dst)
    {
        int v = dst.Shape[0], c = dst.Shape[1];
        EmbeddingKernels.IndexAdd(Kernels, F(src), I(ids), F(dst), ids.Numel, c, v, ErrorView(IndexOp.IndexAdd));
        AfterIndexKernel(IndexOp.IndexAdd, v);
    }

    public void Gather(Tensor x, Tensor index, Tensor y)
    {
        int n = x.Dim(-1), m = index.Dim(-1);
        EmbeddingKernels.Gather(Kernels, F(x), I(index), F(y), index.Numel / Math.Max(m, 1), n, m, ErrorView(IndexOp.Gather));
        AfterIndexKernel(IndexOp.Gather, n);
    }

    public void ScatterAdd(Tensor src, Tensor index, Tensor dst)
    {
        int n = dst.Dim(-1), m = index.Dim(-1);
        EmbeddingKernels.ScatterAdd(Kernels, F(src), I(index), F(dst), index.Numel / Math.Max(m, 1), n, m, ErrorView(IndexOp.ScatterAdd));
        AfterIndexKernel(IndexOp.ScatterAdd, n);
    }

    // ---------------------------------------------------------------- optimizer, random

    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step)
        => AdamWKernels.Step(Kernels, F(param), F(grad), F(m), F(v), param.Numel, step);

    public void RandomUniform(Tensor dst, ulong seed, ulong offset) => RandomKernels.Uniform(Kernels, F(dst), dst.Numel, seed, offset);

    public void RandomNormal(Tensor dst, ulong seed, ulong offset) => RandomKernels.Normal(Kernels, F(dst), dst.Numel, seed, offset);
}
