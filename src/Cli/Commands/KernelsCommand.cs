using LLaDA.Diagnostics;
using LLaDA.Kernels;

namespace LLaDA.Cli.Commands;

/// <summary>`llada kernels ptx DIR | check | bench [--device cuda|ilgpu-cpu] [--json]`: the matmul/attention kernels' check (KernelCheck's "kernel.*" checks: every GEMM path vs the exact product, attention vs the CPU backend), timings (KernelBench: JSON lines shaped like torch_ref.py's) and the PTX of every kernel for ptxas -v (KernelPtx).</summary>
public static class KernelsCommand
{
    public static int Run(Options o)
    {
        if (o.Positional.Count == 0) throw new OptionException("kernels needs: ptx DIR, check or bench");
        string what = o.Positional[0];
        bool json = o.Flag("json");
        string device = o.String("device") ?? "cuda";
        if (what == "ptx")
        {
            string dir = o.Positional.Count > 1 ? o.Positional[1] : o.String("out") ?? "ptx";
            o.RejectUnknown();
            var (paths, failures) = KernelPtx.WriteAll(dir);                 // every [Kernel] of the backend
            foreach (var f in failures) Console.WriteLine($"PTX FAIL {f}");
            foreach (var p in paths) Console.WriteLine(p);
            return failures.Count > 0 ? 1 : 0;
        }
        o.RejectUnknown();
        if (Devices.Get(device) is not IlgpuBackend backend) throw new OptionException($"--device {device} is not an ILGPU device");
        var k = backend.Kernels;
        Console.Error.WriteLine($"device: {k.Accelerator.Name} ({k.Accelerator.AcceleratorType}), warp {k.Accelerator.WarpSize}, max group {k.Accelerator.MaxNumThreadsPerGroup}");
        switch (what)
        {
            case "check":
                // Small shapes on ILGPU's CPU accelerator, model-sized ones on a GPU; one line (or JSON line) per check and shape.
                var size = k.IsCpu ? KernelCheck.Size.Tiny : KernelCheck.Size.Moderate;
                bool ok = KernelCheck.RunAll(backend, size, "kernel.", r => Console.WriteLine(json ? r.ToJson() : r.ToString())).All(r => r.Passed);
                Console.Error.WriteLine(ok ? "check: all ok" : "check: FAILED");
                return ok ? 0 : 1;
            case "bench":
                KernelBench.Run(k, Console.Out, json);
                return 0;
            default:
                throw new OptionException($"kernels {what}: expected ptx, check or bench");
        }
    }
}
