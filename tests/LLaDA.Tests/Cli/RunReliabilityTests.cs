using System.Text;
using LLaDA.Cli.Commands;
using LLaDA.Diffusion.Training;
using LLaDA.Nn;
using LLaDA.Nn.Serialization;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>Issue 13, runs and checkpoints: the run directory's lock and fresh-run policy, --resume restoring the saved
/// configuration, logs after a resume, and every expected failure ending in one `llada: …` line without a stack trace.</summary>
[Collection("Console")]
public sealed class RunReliabilityTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-runs-" + Guid.NewGuid().ToString("N"));

    public RunReliabilityTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        TrainingCheckpoint.PhaseHook = null;
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private sealed class Crash : Exception;

    private string P(string name) => Path.Combine(_dir, name);

    /// <summary>A tiny run: 6 steps, checkpoints every 2.</summary>
    private static string[] Train(string outDir, params string[] extra) =>
        ["train", "--preset", "tiny", "--poems", "24", "--steps", "6", "--save-every", "2", "--eval-every", "3", "--batch", "2",
         "--samples", "0", "--threads", "2", "--no-progress", "--out", outDir, .. extra];

    private static (int Code, string Out, string Err) Run(params string[] args) => CliTests.Run(args);

    /// <summary>Nonzero exit, stderr is one `llada: …` line containing <paramref name="fragment"/> (plus the usage hint only when
    /// <paramref name="optionError"/>), no stack trace.</summary>
    private static void AssertCleanError((int Code, string Out, string Err) r, string fragment, bool optionError = false)
    {
        Assert.NotEqual(0, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !optionError || l != "run 'llada help' for usage").ToList();
        Assert.True(lines.Count == 1, $"expected one error line, got:\n{r.Err}");
        Assert.StartsWith("llada: ", lines[0]);
        Assert.Contains(fragment, lines[0]);
        Assert.DoesNotContain("   at ", r.Err + r.Out);
    }

    [Fact]
    public void FreshRun_IntoExistingRun_RefusedUntilOverwrite()
    {
        Assert.Equal(0, Run(Train(P("a"))).Code);
        string log = File.ReadAllText(P("a/log.csv"));
        AssertCleanError(Run(Train(P("a"))), "--overwrite");
        Assert.Equal(log, File.ReadAllText(P("a/log.csv")));
        AssertCleanError(Run(Train(P("a"), "--resume", "--overwrite")), "--overwrite", optionError: true);
        Assert.Equal(0, Run(Train(P("a"), "--overwrite", "--steps", "2")).Code);
        Assert.Equal(3, File.ReadAllLines(P("a/log.csv")).Length); // header + 2 steps: the old log is gone, not appended to
        Assert.False(Directory.Exists(P("a/checkpoints/step-000006")));
    }

    [Fact]
    public void LockedRunDirectory_RefusedNamingHoldersPid()
    {
        using (RunDirectory.Acquire(P("a")))
            AssertCleanError(Run(Train(P("a"))), $"locked by pid {Environment.ProcessId}");
        Assert.Equal(0, Run(Train(P("a"), "--steps", "2")).Code);
    }

    [Fact]
    public void Resume_Bare_ContinuesWithSavedFlags_BitIdenticalToUninterrupted()
    {
        string[] flags = ["--lr", "0.01", "--batch", "3", "--schedule", "cosine", "--seed", "7", "--warmup", "1", "--grad-accum", "2", "--clip", "0.5"];
        Assert.Equal(0, Run(Train(P("a"), flags)).Code);

        // b: the same run, stopped in the middle of its second checkpoint (step 4, already logged) as by a kill, then resumed
        // with no flags at all: it continues from step 2, and the log's rows of steps 3 and 4 are not duplicated.
        int saves = 0;
        TrainingCheckpoint.PhaseHook = (root, phase) =>
        {
            if (root.StartsWith(P("b"), StringComparison.Ordinal) && phase == "temp-write" && ++saves == 2) throw new Crash();
        };
        Assert.Throws<Crash>(() => Run(Train(P("b"), flags)));
        TrainingCheckpoint.PhaseHook = null;
        var r = Run("train", "--resume", "--out", P("b"), "--threads", "2", "--no-progress", "--samples", "0");
        Assert.Equal(0, r.Code);

        string la = TrainingCheckpoint.Latest(P("a/checkpoints"))!, lb = TrainingCheckpoint.Latest(P("b/checkpoints"))!;
        Assert.EndsWith("step-000006", lb);
        foreach (var f in new[] { Checkpoint.ModelFile, TrainingCheckpoint.OptimizerFile, TrainingCheckpoint.StateFile })
            Assert.Equal(File.ReadAllBytes(Path.Combine(la, f)), File.ReadAllBytes(Path.Combine(lb, f)));
        // One row per step, the same numbers as the uninterrupted run (timing columns aside).
        Assert.Equal(Rows(P("a/log.csv")), Rows(P("b/log.csv")));
        Assert.Equal(6, Rows(P("b/log.csv")).Count);
    }

    [Fact]
    public void Resume_ConflictingRunFlag_Refused_StepsMayGrow()
    {
        Assert.Equal(0, Run(Train(P("a"), "--lr", "0.01")).Code);
        AssertCleanError(Run("train", "--resume", "--out", P("a"), "--lr", "0.02", "--no-progress"), "--lr 0.02 (the run has 0.01)", optionError: true);
        AssertCleanError(Run("train", "--resume", "--out", P("a"), "--schedule", "constant", "--no-progress"), "--schedule constant", optionError: true);
        AssertCleanError(Run("sft", "--resume", "--out", P("a"), "--no-progress"), "Pretrain run", optionError: true);
        // An explicit flag equal to the saved value is no conflict; more steps extend the run.
        var r = Run("train", "--resume", "--out", P("a"), "--lr", "0.01", "--steps", "8", "--threads", "2", "--no-progress", "--samples", "0");
        Assert.Equal(0, r.Code);
        Assert.Contains("--steps 8 replaces the run's 6", r.Err);
        Assert.Equal(8, Rows(P("a/log.csv")).Count);
    }

    [Fact]
    public void ExpectedFailures_OneLine_NoStackTrace()
    {
        AssertCleanError(Run(Train(P("a"), "--resume-from", P("missing"))), "no such directory");
        AssertCleanError(Run(Train(P("a"), "--resume")), "no checkpoint under");
        File.WriteAllText(P("file"), "x");
        AssertCleanError(Run(Train(P("file/sub"))), P("file"));
        Directory.CreateDirectory(P("loop-parent"));
        File.CreateSymbolicLink(P("loop"), P("loop"));
        AssertCleanError(Run(Train(P("loop/sub"))), P("loop"));
        // A full disk, for real: just before `latest` is rewritten its temp file becomes a link to /dev/full, so the kernel answers ENOSPC.
        TrainingCheckpoint.PhaseHook = (root, phase) =>
        {
            if (phase == "renamed") File.CreateSymbolicLink(Path.Combine(root, TrainingCheckpoint.LatestFile + ".tmp-" + Environment.ProcessId), "/dev/full");
        };
        AssertCleanError(Run(Train(P("full"))), "No space left on device");
        // A read-only directory (simulated: the tests may run as root, whom permissions do not stop), as the OS reports it.
        TrainingCheckpoint.PhaseHook = (_, phase) =>
        {
            if (phase == "temp-write") throw new UnauthorizedAccessException($"Access to the path '{P("ro")}' is denied.");
        };
        AssertCleanError(Run(Train(P("ro"))), $"Access to the path '{P("ro")}' is denied.");
    }

    public static TheoryData<string> BadDataFiles() => ["fifo", "directory", "/dev/zero", "loop", "invalid-utf8", "nul", "long-line"];

    [Theory]
    [MemberData(nameof(BadDataFiles))]
    public void DataFile_NotRegularOrNotText_RefusedInOneLine(string kind)
    {
        string path = P("data.txt");
        string expect;
        switch (kind)
        {
            case "fifo":
                using (var p = System.Diagnostics.Process.Start("mkfifo", path)) p.WaitForExit();
                expect = "is a FIFO";
                break;
            case "directory":
                Directory.CreateDirectory(path);
                expect = "is a directory";
                break;
            case "/dev/zero":
                path = "/dev/zero";
                expect = "is a character device";
                break;
            case "loop":
                File.CreateSymbolicLink(path, path);
                expect = "symbolic link";
                break;
            case "invalid-utf8":
                File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes("白日依山尽，黄河入海流。\n"), 0xE7, 0x99, 0x20, 0xFF, 0x0A]);
                expect = "not valid UTF-8";
                break;
            case "nul":
                File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes("白日依山尽，"), 0, 1, 2, 0x0A]);
                expect = "NUL byte";
                break;
            default:
                File.WriteAllText(path, new string('山', 10_000_000 / 3));
                expect = $"longer than {InputFile.MaxLineChars:N0} characters";
                break;
        }
        AssertCleanError(Run(Train(P("a"), "--data", path)), expect);
        Assert.False(Directory.Exists(P("a/checkpoints")));
    }

    [Fact]
    public void ConfigAndCheckpointInputs_NotRegular_RefusedInOneLine()
    {
        AssertCleanError(Run(Train(P("a"), "--config", "/dev/zero")), "/dev/zero: is a character device");
        using var m = new MaskPredictor(Presets.Tiny(30, 2, 0), seed: 1);
        Checkpoint.SaveModel(P("ck"), m);
        File.Delete(P("ck/model.safetensors"));
        using (var p = System.Diagnostics.Process.Start("mkfifo", P("ck/model.safetensors"))) p.WaitForExit();
        AssertCleanError(Run("info", "--checkpoint", P("ck")), "model.safetensors: is a FIFO");
    }

    public static TheoryData<string> BadHeaders() => ["invalid-utf8-name", "string-offsets", "duplicate-name"];

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void SafetensorsHeader_Malformed_OneLineNamingTheFile(string kind)
    {
        using var m = new MaskPredictor(Presets.Tiny(30, 2, 0), seed: 1);
        Checkpoint.SaveModel(P("ck"), m);
        string file = P("ck/model.safetensors");
        const string Entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
        (byte[] header, int dataBytes, string expect) = kind switch
        {
            "invalid-utf8-name" => ([.. "{\"a"u8, 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\":" + Entry + "}")], 4, "not valid UTF-8"),
            "string-offsets" => (Encoding.UTF8.GetBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}"), 4, "invalid data_offsets"),
            _ => (Encoding.UTF8.GetBytes("{\"a\":" + Entry + ",\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"), 8, "'a' appears twice"),
        };
        var bytes = new byte[8 + header.Length + dataBytes];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(file, bytes);
        var r = Run("info", "--checkpoint", P("ck"));
        AssertCleanError(r, expect);
        Assert.Contains(file, r.Err);
    }

    [Fact]
    public void TrainingLog_Resumed_DropsLaterRows_PlotsWholeRun()
    {
        using (var log = new TrainingLog(_dir, resumedAt: null))
            for (int s = 0; s < 6; s++) log.Step(new StepReport(s, 10 - s, 1, 1e-3f, 100, 10, 0.1), s == 2 ? 7.5 : null);
        // Resumed with 4 steps done: rows 4 and 5 (logged after that checkpoint) go; the plot still has steps 0..3.
        using (var log = new TrainingLog(_dir, resumedAt: 4))
        {
            Assert.Equal([0, 1, 2, 3], log.TrainLoss.Select(p => p.Step));
            Assert.Equal([10.0, 9, 8, 7], log.TrainLoss.Select(p => p.Loss));
            log.Step(new StepReport(4, 1, 1, 1e-3f, 100, 10, 0.1), null);
            Assert.Equal(5, log.TrainLoss.Count);
        }
        Assert.Equal([0, 1, 2, 3, 4], Rows(P("log.csv")).Select(r => int.Parse(r[0])));
        var jsonSteps = File.ReadAllLines(P("log.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32());
        Assert.Equal([0, 1, 2, 3, 4], jsonSteps);
        Assert.Equal("7.5", Rows(P("log.csv"))[2][2]);
    }

    /// <summary>log.csv rows without the header and the timing columns (tokens_per_s, step_s).</summary>
    private static List<string[]> Rows(string csv) =>
        File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).Select(f => new[] { f[0], f[1], f[2], f[3], f[4], f[6] }).ToList();
}
