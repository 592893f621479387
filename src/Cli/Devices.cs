using LLaDA.Kernels;
using LLaDA.Tensors;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli;

/// <summary>The --device values: the CPU backend or an ILGPU accelerator.</summary>
public enum Device
{
    Cpu,
    Cuda,
    IlgpuCpu,
    Opencl,
}

/// <summary>Maps --device values to backends (the composition root is the only place that knows them all).</summary>
public static class Devices
{
    private static readonly Dictionary<Device, IBackend> Opened = new();

    /// <summary>cpu, cuda, ilgpu-cpu (ILGPU's CPU accelerator, for checks), opencl.</summary>
    public static readonly Choices<Device> Names = Choices<Device>.KebabCase();

    /// <summary>The ILGPU devices only (commands that compare or time kernels).</summary>
    public static readonly Choices<Device> Ilgpu = new(Enum.GetValues<Device>().Where(d => d != Device.Cpu).Select(d => (Names.NameOf(d), d)), subset: true);

    /// <summary>The backend for a --device value.</summary>
    /// <remarks>ILGPU backends are opened once per process and kept (kernels compile once per accelerator).</remarks>
    public static IBackend Get(Device device)
    {
        if (device == Device.Cpu) return CpuBackend.Default;
        lock (Opened)
        {
            if (Opened.TryGetValue(device, out var b)) return b;
            string name = Names.NameOf(device);
            b = IlgpuBackend.TryCreate(name, out var reason)
                ?? throw new OptionException($"--device {name}: the ILGPU backend could not start ({reason}); use --device cpu");
            Opened[device] = b;
            return b;
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
