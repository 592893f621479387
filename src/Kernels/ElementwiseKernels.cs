using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors.Ops;

namespace LLaDA.Kernels;

/// <summary>Elementwise families: unary and binary functors (the LLaDA.Tensors.Ops structs, passed by value), fill, and the SiLU-gated product.</summary>
/// <remarks>
/// <c>UnaryKernel&lt;TOp&gt;</c> is instantiated once per functor type and calls its scalar <c>Apply(float)</c> (the Vector256
/// overload is CPU-only and never reached). Functors with fields (ScaleOp, ClampOp, …) travel as kernel arguments.
/// Every kernel is grid-stride over a linear index; strided variants map it through a <see cref="StridedIndex"/>.
/// </remarks>
public static class ElementwiseKernels
{
    private static class Keys<TOp>
    {
        public static readonly string Unary = "Elementwise.Unary:" + typeof(TOp).FullName;
        public static readonly string UnaryStrided = "Elementwise.UnaryStrided:" + typeof(TOp).FullName;
        public static readonly string Binary = "Elementwise.Binary:" + typeof(TOp).FullName;
        public static readonly string BinaryStrided = "Elementwise.BinaryStrided:" + typeof(TOp).FullName;
    }

    // ---------------------------------------------------------------- kernels

    /// <summary>y[i] = op(x[i]), i &lt; n (contiguous).</summary>
    [Kernel]
    internal static void UnaryKernel<TOp>(TOp op, ArrayView<float> x, ArrayView<float> y, long n) where TOp : struct, IUnaryOp
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride) y[i] = op.Apply(x[i]);
    }

    /// <summary>y[i] = op(x[offset_a(i)]): x any strides (StridedIndex operand a), y contiguous.</summary>
    [Kernel]
    internal static void UnaryStridedKernel<TOp>(TOp op, ArrayView<float> x, ArrayView<float> y, long n, StridedIndex s) where TOp : struct, IUnaryOp
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            s.Offsets(i, out long ox, out _, out _);
            y[i] = op.Apply(x[ox]);
        }
    }

    /// <summary>y[i] = op(a[i], b[i]) (all contiguous, n elements).</summary>
    [Kernel]
    internal static void BinaryKernel<TOp>(TOp op, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, long n) where TOp : struct, IBinaryOp
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride) y[i] = op.Apply(a[i], b[i]);
    }

    /// <summary>y[i] = op(a[offset_a(i)], b[offset_b(i)]): a, b broadcast views (stride 0 on expanded dims), y contiguous.</summary>
    [Kernel]
    internal static void BinaryStridedKernel<TOp>(TOp op, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, long n, StridedIndex s) where TOp : struct, IBinaryOp
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            s.Offsets(i, out long oa, out long ob, out _);
            y[i] = op.Apply(a[oa], b[ob]);
        }
    }

    /// <summary>y[i] = bits for 4-byte elements (F32 bits or I32).</summary>
    [Kernel]
    internal static void Fill32Kernel(ArrayView<int> y, long n, int bits)
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride) y[i] = bits;
    }

    /// <summary>y[i] = bits for 2-byte elements (BF16/F16 bits).</summary>
    [Kernel]
    internal static void Fill16Kernel(ArrayView<ushort> y, long n, int bits)
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride) y[i] = (ushort)bits;
    }

    /// <summary>y = silu(g)·u = g/(1 + e⁻ᵍ)·u.</summary>
    [Kernel]
    internal static void SiluGateKernel(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> y, long n)
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            float g = gate[i];
            y[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>σ = 1/(1 + e⁻ᵍ); dgate = dy·u·σ·(1 + g·(1 − σ)), dup = dy·g·σ.</summary>
    [Kernel]
    internal static void SiluGateBackwardKernel(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> dy, ArrayView<float> dgate, ArrayView<float> dup, long n)
    {
        for (long i = Idx.Global; i < n; i += Idx.Stride)
        {
            float g = gate[i], sg = 1f / (1f + MathF.Exp(-g)), d = dy[i];
            dgate[i] = d * up[i] * sg * (1f + g * (1f - sg));
            dup[i] = d * g * sg;
        }
    }

    // ---------------------------------------------------------------- launchers

    /// <summary>y = op(x) for n elements; <paramref name="strided"/> maps y's linear index to x's offset (null: x contiguous).</summary>
    public static void Unary<TOp>(KernelContext k, TOp op, ArrayView<float> x, ArrayView<float> y, long n, StridedIndex? strided) where TOp : struct, IUnaryOp
    {
        if (n == 0) return;
        var cfg = Launch.Elementwise(k, n);
        if (strided is { } s)
            k.Kernel(Keys<TOp>.UnaryStrided, a => Launch.Load<Action<AcceleratorStream, KernelConfig, TOp, ArrayView<float>, ArrayView<float>, long, StridedIndex>>(a, UnaryStridedKernel<TOp>))(k.Stream, cfg, op, x, y, n, s);
        else
            k.Kernel(Keys<TOp>.Unary, a => Launch.Load<Action<AcceleratorStream, KernelConfig, TOp, ArrayView<float>, ArrayView<float>, long>>(a, UnaryKernel<TOp>))(k.Stream, cfg, op, x, y, n);
    }

    /// <summary>y = op(a, b) for n elements; <paramref name="strided"/> (operands a, b) maps y's linear index (null: both contiguous).</summary>
    public static void Binary<TOp>(KernelContext k, TOp op, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, long n, StridedIndex? strided) where TOp : struct, IBinaryOp
    {
        if (n == 0) return;
        var cfg = Launch.Elementwise(k, n);
        if (strided is { } s)
            k.Kernel(Keys<TOp>.BinaryStrided, acc => Launch.Load<Action<AcceleratorStream, KernelConfig, TOp, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, StridedIndex>>(acc, BinaryStridedKernel<TOp>))(k.Stream, cfg, op, a, b, y, n, s);
        else
            k.Kernel(Keys<TOp>.Binary, acc => Launch.Load<Action<AcceleratorStream, KernelConfig, TOp, ArrayView<float>, ArrayView<float>, ArrayView<float>, long>>(acc, BinaryKernel<TOp>))(k.Stream, cfg, op, a, b, y, n);
    }

    /// <summary>Sets n 4-byte elements to <paramref name="bits"/>.</summary>
    public static void Fill32(KernelContext k, ArrayView<int> y, long n, int bits)
    {
        if (n == 0) return;
        k.Kernel("Elementwise.Fill32", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<int>, long, int>>(a, Fill32Kernel))(k.Stream, Launch.Elementwise(k, n), y, n, bits);
    }

    /// <summary>Sets n 2-byte elements to <paramref name="bits"/>.</summary>
    public static void Fill16(KernelContext k, ArrayView<ushort> y, long n, ushort bits)
    {
        if (n == 0) return;
        k.Kernel("Elementwise.Fill16", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<ushort>, long, int>>(a, Fill16Kernel))(k.Stream, Launch.Elementwise(k, n), y, n, bits);
    }

    public static void SiluGate(KernelContext k, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> y, long n)
    {
        if (n == 0) return;
        k.Kernel("Elementwise.SiluGate", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, long>>(a, SiluGateKernel))(k.Stream, Launch.Elementwise(k, n), gate, up, y, n);
    }

    public static void SiluGateBackward(KernelContext k, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> dy, ArrayView<float> dgate, ArrayView<float> dup, long n)
    {
        if (n == 0) return;
        k.Kernel("Elementwise.SiluGateBackward", a => Launch.Load<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long>>(a, SiluGateBackwardKernel))(k.Stream, Launch.Elementwise(k, n), gate, up, dy, dgate, dup, n);
    }
}
