using LLaDA.Cli;
using LLaDA.Tests.Testing;

namespace LLaDA.Tests.Fuzz;

/// <summary>How one case ended.</summary>
public enum Outcome { CleanError, Success, WrongSuccess, WrongError, UncleanError, Crash, Timeout }

/// <summary>Runs cases through the `llada` entry point in-process (output captured) under a time limit and the memory budget
/// <see cref="MemoryEstimate.LimitVariable"/>, and classifies each: a clean error is exit code ≠ 0 with exactly one `llada:` line
/// and no stack trace; a success is exit code 0 with the command's evidence of success (info: "status: valid", generate: text on
/// stdout, train: a checkpoint); an exception escaping the entry point is a crash.</summary>
public static class FuzzRunner
{
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(60);
    public const string MemoryLimit = "1G";

    public sealed record Result(FuzzCase Case, Outcome Outcome, int Code, string Detail, TimeSpan Elapsed)
    {
        public bool Passed => Outcome is Outcome.CleanError or Outcome.Success;
    }

    public static List<Result> RunAll(IEnumerable<FuzzCase> cases, string root)
    {
        var results = new List<Result>();
        var old = Environment.GetEnvironmentVariable(MemoryEstimate.LimitVariable);
        Environment.SetEnvironmentVariable(MemoryEstimate.LimitVariable, MemoryLimit);
        try
        {
            int i = 0;
            foreach (var c in cases)
            {
                string dir = Path.Combine(root, $"case-{i++:D5}");
                results.Add(Run(c, dir));
                if (Directory.Exists(dir)) Directory.Delete(dir, true);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(MemoryEstimate.LimitVariable, old);
        }
        return results;
    }

    public static Result Run(FuzzCase c, string dir)
    {
        c.Write(dir);
        var args = c.Args(dir);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var task = Task.Run(() => TinyCheckpoint.Run(args));
        bool done;
        try
        {
            done = task.Wait(TimeLimit);
        }
        catch (AggregateException e)
        {
            var inner = e.InnerException!;
            return new(c, Outcome.Crash, -1, $"{inner.GetType().Name}: {inner.Message}", sw.Elapsed);
        }
        if (!done) return new(c, Outcome.Timeout, -1, $"no result after {TimeLimit.TotalSeconds} s", sw.Elapsed);
        var (code, stdout, stderr) = task.Result;
        var elapsed = sw.Elapsed;
        if (code != 0)
        {
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("llada: ", StringComparison.Ordinal)).ToList();
            bool clean = lines.Count == 1 && !stderr.Contains("   at ", StringComparison.Ordinal) && !stdout.Contains("   at ", StringComparison.Ordinal);
            string first = lines.Count > 0 ? lines[0] : stderr.Trim().Split('\n')[0];
            if (!clean) return new(c, Outcome.UncleanError, code, first, elapsed);
            return new(c, c.Expect == Expect.Success ? Outcome.WrongError : Outcome.CleanError, code, first, elapsed);
        }
        string? evidence = args[0] switch
        {
            "info" => stdout.Contains("status:     valid", StringComparison.Ordinal) ? null : "info printed no 'status: valid'",
            "generate" => stdout.Length > 0 ? null : "generate printed nothing",
            "train" => Directory.Exists(Path.Combine(dir, "run", "checkpoints")) ? null : "train wrote no checkpoint",
            _ => null,
        };
        if (evidence is not null) return new(c, Outcome.WrongSuccess, 0, evidence, elapsed);
        return new(c, c.Expect == Expect.Error ? Outcome.WrongSuccess : Outcome.Success, 0, c.Expect == Expect.Error ? "exit 0 for an input that must fail" : "", elapsed);
    }

    /// <summary>A markdown table: per category, cases, clean errors, successes, failures.</summary>
    public static string Table(IReadOnlyList<Result> results)
    {
        var sb = new System.Text.StringBuilder("| category | cases | clean error | correct success | failures |\n| --- | ---: | ---: | ---: | ---: |\n");
        foreach (var g in results.GroupBy(r => r.Case.Category))
            sb.AppendLine($"| {g.Key} | {g.Count()} | {g.Count(r => r.Outcome == Outcome.CleanError)} | {g.Count(r => r.Outcome == Outcome.Success)} | {g.Count(r => !r.Passed)} |");
        sb.AppendLine($"| **all** | {results.Count} | {results.Count(r => r.Outcome == Outcome.CleanError)} | {results.Count(r => r.Outcome == Outcome.Success)} | {results.Count(r => !r.Passed)} |");
        return sb.ToString();
    }
}
