using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli;

/// <summary>Maps --device names to backends (the composition root is the only place that knows them all).</summary>
public static class Devices
{
    public static IBackend Get(string? name) => (name ?? "cpu").ToLowerInvariant() switch
    {
        "cpu" => CpuBackend.Default,
        "cuda" or "ilgpu-cpu" or "opencl" => throw new OptionException($"--device {name}: the ILGPU backend is not built yet (kernels issue); use --device cpu"),
        _ => throw new OptionException($"unknown --device '{name}' (cpu, cuda, ilgpu-cpu)"),
    };
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
