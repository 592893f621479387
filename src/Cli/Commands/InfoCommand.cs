using LLaDA.Nn.Serialization;
using LLaDA.Tensors;

namespace LLaDA.Cli.Commands;

/// <summary>`llada info --checkpoint DIR`: validates a checkpoint fully (config, index, every header, names and shapes) and summarises it.</summary>
public static class InfoCommand
{
    public static int Run(Options o)
    {
        string dir = o.String("checkpoint") ?? (o.Positional.Count > 0 ? o.Positional[0] : throw new OptionException("info needs --checkpoint DIR"));
        o.RejectUnknown();
        var files = ModelFiles.Open(dir);
        Checkpoint.Validate(files.Config, files);
        var c = files.Config;
        long count = files.Tensors.Sum(t => t.Numel);
        var dtypes = files.Tensors.GroupBy(t => t.DType).Select(g => $"{g.Key} ×{g.Count()}");
        Console.WriteLine($"checkpoint: {Path.GetFullPath(dir)}");
        Console.WriteLine($"files:      {string.Join(", ", files.Files.Select(f => Path.GetFileName(f.Path)))}");
        Console.WriteLine($"tensors:    {files.Tensors.Count()} ({string.Join(", ", dtypes)})");
        Console.WriteLine($"parameters: {count:N0} ({count / 1e9:F3} B)");
        Console.WriteLine($"config:     d_model {c.DModel}, n_layers {c.NLayers}, n_heads {c.NHeads}, n_kv_heads {c.KvHeads}, head {c.HeadSize}, mlp {c.MlpHiddenSize}, vocab {c.VocabSize} (embedding {c.Rows}), rope_theta {c.RopeTheta}, rms_norm_eps {c.RmsNormEps}, tied {c.WeightTying}, causal {c.Causal}");
        Console.WriteLine($"tokens:     mask {c.MaskTokenId}, eos {c.EosTokenId}, pad {c.PadTokenId}, bos {c.BosTokenId?.ToString() ?? "-"}");
        Console.WriteLine("status:     valid");
        _ = DType.F32;
        return 0;
    }
}
