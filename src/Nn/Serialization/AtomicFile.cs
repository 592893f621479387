namespace LLaDA.Nn.Serialization;

/// <summary>The one way files are written whole: into a temp file beside the target, flushed to disk, then renamed over the
/// target, so a kill at any instant leaves either the old file or the complete new one.</summary>
public static class AtomicFile
{
    /// <summary>Writes path through <paramref name="write"/>; <paramref name="beforeRename"/> runs between the flush and the rename
    /// (crash tests stop there).</summary>
    public static void Write(string path, Action<Stream> write, Action? beforeRename = null, int bufferSize = 4096)
    {
        string tmp = path + ".tmp-" + Environment.ProcessId;
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize))
        {
            write(fs);
            fs.Flush(flushToDisk: true);
        }
        beforeRename?.Invoke();
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Writes UTF-8 text (no BOM) to path atomically.</summary>
    public static void WriteText(string path, string text, Action? beforeRename = null) =>
        Write(path, fs => fs.Write(System.Text.Encoding.UTF8.GetBytes(text)), beforeRename);
}
