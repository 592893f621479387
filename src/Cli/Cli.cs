using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Reflection;

namespace LLaDA.Cli;

/// <summary>The `llada` command line: the composition root that picks the backend and runs a command.</summary>
/// <remarks>
/// Parsing, help and validation are System.CommandLine's: every command's options are defined in its own file
/// (Commands/*.cs, Bench/BenchCommand.cs) and its help is generated from those definitions. A usage error (unknown
/// command or option, bad or missing value) is one `llada: …` line and exit code 2, before anything runs.
/// </remarks>
public static class Cli
{
    /// <summary>Exit code of a usage error or of input the command refuses.</summary>
    public const int UsageExitCode = 2;

    private static readonly Lazy<RootCommand> RootLazy = new(Build);

    /// <summary>The command tree (built once; the definitions are immutable afterwards).</summary>
    public static RootCommand Root => RootLazy.Value;

    private static readonly ParserConfiguration Parsing = new() { ResponseFileTokenReplacer = null }; // "@file" is a prompt, not a response file

    private static RootCommand Build()
    {
        var root = new RootCommand("llada — LLaDA masked-diffusion language models in pure .NET")
        {
            Bench.BenchCommand.Definition(),
            Commands.TrainCommand.TrainDefinition(),
            Commands.TrainCommand.SftDefinition(),
            Commands.InfoCommand.Definition(),
            Commands.GenerateCommand.Definition(),
            Commands.ChatCommand.Definition(),
            Commands.EvalCommand.Definition(),
            Commands.CheckCommand.Definition(),
            Commands.KernelsCommand.Definition(),
            Commands.MakeCheckpointCommand.Definition(),
        };
        root.Directives.Clear(); // no [suggest]/[diagram] directives: a first argument in brackets is an unknown command
        foreach (var o in root.Options)
        {
            if (o is VersionOption v) v.Action = new VersionAction();
        }
        return root;
    }

    public static int Run(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;
        // Piped or logged output has no terminal width (Spectre assumes 80 columns and folds wide tables): use a wide page.
        if (Console.IsOutputRedirected && Environment.GetEnvironmentVariable("COLUMNS") is null) Spectre.Console.AnsiConsole.Profile.Width = 160;
        if (args.Length == 0)
        {
            Console.WriteLine(HelpText());
            return UsageExitCode;
        }
        // `llada help` lists every command with its options; `llada help CMD…` is `llada CMD… --help`.
        if (args[0] == "help")
        {
            if (args.Length == 1)
            {
                Console.WriteLine(HelpText(all: true));
                return 0;
            }
            args = [.. args[1..], "--help"];
        }
        var result = Root.Parse(args, Parsing);
        if (result.Errors.Count > 0 && result.Action is ParseErrorAction) return Fail(Describe(result));
        int threads = LLaDA.Tensors.Cpu.CpuParallel.Threads;
        try
        {
            return result.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = Console.Out, Error = Console.Error });
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

    /// <summary>The generated help of the root command; with <paramref name="all"/> followed by every command's and subcommand's.</summary>
    public static string HelpText(bool all = false)
    {
        var sb = new StringWriter();
        sb.Write(HelpOf([]));
        if (all)
            foreach (var path in CommandPaths(Root, []))
            {
                sb.WriteLine();
                sb.WriteLine($"──── llada {string.Join(' ', path)} ────");
                sb.Write(HelpOf(path));
            }
        return sb.ToString().TrimEnd();
    }

    /// <summary>What `llada PATH --help` prints.</summary>
    public static string HelpOf(IReadOnlyList<string> path)
    {
        var output = new StringWriter();
        Root.Parse([.. path, "--help"], Parsing).Invoke(new InvocationConfiguration { Output = output, Error = output });
        return output.ToString();
    }

    /// <summary>Every command below <paramref name="command"/> as its path of names, depth first.</summary>
    public static IEnumerable<IReadOnlyList<string>> CommandPaths(Command command, IReadOnlyList<string> prefix)
    {
        foreach (var c in command.Subcommands)
        {
            IReadOnlyList<string> path = [.. prefix, c.Name];
            yield return path;
            foreach (var sub in CommandPaths(c, path)) yield return sub;
        }
    }

    /// <summary>One line for the first usage error of a parse.</summary>
    private static string Describe(ParseResult r)
    {
        var command = r.CommandResult.Command;
        string where = CommandPath(r.CommandResult);
        if (r.UnmatchedTokens.Count > 0)
        {
            string token = r.UnmatchedTokens[0];
            if (command is RootCommand)
                return token.StartsWith('-') ? $"unknown option {token}" : $"unknown command '{token}' ({string.Join(", ", command.Subcommands.Select(c => c.Name))})";
            if (command.Subcommands.Count > 0 && !token.StartsWith('-'))
                return $"unknown {where} command '{token}' ({string.Join(", ", command.Subcommands.Select(c => c.Name))})";
            return token.StartsWith('-') ? $"unknown option {token} for {where} (see llada {where} --help)" : $"unexpected argument '{token}' for {where}";
        }
        if (command.Subcommands.Count > 0 && command.Action is null)
            return $"{where} needs one of: {string.Join(", ", command.Subcommands.Select(c => c.Name))}";
        foreach (var o in command.Options)
            if (o.Required && r.GetResult(o) is not { Implicit: false }) return $"{where} needs {o.Name} {o.HelpName}";
        foreach (var e in r.Errors)
        {
            if (e.SymbolResult is ArgumentResult) return e.Message; // the values' own messages (Opt): they name the option and what it takes
            if (e.SymbolResult is OptionResult { Tokens.Count: 0 } missing) return $"{missing.Option.Name} needs a value";
        }
        return r.Errors[0].Message;
    }

    private static string CommandPath(CommandResult c)
    {
        var names = new List<string>();
        for (SymbolResult? s = c; s is CommandResult cr && cr.Command is not RootCommand; s = s.Parent) names.Insert(0, cr.Command.Name);
        return string.Join(' ', names);
    }

    private static int Fail(string message, bool usage = true)
    {
        // One rank of an mpirun job: name the rank and take the whole job down (the others would wait for it forever).
        if (Commands.DistributedRun.Size > 1) Commands.DistributedRun.Fail(message, UsageExitCode);
        Console.Error.WriteLine($"llada: {message}");
        if (usage) Console.Error.WriteLine("run 'llada help' for usage");
        return UsageExitCode;
    }

    /// <summary>`llada --version`: the version and the git commit it was built from.</summary>
    private sealed class VersionAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(BuildInfo.Text);
            return 0;
        }
    }
}

/// <summary>The version and git commit embedded at build time (InformationalVersion "1.2.3+commit"; "unknown" when built without git).</summary>
public static class BuildInfo
{
    private static readonly string Informational =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static string Version => Informational.Split('+')[0];

    public static string Commit => Informational.Split('+') is [_, var c, ..] && c.Length > 0 ? c : "unknown";

    public static string Text => $"llada {Version} (commit {Commit})";
}

/// <summary>A bad command-line option; the message says which and why.</summary>
public sealed class OptionException(string message) : Exception(message);
