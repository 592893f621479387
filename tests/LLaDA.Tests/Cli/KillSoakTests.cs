using System.Diagnostics;
using LLaDA.Cli.Commands;
using LLaDA.Diffusion.Training;
using LLaDA.Nn.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace LLaDA.Tests.Cli;

/// <summary>The kill -9 soak: `llada train` as a child process, SIGKILLed at each phase of a checkpoint save (through the
/// LLADA_KILL_AT hook, so the kill lands exactly there) and at random moments, each time resumed; every run must end
/// bit-identical (weights, optimizer moments, trainer state, log rows) to an uninterrupted one, and after every kill
/// `latest` must name a complete checkpoint. CI runs one kill per phase, one re-save of the step `latest` names and one
/// random kill; LLADA_SOAK_KILLS=N (the README's command) runs every phase at every save and every phase of a re-save, plus random kills up to N in all.</summary>
public sealed class KillSoakTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-soak-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private const int Steps = 8, SaveEvery = 2;

    private static string[] Args(string outDir, params string[] extra) =>
        ["train", "--preset", "tiny", "--poems", "24", "--steps", $"{Steps}", "--save-every", $"{SaveEvery}", "--eval-every", "4", "--batch", "2",
         "--samples", "0", "--threads", "2", "--no-progress", "--out", outDir, .. extra];

    private sealed record Child(Process Process, Stopwatch Clock);

    private static Child Start(string[] args, string? killAt = null)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "llada.dll");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment[TrainCommand.KillAtVariable] = killAt ?? "";
        var p = Process.Start(psi)!;
        // Drain the pipes so a chatty child never blocks on a full pipe.
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new Child(p, Stopwatch.StartNew());
    }

    private static int Wait(Child c)
    {
        if (!c.Process.WaitForExit(120_000))
        {
            c.Process.Kill();
            throw new TimeoutException("llada train did not finish in 120 s");
        }
        c.Process.WaitForExit();
        int code = c.Process.ExitCode;
        c.Process.Dispose();
        return code;
    }

    private const int Sigkill = 128 + 9;

    /// <summary>What a finished run leaves: its final checkpoint's bytes and its log rows without timing columns.</summary>
    private static List<byte[]> Outcome(string outDir)
    {
        string last = TrainingCheckpoint.Latest(Path.Combine(outDir, RunDirectory.CheckpointsDir))!;
        var files = new[] { Checkpoint.ModelFile, TrainingCheckpoint.OptimizerFile, TrainingCheckpoint.StateFile }.Select(f => File.ReadAllBytes(Path.Combine(last, f))).ToList();
        var rows = File.ReadAllLines(Path.Combine(outDir, TrainingLog.CsvFile)).Select(l => l.Split(',')).Select(f => string.Join(',', f[..5].Append(f[6])));
        files.Add(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', rows)));
        return files;
    }

    /// <summary>After a kill: latest is absent (killed before the first save) or names a checkpoint whose every file validates.</summary>
    private static bool AssertLatestComplete(string outDir)
    {
        string root = Path.Combine(outDir, RunDirectory.CheckpointsDir);
        string? latest = Directory.Exists(root) ? TrainingCheckpoint.Latest(root) : null;
        if (latest is null) return false;
        var state = TrainingCheckpoint.ReadState(latest);
        Assert.InRange(state.Step, 1, Steps);
        Checkpoint.Validate(ModelFiles.Open(latest).Config, ModelFiles.Open(latest));
        SafeTensorsFile.Open(Path.Combine(latest, TrainingCheckpoint.OptimizerFile));
        Assert.True(File.Exists(Path.Combine(latest, TrainCommand.TokenizerFile)) && File.Exists(Path.Combine(latest, TrainCommand.RunFile)));
        return true;
    }

    /// <summary>Restarts a killed run until it finishes: --resume when a checkpoint exists, else a fresh start with --overwrite.</summary>
    private static void Finish(string outDir, bool haveCheckpoint)
    {
        var args = haveCheckpoint ? new[] { "train", "--resume", "--out", outDir, "--threads", "2", "--no-progress", "--samples", "0" } : Args(outDir, "--overwrite");
        Assert.Equal(0, Wait(Start(args)));
    }

    [Fact]
    public void KilledAtEveryPhaseAndAtRandom_ResumedRunsEndBitIdentical()
    {
        int budget = int.TryParse(Environment.GetEnvironmentVariable("LLADA_SOAK_KILLS"), out int n) ? n : 0;
        bool full = budget > 0;
        string reference = Path.Combine(_dir, "reference");
        var refClock = Stopwatch.StartNew();
        Assert.Equal(0, Wait(Start(Args(reference))));
        double refSeconds = refClock.Elapsed.TotalSeconds;
        var expected = Outcome(reference);
        int kills = 0, cases = 0, killedRuns = 0;
        var tally = new Dictionary<string, int>();

        void Check(string outDir, string label)
        {
            var got = Outcome(outDir);
            for (int i = 0; i < expected.Count; i++) Assert.True(expected[i].SequenceEqual(got[i]), $"{label}: output {i} differs from the uninterrupted run");
            cases++;
            Directory.Delete(outDir, true);
        }

        // 1. Each phase of a save, at the 2nd save (CI) or at every save (full soak).
        int saves = Steps / SaveEvery;
        foreach (var phase in TrainingCheckpoint.SavePhases)
            for (int k = full ? 1 : 2; k <= (full ? saves : 2); k++)
            {
                string d = Path.Combine(_dir, $"{phase}-{k}");
                Assert.Equal(Sigkill, Wait(Start(Args(d), $"{phase}@{k}")));
                kills++;
                tally[phase] = tally.GetValueOrDefault(phase) + 1;
                Finish(d, AssertLatestComplete(d));
                Check(d, $"{phase}@{k}");
            }

        // 2. Re-saving the step latest names (resumed from an earlier checkpoint of a finished run), killed at each phase.
        foreach (var phase in full ? TrainingCheckpoint.SavePhases : ["slot-cleared"])
        {
            string d = Path.Combine(_dir, $"resave-{phase}");
            CopyDirectory(reference, d);
            string earlier = Path.Combine(d, RunDirectory.CheckpointsDir, TrainingCheckpoint.StepName(Steps - SaveEvery));
            Assert.Equal(Sigkill, Wait(Start(["train", "--resume-from", earlier, "--out", d, "--threads", "2", "--no-progress", "--samples", "0"], $"{phase}@1")));
            kills++;
            tally["resave " + phase] = tally.GetValueOrDefault("resave " + phase) + 1;
            Assert.True(AssertLatestComplete(d));
            Finish(d, true);
            Check(d, $"resave {phase}");
        }

        // 3. Random moments: kill, check, resume (itself killed again at random) until the run finishes.
        var rng = new Random(1234);
        int randomKills = full ? Math.Max(0, budget - kills) : 1;
        int done = 0;
        while (done < randomKills)
        {
            string d = Path.Combine(_dir, $"random-{cases}");
            bool started = false, killed = false;
            while (true)
            {
                var args = started && AssertLatestComplete(d)
                    ? new[] { "train", "--resume", "--out", d, "--threads", "2", "--no-progress", "--samples", "0" }
                    : Args(d, "--overwrite");
                var c = Start(args);
                started = true;
                // A resumed run is shorter than the whole one: aim within the first 80 % of the reference's time.
                if (done < randomKills && !c.Process.WaitForExit(TimeSpan.FromSeconds(rng.NextDouble() * 0.8 * refSeconds)))
                {
                    c.Process.Kill();
                    int code = Wait(c);
                    if (code == 0) break; // it finished just before the kill
                    Assert.Equal(Sigkill, code);
                    kills++;
                    done++;
                    killed = true;
                    tally["random"] = tally.GetValueOrDefault("random") + 1;
                    continue;
                }
                Assert.Equal(0, Wait(c));
                break;
            }
            if (killed) killedRuns++;
            else
            {
                Directory.Delete(d, true); // finished before its kill: nothing to compare
                continue;
            }
            Check(d, "random");
        }

        output.WriteLine($"kill -9 soak: {kills} kills ({string.Join(", ", tally.Select(t => $"{t.Key} {t.Value}"))}); {cases} killed runs finished by resuming ({killedRuns} of them killed at random, up to several times), all bit-identical to the uninterrupted run ({refSeconds:F1} s)");
        Assert.True(!full || kills >= budget, $"{kills} kills < {budget}");
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.EnumerateDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
