using System.Diagnostics;
using LLaDA.Diagnostics;
using LLaDA.Kernels;

namespace LLaDA.Cli.Commands;

/// <summary>`llada check --device cuda|ilgpu-cpu|opencl [--size tiny|moderate] [--filter NAME] [--ptx DIR]`: every ILGPU kernel against CpuBackend inside the app.</summary>
/// <remarks>
/// The GPU machine has no test host, so the comparisons the test suite runs (KernelCheck) are also a command: one line per
/// kernel and shape with the max abs difference and PASS/FAIL; exit code 1 when anything fails. Moderate sizes are
/// the default on a GPU, tiny ones on ILGPU's (very slow) CPU accelerator.
/// </remarks>
public static class CheckCommand
{
    public static int Run(Options o)
    {
        string device = o.String("device") ?? "cuda";
        string? sizeName = o.String("size");
        string? filter = o.String("filter");
        string? ptxDir = o.String("ptx");
        o.RejectUnknown();
        if (ptxDir is not null)
        {
            // No device needed: ILGPU's PTX backend runs anywhere; ptxas -v on the GPU machine reads the files.
            var (paths, failures) = KernelPtx.WriteAll(ptxDir);
            foreach (var f in failures) Console.WriteLine($"PTX FAIL {f}");
            Console.WriteLine($"wrote the PTX (SM 9.0) of {paths.Count} kernels to {Path.GetFullPath(ptxDir)}");
            return failures.Count > 0 ? 1 : 0;
        }
        if (device == "cpu") throw new OptionException("check compares an ILGPU device with the CPU backend: use --device cuda, ilgpu-cpu or opencl");
        if (Devices.Get(device) is not IlgpuBackend backend) throw new OptionException($"--device {device} is not an ILGPU device");
        var size = sizeName?.ToLowerInvariant() switch
        {
            null => backend.Accelerator.AcceleratorType == ILGPU.Runtime.AcceleratorType.CPU ? KernelCheck.Size.Tiny : KernelCheck.Size.Moderate,
            "tiny" => KernelCheck.Size.Tiny,
            "moderate" => KernelCheck.Size.Moderate,
            _ => throw new OptionException($"--size {sizeName}: expected tiny or moderate"),
        };
        var a = backend.Accelerator;
        Console.WriteLine($"llada check — {backend.Name}: {a.Name}, {a.MemorySize / (1 << 20)} MiB, {a.NumMultiprocessors} SMs, warp {a.WarpSize}, ≤ {a.MaxNumThreadsPerGroup} threads/group; {size} shapes vs the cpu backend");
        var sw = Stopwatch.StartNew();
        int pass = 0, fail = 0;
        KernelCheck.RunAll(backend, size, filter, r =>
        {
            Console.WriteLine(r.ToString());
            if (r.Status == "FAIL") fail++;
            else pass++;
        });
        if (pass + fail == 0) throw new OptionException($"--filter {filter} matches no check (names: {string.Join(", ", KernelCheck.Names)})");
        Console.WriteLine($"{pass} passed, {fail} failed in {sw.Elapsed.TotalSeconds:F1} s");
        return fail > 0 ? 1 : 0;
    }
}
