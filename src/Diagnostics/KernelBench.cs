using System.Globalization;
using ILGPU;
using ILGPU.Runtime;
using LLaDA.Kernels;
using LLaDA.Tensors;

namespace LLaDA.Diagnostics;

/// <summary>Timings of the matmul and attention kernels on an ILGPU accelerator, runnable inside the app (the GPU machine has no test host).</summary>
/// <remarks>
/// Their correctness check is <see cref="KernelCheck"/>'s "kernel.*" checks. <see cref="Run"/> times SGEMM (naive, tiled), the bf16/f16 tensor-core GEMM
/// and attention forward / forward+backward at the sizes torch_ref.py uses, printing ms and TFLOP/s (optionally as JSON
/// lines shaped like torch_ref's, so ratios are a join on op/dtype/shape). On the CPU accelerator both shrink the sizes
/// to a smoke test. Each figure is the median of BenchTimer's runs (one warm-up run compiles the kernel). FLOPs: GEMM 2mnk; attention forward 4·B·NH·Tq·Tk·HS (non-causal), forward+backward 3.5× that.
/// </remarks>
public static class KernelBench
{
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
            // The mixed GEMM of IBackend.MatMul: f32 activations × BF16 weights stored (out, in), x·Wᵀ (tensor cores on CUDA).
            Emit(log, json, device, "gemm_mixed_nt", "mixed", "fp32xbf16", [n, n, n], flops,
                Time(k, () => MatMulKernels.GemmMixed(k, false, 1, n, n, n, 1f, a.View, n, 0, false, b16.View, n, 0, true, 0f, c.View, n, 0)));
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

    // ---- timing ----------------------------------------------------------------------------------------------------

    /// <summary>Median wall time in ms of one synchronized call (BenchTimer: one warm-up call, which also compiles the kernel, then ≥ 3 calls within 1 s).</summary>
    private static double Time(KernelContext k, Action run) => BenchTimer.Measure(() =>
    {
        run();
        k.Synchronize();
    }, budgetSeconds: 1.0, warmup: 1).MedianMs;

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

    // ---- data ------------------------------------------------------------------------------------------------------

    private static void Fill(KernelContext k, MemoryBuffer1D<float, Stride1D.Dense> buf, int seed)
        => buf.CopyFromCPU(HostData.RandomFloats(new Random(seed), (int)buf.Length));

    private static void Fill16(KernelContext k, MemoryBuffer1D<ushort, Stride1D.Dense> buf, int seed)
        // small values: valid as both f16 and (reinterpreted) bf16 bit patterns are finite
        => buf.CopyFromCPU(HostData.Round16(HostData.RandomFloats(new Random(seed), (int)buf.Length), f16: true));
}
