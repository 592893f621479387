using LLaDA.Kernels;

namespace LLaDA.Cli.Commands;

/// <summary>`llada kernels ptx DIR | check | bench [--device cuda|ilgpu-cpu] [--json]`: the matmul/attention kernels' own check (every path vs CpuMatMul/CpuAttention), timings (JSON lines shaped like torch_ref.py's) and the PTX of every kernel for ptxas -v.</summary>
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
            var failures = KernelPtxDump.WriteAll(dir);                      // every [Kernel] of the backend
            foreach (var f in failures) Console.WriteLine($"PTX FAIL {f}");
            foreach (var p in KernelPtx.DumpAll(dir)) Console.WriteLine(p); // matmul / attention kernels
            return failures.Count > 0 ? 1 : 0;
        }
        o.RejectUnknown();
        if (Devices.Get(device) is not IlgpuBackend backend) throw new OptionException($"--device {device} is not an ILGPU device");
        var k = backend.Kernels;
        Console.Error.WriteLine($"device: {k.Accelerator.Name} ({k.Accelerator.AcceleratorType}), warp {k.Accelerator.WarpSize}, max group {k.Accelerator.MaxNumThreadsPerGroup}");
        switch (what)
        {
            case "check":
                bool ok;
                try { ok = KernelBench.Check(k, Console.Out, json); }
                catch (Exception e)
                {
                    Console.WriteLine($"check threw: {e}");
                    ok = false;
                }
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
