using System.CommandLine;
using LLaDA.Diagnostics;
using LLaDA.Kernels;

namespace LLaDA.Cli.Commands;

/// <summary>`llada kernels ptx DIR | check | bench [--device cuda|ilgpu-cpu] [--json]`: the matmul/attention kernels' check (KernelCheck's "kernel.*" checks: every GEMM path vs the exact product, attention vs the CPU backend), timings (KernelBench: JSON lines shaped like torch_ref.py's) and the PTX of every kernel for ptxas -v (KernelPtx).</summary>
public static class KernelsCommand
{
    private static readonly Argument<string?> PtxDir = Opt.TextArgument("DIR", "where the PTX files go (default: --out, else ./ptx)");
    private static readonly Option<string> PtxOut = Opt.Text("out", "DIR", "where the PTX files go", "ptx");

    public static Command Definition()
    {
        var ptx = new Command("ptx", "write the PTX of every kernel (for ptxas -v; no GPU needed)") { PtxDir, PtxOut };
        ptx.SetAction(Ptx);
        var kernels = new Command("kernels", "matmul/attention kernels: PTX of every kernel, every path vs the CPU, timings") { ptx };
        foreach (var (name, what, bench) in new[] { ("check", "every matmul/attention path against CpuMatMul/CpuAttention; exit code 1 on a mismatch", false), ("bench", "time the matmul/attention kernels (JSON lines like torch_ref.py's with --json)", true) })
        {
            var device = Opt.Choice("device", "the ILGPU device", Devices.Ilgpu, Device.Cuda);
            var json = Opt.Json();
            var c = new Command(name, what) { device, json };
            c.SetAction(r => bench ? Bench(r.GetValue(device), r.GetValue(json)) : Check(r.GetValue(device), r.GetValue(json)));
            kernels.Add(c);
        }
        return kernels;
    }

    private static int Ptx(ParseResult r)
    {
        string dir = r.GetValue(PtxDir) ?? r.GetValue(PtxOut)!;
        var (paths, failures) = KernelPtx.WriteAll(dir);                 // every [Kernel] of the backend
        foreach (var f in failures) Console.WriteLine($"PTX FAIL {f}");
        foreach (var p in paths) Console.WriteLine(p);
        return failures.Count > 0 ? 1 : 0;
    }

    private static IlgpuBackend Backend(Device device)
    {
        if (Devices.Get(device) is not IlgpuBackend backend) throw new OptionException($"--device {Devices.Names.NameOf(device)} is not an ILGPU device");
        var k = backend.Kernels;
        Console.Error.WriteLine($"device: {k.Accelerator.Name} ({k.Accelerator.AcceleratorType}), warp {k.Accelerator.WarpSize}, max group {k.Accelerator.MaxNumThreadsPerGroup}");
        return backend;
    }

    private static int Check(Device device, bool json)
    {
        var backend = Backend(device);
        // Small shapes on ILGPU's CPU accelerator, model-sized ones on a GPU; one line (or JSON line) per check and shape.
        var size = backend.Kernels.IsCpu ? KernelCheck.Size.Tiny : KernelCheck.Size.Moderate;
        bool ok = KernelCheck.RunAll(backend, size, "kernel.", r => Console.WriteLine(json ? r.ToJson() : r.ToString())).All(r => r.Passed);
        Console.Error.WriteLine(ok ? "check: all ok" : "check: FAILED");
        return ok ? 0 : 1;
    }

    private static int Bench(Device device, bool json)
    {
        KernelBench.Run(Backend(device).Kernels, Console.Out, json);
        return 0;
    }
}
