using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using LLaDA.Kernels;

// llada-kernels check|bench|ptx DIR|all [--device cuda|cpu] [--json] [--out DIR]
//   check  device-vs-CPU comparison of every matmul/attention path (exit code 1 on a mismatch)
//   bench  timings (JSON lines with --json, shaped like torch_ref.py's)
//   ptx    writes DIR/<kernel>.ptx for `ptxas -arch=sm_90 -v`
//   all    ptx (into --out/ptx), check, bench
string cmd = args.Length > 0 ? args[0] : "all";
string device = Option("--device") ?? "cuda";
string? outDir = Option("--out");
bool json = args.Contains("--json");

if (cmd == "ptx")
{
    string dir = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : outDir ?? "ptx";
    foreach (var p in KernelPtx.DumpAll(dir)) Console.WriteLine(p);
    return 0;
}

if (cmd == "all" && outDir != null)
    foreach (var p in KernelPtx.DumpAll(Path.Combine(outDir, "ptx"))) Console.WriteLine(p);

using var k = CreateContext(device);
Console.Error.WriteLine($"device: {k.Accelerator.Name} ({k.Accelerator.AcceleratorType}), warp {k.Accelerator.WarpSize}, max group {k.Accelerator.MaxNumThreadsPerGroup}");
int rc = 0;
if (cmd is "check" or "all")
{
    bool ok;
    try { ok = KernelBench.Check(k, Console.Out, json); }
    catch (Exception e) { Console.Out.WriteLine($"check threw: {e}"); ok = false; }
    Console.Out.Flush();
    Console.Error.WriteLine(ok ? "check: all ok" : "check: FAILED");
    if (!ok) rc = 1;
}
if (cmd is "bench" or "all")
{
    try { KernelBench.Run(k, Console.Out, json); }
    catch (Exception e) { Console.Out.WriteLine($"bench threw: {e}"); rc = 2; }
}
return rc;

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static KernelContext CreateContext(string device)
{
    if (device == "cpu")
    {
        var cpu = Context.Create(b => b.CPU(CPUDeviceKind.Nvidia).EnableAlgorithms());
        return new KernelContext(cpu, cpu.CreateCPUAccelerator(0));
    }
    // ILGPU 1.5.3 asks for "cuda"; the driver ships libcuda.so.1 (shared/gpu/README.md).
    NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, (name, _, _) =>
        name is "cuda" or "nvcuda" && NativeLibrary.TryLoad("libcuda.so.1", out var h) ? h : IntPtr.Zero);
    var context = Context.Create(b => b.Cuda().EnableAlgorithms());
    return new KernelContext(context, context.CreateCudaAccelerator(0));
}
