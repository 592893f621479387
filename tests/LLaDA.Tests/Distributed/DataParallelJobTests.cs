using System.Diagnostics;
using System.Globalization;
using LLaDA.Diffusion.Training;
using LLaDA.Nn.Serialization;
using Xunit;

namespace LLaDA.Tests.Distributed;

/// <summary>The single-process reference run the data-parallel jobs are compared with: tiny preset, per-micro-batch 4 rows, 2 micro-batches per step.</summary>
public sealed class SingleProcessRun : IDisposable
{
    public const int Steps = 10;
    public readonly string Root = Path.Combine(Path.GetTempPath(), "llada-dp-" + Guid.NewGuid().ToString("N"));

    /// <summary>Options every run of these tests shares (constant LR so that a shorter first leg of a resumed run has the same schedule).</summary>
    public static string[] Common(string outDir, int steps) =>
    [
        "--preset", "tiny", "--poems", "120", "--steps", steps.ToString(), "--batch", "4", "--threads", "1", "--schedule", "constant",
        "--warmup", "2", "--lr", "0.003", "--seed", "7", "--samples", "0", "--no-progress", "--eval-every", "0", "--save-every", "3", "--out", outDir,
    ];

    private MpiJob.Result? _result;

    public string Dir => Path.Combine(Root, "one");

    /// <summary>Runs `llada train … --global-batch 8` in one process once (grad-accum 2).</summary>
    public void Ensure()
    {
        if (_result is not null) return;
        _result = MpiJob.RunPlain(300, ["train", .. Common(Dir, Steps), "--global-batch", "8"]);
        Assert.True(_result.Code == 0, $"single-process run failed ({_result.Code}):\n{_result.Out}\n{_result.Err}");
    }

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, true);
    }
}

/// <summary>`mpirun -np 2 llada train` on localhost against one process: same losses and weights, resume across rank counts, failures.</summary>
public sealed class DataParallelJobTests(SingleProcessRun single) : IClassFixture<SingleProcessRun>
{
    private const double Tol = 1e-5;

    private static double[] Losses(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "log.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();

    private static string Final(string dir) => TrainingCheckpoint.Latest(Path.Combine(dir, "checkpoints")) ?? throw new InvalidOperationException($"no checkpoint in {dir}");

    /// <summary>Every tensor of two safetensors files agrees within Tol relative to the tensor's largest magnitude; returns whether all are bit-identical.</summary>
    private static bool AssertSameTensors(string a, string b)
    {
        var fa = SafeTensorsFile.Open(a);
        var fb = SafeTensorsFile.Open(b);
        Assert.Equal(fa.Entries.Select(e => e.Name).Order(), fb.Entries.Select(e => e.Name).Order());
        bool exact = true;
        foreach (var e in fa.Entries)
        {
            using var ta = fa.Read(e.Name);
            using var tb = fb.Read(e.Name);
            var x = ta.ToArray();
            var y = tb.ToArray();
            double scale = Math.Max(1e-12, x.Max(v => Math.Abs(v)));
            for (int i = 0; i < x.Length; i++)
            {
                if (Math.Abs(x[i] - y[i]) > Tol * scale) Assert.Fail($"{Path.GetFileName(a)} '{e.Name}'[{i}]: {x[i]} vs {y[i]}");
                exact &= BitConverter.SingleToInt32Bits(x[i]) == BitConverter.SingleToInt32Bits(y[i]);
            }
        }
        return exact;
    }

    private static void AssertSameLosses(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tol * Math.Abs(expected[i]), $"step {i}: loss {actual[i]} vs single process {expected[i]}");
    }

    [MpiFact]
    public void TwoRanks_FollowTheSingleProcessRun_LossesAndEndWeights()
    {
        single.Ensure();
        string two = Path.Combine(single.Root, "two");
        var r = MpiJob.RunMpi(300, MpiJob.Ranks(2, ["train", .. SingleProcessRun.Common(two, SingleProcessRun.Steps), "--global-batch", "8"]));
        Assert.True(r.Code == 0, $"mpirun failed ({r.Code}):\n{r.Out}\n{r.Err}");
        Assert.Contains("2 ranks × batch 4 × grad-accum 1 = global batch 8", r.Out);
        Assert.Contains("rank 1:", r.Out); // the per-rank throughput lines, printed by rank 0 only
        Assert.Single(r.Out.Split('\n'), l => l.StartsWith("done:"));
        AssertSameLosses(Losses(single.Dir), Losses(two));
        AssertSameTensors(Path.Combine(Final(single.Dir), Checkpoint.ModelFile), Path.Combine(Final(two), Checkpoint.ModelFile));
        AssertSameTensors(Path.Combine(Final(single.Dir), TrainingCheckpoint.OptimizerFile), Path.Combine(Final(two), TrainingCheckpoint.OptimizerFile));
    }

    [MpiFact]
    public void TwoRanksThenOneProcess_ResumeKeepsTheGlobalDataCursor()
    {
        single.Ensure();
        string dir = Path.Combine(single.Root, "resumed");
        var first = MpiJob.RunMpi(300, MpiJob.Ranks(2, ["train", .. SingleProcessRun.Common(dir, 6), "--global-batch", "8"]));
        Assert.True(first.Code == 0, $"mpirun failed ({first.Code}):\n{first.Out}\n{first.Err}");
        var state = TrainingCheckpoint.ReadState(Final(dir));
        Assert.Equal((6, 6 * 8), (state.Step, state.DataIndex)); // the cursor counts global rows: 6 steps × 8
        var second = MpiJob.RunPlain(300, ["train", .. SingleProcessRun.Common(dir, SingleProcessRun.Steps), "--global-batch", "8", "--resume"]);
        Assert.True(second.Code == 0, $"resume failed ({second.Code}):\n{second.Out}\n{second.Err}");
        AssertSameLosses(Losses(single.Dir), Losses(dir));
        AssertSameTensors(Path.Combine(Final(single.Dir), Checkpoint.ModelFile), Path.Combine(Final(dir), Checkpoint.ModelFile));
    }

    [MpiFact]
    public void KilledRank_TakesTheJobDown_LastCheckpointIntact()
    {
        string dir = Path.Combine(single.Root, "killed");
        string root = Path.Combine(dir, "checkpoints");
        var job = MpiJob.StartMpi(MpiJob.Ranks(2, ["train", .. SingleProcessRun.Common(dir, 100_000), "--save-every", "2"]));
        var wait = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(root, TrainingCheckpoint.LatestFile)) && !job.HasExited && wait.Elapsed.TotalSeconds < 240) Thread.Sleep(200);
        Assert.False(job.HasExited, "the job ended before a checkpoint was written");
        var victims = MpiJob.RankPids(job.Id, 1);
        Assert.True(victims.Count == 1, $"expected one rank-1 process under mpirun, found {victims.Count}");
        Process.GetProcessById(victims[0]).Kill(); // SIGKILL
        var killed = Stopwatch.StartNew();
        var r = MpiJob.Wait(job, 60); // a hang fails here
        Assert.NotEqual(0, r.Code);
        Assert.True(killed.Elapsed.TotalSeconds < 60);
        Assert.Empty(MpiJob.RankPids(job.Id, 0));
        // The newest complete checkpoint loads: state, weights and moments.
        string latest = Final(dir);
        Assert.True(TrainingCheckpoint.ReadState(latest).Step >= 2);
        using var model = Checkpoint.LoadModel(latest);
        Assert.NotEmpty(SafeTensorsFile.Open(Path.Combine(latest, TrainingCheckpoint.OptimizerFile)).Entries);
    }

    [MpiFact]
    public void RankThatCannotReadItsData_FailsTheJobNamingTheRank()
    {
        string dir = Path.Combine(single.Root, "unreadable");
        string missing = Path.Combine(single.Root, "no-such-poems.txt");
        var r = MpiJob.RunMpi(120,
            MpiJob.Ranks(1, ["train", .. SingleProcessRun.Common(dir, 5)]),
            MpiJob.Ranks(1, ["train", .. SingleProcessRun.Common(dir, 5), "--data", missing]));
        Assert.NotEqual(0, r.Code);
        Assert.Contains($"llada: rank 1 of 2: {missing}: data file not found", r.Err);
        Assert.DoesNotContain("   at ", r.Err); // no stack trace
    }

    [MpiFact]
    public void RanksThatDiverge_StopAtTheChecksumWithAClearError()
    {
        // Rank 1 is given another learning rate: the same data and noise, but its weights drift from rank 0's.
        string dir = Path.Combine(single.Root, "diverged");
        var r = MpiJob.RunMpi(120,
            MpiJob.Ranks(1, ["train", .. SingleProcessRun.Common(dir, 8), "--checksum-every", "2"]),
            MpiJob.Ranks(1, ["train", .. SingleProcessRun.Common(dir, 8), "--checksum-every", "2", "--lr", "0.001"]));
        Assert.NotEqual(0, r.Code);
        Assert.Contains("parameters or optimizer state differ across ranks at step 2", r.Err);
    }
}
