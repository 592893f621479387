using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LLaDA.Tensors.Cpu;

// Packing copies a block of op(A) or op(B) into the order the micro-kernel reads it, so the kernel streams both
// operands with unit stride whatever the transposes and leading dimensions were:
//
//   A block (mc×kc of op(A)) → ⌈mc/MR⌉ micro-panels, panel q at dst + q·MR·kc, element (r, p) at [p·MR + r]
//   B block (kc×nc of op(B)) → ⌈nc/NR⌉ micro-panels, panel q at dst + q·NR·kc, element (p, j) at [p·NR + j]
//
// Both are the same operation on a "lane × step" view of the source: a panel of `width` lanes (rows of A, columns of
// B) and kc steps (the k index), stored step-major. Lanes past the matrix edge are written as zeros, so the kernel
// computes harmless zero products there and never branches on edges.
//
//   op(A), transA = false: lane i, step p at a[i·lda + p]  → steps contiguous → transposing pack (8×8 / 4×4 / 2×4 register transposes)
//   op(A), transA = true : lane i, step p at a[p·lda + i]  → lanes contiguous → row copies
//   op(B), transB = false: lane j, step p at b[p·ldb + j]  → lanes contiguous → row copies
//   op(B), transB = true : lane j, step p at b[j·ldb + p]  → steps contiguous → transposing pack
public static unsafe partial class CpuMatMul
{
    /// <summary>Packs rows [i0, i0+mc) × steps [p0, p0+kc) of op(A) into MR-row micro-panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA<TKernel>(float* a, nint lda, bool transA, int i0, int mc, int p0, int kc, float* dst)
        where TKernel : struct, IMicroKernel
    {
        int mr = TKernel.MR;
        if (transA)
        {
            PackLanesContiguous(a + (nint)p0 * lda + i0, lda, mc, kc, mr, dst);
            return;
        }

        for (int ir = 0; ir < mc; ir += mr)
        {
            PackStepsContiguous(a + (nint)(i0 + ir) * lda + p0, lda, Math.Min(mr, mc - ir), kc, mr, dst + (nint)ir * kc);
        }
    }

    /// <summary>Packs steps [p0, p0+kc) × columns [j0, j0+nc) of op(B) into NR-column micro-panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB<TKernel>(float* b, nint ldb, bool transB, int p0, int kc, int j0, int nc, float* dst)
        where TKernel : struct, IMicroKernel
    {
        int nr = TKernel.NR;
        if (!transB)
        {
            PackLanesContiguous(b + (nint)p0 * ldb + j0, ldb, nc, kc, nr, dst);
            return;
        }

        for (int jr = 0; jr < nc; jr += nr)
        {
            PackStepsContiguous(b + (nint)(j0 + jr) * ldb + p0, ldb, Math.Min(nr, nc - jr), kc, nr, dst + (nint)jr * kc);
        }
    }

    /// <summary>
    /// Packs all panels of a block whose lanes are contiguous (lane l, step p at src[p·ld + l], l &lt; lanes) into
    /// ⌈lanes/width⌉ panels, panel q at dst + q·width·kc with element (l, p) at [p·width + l − q·width].
    /// </summary>
    /// <remarks>
    /// Step-major, so each source row segment (one page or a few) is read once for all panels: with ld ≥ 1024 a
    /// panel-major order touches a new 4 KiB page on every step of every panel (a TLB miss each, measured 2× slower).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackLanesContiguous(float* src, nint ld, int lanes, int kc, int width, float* dst)
    {
        nint panelStride = (nint)width * kc;
        bool prefetch = Sse.IsSupported && lanes <= 256 && ld >= 1024;
        for (int p = 0; p < kc; p++)
        {
            float* s = src + p * ld;
            float* d = dst + (nint)p * width;
            if (prefetch)
            {
                // Segments of at most 256 floats on separate pages defeat the hardware prefetchers (each ends before a
                // stream is detected), so request the segment 8 steps ahead (+5–10 % on transposed-A shapes such as
                // m4096·n64·k1024); prefetches never fault, so running past the last row is harmless.
                float* ahead = s + 8 * ld;
                for (int x = 0; x < lanes; x += 16)
                {
                    Sse.Prefetch0(ahead + x);
                }
            }

            int l = 0;
            for (; l + width <= lanes; l += width, d += panelStride)
            {
                CopyLanes(s + l, d, width);
            }

            if (l < lanes)
            {
                CopyLanes(s + l, d, lanes - l);
                new Span<float>(d + (lanes - l), width - (lanes - l)).Clear();
            }
        }
    }

    /// <summary>Copies <paramref name="count"/> floats with the widest vectors available.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyLanes(float* s, float* d, int count)
    {
        int l = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; l + 16 <= count; l += 16)
            {
                Vector512.Store(Vector512.Load(s + l), d + l);
            }
        }

        if (Vector256.IsHardwareAccelerated)
        {
            for (; l + 8 <= count; l += 8)
            {
                Vector256.Store(Vector256.Load(s + l), d + l);
            }
        }

        if (Vector128.IsHardwareAccelerated)
        {
            for (; l + 4 <= count; l += 4)
            {
                Vector128.Store(Vector128.Load(s + l), d + l);
            }
        }

        for (; l < count; l++)
        {
            d[l] = s[l];
        }
    }

    /// <summary>Packs a panel whose steps are contiguous (lane l, step p at src[l·ld + p]) into dst[p·width + l].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackStepsContiguous(float* src, nint ld, int lanes, int kc, int width, float* dst)
    {
        int l = 0;
        if (Avx.IsSupported)
        {
            for (; l + 8 <= lanes; l += 8)
            {
                Transpose8Lanes(src + l * ld, ld, kc, width, dst + l);
            }
        }

        if (Sse.IsSupported)
        {
            for (; l + 4 <= lanes; l += 4)
            {
                Transpose4Lanes(src + l * ld, ld, kc, width, dst + l);
            }

            for (; l + 2 <= lanes; l += 2)
            {
                Transpose2Lanes(src + l * ld, ld, kc, width, dst + l);
            }
        }

        for (; l < lanes; l++)
        {
            float* s = src + l * ld;
            float* d = dst + l;
            for (int p = 0; p < kc; p++)
            {
                d[(nint)p * width] = s[p];
            }
        }

        if (lanes < width)
        {
            for (int p = 0; p < kc; p++)
            {
                new Span<float>(dst + (nint)p * width + lanes, width - lanes).Clear();
            }
        }
    }

    /// <summary>Transposes 8 lanes × kc steps (8×8 blocks with unpack, shuffle and 128-bit permutes) into dst[p·width + 0..7].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose8Lanes(float* s0, nint ld, int kc, int width, float* d)
    {
        float* s4 = s0 + 4 * ld;
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            Vector256<float> x0 = Avx.LoadVector256(s0 + p);
            Vector256<float> x1 = Avx.LoadVector256(s0 + ld + p);
            Vector256<float> x2 = Avx.LoadVector256(s0 + 2 * ld + p);
            Vector256<float> x3 = Avx.LoadVector256(s0 + 3 * ld + p);
            Vector256<float> x4 = Avx.LoadVector256(s4 + p);
            Vector256<float> x5 = Avx.LoadVector256(s4 + ld + p);
            Vector256<float> x6 = Avx.LoadVector256(s4 + 2 * ld + p);
            Vector256<float> x7 = Avx.LoadVector256(s4 + 3 * ld + p);

            // Per 128-bit half: t0 = x0[0] x1[0] x0[1] x1[1], t1 = x0[2] x1[2] x0[3] x1[3], ... (steps +4 in the upper half).
            Vector256<float> t0 = Avx.UnpackLow(x0, x1), t1 = Avx.UnpackHigh(x0, x1);
            Vector256<float> t2 = Avx.UnpackLow(x2, x3), t3 = Avx.UnpackHigh(x2, x3);
            Vector256<float> t4 = Avx.UnpackLow(x4, x5), t5 = Avx.UnpackHigh(x4, x5);
            Vector256<float> t6 = Avx.UnpackLow(x6, x7), t7 = Avx.UnpackHigh(x6, x7);

            // u0 = lanes 0..3 at steps 0 | 4, u1 = steps 1 | 5, u2 = steps 2 | 6, u3 = steps 3 | 7; u4..u7 for lanes 4..7.
            Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
            Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
            Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
            Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);

            float* dp = d + (nint)p * width;
            nint w = width;
            Avx.Store(dp, Avx.Permute2x128(u0, u4, 0x20));
            Avx.Store(dp + w, Avx.Permute2x128(u1, u5, 0x20));
            Avx.Store(dp + 2 * w, Avx.Permute2x128(u2, u6, 0x20));
            Avx.Store(dp + 3 * w, Avx.Permute2x128(u3, u7, 0x20));
            Avx.Store(dp + 4 * w, Avx.Permute2x128(u0, u4, 0x31));
            Avx.Store(dp + 5 * w, Avx.Permute2x128(u1, u5, 0x31));
            Avx.Store(dp + 6 * w, Avx.Permute2x128(u2, u6, 0x31));
            Avx.Store(dp + 7 * w, Avx.Permute2x128(u3, u7, 0x31));
        }

        for (; p < kc; p++)
        {
            float* dp = d + (nint)p * width;
            for (int l = 0; l < 8; l++)
            {
                dp[l] = s0[l * ld + p];
            }
        }
    }

    /// <summary>Transposes 4 lanes × kc steps (4×4 blocks with unpack and movlh/movhl) into dst[p·width + 0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose4Lanes(float* s0, nint ld, int kc, int width, float* d)
    {
        float* s1 = s0 + ld;
        float* s2 = s1 + ld;
        float* s3 = s2 + ld;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            Vector128<float> x0 = Sse.LoadVector128(s0 + p);
            Vector128<float> x1 = Sse.LoadVector128(s1 + p);
            Vector128<float> x2 = Sse.LoadVector128(s2 + p);
            Vector128<float> x3 = Sse.LoadVector128(s3 + p);
            Vector128<float> t0 = Sse.UnpackLow(x0, x1);   // x0[0] x1[0] x0[1] x1[1]
            Vector128<float> t1 = Sse.UnpackLow(x2, x3);   // x2[0] x3[0] x2[1] x3[1]
            Vector128<float> t2 = Sse.UnpackHigh(x0, x1);  // x0[2] x1[2] x0[3] x1[3]
            Vector128<float> t3 = Sse.UnpackHigh(x2, x3);  // x2[2] x3[2] x2[3] x3[3]
            float* dp = d + (nint)p * width;
            Sse.Store(dp, Sse.MoveLowToHigh(t0, t1));              // step p:   x0[0] x1[0] x2[0] x3[0]
            Sse.Store(dp + width, Sse.MoveHighToLow(t1, t0));      // step p+1: x0[1] x1[1] x2[1] x3[1]
            Sse.Store(dp + 2 * width, Sse.MoveLowToHigh(t2, t3));  // step p+2
            Sse.Store(dp + 3 * width, Sse.MoveHighToLow(t3, t2));  // step p+3
        }

        for (; p < kc; p++)
        {
            float* dp = d + (nint)p * width;
            dp[0] = s0[p];
            dp[1] = s1[p];
            dp[2] = s2[p];
            dp[3] = s3[p];
        }
    }

    /// <summary>Transposes 2 lanes × kc steps (interleave, then 64-bit stores) into dst[p·width + 0..1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose2Lanes(float* s0, nint ld, int kc, int width, float* d)
    {
        float* s1 = s0 + ld;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            Vector128<float> x0 = Sse.LoadVector128(s0 + p);
            Vector128<float> x1 = Sse.LoadVector128(s1 + p);
            Vector128<float> u0 = Sse.UnpackLow(x0, x1);   // x0[0] x1[0] x0[1] x1[1]
            Vector128<float> u1 = Sse.UnpackHigh(x0, x1);  // x0[2] x1[2] x0[3] x1[3]
            float* dp = d + (nint)p * width;
            Sse.StoreLow(dp, u0);
            Sse.StoreHigh(dp + width, u0);
            Sse.StoreLow(dp + 2 * width, u1);
            Sse.StoreHigh(dp + 3 * width, u1);
        }

        for (; p < kc; p++)
        {
            float* dp = d + (nint)p * width;
            dp[0] = s0[p];
            dp[1] = s1[p];
        }
    }
}
