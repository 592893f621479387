using LLaDA.Diffusion.Distributed;
using LLaDA.Diffusion.Training;
using Spectre.Console;

namespace LLaDA.Cli.Commands;

/// <summary>
/// `mpirun -np N llada train|sft …`: this process as one rank of a data-parallel job. Rank 0 alone prints, logs, plots
/// and writes checkpoints; the other ranks are silent except for errors, which name the rank and take the whole job down
/// (MPI_Abort), so no rank is left waiting in an all-reduce.
/// </summary>
public sealed class DistributedRun : IDisposable
{
    private readonly TextWriter _out;
    private readonly IAnsiConsole _console;
    private DataParallel? _parallel;

    private DistributedRun()
    {
        (_out, _console) = (Console.Out, AnsiConsole.Console);
        if (!IsLead)
        {
            Console.SetOut(TextWriter.Null);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
        }
        AppDomain.CurrentDomain.UnhandledException += (_, e) => Fail(e.ExceptionObject is Exception x ? $"unexpected error: {x}" : "unexpected error", 1);
    }

    /// <summary>MPI_Init and a DistributedRun when this process was started by mpirun; null for a plain process.</summary>
    public static DistributedRun? Start()
    {
        if (!Mpi.Launched) return null;
        Mpi.Init();
        return new DistributedRun();
    }

    public static int Rank => Mpi.Initialized ? Mpi.Rank : 0;
    public static int Size => Mpi.Initialized ? Mpi.Size : 1;

    /// <summary>True for the process that prints, logs and saves: rank 0, or a plain process.</summary>
    public static bool IsLead => Rank == 0;

    /// <summary>Prints "llada: rank R of N: message" and aborts the whole job; does not return.</summary>
    public static void Fail(string message, int code)
    {
        Console.Error.WriteLine($"llada: rank {Rank} of {Size}: {message}");
        Console.Error.Flush();
        Mpi.Abort(code);
    }

    /// <summary>Makes the trainer one rank of the job and checks that every rank starts from the same state.</summary>
    public void Attach(Trainer trainer, DataParallelConfig config)
    {
        _parallel = new DataParallel(trainer.Model.Parameters().ToList(), config);
        trainer.Parallel = _parallel;
        _parallel.VerifyNow(trainer.StepIndex, trainer.ReplicatedState());
    }

    /// <summary>Rank 0 prints one throughput line per rank: its tokens/s, time in all-reduce and the fraction of it hidden behind the backward pass.</summary>
    public void PrintThroughput(long globalTokens, double seconds)
    {
        var s = _parallel?.Stats ?? default;
        double[] mine = [globalTokens / (double)Size / Math.Max(seconds, 1e-9), s.CommSeconds, s.ExposedSeconds, s.Overlapped, s.Steps == 0 ? 0 : s.Bytes / (double)s.Steps];
        var all = Mpi.Gather(mine);
        for (int r = 0; r < Size; r++)
        {
            var v = all.AsSpan(r * mine.Length, mine.Length);
            // Plain text: under mpirun stdout is a pseudo-terminal of 80 columns, which Spectre would fold.
            Console.WriteLine($"rank {r}: {v[0]:F0} tok/s, all-reduce {v[1]:F2} s ({v[2]:F2} s exposed, {v[3]:P0} overlapped with backward), {v[4] / 1e6:F1} MB per step in {_parallel?.BucketCount ?? 0} buckets");
        }
    }

    /// <summary>Restores the console; MPI itself is finalized by <see cref="Cli.Run"/> once any error has been reported (finalizing
    /// while an exception is still on its way would leave the other ranks waiting).</summary>
    public void Dispose()
    {
        Console.SetOut(_out);
        AnsiConsole.Console = _console;
    }
}
