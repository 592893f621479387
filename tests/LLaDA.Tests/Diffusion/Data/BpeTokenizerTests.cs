using System.Diagnostics;
using System.Text;
using System.Text.Json;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Data.Unicode;
using LLaDA.Tests.Testing;
using Xunit;
using Xunit.Abstractions;

namespace LLaDA.Tests.Diffusion.Data;

public class BpeTokenizerTests(ITestOutputHelper output)
{
    // ---- A tiny hand-written byte-level tokenizer.json --------------------------------------------------------------

    private const string TinyVocab = """
        "h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "w": 5, "r": 6, "d": 7, "he": 8, "ll": 9, "hell": 10, "hello": 11,
        "Ġw": 12, "or": 13, "Ġwor": 14, "!": 15, "wd": 19, "ä": 20, "Ì": 21, "¸": 22
        """;

    private const string TinyMerges = """["h e", ["l", "l"], "he ll", ["hell", "o"], "Ġ w", "o r", ["Ġw", "or"]]""";

    private const string TinyAdded = """
        [{"id": 16, "content": "<|endoftext|>", "special": true, "normalized": false},
         {"id": 17, "content": "<|mdm_mask|>", "special": true, "normalized": false},
         {"id": 18, "content": "<think>", "special": false, "normalized": false}]
        """;

    private static string Tiny(string vocab = TinyVocab, string merges = TinyMerges, string added = TinyAdded, bool ignoreMerges = false,
        string modelType = "\"BPE\"", string normalizer = """{"type": "NFC"}""",
        string preTokenizer = """{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}""") => $$"""
        {
          "version": "1.0",
          "added_tokens": {{added}},
          "normalizer": {{normalizer}},
          "pre_tokenizer": {{preTokenizer}},
          "post_processor": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
          "model": {"type": {{modelType}}, "dropout": null, "unk_token": null, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                    "fuse_unk": false, "byte_fallback": false, "ignore_merges": {{(ignoreMerges ? "true" : "false")}},
                    "vocab": {{{vocab}}}, "merges": {{merges}}}
        }
        """;

    [Fact]
    public void Encode_TinyTokenizer_GivesHandComputedIds()
    {
        var tok = BpeTokenizer.Parse(Tiny());
        // "hello" → h e l l o → he l l o → he ll o → hell o → hello; " world" → Ġw o r l d → Ġw or l d → Ġwor l d; "!".
        Assert.Equal([11, 14, 2, 7, 15], tok.Encode("hello world!"));
        Assert.Equal([11, 16, 18, 4, 11], tok.Encode("hello<|endoftext|><think> hello"));
        Assert.Equal([5, 7], tok.Encode("wd"));
        Assert.Empty(tok.Encode(""));
        Assert.Equal(23, tok.VocabSize);
    }

    [Fact]
    public void Encode_WithIgnoreMerges_TakesAWholePreTokenFromTheVocabulary()
    {
        var tok = BpeTokenizer.Parse(Tiny(ignoreMerges: true));
        Assert.Equal([19], tok.Encode("wd"));
        Assert.Equal([11, 14, 2, 7, 15], tok.Encode("hello world!"));
    }

    [Fact]
    public void Encode_SplitPreTokenizerWithAddPrefixSpace_PrefixesEachPiece()
    {
        // Sequence [Split " " Removed, ByteLevel(add_prefix_space)]: "hello  hello" → "hello", "hello" → " hello" each → "Ġhello".
        var pre = """
            {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"String": " "}, "behavior": "Removed", "invert": false},
              {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": false}]}
            """;
        var tok = BpeTokenizer.Parse(Tiny(vocab: TinyVocab + ", \"Ġhello\": 23", merges: """["h e", "l l", "he ll", "hell o", "Ġ hello"]""", preTokenizer: pre));
        Assert.Equal([23, 23], tok.Encode("hello  hello"));
    }

    [Fact]
    public void Encode_AddedTokenBeforeACombiningMark_IsMatchedBeforeNormalization()
    {
        // NFC of the whole text would turn ">" + U+0338 into "≯" and destroy <think>; the reference normalizes only around it.
        var tok = BpeTokenizer.Parse(Tiny());
        Assert.Equal([18, 21, 22], tok.Encode("<think>\u0338"));
    }

    [Fact]
    public void Encode_NormalizedAddedToken_IsMatchedInTheNormalizedText()
    {
        const string added = """[{"id": 23, "content": "\u00C5", "special": false, "normalized": true}]""";
        var tok = BpeTokenizer.Parse(Tiny(added: added), maskToken: "!", tokenizerConfigJson: """{"eos_token": "!"}""");
        Assert.Equal([23, 23, 11], tok.Encode("A\u030A\u00C5hello"));
    }

    [Fact]
    public void Encode_AddedTokenOptions_StripAndSingleWordAsTheReference()
    {
        const string added = """
            [{"id": 23, "content": "<s>", "special": true, "lstrip": true, "rstrip": true, "normalized": false},
             {"id": 24, "content": "wd", "special": false, "single_word": true, "normalized": false}]
            """;
        var tok = BpeTokenizer.Parse(Tiny(added: added), """{"eos_token": "<s>"}""");
        Assert.Equal([11, 23, 11], tok.Encode("hello  <s>  hello"));   // the spaces around <s> belong to it
        Assert.Equal([24, 4, 24], tok.Encode("wd wd"));
        Assert.Equal([11, 5, 7], tok.Encode("hellowd"));               // not a single word: ordinary text
    }

    [Fact]
    public void Decode_TinyTokenizer_InvertsTheByteLevelMapping()
    {
        var tok = BpeTokenizer.Parse(Tiny());
        Assert.Equal("hello world!", tok.Decode([11, 14, 2, 7, 15]));
        Assert.Equal("hello<|endoftext|><think> hello", tok.Decode([11, 16, 18, 4, 11]));
        Assert.Equal("hello<think> hello", tok.Decode([11, 16, 18, 4, 11], skipSpecial: true));
        Assert.Equal("\uFFFD", tok.Decode([20])); // byte 0xE4 alone is not UTF-8
        Assert.Equal("\u0338", tok.Decode([21, 22]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([99]));
    }

    [Fact]
    public void Specials_WithoutConfig_ComeFromWellKnownAddedTokens()
    {
        var sp = BpeTokenizer.Parse(Tiny()).Specials;
        Assert.Equal(new SpecialTokens(Eos: 16, Mask: 17), sp);
        Assert.Equal(16, sp.PadId);
    }

    [Fact]
    public void Specials_WithConfig_ComeFromIt()
    {
        const string config = """{"bos_token": "<think>", "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>"}, "pad_token": "!", "unk_token": null}""";
        var sp = BpeTokenizer.Parse(Tiny(), config).Specials;
        Assert.Equal(new SpecialTokens(Eos: 16, Mask: 17, Bos: 18, Pad: 15), sp);
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(Tiny(), """{"eos_token": "</s>"}"""));
        Assert.Contains("eos_token '</s>'", e.Message);
    }

    [Fact]
    public void Specials_WithoutAMaskToken_MakeOneUpPastTheVocabulary()
    {
        const string added = """[{"id": 16, "content": "<|endoftext|>", "special": true, "normalized": false}]""";
        var tok = BpeTokenizer.Parse(Tiny(added: added));
        Assert.Equal(23, tok.Specials.Mask);
        Assert.Equal(24, tok.VocabSize);
        Assert.DoesNotContain(23, tok.Encode("<|mdm_mask|>")); // not in the reference's vocabulary: stays text
        Assert.Equal("<|mdm_mask|>", tok.Decode([23]));
        Assert.Equal("hello", tok.Decode([11, 23], skipSpecial: true));
        Assert.Equal(11, BpeTokenizer.Parse(Tiny(added: added), maskToken: "hello").Specials.Mask);
    }

    [Fact]
    public void CodePointRegex_AstralLettersAndDigits_MatchAsOneCodePoint()
    {
        const string qwen = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        var regex = new LLaDA.Diffusion.Data.Bpe.CodePointRegex(qwen);
        string[] Pieces(string text)
        {
            var m = new List<(int Start, int End)>();
            regex.Matches(text, m);
            return m.Select(x => text[x.Start..x.End]).ToArray();
        }
        Assert.Equal(["\U00020000", "'s"], Pieces("\U00020000's"));
        Assert.Equal(["女\U00021853名"], Pieces("女\U00021853名"));
        Assert.Equal(["\U0001D7CF", "\U0001D7D0", "'d"], Pieces("\U0001D7CF\U0001D7D0'd"));   // mathematical digits: one pre-token each
        Assert.Equal(["\U0001F600hello"], Pieces("\U0001F600hello"));                 // one non-letter, then letters (plain .NET splits the surrogates)
    }

    [Theory]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {", "malformed JSON")]
    [InlineData("[]", "root is not a JSON object")]
    [InlineData("{}", "no \"model\"")]
    public void Parse_MalformedFile_ThrowsInvalidData(string json, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(json));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Parse_TruncatedTokenizerJson_ThrowsInvalidData()
    {
        string json = Tiny();
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(json[..(json.Length / 2)]));
        Assert.Contains("malformed JSON", e.Message);
    }

    [Fact]
    public void Parse_UnknownModelType_ThrowsInvalidData()
    {
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(Tiny(modelType: "\"WordPiece\"")));
        Assert.Contains("unsupported model type 'WordPiece'", e.Message);
    }

    [Fact]
    public void Parse_MergeWithUnknownToken_ThrowsInvalidData()
    {
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(Tiny(merges: """["h e", ["l", "x"]]""")));
        Assert.Contains("model.merges[1] ('l', 'x') names 'x', which is not in the vocabulary", e.Message);
        e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(Tiny(merges: """["h o"]""")));
        Assert.Contains("makes 'ho', which is not in the vocabulary", e.Message);
        e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(Tiny(merges: """["h e l"]""")));
        Assert.Contains("model.merges[0]", e.Message);
    }

    [Fact]
    public void Parse_MissingVocab_ThrowsInvalidData()
    {
        string json = Tiny().Replace("\"vocab\":", "\"vocabulary\":");
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(json));
        Assert.Contains("the model has no \"vocab\"", e.Message);
    }

    [Theory]
    [InlineData("""{"type": "NFKC"}""", null, "unsupported normalizer type 'NFKC'")]
    [InlineData("""{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}""", null, "unsupported normalizer type 'Lowercase' at normalizer.normalizers[1]")]
    [InlineData(null, """{"type": "Whitespace"}""", "unsupported pre_tokenizer type 'Whitespace'")]
    [InlineData(null, """{"type": "Split", "pattern": {"Regex": "(?<"}, "behavior": "Isolated", "invert": false}""", "does not compile")]
    [InlineData(null, """{"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways", "invert": false}""", "behavior 'Sideways'")]
    public void Parse_UnsupportedComponent_ThrowsInvalidDataNamingIt(string? normalizer, string? preTokenizer, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(normalizer is not null ? Tiny(normalizer: normalizer) : Tiny(preTokenizer: preTokenizer!)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Parse_HugeId_ThrowsInvalidDataInsteadOfAllocating()
    {
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(Tiny(vocab: TinyVocab + ", \"dd\": 2000000000")));
        Assert.Contains("implausibly sparse", e.Message);
    }

    [Fact]
    public void Parse_NoByteLevelPreTokenizer_ThrowsInvalidData()
    {
        var pre = """{"type": "Split", "pattern": {"String": " "}, "behavior": "Isolated", "invert": false}""";
        var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Parse(Tiny(preTokenizer: pre)));
        Assert.Contains("0 ByteLevel steps", e.Message);
    }

    // ---- The Qwen3 fixture: golden ids from the Rust tokenizers library ---------------------------------------------

    private static long _qwen3LoadMs;
    private static readonly Lazy<BpeTokenizer> Qwen3 = new(() =>
    {
        var sw = Stopwatch.StartNew();
        var tok = BpeTokenizer.Load(TokenizerFixture.PathOf("tokenizer.json"));
        _qwen3LoadMs = sw.ElapsedMilliseconds;
        return tok;
    });

    [TokenizerFixtureFact]
    public void Encode_Qwen3Golden_MatchesTheReferenceOnEveryLine() => CheckGolden("golden.jsonl", 3320);

    [TokenizerFixtureFact]
    public void Encode_Qwen3GoldenSpecial_MatchesTheReferenceOnEveryLine() => CheckGolden("golden_special.jsonl", 50);

    [TokenizerFixtureFact]
    public void Specials_Qwen3WithoutConfig_UseWellKnownTokensAndAMadeUpMask()
    {
        var tok = Qwen3.Value;
        Assert.Equal(new SpecialTokens(Eos: 151643, Mask: 151669, EndOfTurn: 151645), tok.Specials);
        Assert.Equal(151670, tok.VocabSize);
        const string chat = "<|im_start|>user\n你好<|im_end|>\n<think>\n\n</think>";
        Assert.Equal("user\n你好\n<think>\n\n</think>", tok.Decode(tok.Encode(chat), skipSpecial: true));
    }

    [TokenizerFixtureFact]
    public void Encode_Qwen3FromManyThreads_GivesTheSameIds()
    {
        var tok = Qwen3.Value;
        var texts = File.ReadLines(TokenizerFixture.PathOf("golden.jsonl")).Take(600)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()!).ToArray();
        var expected = texts.Select(tok.Encode).ToArray();
        var actual = new int[texts.Length][];
        Parallel.For(0, texts.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => actual[i % texts.Length] = tok.Encode(texts[i % texts.Length]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    [TokenizerFixtureFact]
    public void Encode_Qwen3LoneSurrogate_EncodesAsReplacementCharacter()
    {
        var tok = Qwen3.Value;
        Assert.Equal(tok.Encode("a\uFFFDb\uFFFD"), tok.Encode("a\uD800b\uDC00"));
    }

    private void CheckGolden(string file, int expectedLines)
    {
        var tok = Qwen3.Value;
        var addedTokens = AddedTokenStrings();
        var failures = new List<string>();
        int lines = 0;
        long encodeTicks = 0;
        foreach (var line in File.ReadLines(TokenizerFixture.PathOf(file)))
        {
            lines++;
            using var doc = JsonDocument.Parse(line);
            string text = doc.RootElement.GetProperty("text").GetString()!;
            int[] gold = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            long t0 = Stopwatch.GetTimestamp();
            int[] ids = tok.Encode(text);
            encodeTicks += Stopwatch.GetTimestamp() - t0;
            if (!ids.AsSpan().SequenceEqual(gold))
                failures.Add($"{file}:{lines} encode {Escape(text)}\n  expected [{string.Join(", ", gold)}]\n  actual   [{string.Join(", ", ids)}]");
            string expectedText = ExpectedDecode(text, addedTokens), decoded = tok.Decode(gold);
            if (decoded != expectedText)
                failures.Add($"{file}:{lines} decode {Escape(text)}\n  expected {Escape(expectedText)}\n  actual   {Escape(decoded)}");
        }
        output.WriteLine($"{file}: {lines} lines, {lines - failures.Select(f => f.Split(' ')[0]).Distinct().Count()} fully matching; "
            + $"encoding took {Stopwatch.GetElapsedTime(0, encodeTicks).TotalMilliseconds:F0} ms (tokenizer.json loaded in {_qwen3LoadMs} ms)");
        Assert.Equal(expectedLines, lines);
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches:\n" + string.Join("\n", failures.Take(30)));
    }

    /// <summary>The fixture's definition of the decoded text: NFC between the added-token matches (leftmost, longest first).</summary>
    private static string ExpectedDecode(string text, string[] addedTokens)
    {
        var sb = new StringBuilder();
        int pos = 0, i = 0;
        while (i < text.Length)
        {
            string? hit = addedTokens.FirstOrDefault(t => text.AsSpan(i).StartsWith(t, StringComparison.Ordinal));
            if (hit is null) { i++; continue; }
            sb.Append(UnicodeNormalizer.Nfc(text[pos..i])).Append(hit);
            pos = i = i + hit.Length;
        }
        return sb.Append(UnicodeNormalizer.Nfc(text[pos..])).ToString();
    }

    private static string[] AddedTokenStrings()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TokenizerFixture.PathOf("tokenizer.json")));
        return doc.RootElement.GetProperty("added_tokens").EnumerateArray().Select(a => a.GetProperty("content").GetString()!)
            .OrderByDescending(s => s.Length).ToArray();
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var r in (s.Length > 200 ? s[..200] + "…" : s).EnumerateRunes())
            sb.Append(r.Value is < 0x20 or (>= 0x7F and < 0xA0) || Rune.GetUnicodeCategory(r) is System.Globalization.UnicodeCategory.Format
                or System.Globalization.UnicodeCategory.NonSpacingMark ? $"\\u{r.Value:X4}" : r.ToString());
        return sb.Append('"').ToString();
    }
}
