using System.CommandLine;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors.Cpu;
using Spectre.Console;

namespace LLaDA.Cli.Commands;

/// <summary>`llada generate --model DIR`: sample a continuation of a prompt with the reverse process (<see cref="LladaModel"/>),
/// streamed as blocks are committed, or shown live, optionally traced.</summary>
/// <remarks>Sampler settings: the command line &gt; the model's generation_config.json &gt; this command's defaults.</remarks>
public static class GenerateCommand
{
    private static readonly Option<string> ModelOption = Opt.Model("runs/llada");
    private static readonly Option<string?> Prompt = Opt.Text("prompt", "TEXT", "the text to continue");
    private static readonly Option<bool> ChatTemplateFlag = Opt.Flag("chat-template", "wrap the prompt in the chat template (a user turn)");
    private static readonly Option<bool> Live = Opt.Flag("live", "show the denoising live in the terminal");
    private static readonly Option<string?> TraceOut = Opt.Text("trace-out", "FILE.html|FILE.png", "write the denoising trace (which token was fixed at which step)");
    private static readonly Option<bool> KeepEos = Opt.Flag("keep-eos", "print the end-of-text padding and special tokens too");
    private static readonly Option<Named<Device>> DeviceOption = Opt.Device();
    private static readonly Option<int> Threads = Opt.Threads();
    private static readonly Option<bool> RawWeights = Opt.RawWeights();
    private static readonly SamplerOptions Sampler = new(new SamplerConfig { GenLength = 64, BlockLength = 64, Steps = 64 });

    public static Command Definition()
    {
        Prompt.Required = true;
        var c = new Command("generate", "sample a continuation of a prompt with the reverse (unmasking) process; streams the answer as blocks are committed; uses a checkpoint's ema.safetensors when present")
        {
            ModelOption, Prompt, ChatTemplateFlag, Live, TraceOut, KeepEos, DeviceOption, Threads, RawWeights,
        };
        foreach (var o in Sampler.All) c.Add(o);
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult r)
    {
        string dir = r.GetValue(ModelOption)!;
        string prompt = r.GetValue(Prompt)!;
        bool template = r.GetValue(ChatTemplateFlag);
        bool live = r.GetValue(Live);
        string? traceOut = r.GetValue(TraceOut);
        bool keepEos = r.GetValue(KeepEos);
        var backend = Devices.Get(r.GetValue(DeviceOption));
        CpuParallel.Threads = r.GetValue(Threads);

        int[] ids = [];
        SamplerConfig cfg = null!;
        using var model = ModelLoader.Open(dir, backend, check =>
        {
            cfg = Sampler.Resolve(r, check.Defaults);
            var (c, t) = (check.Config, check.Tokenizer);
            ids = template ? ChatTemplate.Encode(t, check.ChatFormat, [("user", prompt)]) : [.. (t.Specials.Bos is int b ? new[] { b } : []), .. t.Encode(prompt)];
            ModelLoader.EnsureContext(c, ids.Length, cfg.GenLength, "--gen-length");
            ModelLoader.EnsureContext(c, ids.Length, Math.Max(0, cfg.PadTo - ids.Length), "the --pad-to answer and padding");
            MemoryEstimate.Generate(c, ids.Length, cfg.GenLength, cfg.CfgScale > 0, cfg.Cache != LLaDA.Nn.CacheMode.None).EnsureFits("lower --gen-length or use a smaller model");
        }, r.GetValue(RawWeights));
        var tok = model.Tokenizer;
        var steps = new List<SamplerStep>();
        GenerationResult result;
        if (live && !Console.IsOutputRedirected)
        {
            result = null!;
            AnsiConsole.Live(new Markup("")).Start(ctx =>
            {
                result = model.GenerateIds(ids, cfg, onStep: s =>
                {
                    steps.Add(s);
                    ctx.UpdateTarget(new Markup(LiveMarkup(tok, s, Math.Max(1, cfg.Dynamic ? cfg.GenLength : cfg.Steps))));
                    ctx.Refresh();
                });
            });
            Console.WriteLine(prompt + (keepEos ? tok.Decode(result.Generated) : result.Text));
        }
        else if (keepEos)
        {
            result = model.GenerateIds(ids, cfg, onStep: traceOut is null ? null : steps.Add);
            Console.WriteLine(prompt + tok.Decode(result.Generated));
        }
        else
        {
            // The answer streamed as its blocks are committed.
            Console.Write(prompt);
            Console.Out.Flush();
            result = model.GenerateIds(ids, cfg, b =>
            {
                Console.Write(b.Delta);
                Console.Out.Flush();
            }, traceOut is null ? null : steps.Add);
            Console.WriteLine();
        }
        int n = result.Generated.Length;
        Console.Error.WriteLine($"[{model.Directory}] {n} tokens, {result.Steps} steps, {result.Forwards} forward passes ({result.ForwardsPerToken:F3} per token), {result.Seconds:F2} s, {result.TokensPerSecond:F1} tokens/s");
        if (traceOut is not null)
        {
            TraceWriter.Write(traceOut, tok, steps, new SampleResult([result.Generated], [FixedAt(steps, n)], result.Forwards, result.Steps));
            Console.Error.WriteLine($"trace written to {traceOut}");
        }
        return 0;
    }

    /// <summary>The step at which each answer token was committed: the last step's record.</summary>
    private static int[] FixedAt(List<SamplerStep> steps, int n) => steps.Count > 0 ? steps[^1].FixedAtStep[0] : Enumerable.Repeat(-1, n).ToArray();

    /// <summary>The current text: prompt in bold, masked positions as ▢, committed tokens coloured by when they were fixed.</summary>
    internal static string LiveMarkup(ITokenizer tok, SamplerStep s, int totalSteps)
    {
        var toks = s.Tokens[0];
        int promptLen = toks.Length - s.FixedAtStep[0].Length;
        var sb = new System.Text.StringBuilder($"[grey]step {s.Step + 1}, {s.ForwardPasses} passes[/]\n");
        for (int i = 0; i < toks.Length; i++)
        {
            if (i < promptLen)
            {
                sb.Append("[bold]").Append(Markup.Escape(tok.Decode([toks[i]], skipSpecial: true))).Append("[/]");
                continue;
            }
            int f = s.FixedAtStep[0][i - promptLen];
            if (f < 0)
            {
                sb.Append("[grey]▢[/]");
                continue;
            }
            double u = Math.Clamp((double)f / Math.Max(1, totalSteps - 1), 0, 1);
            int r = (int)(255 * u), bl = (int)(255 * (1 - u));
            string style = f == s.Step ? $"bold underline rgb({r},80,{bl})" : $"rgb({r},80,{bl})";
            sb.Append('[').Append(style).Append(']').Append(Markup.Escape(tok.Decode([toks[i]]))).Append("[/]");
        }
        return sb.ToString();
    }
}
