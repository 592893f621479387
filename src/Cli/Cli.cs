using System.Globalization;

namespace LLaDA.Cli;

/// <summary>The `llada` command line: the composition root that picks the backend and runs a command.</summary>
public static class Cli
{
    public const string Usage = $$"""
        llada — LLaDA masked-diffusion language models in pure .NET

        usage: llada <command> [options]

        commands:
          bench [op] [--json] [--threads N] [--quick] [--profile] [--device cpu|cuda|ilgpu-cpu]
                 time the CPU primitives; op ∈ {all, matmul, attention, elementwise, reduce,
                 softmax, rmsnorm, rope, crossentropy, embedding, adamw, train, sample}
                 (sample: decoding modes at gen length 256; --checkpoint DIR uses a trained model)
          train  [--preset poems|tiny|bench] [--config FILE] [--data FILE] [--poems N] [--steps N]
                 [--batch N] [--grad-accum N] [--lr X] [--schedule wsd|cosine|constant] [--seed N]
                 [--device cpu] [--threads N] [--out DIR] [--resume | --resume-from DIR | --overwrite] [--ar]
                 [--eval-every N] [--save-every N] [--samples N] [--no-progress]
                 [--time-sampling uniform|low-discrepancy|antithetic] [--min-t X] [--ema DECAY]
                 [--global-batch N] [--checksum-every N]
                 pre-train a mask predictor on the bundled Tang poems (--ar: the autoregressive baseline);
                 under `mpirun -np N` data-parallel: --batch per rank, --global-batch = batch × N × grad-accum
          sft    same options, plus --init DIR: fine-tune on poem QA pairs (prompt never masked)
          info   --checkpoint DIR: validate a checkpoint and print its config, parameters and dtypes
          generate --checkpoint DIR --prompt TEXT [sampler options] [--chat-template] [--live]
                 [--trace-out FILE.html|FILE.png] [--keep-eos] [--raw-weights]
                 (generate, chat and eval use a checkpoint's ema.safetensors when present; --raw-weights: the raw ones)
                 sampler options: --steps N --gen-length N --block-length N --temperature X --cfg X
                 --remasking {{LLaDA.Diffusion.Sampling.Policies.UnmaskingPolicies.Names}} --threshold X --factor X --cache none|prefix|dual
                 --eos-inf --eot-inf --seed N --pad-to N (EOS padding after the answer up to N tokens, as training rows)
          chat   --checkpoint DIR [sampler options]: multi-turn chat with the chat template
          eval likelihood --checkpoint DIR --prompt TEXT (--answer TEXT | --options "A|B|C")
                 [--mc-num N] [--batch N] [--cfg X] [--seed N] [--json]
          eval elbo --data FILE [--checkpoint DIR] [--t-grid N] [--mask-draws M] [--seed N] [--max-lines N] [--json]
                 negative ELBO per token (bits/char for the char tokenizer) of held-out text, ± standard error
          eval poems [--checkpoint DIR] [--count N] [--samples N] [--temperature X] [--remasking NAME] [--free-format] [--one-block] [--seed N] [--json]
                 completes the run's held-out poems from their first line (the line ends' ，/。 given; --free-format: the model
                 places them too, one block per line unless --one-block) and
                 prints the fraction that are poem-shaped (lines of 5 or 7, ， and 。 at line ends, no character 3× in a row)
          eval reversal [--data FILE] [--poems N] [--steps N] [--batch N] [--lr X] [--seed N]
                 [--max-queries N] [--poem-text] [--threshold X,Y|none] [--factor X,Y] [--remasking A,B] [--no-ar]
                 [--time-sampling …] [--min-t X] [--ema DECAY] [--json]:
                 LLaDA-mini vs AR-mini, forward vs reversed couplets; LLaDA also with each fast decoding
                 (default: threshold 0.9) and each unmasking policy of --remasking (default: confidence),
                 with forward passes per generated token
          check  [--device cuda|ilgpu-cpu|opencl] [--size tiny|moderate] [--filter NAME] [--ptx DIR]
                 compare every ILGPU kernel with the CPU backend; exit code 1 on any mismatch
                 (--ptx DIR: write every kernel's PTX for SM 9.0 instead, for ptxas -v; no GPU needed)
          kernels ptx DIR | check | bench [--device cuda|ilgpu-cpu] [--json]
                 matmul/attention kernels: PTX of every kernel, every path vs the CPU, timings
          help   this text
        """;

    public static int Run(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        // Piped or logged output has no terminal width (Spectre assumes 80 columns and folds wide tables): use a wide page.
        if (Console.IsOutputRedirected && Environment.GetEnvironmentVariable("COLUMNS") is null) Spectre.Console.AnsiConsole.Profile.Width = 160;
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 1 : 0;
        }
        int threads = LLaDA.Tensors.Cpu.CpuParallel.Threads;
        try
        {
            var opts = Options.Parse(args[1..]);
            return args[0] switch
            {
                "bench" => Bench.BenchCommand.Run(opts),
                "train" => Commands.TrainCommand.Run(opts, LLaDA.Diffusion.Training.Objective.Pretrain),
                "sft" => Commands.TrainCommand.Run(opts, LLaDA.Diffusion.Training.Objective.Sft),
                "info" => Commands.InfoCommand.Run(opts),
                "generate" => Commands.GenerateCommand.Run(opts),
                "chat" => Commands.ChatCommand.Run(opts),
                "eval" => Commands.EvalCommand.Run(opts),
                "check" => Commands.CheckCommand.Run(opts),
                "kernels" => Commands.KernelsCommand.Run(opts),
                _ => Fail($"unknown command '{args[0]}'"),
            };
        }
        catch (OptionException e)
        {
            return Fail(e.Message);
        }
        // Bad input found by the libraries (malformed files, inconsistent configs, invalid sampler settings) and the
        // environment refusing (missing or unreadable paths, read-only or full disks, symlink loops: IOException and
        // UnauthorizedAccessException, whose messages name the path): one line naming the problem; a stack trace would only hide it.
        catch (Exception e) when (e is LLaDA.Nn.Serialization.CheckpointException or LLaDA.Nn.ConfigException or IOException
                                     or UnauthorizedAccessException or InvalidDataException or ArgumentException
                                     or LLaDA.Diffusion.Distributed.MpiException or LLaDA.Diffusion.Distributed.ReplicaMismatchException)
        {
            return Fail(e.Message, usage: false);
        }
        finally
        {
            // Commands set the worker count from --threads; an embedding host gets its own setting back.
            LLaDA.Tensors.Cpu.CpuParallel.Threads = threads;
            // After the catch above: a rank that failed has aborted the job; a finished rank leaves MPI cleanly.
            LLaDA.Diffusion.Distributed.Mpi.Shutdown();
        }
    }

    private static int Fail(string message, bool usage = true)
    {
        // One rank of an mpirun job: name the rank and take the whole job down (the others would wait for it forever).
        if (Commands.DistributedRun.Size > 1) Commands.DistributedRun.Fail(message, 2);
        Console.Error.WriteLine($"llada: {message}");
        if (usage) Console.Error.WriteLine("run 'llada help' for usage");
        return 2;
    }
}

/// <summary>A bad command-line option; the message says which and why.</summary>
public sealed class OptionException(string message) : Exception(message);

/// <summary>Parsed `--name value` / `--flag` options and positional arguments.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string?> _named = new();
    private readonly HashSet<string> _used = new();

    public List<string> Positional { get; } = new();

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                string name = a[2..];
                string? value = null;
                int eq = name.IndexOf('=');
                if (eq >= 0)
                {
                    value = name[(eq + 1)..];
                    name = name[..eq];
                }
                else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    value = args[++i];
                }
                o._named[name] = value;
            }
            else o.Positional.Add(a);
        }
        return o;
    }

    /// <summary>Whether the option was given at all (to tell an explicit value from a default).</summary>
    public bool Has(string name) => _named.ContainsKey(name);

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_named.TryGetValue(name, out var v)) return false;
        if (v is not null)
        {
            // A flag followed by a positional argument: give the argument back.
            Positional.Add(v);
            _named[name] = null;
        }
        return true;
    }

    public string? String(string name)
    {
        _used.Add(name);
        return _named.TryGetValue(name, out var v) ? v ?? throw new OptionException($"--{name} needs a value") : null;
    }

    public int Int(string name, int fallback)
    {
        _ = OptionRanges.Of(name); // every numeric option has a declared range, given or not
        var s = String(name);
        if (s is null) return fallback;
        // Range and message: OptionRanges, the one table of numeric options.
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? (int)OptionRanges.Check(name, v, s) : throw new OptionException(OptionRanges.Message(name, s));
    }

    public double Double(string name, double fallback)
    {
        _ = OptionRanges.Of(name);
        var s = String(name);
        if (s is null) return fallback;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? OptionRanges.Check(name, v, s) : throw new OptionException(OptionRanges.Message(name, s));
    }

    /// <summary>Throws when an option was given that no command read.</summary>
    public void RejectUnknown()
    {
        foreach (var k in _named.Keys)
            if (!_used.Contains(k)) throw new OptionException($"unknown option --{k}");
    }
}
