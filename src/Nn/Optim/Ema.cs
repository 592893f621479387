using LLaDA.Autograd;
using LLaDA.Nn.Serialization;
using LLaDA.Tensors;

namespace LLaDA.Nn.Optim;

/// <summary>Exponential moving average of the weights: after every optimizer step w̄ ← decay·w̄ + (1 − decay)·w, starting from the initial weights.</summary>
/// <remarks>Saved beside the raw weights as ema.safetensors (the same tensor names as model.safetensors), and sampling uses it when present.</remarks>
public sealed class Ema : IDisposable
{
    /// <summary>The file of a checkpoint directory that holds the averaged weights.</summary>
    public const string File = "ema.safetensors";

    private readonly List<(string Name, Variable Param, Tensor Shadow)> _state = new();

    public Ema(IEnumerable<(string Name, Variable Param)> parameters, float decay)
    {
        if (!(decay > 0 && decay < 1)) throw new ArgumentException($"EMA decay {decay} must be in (0, 1), or 0 for none");
        Decay = decay;
        foreach (var (name, p) in parameters)
        {
            var shadow = Tensor.ZerosLike(p.Data).Detach();
            shadow.CopyFrom(p.Data);
            _state.Add((name, p, shadow));
        }
    }

    public float Decay { get; }

    /// <summary>The averaged weights by parameter name, in parameter order.</summary>
    public IEnumerable<(string Name, Tensor Weight)> Weights() => _state.Select(s => (s.Name, s.Shadow));

    /// <summary>w̄ ← decay·w̄ + (1 − decay)·w for every parameter.</summary>
    public void Update()
    {
        using var scope = new TensorScope();
        foreach (var (_, p, shadow) in _state)
        {
            var next = shadow.Scale(Decay).Add(p.Data.Scale(1 - Decay));
            shadow.CopyFrom(next);
        }
    }

    /// <summary>Copies the averaged weights into the parameters they average (the end of a run, before sampling: what a checkpoint's
    /// sampler would use). Training must not continue afterwards on these weights.</summary>
    public void CopyIntoParameters()
    {
        foreach (var (_, p, shadow) in _state) p.Data.CopyFrom(shadow);
    }

    /// <summary>Writes the averaged weights to dir/ema.safetensors.</summary>
    public void Save(string dir) => SafeTensorsWriter.Write(Path.Combine(dir, File), Weights(), new Dictionary<string, string> { ["format"] = "pt", ["ema_decay"] = Decay.ToString("R", System.Globalization.CultureInfo.InvariantCulture) });

    /// <summary>Replaces the averages with those in dir/ema.safetensors (a resumed run).</summary>
    public void Load(string dir)
    {
        var f = SafeTensorsFile.Open(Path.Combine(dir, File));
        foreach (var (name, _, shadow) in _state) CopyChecked(f, name, shadow);
    }

    /// <summary>True when a checkpoint directory carries averaged weights.</summary>
    public static bool Exists(string dir) => System.IO.File.Exists(Path.Combine(dir, File));

    /// <summary>Copies the averaged weights of dir/ema.safetensors into a model's parameters (for sampling); every name and shape is checked.</summary>
    public static void LoadInto(MaskPredictor model, string dir)
    {
        var f = SafeTensorsFile.Open(Path.Combine(dir, File));
        foreach (var (name, p) in model.NamedParameters()) CopyChecked(f, name, p.Data);
    }

    private static void CopyChecked(SafeTensorsFile f, string name, Tensor dst)
    {
        if (!f.Contains(name)) throw new CheckpointException($"{f.Path}: missing tensor '{name}'");
        var info = f[name];
        if (!info.Shape.SequenceEqual(dst.ShapeArray()))
            throw new CheckpointException($"{f.Path}: tensor '{name}' has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", dst.ShapeArray())}]");
        using var t = f.Read(name, dst.Backend);
        dst.CopyFrom(t);
    }

    public void Dispose()
    {
        foreach (var s in _state) s.Shadow.Dispose();
        _state.Clear();
    }
}
