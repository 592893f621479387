using System.Runtime.InteropServices;
using System.Text;

namespace LLaDA.Nn.Serialization;

/// <summary>An input file that cannot be used: missing, not a regular file, too large, or not UTF-8 text; the message names the path.</summary>
public sealed class InputFileException(string message) : IOException(message);

/// <summary>The one gate every reader of a user-supplied file goes through (data, configs, checkpoints, tokenizers):
/// only regular files are opened (a FIFO or a device would block or never end), text must be UTF-8 without NUL bytes,
/// and sizes are bounded.</summary>
public static class InputFile
{
    /// <summary>Largest JSON/text file read whole (a Hugging Face tokenizer.json is ~10 MB).</summary>
    public const long MaxTextBytes = 256L << 20;

    /// <summary>Longest line of a one-document-per-line data file: a longer line is a document no context of ours holds
    /// (and one sequence length for every document, so a single such line would size the whole model's batch).</summary>
    public const int MaxLineChars = 16_384;

    /// <summary>Throws unless <paramref name="path"/> names an existing regular file (symlinks followed); never opens it.</summary>
    public static void RequireRegular(string path, string what)
    {
        if (Directory.Exists(path)) throw new InputFileException($"{path}: is a directory, expected a {what}");
        var kind = Kind(path);
        if (kind is null)
        {
            // File.Exists is false for a dangling link or a link loop as well as a missing file: say which.
            var info = new FileInfo(path);
            if (info.LinkTarget is not null) throw new InputFileException($"{path}: broken or looping symbolic link, expected a {what}");
            throw new InputFileException($"{path}: {what} not found");
        }
        if (kind != "regular file") throw new InputFileException($"{path}: is a {kind}, not a regular file; expected a {what}");
    }

    /// <summary>Opens a regular file for reading.</summary>
    public static FileStream OpenRead(string path, string what)
    {
        RequireRegular(path, what);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
    }

    /// <summary>Reads a whole regular file of at most <see cref="MaxTextBytes"/> as strict UTF-8 text without NUL bytes.</summary>
    public static string ReadText(string path, string what)
    {
        using var fs = OpenRead(path, what);
        if (fs.Length > MaxTextBytes) throw new InputFileException($"{path}: {fs.Length:N0} bytes; a {what} may have at most {MaxTextBytes:N0}");
        var bytes = new byte[fs.Length];
        fs.ReadExactly(bytes);
        return Decode(path, what, bytes);
    }

    /// <summary>The lines of a regular UTF-8 text file, each at most <see cref="MaxLineChars"/> characters.</summary>
    public static IEnumerable<string> ReadLines(string path, string what)
    {
        RequireRegular(path, what);
        return Lines(path, what);
    }

    private static IEnumerable<string> Lines(string path, string what)
    {
        using (var fs = OpenRead(path, what))
        {
            // Strict decoding: an invalid byte sequence throws instead of becoming U+FFFD.
            using var reader = new StreamReader(fs, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: false);
            var sb = new StringBuilder();
            int lineNo = 1;
            while (true)
            {
                int c;
                try
                {
                    c = reader.Read();
                }
                catch (DecoderFallbackException)
                {
                    throw new InputFileException($"{path}: not valid UTF-8 (binary file?); expected a {what} in UTF-8 text");
                }
                if (c < 0 || c == '\n')
                {
                    if (c < 0 && sb.Length == 0) yield break;
                    if (sb.Length > 0 && sb[^1] == '\r') sb.Length--;
                    yield return sb.ToString();
                    sb.Clear();
                    lineNo++;
                    if (c < 0) yield break;
                    continue;
                }
                if (c == 0) throw new InputFileException($"{path}: line {lineNo} contains a NUL byte (binary file?); expected a {what} in UTF-8 text");
                if (sb.Length >= MaxLineChars)
                    throw new InputFileException($"{path}: line {lineNo} is longer than {MaxLineChars:N0} characters; a {what} holds one document per line (split long documents)");
                sb.Append((char)c);
            }
        }
    }

    private static string Decode(string path, string what, byte[] bytes)
    {
        try
        {
            string text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            int nul = text.IndexOf('\0');
            if (nul >= 0) throw new InputFileException($"{path}: contains a NUL byte (binary file?); expected a {what} in UTF-8 text");
            return text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
        }
        catch (DecoderFallbackException e)
        {
            throw new InputFileException($"{path}: not valid UTF-8 (byte {e.Index}; binary file?); expected a {what} in UTF-8 text");
        }
    }

    /// <summary>"regular file", "directory", "FIFO", "character device", "block device", "socket", or null when nothing is there
    /// (symlinks followed). Linux asks statx (its layout is the same on every architecture); elsewhere only files and directories are told apart.</summary>
    public static string? Kind(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            var buf = new byte[256];
            const int AtFdCwd = -100;
            const uint StatxType = 0x1;
            int rc = Statx(AtFdCwd, path, 0, StatxType, buf);
            if (rc != 0) return null;
            int mode = BitConverter.ToUInt16(buf, 28) & 0xF000;
            return mode switch
            {
                0x8000 => "regular file",
                0x4000 => "directory",
                0x1000 => "FIFO",
                0x2000 => "character device",
                0x6000 => "block device",
                0xC000 => "socket",
                _ => "special file",
            };
        }
        if (Directory.Exists(path)) return "directory";
        return File.Exists(path) ? "regular file" : null;
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buf);
}
