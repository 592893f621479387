using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli;

/// <summary>Maps --device names to backends (the composition root is the only place that knows them all).</summary>
public static class Devices
{
    private static readonly Dictionary<string, IBackend> Opened = new();

    /// <summary>The backend for a --device name: cpu (default), cuda, ilgpu-cpu (ILGPU's CPU accelerator, for checks) or opencl.</summary>
    /// <remarks>ILGPU backends are opened once per process and kept (kernels compile once per accelerator).</remarks>
    public static IBackend Get(string? name)
    {
        string key = (name ?? "cpu").ToLowerInvariant();
        switch (key)
        {
            case "cpu":
                return CpuBackend.Default;
            case "cuda" or "ilgpu-cpu" or "opencl":
                lock (Opened)
                {
                    if (Opened.TryGetValue(key, out var b)) return b;
                    b = IlgpuBackend.TryCreate(key, out var reason)
                        ?? throw new OptionException($"--device {name}: the ILGPU backend could not start ({reason}); use --device cpu");
                    Opened[key] = b;
                    return b;
                }
            default:
                throw new OptionException($"unknown --device '{name}' (cpu, cuda, ilgpu-cpu, opencl)");
        }
    }
}

/// <summary>Where bundled files are: next to the binary (copied at build) or up the directory tree from the working directory.</summary>
public static class DataPaths
{
    public const string PoemsRelative = "data/poems/tang2000.simp.txt";

    public static string DefaultPoems()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, PoemsRelative);
        if (File.Exists(beside)) return beside;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var p = Path.Combine(dir.FullName, PoemsRelative);
            if (File.Exists(p)) return p;
        }
        throw new OptionException($"bundled poems not found ({PoemsRelative}); pass --data FILE");
    }
}
