using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace LLaDA.Cli;

/// <summary>A value of a closed set that prints as its command-line name (so generated help shows "[default: cpu]"); it converts to the value.</summary>
public readonly record struct Named<T>(T Value, string Name) where T : struct, Enum
{
    public override string ToString() => Name;

    public static implicit operator T(Named<T> n) => n.Value;
}

/// <summary>A closed set of values with their command-line names: the names shown in help and errors, plus accepted aliases.</summary>
public sealed class Choices<T> where T : struct, Enum
{
    private readonly (string Name, T Value)[] _names;
    private readonly (string Name, T Value)[] _aliases;
    private readonly string? _aliasNote;

    /// <param name="subset">The set names only some values of <typeparamref name="T"/> (otherwise every value needs a name).</param>
    public Choices(IEnumerable<(string Name, T Value)> names, IEnumerable<(string Name, T Value)>? aliases = null, bool subset = false)
    {
        _names = names.ToArray();
        _aliases = (aliases ?? []).ToArray();
        _aliasNote = _aliases.Length == 0 ? null : string.Join("; ", _aliases.Select(a => $"{a.Name} = {NameOf(a.Value)}"));
        var missing = Enum.GetValues<T>().Where(v => !_names.Any(n => EqualityComparer<T>.Default.Equals(n.Value, v))).ToList();
        if (missing.Count > 0 && !subset) throw new InvalidOperationException($"{typeof(T).Name}: no command-line name for {string.Join(", ", missing)}");
    }

    /// <summary>Names from the members: LowDiscrepancy → low-discrepancy, IlgpuCpu → ilgpu-cpu.</summary>
    public static Choices<T> KebabCase() => new(Enum.GetValues<T>().Select(v => (Kebab(v.ToString()), v)));

    private static string Kebab(string s) =>
        string.Concat(s.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    public IReadOnlyList<string> Names => _names.Select(n => n.Name).ToArray();

    public string NameOf(T value) => _names.First(n => EqualityComparer<T>.Default.Equals(n.Value, value)).Name;

    public Named<T> Named(T value) => new(value, NameOf(value));

    public bool TryParse(string text, out T value)
    {
        foreach (var (name, v) in _names.Concat(_aliases))
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                value = v;
                return true;
            }
        value = default;
        return false;
    }

    /// <summary>The one message of a value outside the set: "--cache 'foo' (none,prefix,dual): not one of these".</summary>
    public string Message(string what, string text) =>
        $"{what} '{text}' ({string.Join(",", Names)}{(_aliasNote is null ? "" : "; " + _aliasNote)}): not one of these";
}

/// <summary>
/// Builds the command line's options. Every value is checked while parsing (the library's CustomParser reports the error):
/// numbers against <see cref="OptionRanges"/>, closed sets against their <see cref="Choices{T}"/>. Options may be repeated
/// (the last one counts) and a value never starts with "--" (`--prompt --json` is a missing value, not the prompt "--json").
/// </summary>
public static class Opt
{
    private static readonly ArgumentArity Repeatable = new(1, 100_000);

    /// <summary>The option's last value, or an error when it has none.</summary>
    private static string? Last(ArgumentResult r, string option)
    {
        if (r.Tokens.Count == 0 || r.Tokens[^1].Value.StartsWith("--", StringComparison.Ordinal))
        {
            r.AddError($"{option} needs a value");
            return null;
        }
        return r.Tokens[^1].Value;
    }

    private static Option<T> Make<T>(string name, string helpName, string description, Func<ArgumentResult, T> parse) => new("--" + name)
    {
        Description = description,
        HelpName = helpName,
        Arity = Repeatable,
        CustomParser = parse,
    };

    /// <summary>A text value (a path, a prompt); null when not given.</summary>
    public static Option<string?> Text(string name, string helpName, string description) =>
        Make<string?>(name, helpName, description, r => Last(r, "--" + name));

    /// <summary>A text value with a default shown in help.</summary>
    public static Option<string> Text(string name, string helpName, string description, string defaultValue)
    {
        var o = Make(name, helpName, description, r => Last(r, "--" + name) ?? defaultValue);
        o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    /// <summary>The model directory: --model DIR, with --checkpoint DIR as its other name (one option; the older name stays accepted).
    /// A Hugging Face LLaDA directory, a checkpoint of ours, or a training run (its latest checkpoint).</summary>
    public static Option<string> Model(string defaultValue)
    {
        var o = Text("model", "DIR", "model directory (Hugging Face LLaDA layout or ours), or a training run (its latest checkpoint)", defaultValue);
        o.Aliases.Add("--checkpoint");
        return o;
    }

    /// <summary>A switch: present or not.</summary>
    public static Option<bool> Flag(string name, string description) => new("--" + name) { Description = description };

    private static string Described(string name, string description) => $"{description}; {OptionRanges.Of(name).Describe()}";

    private static T? Number<T>(ArgumentResult r, string name, Func<double, T> convert) where T : struct
    {
        if (Last(r, "--" + name) is not string text) return null;
        if (OptionRanges.TryParse(name, text, out double v, out string? error)) return convert(v);
        r.AddError(error!);
        return null;
    }

    private static void CheckKind(string name, NumberKind kind)
    {
        if (OptionRanges.Of(name).Kind != kind) throw new InvalidOperationException($"--{name} is declared {OptionRanges.Of(name).Kind} in {nameof(OptionRanges)}, used as {kind}");
    }

    /// <summary>An integer in its <see cref="OptionRanges"/> range; null when not given.</summary>
    public static Option<int?> Int(string name, string description)
    {
        CheckKind(name, NumberKind.Int32);
        return Make(name, "N", Described(name, description), r => Number(r, name, v => (int)v));
    }

    /// <summary>An integer in its range, with a default.</summary>
    public static Option<int> Int(string name, string description, int defaultValue)
    {
        CheckKind(name, NumberKind.Int32);
        var o = Make(name, "N", Described(name, description), r => Number(r, name, v => (int)v) ?? defaultValue);
        o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    /// <summary>A finite real in its range; null when not given.</summary>
    public static Option<double?> Real(string name, string description)
    {
        CheckKind(name, NumberKind.Real);
        return Make(name, "X", Described(name, description), r => Number(r, name, v => v));
    }

    /// <summary>A finite real in its range, with a default (a float default is taken as written: 3e-3f is 0.003).</summary>
    public static Option<double> Real(string name, string description, double defaultValue)
    {
        CheckKind(name, NumberKind.Real);
        var o = Make(name, "X", Described(name, description), r => Number(r, name, v => v) ?? defaultValue);
        o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    public static double AsWritten(float f) => double.Parse(f.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>A 64-bit unsigned seed, with a default.</summary>
    public static Option<ulong> Seed(string description, ulong defaultValue)
    {
        const string name = "seed";
        CheckKind(name, NumberKind.UInt64);
        var o = Make(name, "N", Described(name, description), r =>
        {
            if (Last(r, "--" + name) is not string text) return defaultValue;
            if (OptionRanges.TryParseUInt64(name, text, out ulong v, out string? error)) return v;
            r.AddError(error!);
            return defaultValue;
        });
        o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    private static T? ParseChoice<T>(ArgumentResult r, string name, Choices<T> choices) where T : struct, Enum
    {
        if (Last(r, "--" + name) is not string text) return null;
        if (choices.TryParse(text, out T v)) return v;
        r.AddError(choices.Message("--" + name, text));
        return null;
    }

    private static Option<TOpt> ChoiceOption<T, TOpt>(string name, string description, Choices<T> choices, Func<ArgumentResult, TOpt> parse) where T : struct, Enum
    {
        var o = Make(name, string.Join("|", choices.Names), description, parse);
        o.CompletionSources.Add(choices.Names.ToArray());
        return o;
    }

    /// <summary>One of a closed set, with a default.</summary>
    public static Option<Named<T>> Choice<T>(string name, string description, Choices<T> choices, T defaultValue) where T : struct, Enum
    {
        var o = ChoiceOption(name, description, choices, r => choices.Named(ParseChoice(r, name, choices) ?? defaultValue));
        o.DefaultValueFactory = _ => choices.Named(defaultValue);
        return o;
    }

    /// <summary>One of a closed set; null when not given.</summary>
    public static Option<T?> Choice<T>(string name, string description, Choices<T> choices) where T : struct, Enum =>
        ChoiceOption<T, T?>(name, description, choices, r => ParseChoice(r, name, choices));

    /// <summary>A comma-separated list of one closed set ("confidence,margin"); null when not given.</summary>
    public static Option<IReadOnlyList<T>?> ChoiceList<T>(string name, string description, Choices<T> choices) where T : struct, Enum =>
        ChoiceOption<T, IReadOnlyList<T>?>(name, description, choices, r =>
        {
            if (Last(r, "--" + name) is not string text) return null;
            var list = new List<T>();
            foreach (var item in text.Split(','))
            {
                if (!choices.TryParse(item, out T v))
                {
                    r.AddError(choices.Message("--" + name, item));
                    return null;
                }
                if (!list.Contains(v)) list.Add(v);
            }
            return list;
        });

    /// <summary>A comma-separated list of reals in the option's range, or "none" (an empty list); null when not given.</summary>
    public static Option<IReadOnlyList<double>?> RealList(string name, string description)
    {
        CheckKind(name, NumberKind.Real);
        return Make<IReadOnlyList<double>?>(name, "X,Y|none", Described(name, description) + " each", r =>
        {
            if (Last(r, "--" + name) is not string text) return null;
            if (text == "none") return [];
            var list = new List<double>();
            foreach (var item in text.Split(','))
            {
                if (!OptionRanges.TryParse(name, item, out double v, out string? error))
                {
                    r.AddError(error!);
                    return null;
                }
                list.Add(v);
            }
            return list;
        });
    }

    /// <summary>A positional argument from a closed set, with a default.</summary>
    public static Argument<Named<T>> ChoiceArgument<T>(string name, string description, Choices<T> choices, T defaultValue) where T : struct, Enum
    {
        var a = new Argument<Named<T>>(name)
        {
            Description = description,
            HelpName = string.Join("|", choices.Names),
            Arity = ArgumentArity.ZeroOrOne,
            DefaultValueFactory = _ => choices.Named(defaultValue),
            CustomParser = r =>
            {
                if (r.Tokens.Count == 0) return choices.Named(defaultValue);
                string text = r.Tokens[0].Value;
                if (choices.TryParse(text, out T v)) return choices.Named(v);
                r.AddError(text.StartsWith('-') ? $"unknown option {text}" : choices.Message(name, text));
                return choices.Named(defaultValue);
            },
        };
        a.CompletionSources.Add(choices.Names.ToArray());
        return a;
    }

    /// <summary>An optional positional text argument (a directory); an unknown option in its place is reported as one.</summary>
    public static Argument<string?> TextArgument(string name, string description) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrOne,
        CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return null;
            string text = r.Tokens[0].Value;
            if (text.StartsWith("--", StringComparison.Ordinal)) r.AddError($"unknown option {text}");
            return text;
        },
    };

    /// <summary>--threads N: CPU worker threads (default: every core).</summary>
    public static Option<int> Threads() => Int("threads", "CPU worker threads", Environment.ProcessorCount);

    /// <summary>--device: where the model runs.</summary>
    public static Option<Named<Device>> Device(Device defaultValue = LLaDA.Cli.Device.Cpu) =>
        Choice("device", "where tensors live and kernels run (ILGPU devices: cuda, opencl, or ILGPU's CPU accelerator for checks)", Devices.Names, defaultValue);

    /// <summary>--raw-weights: skip the moving-average weights.</summary>
    public static Option<bool> RawWeights() => Flag("raw-weights", "use the raw weights even when the checkpoint has moving-average ones (ema.safetensors)");

    /// <summary>--json: machine-readable output.</summary>
    public static Option<bool> Json() => Flag("json", "print JSON instead of text");

    /// <summary>Whether the option was written on the command line (not just defaulted).</summary>
    public static bool Given(this ParseResult r, Option option) => r.GetResult(option) is { Implicit: false };
}
