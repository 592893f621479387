using System.Text.Json;
using LLaDA.Tensors;

namespace LLaDA.Nn.Serialization;

/// <summary>A model checkpoint directory in Hugging Face layout: config.json plus model.safetensors, or shards listed in model.safetensors.index.json.</summary>
public sealed class ModelFiles
{
    private readonly Dictionary<string, SafeTensorsFile> _fileOf;

    private ModelFiles(string dir, MaskPredictorConfig config, Dictionary<string, SafeTensorsFile> fileOf, List<SafeTensorsFile> files)
    {
        Directory = dir;
        Config = config;
        _fileOf = fileOf;
        Files = files;
    }

    public string Directory { get; }
    public MaskPredictorConfig Config { get; }
    public IReadOnlyList<SafeTensorsFile> Files { get; }

    /// <summary>Every tensor across all shards.</summary>
    public IEnumerable<SafeTensorInfo> Tensors => _fileOf.Select(kv => kv.Value[kv.Key]);

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    public SafeTensorInfo Info(string name) => _fileOf.TryGetValue(name, out var f) ? f[name] : throw new CheckpointException($"{Directory}: missing tensor '{name}'");

    public Tensor Read(string name, IBackend? backend = null) => _fileOf[name].Read(name, backend);

    /// <summary>A tensor as a read-only view into its memory-mapped shard, in its stored dtype (see <see cref="SafeTensorsFile.Map"/>).</summary>
    public Tensor Map(string name, LLaDA.Tensors.Cpu.CpuBackend backend) => _fileOf.TryGetValue(name, out var f) ? f.Map(name, backend) : throw new CheckpointException($"{Directory}: missing tensor '{name}'");

    /// <summary>Opens a checkpoint directory and validates config.json, the index and every shard header (no tensor data is read).</summary>
    public static ModelFiles Open(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) throw new CheckpointException($"{dir}: checkpoint directory not found");
        string cfgPath = Path.Combine(dir, Checkpoint.ConfigFile);
        if (!File.Exists(cfgPath)) throw new CheckpointException($"{dir}: missing {Checkpoint.ConfigFile}");
        MaskPredictorConfig config;
        try
        {
            config = MaskPredictorConfig.Load(cfgPath);
        }
        catch (ConfigException e)
        {
            throw new CheckpointException($"{cfgPath}: {e.Message}");
        }
        var fileOf = new Dictionary<string, SafeTensorsFile>();
        var files = new List<SafeTensorsFile>();
        string index = Path.Combine(dir, Checkpoint.IndexFile);
        if (File.Exists(index))
        {
            Dictionary<string, string> map;
            try
            {
                using var doc = JsonDocument.Parse(InputFile.ReadText(index, "shard index"));
                map = doc.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? throw new CheckpointException($"{index}: null shard for '{p.Name}'"));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new CheckpointException($"{index}: malformed index ({e.Message})");
            }
            var shards = new Dictionary<string, SafeTensorsFile>();
            foreach (var shard in map.Values.Distinct())
            {
                if (shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                    throw new CheckpointException($"{index}: shard name '{shard}' must be a plain file name");
                string shardPath = Path.Combine(dir, shard);
                if (!File.Exists(shardPath) && !System.IO.Directory.Exists(shardPath))
                {
                    var held = map.Where(kv => kv.Value == shard).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
                    throw new CheckpointException($"{shardPath}: shard not found (the index maps tensor '{held[0]}'{(held.Count > 1 ? $" and {held.Count - 1} more" : "")} to it)");
                }
                var f = SafeTensorsFile.Open(shardPath);
                shards[shard] = f;
                files.Add(f);
            }
            foreach (var (name, shard) in map)
            {
                if (!shards[shard].Contains(name)) throw new CheckpointException($"{index}: tensor '{name}' is mapped to {shard}, which does not contain it");
                fileOf[name] = shards[shard];
            }
            foreach (var f in files)
                foreach (var e in f.Entries)
                    if (!map.ContainsKey(e.Name)) throw new CheckpointException($"{f.Path}: tensor '{e.Name}' is not listed in {Checkpoint.IndexFile}");
        }
        else
        {
            string single = Path.Combine(dir, Checkpoint.ModelFile);
            if (!File.Exists(single)) throw new CheckpointException($"{dir}: neither {Checkpoint.ModelFile} nor {Checkpoint.IndexFile} found");
            var f = SafeTensorsFile.Open(single);
            files.Add(f);
            foreach (var e in f.Entries) fileOf[e.Name] = f;
        }
        return new ModelFiles(dir, config, fileOf, files);
    }
}

/// <summary>Saving and loading mask predictors; every mismatch between config, names and shapes is an error naming the tensor.</summary>
public static class Checkpoint
{
    public const string ConfigFile = "config.json";
    public const string ModelFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>Writes config.json and the weights (one file, or shards of at most <paramref name="maxShardBytes"/> with an index), each file atomically.</summary>
    public static void SaveModel(string dir, MaskPredictor model, DType? storeAs = null, long maxShardBytes = 0)
    {
        var named = model.NamedParameters().Select(p => (p.Name, p.Parameter.Data));
        WriteWeights(dir, SafeTensorsWriter.Pending(named, storeAs).ToList(), maxShardBytes);
        AtomicFile.WriteText(Path.Combine(dir, ConfigFile), model.Config.ToJson());
    }

    /// <summary>Writes the weights as model.safetensors, or as shards model-0000k-of-0000n.safetensors with
    /// model.safetensors.index.json: shards of at most <paramref name="maxShardBytes"/> (a tensor larger than that gets a
    /// shard of its own), or exactly <paramref name="shardCount"/> shards of about equal size (Hugging Face's layout).</summary>
    public static void WriteWeights(string dir, IReadOnlyList<PendingTensor> tensors, long maxShardBytes = 0, int shardCount = 0)
    {
        System.IO.Directory.CreateDirectory(dir);
        if (maxShardBytes <= 0 && shardCount <= 0)
        {
            SafeTensorsWriter.Write(Path.Combine(dir, ModelFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            File.Delete(Path.Combine(dir, IndexFile));
            return;
        }
        var shards = new List<List<PendingTensor>> { new() };
        long total = tensors.Sum(t => t.Bytes), size = 0, offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            long b = t.Bytes;
            // Exactly shardCount shards: a tensor whose middle crosses the next size boundary opens a shard, and so does
            // every tensor once only as many remain as shards still to fill.
            bool next = shardCount > 0
                ? shards[^1].Count > 0 && shards.Count < shardCount
                  && ((offset + b / 2) * shardCount / Math.Max(total, 1) >= shards.Count || tensors.Count - i <= shardCount - shards.Count)
                : size > 0 && size + b > maxShardBytes;
            if (next)
            {
                shards.Add(new());
                size = 0;
            }
            shards[^1].Add(t);
            size += b;
            offset += b;
        }
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafeTensorsWriter.Write(Path.Combine(dir, file), shards[i], new Dictionary<string, string> { ["format"] = "pt" });
            foreach (var t in shards[i]) map[t.Name] = file;
        }
        var index = new { metadata = new { total_size = total }, weight_map = map };
        AtomicFile.WriteText(Path.Combine(dir, IndexFile), JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
        File.Delete(Path.Combine(dir, ModelFile));
    }

    /// <summary>Builds a model from a checkpoint directory (weights upcast to F32).</summary>
    public static MaskPredictor LoadModel(string dir, IBackend? backend = null) => LoadModel(ModelFiles.Open(dir), backend);

    /// <summary>Builds a model from opened checkpoint files; config and weights are checked against each other before anything is allocated.</summary>
    public static MaskPredictor LoadModel(ModelFiles files, IBackend? backend = null)
    {
        Validate(files.Config, files);
        var model = new MaskPredictor(files.Config, 0, backend);
        try
        {
            CopyWeights(model, files);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>Builds an inference model directly over the checkpoint's memory-mapped shards: every matrix is used in place
    /// in its stored dtype (BF16/F16/F32; the matmuls widen 16-bit weights inside the kernel), only the 1-D norm scales are
    /// read and widened to F32. Nothing of the size of the weights is allocated or copied, so an 8B BF16 checkpoint
    /// (16 GB) loads in seconds and its pages stay reclaimable file cache. The weights are read-only: for sampling and
    /// scoring, not training.</summary>
    public static MaskPredictor MapModel(ModelFiles files, LLaDA.Tensors.Cpu.CpuBackend? backend = null)
    {
        Validate(files.Config, files);
        backend ??= LLaDA.Tensors.Cpu.CpuBackend.Default;
        var made = new List<Tensor>();
        try
        {
            using (ParameterSource.Use((name, shape) =>
            {
                Tensor t;
                if (shape.Length == 1)
                {
                    using var r = files.Read(name, backend);
                    t = r.Contiguous(DType.F32);
                }
                else t = files.Map(name, backend);
                made.Add(t);
                return t;
            }))
                return new MaskPredictor(files.Config, 0, backend);
        }
        catch
        {
            foreach (var t in made) t.Dispose();
            throw;
        }
    }

    /// <summary>Checks that the files hold exactly the model's parameters with the right shapes (no data read).</summary>
    public static void Validate(MaskPredictorConfig config, ModelFiles files)
    {
        // The embedding first: its shape names the fields (vocab/embedding size, d_model) a mismatched config.json gets wrong.
        // (Config.Validate has already bounded n_layers, so listing the expected names is cheap.)
        const string wte = "model.transformer.wte.weight";
        int[] wteShape = [config.Rows, config.DModel];
        if (files.Contains(wte) && !files.Info(wte).Shape.SequenceEqual(wteShape))
            throw new CheckpointException($"{files.Directory}: tensor '{wte}' has shape [{string.Join(", ", files.Info(wte).Shape)}] but config.json implies [{string.Join(", ", wteShape)}] (embedding_size or vocab_size, d_model)");
        var expected = ExpectedShapes(config);
        foreach (var (name, shape) in expected)
        {
            if (!files.Contains(name)) throw new CheckpointException($"{files.Directory}: missing tensor '{name}' (expected shape [{string.Join(", ", shape)}])");
            var info = files.Info(name);
            if (!info.Shape.SequenceEqual(shape))
                throw new CheckpointException($"{files.Directory}: tensor '{name}' has shape [{string.Join(", ", info.Shape)}] but config.json implies [{string.Join(", ", shape)}]");
            if (!info.DType.IsFloat()) throw new CheckpointException($"{files.Directory}: tensor '{name}' has dtype {info.DType}, expected a floating-point type");
        }
        foreach (var t in files.Tensors)
            if (!expected.ContainsKey(t.Name))
                throw new CheckpointException($"{files.Directory}: unexpected tensor '{t.Name}' (does config.json match the weights?)");
    }

    /// <summary>Copies the checkpoint's tensors into an existing model after full validation.</summary>
    public static void LoadInto(MaskPredictor model, ModelFiles files)
    {
        Validate(model.Config, files);
        CopyWeights(model, files);
    }

    private static void CopyWeights(MaskPredictor model, ModelFiles files)
    {
        foreach (var (name, p) in model.NamedParameters())
        {
            using var t = files.Read(name, model.Backend);
            p.Data.CopyFrom(t);
        }
    }

    /// <summary>Every parameter name with its shape, as the config implies (LLaDA names, SPEC §4.4).</summary>
    public static Dictionary<string, int[]> ExpectedShapes(MaskPredictorConfig c)
    {
        var d = new Dictionary<string, int[]>();
        int kv = c.KvHeads * c.HeadSize;
        d["model.transformer.wte.weight"] = [c.Rows, c.DModel];
        for (int i = 0; i < c.NLayers; i++)
        {
            string p = $"model.transformer.blocks.{i}";
            d[p + ".attn_norm.weight"] = [c.DModel];
            d[p + ".q_proj.weight"] = [c.DModel, c.DModel];
            d[p + ".k_proj.weight"] = [kv, c.DModel];
            d[p + ".v_proj.weight"] = [kv, c.DModel];
            d[p + ".attn_out.weight"] = [c.DModel, c.DModel];
            d[p + ".ff_norm.weight"] = [c.DModel];
            d[p + ".ff_proj.weight"] = [c.MlpHiddenSize, c.DModel];
            d[p + ".up_proj.weight"] = [c.MlpHiddenSize, c.DModel];
            d[p + ".ff_out.weight"] = [c.DModel, c.MlpHiddenSize];
        }
        d["model.transformer.ln_f.weight"] = [c.DModel];
        if (!c.WeightTying) d["model.transformer.ff_out.weight"] = [c.Rows, c.DModel];
        return d;
    }
}
