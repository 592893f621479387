namespace LLaDA.Cli.Commands;

/// <summary>A run directory that cannot be used as asked: locked by a live run, or holding a run that neither --resume nor --overwrite addresses.</summary>
public sealed class RunDirectoryException(string message) : IOException(message);

/// <summary>A training run's output directory, held exclusively for the life of the run.</summary>
/// <remarks>
/// The lock is an OS lock on run.lock (FileShare.None: flock on Unix, a sharing lock on Windows), so the kernel releases
/// it when the holder dies, even by kill -9; no stale lock ever needs clearing by hand. The holder's pid goes into
/// run.pid beside it (the locked file itself cannot be read by others) so the refusal can name the holder.
/// </remarks>
public sealed class RunDirectory : IDisposable
{
    public const string LockFile = "run.lock";
    public const string PidFile = "run.pid";
    public const string CheckpointsDir = "checkpoints";

    /// <summary>What a run writes into its directory; --overwrite removes exactly these.</summary>
    public static readonly IReadOnlyList<string> Artifacts = [TrainingLog.CsvFile, TrainingLog.JsonlFile, TrainingLog.PlotFile, CheckpointsDir];

    private readonly FileStream _lock;

    private RunDirectory(string path, FileStream lockStream)
    {
        Path = path;
        _lock = lockStream;
    }

    public string Path { get; }

    public string Checkpoints => System.IO.Path.Combine(Path, CheckpointsDir);

    /// <summary>Creates the directory if needed and takes its lock; a directory held by a live run is refused naming the holder's pid.</summary>
    public static RunDirectory Acquire(string path)
    {
        Directory.CreateDirectory(path);
        string lockPath = System.IO.Path.Combine(path, LockFile), pidPath = System.IO.Path.Combine(path, PidFile);
        FileStream fs;
        try
        {
            fs = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(lockPath))
        {
            string holder = File.Exists(pidPath) ? File.ReadAllText(pidPath).Trim() : "";
            throw new RunDirectoryException($"{path} is locked by pid {(holder.Length > 0 ? holder : "(unknown)")}, another run writing into it; wait for it to end or choose another --out");
        }
        File.WriteAllText(pidPath, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new RunDirectory(path, fs);
    }

    /// <summary>The run artefacts present (log, plot, checkpoints).</summary>
    public IReadOnlyList<string> ExistingArtifacts() =>
        Artifacts.Where(a => File.Exists(System.IO.Path.Combine(Path, a)) || Directory.Exists(System.IO.Path.Combine(Path, a))).ToList();

    /// <summary>Readies the directory for a fresh run: an earlier run's artefacts are refused, or removed with <paramref name="overwrite"/>.</summary>
    public void PrepareFresh(bool overwrite)
    {
        var existing = ExistingArtifacts();
        if (existing.Count == 0) return;
        if (!overwrite)
            throw new RunDirectoryException($"{Path} already holds a run ({string.Join(", ", existing)}); pass --resume to continue it or --overwrite to start over");
        foreach (var a in existing)
        {
            string p = System.IO.Path.Combine(Path, a);
            if (Directory.Exists(p)) Directory.Delete(p, true);
            else File.Delete(p);
        }
    }

    public void Dispose()
    {
        // run.lock stays (deleting a lock file races with a process that has just opened it); run.pid is only read while the lock is held.
        _lock.Dispose();
    }
}
