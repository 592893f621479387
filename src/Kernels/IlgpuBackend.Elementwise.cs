using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;
using LLaDA.Tensors.Ops;

namespace LLaDA.Kernels;

// Elementwise families: fill, strided copy with dtype conversion, unary/binary functors with broadcasting, where, SiLU gate.
public sealed partial class IlgpuBackend
{
    public void Fill(Tensor dst, float value)
    {
        if (!dst.IsContiguous) throw new TensorException("Fill: destination must be contiguous");
        long n = dst.Numel;
        switch (dst.DType)
        {
            case DType.F32: ElementwiseKernels.Fill32(Kernels, I32Bits(dst), n, BitConverter.SingleToInt32Bits(value)); break;
            case DType.I32: ElementwiseKernels.Fill32(Kernels, I32Bits(dst), n, (int)value); break;
            case DType.BF16: ElementwiseKernels.Fill16(Kernels, ViewOf<ushort>(dst), n, Half16.ToBf16(value)); break;
            default: ElementwiseKernels.Fill16(Kernels, ViewOf<ushort>(dst), n, Half16.ToF16(value)); break;
        }
    }

    /// <summary>A 4-byte tensor (F32 or I32) as int bits.</summary>
    private ArrayView<int> I32Bits(Tensor t) => ViewOf<int>(t);

    public void Copy(Tensor src, Tensor dst)
    {
        long n = dst.Numel;
        if (n == 0) return;
        if (src.DType == dst.DType && src.IsContiguous && dst.IsContiguous)
        {
            // Same dtype, both dense: a device-to-device memcpy.
            BytesOf(src, n).CopyTo(Kernels.Stream, BytesOf(dst, n));
            return;
        }
        var s = StridedIndex.Build("Copy", dst.Shape, src.Strides, dst.Strides);
        bool src4 = src.DType.SizeOf() == 4, dst4 = dst.DType.SizeOf() == 4;
        CopyKernels.Copy(Kernels,
            src4 ? ViewOf<int>(src) : ArrayView<int>.Empty, src4 ? ArrayView<ushort>.Empty : ViewOf<ushort>(src), src.DType,
            dst4 ? ViewOf<int>(dst) : ArrayView<int>.Empty, dst4 ? ArrayView<ushort>.Empty : ViewOf<ushort>(dst), dst.DType,
            n, s);
    }

    public void Unary<TOp>(TOp op, Tensor x, Tensor y) where TOp : struct, IUnaryOp
    {
        long n = y.Numel;
        StridedIndex? s = x.IsContiguous ? null : StridedIndex.Build("Unary", y.Shape, x.Strides);
        ElementwiseKernels.Unary(Kernels, op, F(x), F(y), n, s);
    }

    public void Binary<TOp>(TOp op, Tensor a, Tensor b, Tensor y) where TOp : struct, IBinaryOp
    {
        long n = y.Numel;
        bool dense = a.IsContiguous && b.IsContiguous && a.Numel == n && b.Numel == n;
        StridedIndex? s = dense ? null : StridedIndex.Build("Binary", y.Shape, a.Strides, b.Strides);
        ElementwiseKernels.Binary(Kernels, op, F(a), F(b), F(y), n, s);
    }

    public void Where(Tensor cond, Tensor a, Tensor b, Tensor y)
    {
        var s = StridedIndex.Build("Where", y.Shape, cond.Strides, a.Strides, b.Strides);
        WhereKernels.Where(Kernels, I32Bits(cond), cond.DType == DType.F32, I32Bits(a), I32Bits(b), I32Bits(y), y.Numel, s);
    }

    public void SiluGate(Tensor gate, Tensor up, Tensor y) => ElementwiseKernels.SiluGate(Kernels, F(gate), F(up), F(y), y.Numel);

    public void SiluGateBackward(Tensor gate, Tensor up, Tensor dy, Tensor dgate, Tensor dup)
        => ElementwiseKernels.SiluGateBackward(Kernels, F(gate), F(up), F(dy), F(dgate), F(dup), gate.Numel);
}
