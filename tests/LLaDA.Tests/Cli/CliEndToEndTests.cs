using System.Globalization;
using System.Text.Json;
using LLaDA.Diffusion.Data;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>Every `llada` command end to end at tiny scale (seconds each): the files, log rows, exit codes and decoded outputs they produce.</summary>
[Collection("Console")]
public sealed class CliEndToEndTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-e2e-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private string P(params string[] parts) => Path.Combine([_dir, .. parts]);

    // A pre-training run on 24 bundled poems: tiny model, 6 steps of batch 4, held-out loss and a checkpoint every 3 steps.
    private static string[] TrainArgs(string outDir) =>
        ["train", "--preset", "tiny", "--poems", "24", "--steps", "6", "--batch", "4", "--eval-every", "3", "--save-every", "3",
         "--seed", "5", "--samples", "1", "--no-progress", "--out", outDir];

    private static string[][] Csv(string path) => File.ReadAllLines(path).Skip(1).Select(l => l.Split(',')).ToArray();

    [Fact]
    public void Train_WithoutHeldOutEvaluation_PrintsNoNaN()
    {
        // --eval-every 0: no held-out loss ever exists, so every progress line and the summary show "—" for it, never "NaN".
        var (code, stdout, err) = Run(["train", "--preset", "tiny", "--poems", "24", "--steps", "2", "--batch", "4", "--eval-every", "0",
            "--seed", "5", "--samples", "0", "--no-progress", "--out", P("noeval")]);
        Assert.True(code == 0, err);
        Assert.Contains("eval —", stdout);
        Assert.DoesNotContain("NaN", stdout + err);
    }

    [Fact]
    public void Train_WritesLogRowsPerStep_CheckpointsWithLatest_AndALoadableModel()
    {
        var (code, stdout, err) = Run(TrainArgs(P("run")));
        Assert.True(code == 0, err);
        // log.csv: the header and one row per step, held-out loss exactly at the eval steps, warm-up raising the lr.
        var header = File.ReadLines(P("run", "log.csv")).First();
        Assert.Equal("step,loss,eval_loss,lr,grad_norm,tokens_per_s,masked_tokens,step_s,loss_var", header);
        var rows = Csv(P("run", "log.csv"));
        Assert.Equal(new[] { "0", "1", "2", "3", "4", "5" }, rows.Select(r => r[0])); // 0-based step of each row
        var loss = rows.Select(r => double.Parse(r[1], CultureInfo.InvariantCulture)).ToArray();
        // An untrained model (init std 0.02) predicts nearly uniformly: each step's loss Σ_masked CE/(p·B·L) is about ln V.
        int vocab = CharTokenizer.FromJson(File.ReadAllText(P("run", "checkpoints", "step-000006", "tokenizer.char.json"))).VocabSize;
        Assert.All(loss, l => Assert.InRange(l, 0.5 * Math.Log(vocab), 1.5 * Math.Log(vocab)));
        Assert.Equal(new[] { false, false, true, false, false, true }, rows.Select(r => r[2].Length > 0));
        var lr = rows.Select(r => double.Parse(r[3], CultureInfo.InvariantCulture)).ToArray();
        Assert.True(lr.Zip(lr.Skip(1)).All(p => p.Second > p.First), "lr rises during the 30-step warm-up");
        Assert.All(rows, r => Assert.True(int.Parse(r[6], CultureInfo.InvariantCulture) > 0));
        // log.jsonl: the same losses.
        var jsonl = File.ReadAllLines(P("run", "log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(loss, jsonl.Select(j => j.GetProperty("loss").GetDouble()));
        Assert.Equal(JsonValueKind.Null, jsonl[0].GetProperty("eval_loss").ValueKind);
        // loss.png is a PNG.
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(P("run", "loss.png"))[..4]);
        // Checkpoints at steps 3 and 6, latest names the newest; each is complete and says where training stood.
        Assert.Equal("step-000006", File.ReadAllText(P("run", "checkpoints", "latest")).Trim());
        foreach (var (name, step) in new[] { ("step-000003", 3), ("step-000006", 6) })
        {
            foreach (var f in new[] { "config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json", "tokenizer.char.json", "run.json" })
                Assert.True(File.Exists(P("run", "checkpoints", name, f)), $"{name}/{f}");
            using var state = JsonDocument.Parse(File.ReadAllText(P("run", "checkpoints", name, "trainer_state.json")));
            Assert.Equal(step, state.RootElement.GetProperty("step").GetInt32());
            Assert.Equal(step, state.RootElement.GetProperty("optimizer_step").GetInt32());
        }
        Assert.Contains("step     6/6", stdout);
        // The saved model is a valid checkpoint of the tiny preset over the poems' vocabulary.
        var tok = CharTokenizer.FromJson(File.ReadAllText(P("run", "checkpoints", "step-000006", "tokenizer.char.json")));
        using var model = Checkpoint.LoadModel(P("run", "checkpoints", "step-000006"));
        Assert.Equal(tok.VocabSize, model.Config.VocabSize);
        Assert.Equal((32, 2, false), (model.Config.DModel, model.Config.NLayers, model.Config.Causal));
        var (infoCode, info, _) = Run("info", "--checkpoint", P("run", "checkpoints", "step-000006"));
        Assert.Equal(0, infoCode);
        Assert.Contains("status:     valid", info);
    }

    [Fact]
    public void Resume_AfterAnInterruptionAtStep3_EndsBitIdenticalToTheUninterruptedRun()
    {
        Assert.Equal(0, Run(TrainArgs(P("full"))).Code);
        // The state a crash after the step-3 checkpoint leaves: no step-6 checkpoint, latest → step 3, log rows 1..3.
        CopyDirectory(P("full"), P("cut"));
        Directory.Delete(P("cut", "checkpoints", "step-000006"), true);
        File.WriteAllText(P("cut", "checkpoints", "latest"), "step-000003");
        File.WriteAllLines(P("cut", "log.csv"), File.ReadAllLines(P("cut", "log.csv")).Take(4));
        File.WriteAllLines(P("cut", "log.jsonl"), File.ReadAllLines(P("cut", "log.jsonl")).Take(3));

        var (code, _, err) = Run([.. TrainArgs(P("cut")), "--resume"]);
        Assert.True(code == 0, err);
        foreach (var f in new[] { "model.safetensors", "optimizer.safetensors", "trainer_state.json" })
            Assert.True(File.ReadAllBytes(P("full", "checkpoints", "step-000006", f)).SequenceEqual(File.ReadAllBytes(P("cut", "checkpoints", "step-000006", f))), $"{f} differs after resume");
        // Log rows 4..6 were appended with the same losses, held-out losses, lr, gradient norms and masked counts.
        static string[][] Deterministic(string[][] rows) => rows.Select(r => new[] { r[0], r[1], r[2], r[3], r[4], r[6] }).ToArray();
        Assert.Equal(Deterministic(Csv(P("full", "log.csv"))), Deterministic(Csv(P("cut", "log.csv"))));
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var d in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(d.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(f, f.Replace(from, to));
    }

    [Fact]
    public void Sft_FromAPretrainedCheckpoint_StartsFromItsWeights_AndTrainsOnQaRows()
    {
        Assert.Equal(0, Run(TrainArgs(P("pre"))).Code);
        string init = P("pre", "checkpoints", "step-000006");
        // lr 0: AdamW moves nothing (no decay either), so the SFT checkpoint must hold exactly the initial weights.
        var (code, _, err) = Run("sft", "--init", init, "--poems", "24", "--steps", "2", "--batch", "4", "--lr", "0", "--min-lr", "0",
            "--save-every", "2", "--eval-every", "2", "--samples", "1", "--no-progress", "--out", P("sft"));
        Assert.True(code == 0, err);
        string ck = P("sft", "checkpoints", "step-000002");
        using (var a = Checkpoint.LoadModel(init))
        using (var b = Checkpoint.LoadModel(ck))
        {
            var pa = a.NamedParameters().ToList();
            var pb = b.NamedParameters().ToList();
            Assert.Equal(pa.Select(p => p.Name), pb.Select(p => p.Name));
            for (int i = 0; i < pa.Count; i++) Assert.Equal(pa[i].Parameter.Data.ToArray(), pb[i].Parameter.Data.ToArray());
        }
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(ck, "trainer_state.json")));
        Assert.Equal("Sft", state.RootElement.GetProperty("train_config").GetProperty("Objective").GetString());
        using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(ck, "run.json")));
        Assert.Equal("Sft", run.RootElement.GetProperty("Objective").GetString());
        // QA rows: [BOS] question answer [EOS]… — the row length fits the longest pair plus BOS and EOS, far shorter than a poem row.
        var tok = CharTokenizer.FromJson(File.ReadAllText(Path.Combine(ck, "tokenizer.char.json")));
        var pairs = PoemCorpus.Load(LLaDA.Cli.DataPaths.DefaultPoems(), 24).Couplets()
            .SelectMany(c => new[] { PoemCorpus.ForwardQuestion(c) + c.Second, PoemCorpus.ReverseQuestion(c) + c.First });
        Assert.Equal(pairs.Max(p => tok.Encode(p).Length) + 3, run.RootElement.GetProperty("SeqLen").GetInt32());
        Assert.Equal(2, Csv(P("sft", "log.csv")).Length);
    }

    // ---- a checkpoint with known logits: blocks zeroed, so every position predicts from its own token alone (KnownLogitsModel).

    private const string Chars = "白日依山尽黄河入海流月";

    /// <summary>A char-tokenizer checkpoint whose masked positions predict 月 with logit ln 3 and every other token with 0 (p = 3/17 over 15 tokens).</summary>
    private string MoonCheckpoint()
    {
        var tok = CharTokenizer.Build([Chars]);
        int v = tok.VocabSize, moon = tok.Encode("月")[0];
        Assert.Equal(15, v);
        var rows = Enumerable.Range(0, v).Select(k => Enumerable.Range(0, v).Select(t => k == tok.Specials.Mask && t == moon ? Math.Log(3) : 0.0).ToArray()).ToArray();
        using var model = KnownLogitsModel.Create(rows, tok.Specials.Mask, tok.Specials.Eos);
        string dir = P("moon");
        Checkpoint.SaveModel(dir, model);
        File.WriteAllText(Path.Combine(dir, TokenizerFiles.CharFile), tok.ToJson());
        return dir;
    }

    [Fact]
    public void Generate_KnownModel_PrintsPromptAndTheArgmaxContinuation_AndWritesATrace()
    {
        string ck = MoonCheckpoint();
        var (code, stdout, err) = Run("generate", "--checkpoint", ck, "--prompt", "白日", "--gen-length", "8", "--steps", "4", "--trace-out", P("trace.html"));
        Assert.True(code == 0, err);
        Assert.Equal("白日月月月月月月月月", stdout.Trim());
        Assert.Contains("8 tokens, 4 steps, 4 forward passes", err);
        string html = File.ReadAllText(P("trace.html"));
        Assert.StartsWith("<!doctype html>", html);
        Assert.Contains("月", html);
        // Bad sampler settings end in one clear line.
        var (bad, _, badErr) = Run("generate", "--checkpoint", ck, "--prompt", "白日", "--gen-length", "8", "--block-length", "3");
        Assert.Equal(2, bad);
        Assert.StartsWith("llada: sampler: gen_length 8 is not a multiple of block_length 3", badErr);
        Assert.DoesNotContain("   at ", badErr);
    }

    [Fact]
    public void EvalLikelihood_KnownModel_EqualsHandComputedLogProbability()
    {
        // Each masked answer position sees only the mask token: log p(月) = ln(3/17) = −1.73460, log p(日) = ln(1/17) = −2.83321.
        // Every token of the answer 月月 has the same cross-entropy, so every Monte-Carlo sample gives exactly 2·ln(3/17).
        string ck = MoonCheckpoint();
        var (code, stdout, err) = Run("eval", "likelihood", "--checkpoint", ck, "--prompt", "白日", "--answer", "月月", "--mc-num", "4", "--batch", "2", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2 * Math.Log(3.0 / 17), doc.RootElement.GetProperty("log_likelihood").GetDouble(), 4);
        Assert.Equal(-3.46921, doc.RootElement.GetProperty("log_likelihood").GetDouble(), 4);
        Assert.Equal(2, doc.RootElement.GetProperty("samples").GetInt32());

        var (code2, stdout2, err2) = Run("eval", "likelihood", "--checkpoint", ck, "--prompt", "白日", "--options", "日|月", "--mc-num", "2", "--batch", "2", "--json");
        Assert.True(code2 == 0, err2);
        using var mc = JsonDocument.Parse(stdout2);
        Assert.Equal(1, mc.RootElement.GetProperty("best").GetInt32());
        var opts = mc.RootElement.GetProperty("options").EnumerateArray().ToArray();
        Assert.Equal(-2.83321, opts[0].GetProperty("log_likelihood").GetDouble(), 4);
        Assert.Equal(-1.73460, opts[1].GetProperty("log_likelihood").GetDouble(), 4);
        Assert.Equal(JsonValueKind.Null, opts[1].GetProperty("std_error").ValueKind); // one batch: no standard error (was NaN, which broke the JSON)

        // The text output of one batch: the standard error reads "—", never "NaN".
        var (code3, stdout3, err3) = Run("eval", "likelihood", "--checkpoint", ck, "--prompt", "白日", "--options", "日|月", "--mc-num", "2", "--batch", "2");
        Assert.True(code3 == 0, err3);
        Assert.Contains("± ", stdout3);
        Assert.DoesNotContain("NaN", stdout3);

        var (bad, _, badErr) = Run("eval", "likelihood", "--checkpoint", ck, "--prompt", "白日", "--answer", "月", "--mc-num", "3", "--batch", "2");
        Assert.Equal(2, bad);
        Assert.StartsWith("llada: likelihood: mc_num 3 must be a positive multiple of batch_size 2", badErr);
    }

    // ---- chat: a byte-level BPE tokenizer with LLaDA's special and header tokens (Cli/Fixtures/chat-bpe).

    private static string ChatFixture => Path.Combine(AppContext.BaseDirectory, "Cli", "Fixtures", "chat-bpe");

    [Fact]
    public void ChatTemplate_OnTheBpeFixture_GivesTheHandDerivedIds()
    {
        // <|startoftext|> <|start_header_id|> user <|end_header_id|> \n \n hi <|eot_id|> <|start_header_id|> a s s i s t a n t <|end_header_id|> \n\n
        // The byte-level regex splits "\n\nhi" into "\n", "\n", "hi" (so the Ċ Ċ merge cannot apply) but keeps the final "\n\n" whole (merged: 14).
        var tok = TokenizerFiles.Load(ChatFixture);
        Assert.True(ChatTemplate.Supported(tok));
        Assert.Equal(new SpecialTokens(Eos: 15, Mask: 20, Bos: 16, Pad: 15, EndOfTurn: 19), tok.Specials);
        int[] expected = [16, 17, 12, 18, 9, 9, 13, 19, 17, 0, 6, 6, 3, 6, 7, 0, 4, 7, 18, 14];
        Assert.Equal(expected, ChatTemplate.Encode(tok, [("user", " hi\n")])); // content is trimmed
    }

    [Fact]
    public void Chat_TwoTurnsOnABpeCheckpoint_AnswersEachTurnAndStopsOnAnEmptyLine()
    {
        // Masked positions predict "hi" (id 13): each answer of 4 tokens decodes to "hihihihi".
        var tok = TokenizerFiles.Load(ChatFixture);
        int v = tok.VocabSize;
        var rows = Enumerable.Range(0, v).Select(k => Enumerable.Range(0, v).Select(t => k == 20 && t == 13 ? 4.0 : 0.0).ToArray()).ToArray();
        string ck = P("chat");
        using (var model = KnownLogitsModel.Create(rows, 20, 15))
            Checkpoint.SaveModel(ck, model);
        File.Copy(Path.Combine(ChatFixture, "tokenizer.json"), Path.Combine(ck, "tokenizer.json"));
        File.Copy(Path.Combine(ChatFixture, "tokenizer_config.json"), Path.Combine(ck, "tokenizer_config.json"));
        var (code, stdout, err) = CliRunner.Run(["chat", "--checkpoint", ck, "--gen-length", "4", "--steps", "4"], "hi\nuser hi\n\nnever read\n");
        Assert.True(code == 0, err);
        Assert.DoesNotContain("no chat template", err);
        Assert.Equal(2, stdout.Split('\n').Count(l => l.EndsWith("hihihihi", StringComparison.Ordinal)));
        Assert.Equal(3, stdout.Split("> ").Length - 1); // two answered prompts and the empty line that ends the chat
    }

    [Fact]
    public void EvalReversal_Tiny_ReportsBothModelsWithConsistentCounts()
    {
        var (code, stdout, err) = Run("eval", "reversal", "--poems", "4", "--steps", "4", "--batch", "4", "--preset", "tiny", "--max-queries", "2", "--threshold", "none", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("queries").GetInt32());
        var models = root.GetProperty("models").EnumerateArray().ToArray();
        Assert.Equal(new[] { "LLaDA-mini", "AR-mini" }, models.Select(m => m.GetProperty("model").GetString()));
        foreach (var m in models)
            foreach (var k in new[] { "forward", "reversal" })
            {
                double acc = m.GetProperty(k).GetDouble();
                Assert.Contains(acc, new[] { 0.0, 0.5, 1.0 }); // a count out of 2 queries
            }
        // One token per step: LLaDA spends exactly one forward pass per generated token; only LLaDA infills.
        Assert.Equal(1.0, models[0].GetProperty("passes_per_token_both_questions").GetDouble());
        Assert.Equal(JsonValueKind.Number, models[0].GetProperty("reversal_infill").ValueKind);
        Assert.Equal(JsonValueKind.Null, models[1].GetProperty("reversal_infill").ValueKind);
        Assert.All(models, m => Assert.True(m.GetProperty("final_loss").GetDouble() > 0));
    }

    [Fact]
    public void Check_IlgpuCpuAccelerator_OneFilteredKernel_PassesAndCounts()
    {
        var (code, stdout, err) = Run("check", "--device", "ilgpu-cpu", "--size", "tiny", "--filter", "unary.neg");
        Assert.True(code == 0, err + stdout);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("unary.neg") && l.Contains("PASS"));
        Assert.Equal("1 passed, 0 failed", lines[^1][..lines[^1].IndexOf(" in ", StringComparison.Ordinal)]);
        var (bad, _, badErr) = Run("check", "--device", "ilgpu-cpu", "--size", "tiny", "--filter", "no-such-kernel");
        Assert.Equal(2, bad);
        Assert.StartsWith("llada: --filter no-such-kernel matches no check", badErr);
    }
}
