using System.Text;

namespace LLaDA.Diffusion.Data.Bpe;

/// <summary>GPT-2's byte ↔ character table of byte-level BPE: every byte becomes one printable character (space → 'Ġ', newline → 'Ċ').</summary>
internal static class ByteLevelAlphabet
{
    /// <summary>The character standing for each byte.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>The byte each character stands for, or -1 (indexed by character; every mapped character is below U+0144).</summary>
    public static readonly short[] CharToByte = BuildCharToByte();

    /// <summary>The byte-level form of a text: its UTF-8 bytes, each written as its character (lone surrogates encode as U+FFFD).</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        int n = Encoding.UTF8.GetByteCount(text);
        Span<byte> bytes = n <= 512 ? stackalloc byte[n] : new byte[n];
        Encoding.UTF8.GetBytes(text, bytes);
        Span<char> chars = n <= 512 ? stackalloc char[n] : new char[n];
        for (int i = 0; i < n; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>Appends the bytes a token stands for, as the reference ByteLevel decoder does: byte-level characters map back to their bytes; a token with any other character contributes its own UTF-8 bytes.</summary>
    public static void AppendBytes(string token, List<byte> into)
    {
        foreach (char c in token)
            if (c >= CharToByte.Length || CharToByte[c] < 0)
            {
                into.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
        foreach (char c in token) into.Add((byte)CharToByte[c]);
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[0x144];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (short)b;
        return map;
    }
}
