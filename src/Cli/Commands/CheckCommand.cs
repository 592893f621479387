using System.CommandLine;
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
    private static readonly Option<Named<Device>> DeviceOption = Opt.Choice("device", "the ILGPU device to check", Devices.Ilgpu, Device.Cuda);
    private static readonly Option<KernelCheck.Size?> SizeOption = Opt.Choice("size", "shapes: tiny edge cases or model-like (default: tiny on ilgpu-cpu, moderate on a GPU)", Choices<KernelCheck.Size>.KebabCase());
    private static readonly Option<string?> Filter = Opt.Text("filter", "NAME", "run only the checks whose name contains NAME");
    private static readonly Option<string?> Ptx = Opt.Text("ptx", "DIR", "write every kernel's PTX for SM 9.0 into DIR instead (for ptxas -v; no GPU needed)");

    public static Command Definition()
    {
        var c = new Command("check", "compare every ILGPU kernel with the CPU backend; exit code 1 on any mismatch") { DeviceOption, SizeOption, Filter, Ptx };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult r)
    {
        var device = r.GetValue(DeviceOption);
        string? filter = r.GetValue(Filter);
        string? ptxDir = r.GetValue(Ptx);
        if (ptxDir is not null)
        {
            // No device needed: ILGPU's PTX backend runs anywhere; ptxas -v on the GPU machine reads the files.
            var (paths, failures) = KernelPtx.WriteAll(ptxDir);
            foreach (var f in failures) Console.WriteLine($"PTX FAIL {f}");
            Console.WriteLine($"wrote the PTX (SM 9.0) of {paths.Count} kernels to {Path.GetFullPath(ptxDir)}");
            return failures.Count > 0 ? 1 : 0;
        }
        if (Devices.Get(device) is not IlgpuBackend backend) throw new OptionException($"--device {Devices.Names.NameOf(device)} is not an ILGPU device");
        var size = r.GetValue(SizeOption) ?? (backend.Accelerator.AcceleratorType == ILGPU.Runtime.AcceleratorType.CPU ? KernelCheck.Size.Tiny : KernelCheck.Size.Moderate);
        var a = backend.Accelerator;
        Console.WriteLine($"llada check — {backend.Name}: {a.Name}, {a.MemorySize / (1 << 20)} MiB, {a.NumMultiprocessors} SMs, warp {a.WarpSize}, ≤ {a.MaxNumThreadsPerGroup} threads/group; {size} shapes vs the cpu backend");
        var sw = Stopwatch.StartNew();
        int pass = 0, fail = 0;
        KernelCheck.RunAll(backend, size, filter, result =>
        {
            Console.WriteLine(result.ToString());
            if (!result.Passed) fail++;
            else pass++;
        });
        if (pass + fail == 0) throw new OptionException($"--filter {filter} matches no check (names: {string.Join(", ", KernelCheck.Names)})");
        Console.WriteLine($"{pass} passed, {fail} failed in {sw.Elapsed.TotalSeconds:F1} s");
        return fail > 0 ? 1 : 0;
    }
}
