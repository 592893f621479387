using System.Diagnostics;
using System.Globalization;
using ILGPU;
using ILGPU.Runtime;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Kernels;

/// <summary>Device-side correctness check and timings of the matmul and attention kernels, runnable inside the app (the GPU machine has no test host).</summary>
/// <remarks>
/// <see cref="Check"/> compares every kernel path on this accelerator with the exact product within GemmErrorModel's
/// per-element bound (GEMM) and with CpuAttention (attention) on mid-sized odd shapes; <see cref="Run"/> times SGEMM (naive, tiled), the bf16/f16 tensor-core GEMM
/// and attention forward / forward+backward at the sizes torch_ref.py uses, printing ms and TFLOP/s (optionally as JSON
/// lines shaped like torch_ref's, so ratios are a join on op/dtype/shape). On the CPU accelerator both shrink the sizes
/// to a smoke test. FLOPs: GEMM 2mnk; attention forward 4·B·NH·Tq·Tk·HS (non-causal), forward+backward 3.5× that.
/// </remarks>
public static class KernelBench
{
    /// <summary>Runs the device-vs-CPU comparisons; returns true when all pass. Lines: "check NAME ... ok|FAIL" or JSON.</summary>
    public static bool Check(KernelContext k, TextWriter log, bool json = false)
    {
        bool small = k.IsCpu;
        bool ok = true;
        var rng = new Random(1234);
        (int m, int n, int kk) g = small ? (37, 41, 45) : (1000, 1100, 1200);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                ok &= CheckGemm(k, log, json, "tiled", g.m, g.n, g.kk, ta, tb, rng);
                ok &= CheckGemm(k, log, json, "bf16", g.m, g.n, g.kk, ta, tb, rng);
            }
        ok &= CheckGemm(k, log, json, "f16", g.m, g.n, g.kk, false, true, rng);
        ok &= CheckGemm(k, log, json, "naive", small ? 9 : 300, small ? 13 : 200, small ? 11 : 500, true, false, rng);
        ok &= CheckGemm(k, log, json, "dispatch", small ? 70 : 2049, small ? 65 : 257, small ? 66 : 129, false, false, rng);

        int t = small ? 20 : 300;
        foreach (int hs in small ? new[] { 16, 130 } : new[] { 64, 128, 256, 80 })
            foreach (AttnMask mask in new[] { AttnMask.None, AttnMask.Causal })
                ok &= CheckAttention(k, log, json, new AttentionShape(2, 4, 2, t, t + (mask == AttnMask.Causal ? 17 : 0), hs, 1f / MathF.Sqrt(hs), mask),
                                     padded: mask == AttnMask.Causal, rng);
        return ok;
    }

    /// <summary>Times every kernel at benchmark sizes (tiny ones on the CPU accelerator) and prints one line per measurement.</summary>
    public static void Run(KernelContext k, TextWriter log, bool json = false)
    {
        bool small = k.IsCpu;
        string device = k.Accelerator.Name;
        int[] sizes = small ? [64] : [1024, 2048, 4096];
        foreach (int n in sizes)
        {
            using var a = k.Accelerator.Allocate1D<float>((long)n * n);
            using var b = k.Accelerator.Allocate1D<float>((long)n * n);
            using var c = k.Accelerator.Allocate1D<float>((long)n * n);
            using var a16 = k.Accelerator.Allocate1D<ushort>((long)n * n);
            using var b16 = k.Accelerator.Allocate1D<ushort>((long)n * n);
            Fill(k, a, 1); Fill(k, b, 2); Fill16(k, a16, 3); Fill16(k, b16, 4);
            double flops = 2.0 * n * n * n;
            Emit(log, json, device, "gemm", "tiled", "fp32", [n, n, n], flops,
                Time(k, () => MatMulKernels.SgemmTiled(k, 1, n, n, n, 1f, a.View, n, 0, false, b.View, n, 0, false, 0f, c.View, n, 0)));
            Emit(log, json, device, "gemm", "tensorcore", "bf16", [n, n, n], flops,
                Time(k, () => MatMulKernels.GemmBf16(k, 1, n, n, n, 1f, a16.View, n, 0, false, b16.View, n, 0, false, 0f, c.View, n, 0)));
            Emit(log, json, device, "gemm", "tensorcore", "fp16", [n, n, n], flops,
                Time(k, () => MatMulKernels.GemmF16(k, 1, n, n, n, 1f, a16.View, n, 0, false, b16.View, n, 0, false, 0f, c.View, n, 0)));
            Emit(log, json, device, "gemm_tn", "tiled", "fp32", [n, n, n], flops,   // Aᵀ·B, the weight-gradient shape
                Time(k, () => MatMulKernels.SgemmTiled(k, 1, n, n, n, 1f, a.View, n, 0, true, b.View, n, 0, false, 0f, c.View, n, 0)));
            if (n <= 2048)
                Emit(log, json, device, "gemm", "naive", "fp32", [n, n, n], flops,
                    Time(k, () => MatMulKernels.SgemmNaive(k, 1, n, n, n, 1f, a.View, n, 0, false, b.View, n, 0, false, 0f, c.View, n, 0)));
        }

        (int B, int H, int T, int D)[] shapes = small
            ? [(1, 2, 64, 16)]
            : [(8, 8, 1024, 64), (8, 8, 1024, 128), (8, 8, 256, 64), (4, 32, 1024, 128), (1, 32, 4096, 128)];
        foreach (var (bb, h, t, d) in shapes)
        {
            long count = (long)bb * h * t * d;
            var s = new AttentionShape(bb, h, h, t, t, d, 1f / MathF.Sqrt(d), AttnMask.None);
            var l = AttnLayout.Bhtd(h, t, d);
            using var q = k.Accelerator.Allocate1D<float>(count);
            using var kk = k.Accelerator.Allocate1D<float>(count);
            using var v = k.Accelerator.Allocate1D<float>(count);
            using var o = k.Accelerator.Allocate1D<float>(count);
            using var dO = k.Accelerator.Allocate1D<float>(count);
            using var dq = k.Accelerator.Allocate1D<float>(count);
            using var dk = k.Accelerator.Allocate1D<float>(count);
            using var dv = k.Accelerator.Allocate1D<float>(count);
            using var lse = k.Accelerator.Allocate1D<float>((long)bb * h * t);
            Fill(k, q, 5); Fill(k, kk, 6); Fill(k, v, 7); Fill(k, dO, 8);
            double flops = 4.0 * bb * h * t * t * d;
            void Fwd() => AttentionKernels.Forward(k, s, q.View, l, kk.View, l, v.View, l, default, o.View, l, lse.View);
            Emit(log, json, device, "attention_fwd", "flash", "fp32", [bb, h, t, d], flops, Time(k, Fwd));
            Emit(log, json, device, "attention_fwd_bwd", "flash", "fp32", [bb, h, t, d], 3.5 * flops, Time(k, () =>
            {
                Fwd();
                AttentionKernels.Backward(k, s, q.View, l, kk.View, l, v.View, l, default, o.View, l, lse.View, dO.View, l, dq.View, dk.View, dv.View);
            }));
            var sc = s with { Mask = AttnMask.Causal };
            Emit(log, json, device, "attention_fwd_causal", "flash", "fp32", [bb, h, t, d], flops / 2,
                Time(k, () => AttentionKernels.Forward(k, sc, q.View, l, kk.View, l, v.View, l, default, o.View, l, lse.View)));
        }
    }

    // ---- checks ----------------------------------------------------------------------------------------------------

    private static unsafe bool CheckGemm(KernelContext k, TextWriter log, bool json, string path, int m, int n, int kd, bool ta, bool tb, Random rng)
    {
        if (path == "tiled" && !MatMulKernels.CanRunTiles(k)) return true;   // the forced tiled path needs 256-thread groups
        int lda = ta ? m : kd, ldb = tb ? kd : n;
        float[] a = RandomFloats(rng, m * kd), b = RandomFloats(rng, kd * n);
        bool half = path is "bf16" or "f16";
        ushort[] a16 = half ? Round(a, path == "f16") : [], b16 = half ? Round(b, path == "f16") : [];
        float[] c0 = RandomFloats(rng, m * n);
        float alpha = 1.25f, beta = path == "naive" ? 0.5f : 0f;
        var (reference, bound) = GemmErrorModel.Reference(1, m, n, kd, alpha, a, 0, lda, 0, ta, b, 0, ldb, 0, tb, beta, c0, 0, n, 0,
            half ? GemmErrorModel.TruncatedRoundoff : GemmErrorModel.Roundoff);

        using var dc = k.Accelerator.Allocate1D(c0);
        if (half)
        {
            using var da = k.Accelerator.Allocate1D(a16);
            using var db = k.Accelerator.Allocate1D(b16);
            if (path == "f16") MatMulKernels.GemmF16(k, 1, m, n, kd, alpha, da.View, lda, 0, ta, db.View, ldb, 0, tb, beta, dc.View, n, 0);
            else MatMulKernels.GemmBf16(k, 1, m, n, kd, alpha, da.View, lda, 0, ta, db.View, ldb, 0, tb, beta, dc.View, n, 0);
        }
        else
        {
            using var da = k.Accelerator.Allocate1D(a);
            using var db = k.Accelerator.Allocate1D(b);
            switch (path)
            {
                case "naive": MatMulKernels.SgemmNaive(k, 1, m, n, kd, alpha, da.View, lda, 0, ta, db.View, ldb, 0, tb, beta, dc.View, n, 0); break;
                case "tiled": MatMulKernels.SgemmTiled(k, 1, m, n, kd, alpha, da.View, lda, 0, ta, db.View, ldb, 0, tb, beta, dc.View, n, 0); break;
                default: MatMulKernels.Sgemm(k, 1, m, n, kd, alpha, da.View, lda, 0, ta, db.View, ldb, 0, tb, beta, dc.View, n, 0); break;
            }
        }
        k.Synchronize();
        float[] actual = dc.GetAsArray1D();
        // Every element within its own worst-case fp32 bound of the exact product (GemmErrorModel).
        double maxAbs = 0, scale = 0;
        for (int i = 0; i < actual.Length; i++) (maxAbs, scale) = (Math.Max(maxAbs, Math.Abs(reference[i] - actual[i])), Math.Max(scale, Math.Abs(reference[i])));
        bool pass = GemmErrorModel.Compare(reference, bound, actual).Worst < 0;
        Report(log, json, $"gemm_{path}", $"{m}x{n}x{kd} {(ta ? 'T' : 'N')}{(tb ? 'T' : 'N')}", maxAbs, scale, pass);
        return pass;
    }

    private static unsafe bool CheckAttention(KernelContext k, TextWriter log, bool json, AttentionShape s, bool padded, Random rng)
    {
        // q in (B, T, NH, HS) — what a projection produces — k/v heads-major, o and dO heads-major.
        var lq = AttnLayout.Bthd(s.NH, s.Tq, s.HS);
        var lkv = AttnLayout.Bhtd(s.NKV, s.Tk, s.HS);
        var lo = AttnLayout.Bhtd(s.NH, s.Tq, s.HS);
        int nq = s.B * s.NH * s.Tq * s.HS, nk = s.B * s.NKV * s.Tk * s.HS;
        float[] q = RandomFloats(rng, nq, 2f), kk = RandomFloats(rng, nk, 2f), v = RandomFloats(rng, nk), dO = RandomFloats(rng, nq);
        int[] pad = new int[s.B * s.Tk];
        for (int b = 0; b < s.B; b++)
            for (int j = 0; j < s.Tk; j++)
                pad[b * s.Tk + j] = !padded || b == 0 || j >= s.Tk / 4 ? 1 : 0;
        float[] o = new float[nq], lse = new float[s.B * s.NH * s.Tq], dq = new float[nq], dk = new float[nk], dv = new float[nk];
        fixed (float* pq = q, pk = kk, pv = v, pdo = dO, po = o, pl = lse, pdq = dq, pdk = dk, pdv = dv)
        fixed (int* pp = pad)
        {
            int* ppad = padded ? pp : null;
            CpuAttention.Forward(s, pq, lq, pk, lkv, pv, lkv, ppad, po, lo, pl);
            CpuAttention.Backward(s, pq, lq, pk, lkv, pv, lkv, ppad, po, lo, pl, pdo, lo, pdq, pdk, pdv);
        }

        var acc = k.Accelerator;
        using var bq = acc.Allocate1D(q);
        using var bk = acc.Allocate1D(kk);
        using var bv = acc.Allocate1D(v);
        using var bdo = acc.Allocate1D(dO);
        using var bp = acc.Allocate1D(pad);
        using var bo = acc.Allocate1D<float>(nq);
        using var bl = acc.Allocate1D<float>(lse.Length);
        using var bdq = acc.Allocate1D<float>(nq);
        using var bdk = acc.Allocate1D<float>(nk);
        using var bdv = acc.Allocate1D<float>(nk);
        ArrayView<int> padView = padded ? bp.View : default;
        AttentionKernels.Forward(k, s, bq.View, lq, bk.View, lkv, bv.View, lkv, padView, bo.View, lo, bl.View);
        AttentionKernels.Backward(k, s, bq.View, lq, bk.View, lkv, bv.View, lkv, padView, bo.View, lo, bl.View, bdo.View, lo,
                                  bdq.View, bdk.View, bdv.View);
        k.Synchronize();
        bool all = true;
        string shape = $"B{s.B} NH{s.NH} NKV{s.NKV} Tq{s.Tq} Tk{s.Tk} HS{s.HS} {s.Mask}{(padded ? " padded" : "")}";
        foreach (var (name, expected, actual) in new[]
                 {
                     ("o", o, bo.GetAsArray1D()), ("lse", lse, bl.GetAsArray1D()),
                     ("dq", dq, bdq.GetAsArray1D()), ("dk", dk, bdk.GetAsArray1D()), ("dv", dv, bdv.GetAsArray1D()),
                 })
        {
            var (maxAbs, scale) = Compare(expected, actual);
            bool pass = maxAbs <= 1e-4 * Math.Max(1.0, scale);
            Report(log, json, $"attention_{name}", shape, maxAbs, scale, pass);
            all &= pass;
        }
        return all;
    }

    /// <summary>Max |expected − actual| over finite expected values (infinities must match exactly, NaN counts as +∞ error) and max |expected|.</summary>
    private static (double MaxAbs, double Scale) Compare(float[] expected, float[] actual)
    {
        double maxAbs = 0, scale = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsInfinity(e)) { if (e != a) maxAbs = double.PositiveInfinity; continue; }
            double d = Math.Abs((double)e - a);
            if (double.IsNaN(d)) d = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, d);
            scale = Math.Max(scale, Math.Abs(e));
        }
        return (maxAbs, scale);
    }

    private static void Report(TextWriter log, bool json, string name, string shape, double maxAbs, double scale, bool pass)
    {
        if (json)
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"check\": \"{name}\", \"shape\": \"{shape}\", \"max_abs_err\": {Num(maxAbs)}, \"max_abs_ref\": {Num(scale)}, \"ok\": {(pass ? "true" : "false")}}}"));
        else
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"check {name,-18} {shape,-44} max|err| {maxAbs:E2} (|ref| ≤ {scale:G3})  {(pass ? "ok" : "FAIL")}"));
    }

    // ---- timing ----------------------------------------------------------------------------------------------------

    /// <summary>Median wall time in ms of one synchronized call, after a warm-up call (which also compiles the kernel).</summary>
    private static double Time(KernelContext k, Action run)
    {
        run();
        k.Synchronize();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || (times.Count < 20 && total.Elapsed.TotalSeconds < 1.0))
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            k.Synchronize();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static void Emit(TextWriter log, bool json, string device, string op, string kernel, string dtype, int[] shape, double flops, double ms)
    {
        double tflops = flops / ms / 1e9;
        if (json)
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"ref\": \"llada\", \"op\": \"{op}\", \"kernel\": \"{kernel}\", \"dtype\": \"{dtype}\", \"shape\": [{string.Join(", ", shape)}], \"ms\": {ms:G6}, \"tflops\": {tflops:G6}, \"device\": \"{device}\"}}"));
        else
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{op,-22} {kernel,-10} {dtype,-5} {string.Join("x", shape),-18} {ms,10:F3} ms {tflops * 1000,10:F1} GFLOP/s"));
        log.Flush();
    }

    private static string Num(double x) => double.IsFinite(x) ? x.ToString("G6", CultureInfo.InvariantCulture) : "null";

    // ---- data ------------------------------------------------------------------------------------------------------

    private static float[] RandomFloats(Random rng, int n, float amplitude = 1f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = amplitude * (2f * rng.NextSingle() - 1f);
        return x;
    }

    /// <summary>Rounds in place to the 16-bit format (so the CPU reference sees the exact kernel inputs) and returns the bits.</summary>
    private static ushort[] Round(float[] x, bool f16)
    {
        var bits = new ushort[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            if (f16)
            {
                System.Half h = (System.Half)x[i];
                bits[i] = BitConverter.HalfToUInt16Bits(h);
                x[i] = (float)h;
            }
            else
            {
                uint u = BitConverter.SingleToUInt32Bits(x[i]);
                bits[i] = (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
                x[i] = BitConverter.UInt32BitsToSingle((uint)bits[i] << 16);
            }
        }
        return bits;
    }

    private static void Fill(KernelContext k, MemoryBuffer1D<float, Stride1D.Dense> buf, int seed)
    {
        var rng = new Random(seed);
        buf.CopyFromCPU(RandomFloats(rng, (int)buf.Length));
    }

    private static void Fill16(KernelContext k, MemoryBuffer1D<ushort, Stride1D.Dense> buf, int seed)
    {
        var rng = new Random(seed);
        var x = RandomFloats(rng, (int)buf.Length);
        buf.CopyFromCPU(Round(x, f16: true));   // small values: valid as both f16 and (reinterpreted) bf16 bit patterns are finite
    }
}
