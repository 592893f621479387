using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;
using LLaDA.Cli;
using LLaDA.Tests.Testing;
using Xunit;

namespace LLaDA.Tests.Cli;

/// <summary>Issue 11 §4: the command line on System.CommandLine — help generated from the definitions and equal to them,
/// usage errors as one `llada:` line with exit code 2, every option of the hand-written parser still accepted, 64-bit seeds, --version.</summary>
[Collection("Console")]
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "llada-cmdline-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    private static Command CommandAt(IReadOnlyList<string> path)
    {
        Command c = LLaDA.Cli.Cli.Root;
        foreach (var name in path) c = c.Subcommands.Single(s => s.Name == name);
        return c;
    }

    /// <summary>The options a command accepts by its definitions: its own (each name and long alias, as --model/--checkpoint) and the recursive ones of its ancestors (--help).</summary>
    private static SortedSet<string> DefinedOptions(IReadOnlyList<string> path)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        var command = CommandAt(path);
        foreach (var o in command.Options)
        {
            names.Add(o.Name);
            foreach (var a in o.Aliases.Where(a => a.StartsWith("--", StringComparison.Ordinal))) names.Add(a);
        }
        for (int depth = 0; depth < path.Count; depth++)
            foreach (var o in CommandAt(path.Take(depth).ToList()).Options.Where(o => o.Recursive))
                names.Add(o.Name);
        return names;
    }

    /// <summary>The long option names in the first column of the "Options:" section of a help text.</summary>
    private static SortedSet<string> ListedOptions(string help)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        bool inOptions = false;
        foreach (var line in help.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (line.Length > 0 && !char.IsWhiteSpace(line[0])) inOptions = line == "Options:";
            else if (inOptions && line.StartsWith("  -", StringComparison.Ordinal))
            {
                string first = Regex.Split(line.Trim(), @"\s{2,}")[0];
                foreach (Match m in Regex.Matches(first, @"(?<![\w-])--[a-z][a-z0-9-]*")) names.Add(m.Value);
            }
        }
        return names;
    }

    public static TheoryData<string> CommandPathsData()
    {
        var d = new TheoryData<string>();
        foreach (var p in LLaDA.Cli.Cli.CommandPaths(LLaDA.Cli.Cli.Root, [])) d.Add(string.Join(' ', p));
        return d;
    }

    [Theory]
    [MemberData(nameof(CommandPathsData))]
    public void Help_OfEveryCommand_ListsExactlyTheOptionsItsDefinitionsAccept(string pathText)
    {
        var path = pathText.Split(' ');
        var (code, stdout, err) = CliRunner.Run([.. path, "--help"]);
        Assert.True(code == 0, err);
        var listed = ListedOptions(stdout);
        var defined = DefinedOptions(path);
        Assert.True(defined.SetEquals(listed), $"llada {pathText}: defined [{string.Join(' ', defined)}] vs listed in --help [{string.Join(' ', listed)}]\n{stdout}");
        // What help lists, the parser accepts: no listed option is an unknown option of this command.
        foreach (var name in listed.Where(n => n is not "--help" and not "--version"))
        {
            var r = LLaDA.Cli.Cli.Root.Parse([.. path, name, "1"]);
            Assert.DoesNotContain(name, r.UnmatchedTokens);
            Assert.NotNull(r.GetResult(CommandAt(path).Options.Concat(LLaDA.Cli.Cli.Root.Options).First(o => o.Name == name || o.Aliases.Contains(name))));
        }
    }

    [Fact]
    public void Help_TheHelpCommand_ListsEveryCommandAndEveryOption()
    {
        var (code, stdout, _) = CliRunner.Run(["help"]);
        Assert.Equal(0, code);
        foreach (var path in LLaDA.Cli.Cli.CommandPaths(LLaDA.Cli.Cli.Root, []))
        {
            string header = $"──── llada {string.Join(' ', path)} ────";
            int at = stdout.IndexOf(header, StringComparison.Ordinal);
            Assert.True(at >= 0, header);
            int next = stdout.IndexOf("──── llada ", at + header.Length, StringComparison.Ordinal);
            var section = stdout[at..(next < 0 ? stdout.Length : next)];
            Assert.Equal(DefinedOptions(path), ListedOptions(section));
        }
        // `llada help CMD` is `llada CMD --help`.
        Assert.Equal(CliRunner.Run(["train", "--help"]).Out, CliRunner.Run(["help", "train"]).Out);
    }

    /// <summary>Every option the hand-written parser read (the README's and the old usage text's), by command.</summary>
    public static TheoryData<string, string> EarlierOptions() => new()
    {
        { "bench", "json quick profile threads checkpoint device" },
        { "train", "resume resume-from overwrite ar preset config data poems out device threads samples no-progress steps batch grad-accum lr min-lr warmup schedule weight-decay clip eval-every save-every seed time-sampling min-t ema init global-batch checksum-every" },
        { "sft", "resume resume-from overwrite ar preset config data poems out device threads samples no-progress steps batch grad-accum lr min-lr warmup schedule weight-decay clip eval-every save-every seed time-sampling min-t ema init global-batch checksum-every" },
        { "info", "checkpoint" },
        { "generate", "checkpoint prompt chat-template live trace-out keep-eos device threads raw-weights gen-length steps block-length temperature cfg remasking threshold factor cache eos-inf eot-inf seed" },
        { "chat", "checkpoint device threads raw-weights gen-length steps block-length temperature cfg remasking threshold factor cache eos-inf eot-inf seed" },
        { "eval likelihood", "checkpoint prompt answer options json mc-num batch cfg seed device threads raw-weights" },
        { "eval elbo", "checkpoint data t-grid mask-draws seed max-lines json device threads raw-weights" },
        { "eval reversal", "data json poems steps batch lr seed preset max-queries poem-text threshold factor remasking no-ar time-sampling min-t ema device threads" },
        { "check", "device size filter ptx" },
        { "kernels ptx", "out" },
        { "kernels check", "json device" },
        { "kernels bench", "json device" },
    };

    [Theory]
    [MemberData(nameof(EarlierOptions))]
    public void EveryEarlierOption_IsStillDefined(string pathText, string options)
    {
        var defined = DefinedOptions(pathText.Split(' '));
        foreach (var o in options.Split(' ')) Assert.Contains("--" + o, defined);
    }

    [Fact]
    public void NumericOptions_OfAllDefinitions_AreExactlyTheRangeTable()
    {
        // Every numeric option takes its range from OptionRanges (Opt throws for a missing entry while the tree is built),
        // and no entry of the table is left without an option.
        var numeric = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in LLaDA.Cli.Cli.CommandPaths(LLaDA.Cli.Cli.Root, []))
            foreach (var o in CommandAt(path).Options)
                if (o.ValueType is var t && (t == typeof(int) || t == typeof(int?) || t == typeof(double) || t == typeof(double?) || t == typeof(ulong) || t == typeof(IReadOnlyList<double>)))
                    numeric.Add(o.Name[2..]);
        Assert.Equal(OptionRanges.All.Keys.Order(StringComparer.Ordinal), numeric.Order(StringComparer.Ordinal));
    }

    /// <summary>Usage errors: exit code 2, exactly one `llada:` line (the usage hint aside), nothing on stdout, no stack trace.</summary>
    [Theory]
    [InlineData("llada: --schedule 'linear' (wsd,cosine,constant): not one of these", "train", "--schedule", "linear")]
    [InlineData("llada: --time-sampling 'sobol' (uniform,low-discrepancy,antithetic): not one of these", "train", "--time-sampling", "sobol")]
    [InlineData("llada: --preset 'huge' (tiny,poems,bench,8b): not one of these", "train", "--preset", "huge")]
    [InlineData("llada: --device 'tpu' (cpu,cuda,ilgpu-cpu,opencl): not one of these", "train", "--device", "tpu")]
    [InlineData("llada: --device 'cpu' (cuda,ilgpu-cpu,opencl): not one of these", "check", "--device", "cpu")]
    [InlineData("llada: --size 'huge' (tiny,moderate): not one of these", "check", "--size", "huge")]
    [InlineData("llada: --cache 'full' (none,prefix,dual): not one of these", "generate", "--prompt", "x", "--cache", "full")]
    [InlineData("llada: --remasking 'greedy' (confidence,margin,entropy,random,origin; low_confidence = confidence): not one of these", "eval", "reversal", "--remasking", "margin,greedy")]
    [InlineData("llada: --threshold must be a finite number in (0, 1], got '1.5'", "eval", "reversal", "--threshold", "0.9,1.5")]
    [InlineData("llada: --seed must be an integer in [0, 18446744073709551615], got '-1'", "train", "--seed", "-1")]
    [InlineData("llada: --seed must be an integer in [0, 18446744073709551615], got '18446744073709551616'", "generate", "--prompt", "x", "--seed", "18446744073709551616")]
    [InlineData("llada: --gen-length must be an integer in [1, 1048576] (prompt + answer must also fit the model's max_sequence_length), got '2000000'", "chat", "--gen-length", "2000000")]
    [InlineData("llada: --t-grid must be an integer in [1, 1048576], got '0'", "eval", "elbo", "--data", "x", "--t-grid", "0")]
    [InlineData("llada: --steps needs a value", "train", "--steps")]
    [InlineData("llada: --prompt needs a value", "generate", "--prompt", "--live")]
    [InlineData("llada: generate needs --prompt TEXT", "generate")]
    [InlineData("llada: eval elbo needs --data FILE", "eval", "elbo")]
    [InlineData("llada: eval needs one of: likelihood, elbo, reversal, poems", "eval")]
    [InlineData("llada: unknown eval command 'bogus' (likelihood, elbo, reversal, poems)", "eval", "bogus")]
    [InlineData("llada: unknown option --frob for train (see llada train --help)", "train", "--frob")]
    [InlineData("llada: unknown option --lr for generate (see llada generate --help)", "generate", "--prompt", "x", "--lr", "0.1")]
    [InlineData("llada: unknown option --frob", "bench", "--frob")]
    [InlineData("llada: op 'gemm' (all,matmul,mixed-gemm,attention,elementwise,reduce,softmax,rmsnorm,rope,crossentropy,embedding,adamw,train,sample,sample-head): not one of these", "bench", "gemm")]
    [InlineData("llada: unexpected argument 'extra' for info", "info", "dir", "extra")]
    [InlineData("llada: unknown command 'frobnicate' (bench, train, sft, info, generate, chat, eval, check, kernels, make-checkpoint)", "frobnicate")]
    public void UsageError_OneLlAdaLineAndExitCode2(string expected, params string[] args)
    {
        var (code, stdout, err) = CliRunner.Run(args);
        Assert.True(code == 2, $"exit code {code}; stderr: {err}");
        Assert.Equal("", stdout);
        Assert.DoesNotContain("   at ", err);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(expected, Assert.Single(lines, l => l.StartsWith("llada:", StringComparison.Ordinal)));
        Assert.All(lines, l => Assert.True(l.StartsWith("llada:", StringComparison.Ordinal) || l == "run 'llada help' for usage", l));
    }

    [Fact]
    public void NoCommand_PrintsHelpAndExitCode2()
    {
        var (code, stdout, _) = CliRunner.Run([]);
        Assert.Equal(2, code);
        Assert.Contains("generate", stdout);
    }

    [Fact]
    public void Seed_TakesTheWhole64BitRange()
    {
        TinyCheckpoint.Write(_dir);
        string data = Path.Combine(_dir, "held.txt");
        File.WriteAllLines(data, [TinyCheckpoint.Text, TinyCheckpoint.Text[..10]]);
        foreach (ulong seed in new[] { ulong.MaxValue, 1UL << 40 })
        {
            var (code, stdout, err) = CliRunner.Run(["eval", "elbo", "--checkpoint", _dir, "--data", data, "--t-grid", "2", "--mask-draws", "1", "--threads", "1", "--seed", seed.ToString(), "--json"]);
            Assert.True(code == 0, err);
            using var doc = System.Text.Json.JsonDocument.Parse(stdout);
            Assert.Equal(seed, doc.RootElement.GetProperty("seed").GetUInt64());
        }
    }

    [Fact]
    public void RepeatedOption_TheLastOneCounts_AndEqualsSignIsAccepted()
    {
        TinyCheckpoint.Write(_dir);
        string data = Path.Combine(_dir, "held.txt");
        File.WriteAllLines(data, [TinyCheckpoint.Text, TinyCheckpoint.Text[..10]]);
        var (code, stdout, err) = CliRunner.Run(["eval", "elbo", "--checkpoint", _dir, "--data", data, "--t-grid", "9", "--t-grid=3", "--mask-draws", "1", "--threads", "1", "--json"]);
        Assert.True(code == 0, err);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(3, doc.RootElement.GetProperty("t_grid").GetInt32());
    }

    [Fact]
    public void Version_PrintsVersionAndCommit()
    {
        var (code, stdout, _) = CliRunner.Run(["--version"]);
        Assert.Equal(0, code);
        Assert.Matches(@"^llada \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,40}|unknown)\)$", stdout.Trim());
        Assert.Equal(BuildInfo.Text, stdout.Trim());
    }
}
