using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LLaDA.Tensors.Ops;

namespace LLaDA.Tensors.Cpu;

// Elementwise families: strided copy with dtype conversion, unary and binary functors with broadcasting, where.
public sealed unsafe partial class CpuBackend
{
    public void Copy(Tensor src, Tensor dst)
    {
        if (src.DType == dst.DType && src.IsContiguous && dst.IsContiguous)
        {
            // One flat run: split it between the workers (a single-row copy would otherwise use one core).
            byte* s0 = Addr(src), d0 = Addr(dst);
            long bytes = src.Numel * src.DType.SizeOf();
            CpuParallel.For((bytes + 4095) / 4096, 4096, (c0, c1) =>
            {
                long b0 = c0 * 4096, b1 = Math.Min(bytes, c1 * 4096);
                Buffer.MemoryCopy(s0 + b0, d0 + b0, b1 - b0, b1 - b0);
            });
            return;
        }
        var it = CpuStrided.Collapse(dst.Shape, src.Layout.StridesArr, dst.Layout.StridesArr);
        byte* ps = Addr(src), pd = Addr(dst);
        DType st = src.DType, dt = dst.DType;
        int es = st.SizeOf(), ed = dt.SizeOf();
        long inner = it.Inner, ss = it.InnerStride(0), ds = it.InnerStride(1);
        if (st == dt && es == 4 && ds == 1 && ss != 1 && it.Rank >= 2 && it.Strides[0][^2] == 1)
        {
            CopyTransposed32(it, (uint*)ps, (uint*)pd);
            return;
        }
        CpuParallel.For(it.Rows, inner * 4, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
                CopyRow(ps + it.RowOffset(0, r) * es, st, ss, pd + it.RowOffset(1, r) * ed, dt, ds, inner);
        });
    }

    /// <summary>Cache-blocked copy of a transposed 32-bit layout: src(r, i) at r + i·ss, dst(r, i) at r·dr + i.</summary>
    /// <remarks>64×64 blocks (so each block touches few pages), each made of 16×16 tiles transposed in AVX-512 registers where available; whole cache lines are read and written.</remarks>
    private static void CopyTransposed32(CpuStrided it, uint* src, uint* dst)
    {
        const int Block = 64, Tile = 16;
        long rows = it.Shape[^2], inner = it.Inner, ss = it.InnerStride(0), dr = it.Strides[1][^2];
        long outer = it.Rows / rows, rowBlocks = (rows + Block - 1) / Block;
        bool avx512 = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        CpuParallel.For(outer * rowBlocks, Block * inner * 8, (t0, t1) =>
        {
            for (long t = t0; t < t1; t++)
            {
                long o = t / rowBlocks, rb0 = t % rowBlocks * Block, rb1 = Math.Min(rows, rb0 + Block);
                uint* s = src + it.RowOffset(0, o * rows);
                uint* d = dst + it.RowOffset(1, o * rows);
                for (long ib0 = 0; ib0 < inner; ib0 += Block)
                {
                    long ib1 = Math.Min(inner, ib0 + Block);
                    for (long r0 = rb0; r0 < rb1; r0 += Tile)
                        for (long i0 = ib0; i0 < ib1; i0 += Tile)
                        {
                            long r1 = Math.Min(rb1, r0 + Tile), i1 = Math.Min(ib1, i0 + Tile);
                            if (avx512 && r1 - r0 == Tile && i1 - i0 == Tile)
                            {
                                // Tile src'[i][r] = s[i·ss + r] (16 rows of 16 contiguous r) → d[r·dr + i]: a register transpose.
                                Simd512.TransposeBlock((float*)(s + i0 * ss + r0), ss, (float*)(d + r0 * dr + i0), dr, 1f);
                                continue;
                            }
                            for (long i = i0; i < i1; i++)
                                for (long r = r0; r < r1; r++)
                                    d[r * dr + i] = s[r + i * ss];
                        }
                }
            }
        });
    }

    private static void CopyRow(byte* src, DType st, long ss, byte* dst, DType dt, long ds, long n)
    {
        if (st == dt)
        {
            int e = st.SizeOf();
            if (ss == 1 && ds == 1)
            {
                Buffer.MemoryCopy(src, dst, n * e, n * e);
                return;
            }
            if (e == 4)
            {
                uint* s = (uint*)src, d = (uint*)dst;
                for (long i = 0; i < n; i++) d[i * ds] = s[i * ss];
            }
            else
            {
                ushort* s = (ushort*)src, d = (ushort*)dst;
                for (long i = 0; i < n; i++) d[i * ds] = s[i * ss];
            }
            return;
        }
        for (long i = 0; i < n; i++)
        {
            byte* s = src + i * ss * st.SizeOf();
            byte* d = dst + i * ds * dt.SizeOf();
            if (st == DType.I32 && dt != DType.I32)
            {
                Write(d, dt, *(int*)s);
                continue;
            }
            float v = Read(s, st);
            if (dt == DType.I32) *(int*)d = (int)v;
            else Write(d, dt, v);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Read(byte* p, DType t) => t switch
    {
        DType.F32 => *(float*)p,
        DType.BF16 => Half16.FromBf16(*(ushort*)p),
        DType.F16 => Half16.FromF16(*(ushort*)p),
        _ => *(int*)p,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(byte* p, DType t, float v)
    {
        switch (t)
        {
            case DType.F32: *(float*)p = v; break;
            case DType.BF16: *(ushort*)p = Half16.ToBf16(v); break;
            case DType.F16: *(ushort*)p = Half16.ToF16(v); break;
            default: *(int*)p = (int)v; break;
        }
    }

    public void Unary<TOp>(TOp op, Tensor x, Tensor y) where TOp : struct, IUnaryOp
    {
        float* px = F(x), py = F(y);
        if (x.IsContiguous)
        {
            bool nt = CpuStream.Use(y.Numel * 4) && px != py;
            CpuParallel.For(y.Numel, 8, (s, e) =>
            {
                UnaryRow(op, px + s, py + s, e - s, nt);
                CpuStream.Fence(nt);
            });
            return;
        }
        var it = CpuStrided.Collapse(y.Shape, x.Layout.StridesArr, y.Layout.StridesArr);
        long inner = it.Inner, sx = it.InnerStride(0);
        CpuParallel.For(it.Rows, inner * 8, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                float* a = px + it.RowOffset(0, r), b = py + it.RowOffset(1, r);
                if (sx == 1) UnaryRow(op, a, b, inner, false);
                else
                    for (long i = 0; i < inner; i++) b[i] = op.Apply(a[i * sx]);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnaryRow<TOp>(TOp op, float* x, float* y, long n, bool nt) where TOp : struct, IUnaryOp
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            if (nt)
                for (long h = CpuStream.Head64(y, n); i < h; i++) y[i] = op.Apply(x[i]);
            for (; i <= n - 32; i += 32)
            {
                CpuStream.Store(op.Apply(Vector512.Load(x + i)), y + i, nt);
                CpuStream.Store(op.Apply(Vector512.Load(x + i + 16)), y + i + 16, nt);
            }
            for (; i <= n - 16; i += 16) CpuStream.Store(op.Apply(Vector512.Load(x + i)), y + i, nt);
        }
        else if (nt)
            for (long h = CpuStream.Head(y, n); i < h; i++) y[i] = op.Apply(x[i]);
        for (; i <= n - 16; i += 16)
        {
            CpuStream.Store(op.Apply(Vector256.Load(x + i)), y + i, nt);
            CpuStream.Store(op.Apply(Vector256.Load(x + i + 8)), y + i + 8, nt);
        }
        for (; i <= n - 8; i += 8) CpuStream.Store(op.Apply(Vector256.Load(x + i)), y + i, nt);
        for (; i < n; i++) y[i] = op.Apply(x[i]);
    }

    public void Binary<TOp>(TOp op, Tensor a, Tensor b, Tensor y) where TOp : struct, IBinaryOp
    {
        float* pa = F(a), pb = F(b), py = F(y);
        bool nt = CpuStream.Use(y.Numel * 4) && pa != py && pb != py;
        if (a.IsContiguous && b.IsContiguous && a.Numel == y.Numel && b.Numel == y.Numel)
        {
            CpuParallel.For(y.Numel, 12, (s, e) =>
            {
                BinaryRow(op, pa + s, 1, pb + s, 1, py + s, e - s, nt);
                CpuStream.Fence(nt);
            });
            return;
        }
        var it = CpuStrided.Collapse(y.Shape, a.Layout.StridesArr, b.Layout.StridesArr, y.Layout.StridesArr);
        long inner = it.Inner, sa = it.InnerStride(0), sb = it.InnerStride(1);
        CpuParallel.For(it.Rows, inner * 12, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
                BinaryRow(op, pa + it.RowOffset(0, r), sa, pb + it.RowOffset(1, r), sb, py + it.RowOffset(2, r), inner, nt && it.InnerStride(2) == 1);
            CpuStream.Fence(nt);
        });
    }

    private static void BinaryRow<TOp>(TOp op, float* a, long sa, float* b, long sb, float* y, long n, bool nt) where TOp : struct, IBinaryOp
    {
        long i = 0;
        if (sa == 1 && sb == 1)
        {
            if (nt)
                for (long h = CpuStream.Head(y, n); i < h; i++) y[i] = op.Apply(a[i], b[i]);
            for (; i <= n - 8; i += 8) CpuStream.Store(op.Apply(Vector256.Load(a + i), Vector256.Load(b + i)), y + i, nt);
            for (; i < n; i++) y[i] = op.Apply(a[i], b[i]);
        }
        else if (sa == 1 && sb == 0)
        {
            var vb = Vector256.Create(*b);
            if (nt)
                for (long h = CpuStream.Head(y, n); i < h; i++) y[i] = op.Apply(a[i], *b);
            for (; i <= n - 8; i += 8) CpuStream.Store(op.Apply(Vector256.Load(a + i), vb), y + i, nt);
            for (; i < n; i++) y[i] = op.Apply(a[i], *b);
        }
        else if (sa == 0 && sb == 1)
        {
            var va = Vector256.Create(*a);
            if (nt)
                for (long h = CpuStream.Head(y, n); i < h; i++) y[i] = op.Apply(*a, b[i]);
            for (; i <= n - 8; i += 8) CpuStream.Store(op.Apply(va, Vector256.Load(b + i)), y + i, nt);
            for (; i < n; i++) y[i] = op.Apply(*a, b[i]);
        }
        else
        {
            for (; i < n; i++) y[i] = op.Apply(a[i * sa], b[i * sb]);
        }
    }

    public void Where(Tensor cond, Tensor a, Tensor b, Tensor y)
    {
        var it = CpuStrided.Collapse(y.Shape, cond.Layout.StridesArr, a.Layout.StridesArr, b.Layout.StridesArr, y.Layout.StridesArr);
        byte* pc = Addr(cond);
        uint* pa = (uint*)Addr(a), pb = (uint*)Addr(b), py = (uint*)Addr(y);
        bool condInt = cond.DType == DType.I32;
        long inner = it.Inner, sc = it.InnerStride(0), sa = it.InnerStride(1), sb = it.InnerStride(2);
        CpuParallel.For(it.Rows, inner * 16, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                byte* c = pc + it.RowOffset(0, r) * 4;
                uint* ra = pa + it.RowOffset(1, r), rb = pb + it.RowOffset(2, r), ry = py + it.RowOffset(3, r);
                for (long i = 0; i < inner; i++)
                {
                    bool take = condInt ? ((int*)c)[i * sc] != 0 : ((float*)c)[i * sc] != 0f;
                    ry[i] = take ? ra[i * sa] : rb[i * sb];
                }
            }
        });
    }
}
