using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LLaDA.Cli.Commands;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Diffusion.Sampling;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tests.Cli;
using Xunit;

namespace LLaDA.Tests.Api;

/// <summary>A `llada make-checkpoint --shape mini` directory (LLaDA-8B-Instruct's layout, vocabulary and special ids; tiny widths), written once.</summary>
public sealed class MiniCheckpointFixture : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "llada-api-" + Guid.NewGuid().ToString("N"));

    public MiniCheckpointFixture() => SyntheticCheckpoint.Write(Dir, SyntheticCheckpoint.Plan("mini"), seed: 5);

    /// <summary>A directory with the mini checkpoint's files (shards linked, not copied) and <paramref name="replace"/> written over them.</summary>
    public string Variant(params (string File, string Text)[] replace)
    {
        string dir = Path.Combine(Path.GetTempPath(), "llada-api-variant-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Dir))
        {
            string to = Path.Combine(dir, Path.GetFileName(f));
            if (f.EndsWith(".safetensors", StringComparison.Ordinal)) File.CreateSymbolicLink(to, f);
            else File.Copy(f, to);
        }
        foreach (var (file, text) in replace) File.WriteAllText(Path.Combine(dir, file), text);
        return dir;
    }

    public void Dispose()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, true);
    }
}

/// <summary>The public API (<see cref="LladaModel"/>) on a Hugging Face-layout directory: chat template, generation_config.json
/// precedence, streaming of committed blocks, likelihood, the CLI going through it, and the Quickstart example.</summary>
[Collection("Console")]
public sealed class LladaModelTests(MiniCheckpointFixture mini) : IClassFixture<MiniCheckpointFixture>, IDisposable
{
    private readonly List<string> _dirs = [];

    public void Dispose()
    {
        foreach (var d in _dirs)
            if (Directory.Exists(d)) Directory.Delete(d, true);
    }

    private string Variant(params (string File, string Text)[] replace)
    {
        var d = mini.Variant(replace);
        _dirs.Add(d);
        return d;
    }

    /// <summary>Options that make the random mini model write text: EOS and end of turn banned, 4 blocks of 8, dual cache, threshold decoding.</summary>
    private static GenerationOptions Writing => new()
    {
        GenLength = 32, BlockLength = 8, Threshold = 0.9, Cache = CacheMode.Dual, LogitsEosInf = true, BannedTokens = [126348],
    };

    // ---- chat template

    [Fact]
    public void ChatTemplate_FromTokenizerConfig_RendersLladasHeaderEotFormat()
    {
        using var model = LladaModel.Load(mini.Dir);
        Assert.Equal(ChatFormat.Llada, model.ChatFormat);
        var messages = new[] { ChatMessage.System("Be brief."), ChatMessage.User(" What is 2+2?\n"), ChatMessage.Assistant("4"), ChatMessage.User("And 3+3?") };
        const string expected =
            "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n";
        Assert.Equal(expected, model.RenderChat(messages));
        var ids = model.EncodeChat(messages);
        Assert.Equal([126080, 126346], ids[..2]); // BOS, <|start_header_id|> as single ids (SPEC §3)
        Assert.Equal(126347, ids[^3]);            // <|end_header_id|>, then "\n\n"
        Assert.Equal(4, ids.Count(i => i == 126348)); // one <|eot_id|> per message
        Assert.EndsWith("<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", model.RenderChat([ChatMessage.User("hi")], addGenerationPrompt: false));
    }

    [Fact]
    public void ChatFormat_ReadsTheTemplatesStrings_AndRefusesOtherForms()
    {
        // The chat-bpe fixture's variant: {{ bos_token }} first, Jinja "\n" escapes, double braces instead of set/content.
        string fixture = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Cli", "Fixtures", "chat-bpe", "tokenizer_config.json"));
        Assert.Equal(ChatFormat.Llada, ChatFormat.FromTokenizerConfig(fixture));
        // Other header and end-of-turn strings are taken from the template.
        var custom = ChatFormat.Parse("{% for message in messages %}{{ '<H>' + message['role'] + '</H>:' + message['content'] + '<E>' }}{% endfor %}{% if add_generation_prompt %}{{ '<H>assistant</H>:' }}{% endif %}");
        Assert.Equal(new ChatFormat("<H>", "</H>:", "<E>", TrimContent: false, BosFirst: false), custom);
        Assert.Equal("<H>user</H>: x <E><H>assistant</H>:", custom.Render("<B>", [("user", " x ")], true));
        // ChatML appends "\n" after the end of turn: not this form, refused rather than rendered without it.
        var chatMl = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        var e = Assert.Throws<InvalidDataException>(() => ChatFormat.Parse(chatMl));
        Assert.Contains("only LLaDA's header/eot chat template", e.Message);
        Assert.Null(ChatFormat.FromTokenizerConfig("{\"bos_token\": \"<s>\"}")); // a base model: no template
        // A directory whose template is of another form is refused at load, naming the file.
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(mini.Dir, "tokenizer_config.json")))!;
        cfg["chat_template"] = chatMl;
        string dir = Variant(("tokenizer_config.json", cfg.ToJsonString()));
        var le = Assert.Throws<InvalidDataException>(() => LladaModel.Load(dir));
        Assert.Contains("tokenizer_config.json", le.Message);
    }

    // ---- generation_config.json

    [Fact]
    public void GenerationConfig_LladasOwn_NamesIdsOnly_AndKeepsTheBuiltInDefaults()
    {
        using var model = LladaModel.Load(mini.Dir);
        Assert.Equal([126081], model.Defaults.EosTokenIds);
        Assert.Equal(126080, model.Defaults.BosTokenId);
        Assert.Equal(126081, model.Defaults.PadTokenId);
        Assert.Equal(LladaModel.BuiltInDefaults, model.ResolveOptions(null));
        Assert.Equal(new[] { 126081, 126348 }, model.StopTokens.Order());
    }

    [Fact]
    public void GenerationConfig_DefaultsApply_AndExplicitOptionsOverrideThem()
    {
        var gc = new JsonObject
        {
            ["bos_token_id"] = 126080, ["eos_token_id"] = new JsonArray(126081, 126348), ["pad_token_id"] = 126081,
            ["max_new_tokens"] = 16, ["block_length"] = 8, ["steps"] = 8, ["do_sample"] = true, ["temperature"] = 0.5,
            ["remasking"] = "random", ["threshold"] = 0.8, ["use_cache"] = "prefix", ["logits_eos_inf"] = true,
        };
        string dir = Variant(("generation_config.json", gc.ToJsonString()));
        using var model = LladaModel.Load(dir);
        var d = model.ResolveOptions(null);
        Assert.Equal(LladaModel.BuiltInDefaults with
        {
            GenLength = 16, BlockLength = 8, Steps = 8, Temperature = 0.5, Remasking = Remasking.Random, Threshold = 0.8, Cache = CacheMode.Prefix, LogitsEosInf = true,
        }, d);
        // Explicit options win field by field; a factor replaces the file's threshold (one decoding mode).
        var o = model.ResolveOptions(new GenerationOptions { GenLength = 24, Temperature = 0, Factor = 1.0, Cache = CacheMode.Dual });
        Assert.Equal(d with { GenLength = 24, Temperature = 0, Threshold = null, Factor = 1.0, Cache = CacheMode.Dual }, o);
        // And the generation runs with them: the file's 16 tokens by default, the call's 24 when given.
        Assert.Equal(16, model.Generate("hi").Generated.Length);
        Assert.Equal(24, model.Generate("hi", new GenerationOptions { GenLength = 24 }).Generated.Length);
        // do_sample false is greedy whatever the temperature.
        Assert.Equal(0, GenerationDefaults.Parse("{\"do_sample\": false, \"temperature\": 0.7}").Options.Temperature);
    }

    [Theory]
    [InlineData("{\"top_p\": 0.9}", "top_p 0.9 is not supported")]
    [InlineData("{\"num_beams\": 4}", "num_beams 4 is not supported")]
    [InlineData("{\"repetition_penalty\": 1.1}", "repetition_penalty 1.1 is not supported")]
    [InlineData("{\"max_new_tokens\": 0}", "max_new_tokens 0 is not an integer ≥ 1")]
    [InlineData("{\"max_new_tokens\": 8, \"gen_length\": 16}", "max_new_tokens 8 and gen_length 16 disagree")]
    [InlineData("{\"remasking\": \"sideways\"}", "remasking \"sideways\" is not one of")]
    [InlineData("{\"use_cache\": \"triple\"}", "use_cache \"triple\" is not none, prefix, dual")]
    [InlineData("{\"eos_token_id\": \"x\"}", "eos_token_id \"x\" is not a token id")]
    [InlineData("[1]", "the root is not a JSON object")]
    public void GenerationConfig_UnsupportedOrBadValues_AreRefusedNamingTheField(string json, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => GenerationDefaults.Parse(json, "generation_config.json"));
        Assert.StartsWith("generation_config.json: ", e.Message);
        Assert.Contains(message, e.Message);
        // Neutral values are accepted.
        GenerationDefaults.Parse("{\"top_p\": 1.0, \"top_k\": null, \"num_beams\": 1, \"repetition_penalty\": 1.0}");
    }

    [Fact]
    public void GenerationConfig_IdsThatDisagreeWithTheTokenizer_AreRefusedAtLoad()
    {
        string dir = Variant(("generation_config.json", "{\"bos_token_id\": 5}"));
        var e = Assert.Throws<InvalidDataException>(() => LladaModel.Load(dir));
        Assert.Contains("bos_token_id 5 differs from the tokenizer's BOS 126080", e.Message);
        string dir2 = Variant(("generation_config.json", "{\"eos_token_id\": [126081, 200000]}"));
        Assert.Contains("token id 200000 is outside the tokenizer's 126464 tokens", Assert.Throws<InvalidDataException>(() => LladaModel.Load(dir2)).Message);
    }

    // ---- streaming

    [Fact]
    public async Task Streaming_ReportsEachBlockOnce_AndTheDeltasConcatenateToTheAnswer()
    {
        using var model = LladaModel.Load(mini.Dir);
        var messages = new[] { ChatMessage.User("Tell me a story.") };
        var blocks = new List<GeneratedBlock>();
        var r = model.Chat(messages, Writing, blocks.Add);
        Assert.Equal([0, 1, 2, 3], blocks.Select(b => b.Index));
        Assert.All(blocks, b => Assert.Equal(4, b.Count));
        Assert.Equal(r.Text, string.Concat(blocks.Select(b => b.Delta)));
        Assert.Equal(r.Text, blocks[^1].Text);
        Assert.True(r.Text.Length > 0 && blocks.Count(b => b.Delta.Length > 0) >= 2, $"the mini model should write text in several blocks: '{r.Text}'");
        // Each block's text is the decoded answer up to the block's end (independently: Decode of the final tokens' prefix).
        var tok = model.Tokenizer;
        for (int k = 0; k < blocks.Count; k++)
        {
            var prefix = r.Generated[..Math.Min((k + 1) * 8, r.Tokens.Length)];
            string text = tok.Decode(prefix, skipSpecial: true);
            if (k < blocks.Count - 1) text = text.TrimEnd('\uFFFD');
            Assert.Equal(text, blocks[k].Text);
            Assert.Equal(string.Concat(blocks.Take(k + 1).Select(b => b.Delta)), blocks[k].Text);
        }
        Assert.Equal(blocks.Select(b => b.Forwards).Order(), blocks.Select(b => b.Forwards));
        Assert.Equal(r.Forwards, blocks[^1].Forwards);
        // Streaming changes nothing: the same tokens without a callback, and through the IAsyncEnumerable.
        var plain = model.Chat(messages, Writing);
        Assert.Equal(r.Generated, plain.Generated);
        var streamed = new List<GeneratedBlock>();
        await foreach (var b in model.ChatStreamAsync(messages, Writing)) streamed.Add(b);
        Assert.Equal(blocks.Select(b => b.Delta), streamed.Select(b => b.Delta));
        // The cost figures: threshold decoding with a dual cache takes at least one forward per block and at most one per token.
        Assert.InRange(r.Forwards, 4, 32 + 4);
        Assert.True(r.Seconds > 0 && r.Steps >= 4);
        Assert.Equal(r.Text, tok.Decode(r.Tokens, skipSpecial: true));
    }

    [Fact]
    public async Task Streaming_AnErrorInTheSampler_ReachesTheAwaitingCaller()
    {
        using var model = LladaModel.Load(mini.Dir);
        // The mask token's text is encoded as the mask id, which a prompt may not contain: the sampler refuses it on the worker.
        var e = await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var _ in model.GenerateStreamAsync("a <|mdm_mask|> b", new GenerationOptions { GenLength = 8, BlockLength = 8 })) { }
        });
        Assert.Contains("contains the mask id", e.Message);
    }

    // ---- bad input

    [Fact]
    public void BadInput_IsRefusedWithAClearMessage()
    {
        using var model = LladaModel.Load(mini.Dir);
        Assert.Equal("chat: no messages", Assert.Throws<ArgumentException>(() => model.Chat([])).Message);
        Assert.Equal("chat: message 0 has no role", Assert.Throws<ArgumentException>(() => model.Chat([new ChatMessage(" ", "x")])).Message);
        Assert.Equal("sampler: gen_length 10 is not a multiple of block_length 4",
            Assert.Throws<ArgumentException>(() => model.Generate("hi", new GenerationOptions { GenLength = 10, BlockLength = 4 })).Message);
        Assert.Equal("the prompt (3 tokens) + the generated tokens (5000) exceeds the model's context (max_sequence_length 4096)",
            Assert.Throws<ArgumentException>(() => model.Generate("hi", new GenerationOptions { GenLength = 5000, BlockLength = 5000 })).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => model.GenerateIds([126080, 999999], model.ResolveOptions(null))).Message);
        Assert.Contains("contains the mask id", Assert.Throws<ArgumentException>(() => model.GenerateIds([126080, 126336], model.ResolveOptions(null))).Message);
        Assert.Contains("not found", Assert.Throws<DirectoryNotFoundException>(() => LladaModel.Load(Path.Combine(mini.Dir, "nope"))).Message);
        Assert.Equal("likelihood: no options to choose from", Assert.Throws<ArgumentException>(() => model.MultipleChoice("q", [])).Message);
    }

    // ---- likelihood

    [Fact]
    public void Likelihood_OnTheHfDirectory_EqualsTheEstimatorCalledDirectly_InTheApiAndTheCli()
    {
        const string prompt = "The capital of France is", answer = " Paris";
        var cfg = new LikelihoodConfig { McNum = 4, BatchSize = 2, Seed = 7 };
        // The estimator on the network and tokenizer loaded without the API.
        var files = ModelFiles.Open(mini.Dir);
        using var net = Checkpoint.MapModel(files);
        var tok = TokenizerFiles.Load(mini.Dir);
        var sp = tok.Specials with { Mask = files.Config.MaskTokenId };
        var direct = new LikelihoodEstimator(new MaskPredictorLogits(net), sp).Estimate([126080, .. tok.Encode(prompt)], tok.Encode(answer), cfg);
        Assert.True(double.IsFinite(direct.Value) && direct.Value < 0);

        using var model = LladaModel.Load(mini.Dir);
        Assert.Equal(direct, model.Likelihood(prompt, answer, cfg));

        var (code, stdout, err) = CliRunner.Run(["eval", "likelihood", "--model", mini.Dir, "--prompt", prompt, "--answer", answer, "--mc-num", "4", "--batch", "2", "--seed", "7", "--json"]);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(direct.Value, doc.RootElement.GetProperty("log_likelihood").GetDouble());
        Assert.Equal(direct.StdError, doc.RootElement.GetProperty("std_error").GetDouble());
    }

    // ---- the CLI goes through the API

    [Fact]
    public void CliChat_WithModel_ReadsStdin_AndPrintsTheApisAnswers()
    {
        string[] args = ["chat", "--model", mini.Dir, "--gen-length", "16", "--block-length", "8", "--threshold", "0.9", "--cache", "dual", "--eos-inf", "--threads", "1"];
        var (code, stdout, err) = CliRunner.Run(args, "hello\nand then?\n\n");
        Assert.True(code == 0, err);
        // The same two turns through the API (chat.py semantics: the second prompt holds the first turn's output).
        using var model = LladaModel.Load(mini.Dir);
        var session = model.StartChat();
        var options = new GenerationOptions { GenLength = 16, BlockLength = 8, Threshold = 0.9, Cache = CacheMode.Dual, LogitsEosInf = true };
        string first = session.Send("hello", options).Text, second = session.Send("and then?", options).Text;
        Assert.True(first.Length > 0, "the first answer should not be empty");
        Assert.Equal($"> {first}\n> {second}\n> ", stdout.ReplaceLineEndings("\n"));
        Assert.Contains("chatting with", err);
    }

    [Fact]
    public void CliGenerate_ModelAndCheckpointNames_AreOneOption_AndStreamTheApisAnswer()
    {
        string[] rest = ["--prompt", "hi", "--gen-length", "16", "--block-length", "8", "--threshold", "0.9", "--cache", "prefix", "--chat-template", "--eos-inf", "--threads", "1"];
        var (code, stdout, err) = CliRunner.Run(["generate", "--model", mini.Dir, .. rest]);
        Assert.True(code == 0, err);
        var (code2, stdout2, _) = CliRunner.Run(["generate", "--checkpoint", mini.Dir, .. rest]);
        Assert.Equal(0, code2);
        Assert.Equal(stdout, stdout2);
        using var model = LladaModel.Load(mini.Dir);
        var r = model.Chat([ChatMessage.User("hi")], new GenerationOptions { GenLength = 16, BlockLength = 8, Threshold = 0.9, Cache = CacheMode.Prefix, LogitsEosInf = true });
        Assert.Equal("hi" + r.Text + "\n", stdout.ReplaceLineEndings("\n"));
        Assert.Contains($"{r.Forwards} forward passes", err);
    }

    [Fact]
    public void Cli_AGenerationConfigValueItRefuses_IsOneLlladaLine()
    {
        string dir = Variant(("generation_config.json", "{\"top_k\": 40}"));
        var (code, _, err) = CliRunner.Run(["generate", "--model", dir, "--prompt", "hi"]);
        Assert.NotEqual(0, code);
        Assert.Equal($"llada: {Path.Combine(dir, "generation_config.json")}: top_k 40 is not supported by the diffusion sampler (only its neutral value is accepted)", err.Trim());
    }

    // ---- the example

    [Fact]
    public async Task Quickstart_Example_LoadsChatsStreamsAndScores()
    {
        var output = new StringWriter();
        var report = await LLaDA.Examples.Quickstart.RunAsync(mini.Dir, output);
        string text = output.ToString();
        Assert.Contains("loaded ", text);
        Assert.Equal(report.Chat.Text, string.Concat(report.ChatBlocks.Select(b => b.Delta)));
        Assert.Equal(4, report.ChatBlocks.Count);
        Assert.Equal(4, report.StreamedBlocks);
        Assert.Contains("assistant: " + report.Chat.Text, text);
        Assert.Contains($"{report.Chat.Forwards} forward passes", text);
        Assert.True(double.IsFinite(report.Score.Value) && report.Score.Value <= 0);
        // The example's calls give what the API gives called directly.
        using var model = LladaModel.Load(mini.Dir);
        var options = new GenerationOptions { GenLength = 32, BlockLength = 8, Threshold = 0.9, Cache = CacheMode.Dual };
        Assert.Equal(model.Generate("The capital of France is", options).Text, report.StreamedText);
        Assert.Equal(model.Likelihood("The capital of France is", " Paris", new LikelihoodConfig { McNum = 8, BatchSize = 4 }), report.Score);
    }
}
