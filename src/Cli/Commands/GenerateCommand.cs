using System.CommandLine;
using System.Diagnostics;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors.Cpu;
using Spectre.Console;

namespace LLaDA.Cli.Commands;

/// <summary>`llada generate`: sample a continuation of a prompt with the reverse process, optionally live and traced.</summary>
public static class GenerateCommand
{
    private static readonly Option<string> Checkpoint = Opt.Text("checkpoint", "DIR", "checkpoint directory, or a training run (its latest checkpoint)", "runs/llada");
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
        var c = new Command("generate", "sample a continuation of a prompt with the reverse (unmasking) process; uses a checkpoint's ema.safetensors when present")
        {
            Checkpoint, Prompt, ChatTemplateFlag, Live, TraceOut, KeepEos, DeviceOption, Threads, RawWeights,
        };
        foreach (var o in Sampler.All) c.Add(o);
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult r)
    {
        string dir = r.GetValue(Checkpoint)!;
        string prompt = r.GetValue(Prompt)!;
        bool template = r.GetValue(ChatTemplateFlag);
        bool live = r.GetValue(Live);
        string? traceOut = r.GetValue(TraceOut);
        bool keepEos = r.GetValue(KeepEos);
        var backend = Devices.Get(r.GetValue(DeviceOption));
        CpuParallel.Threads = r.GetValue(Threads);
        var cfg = Sampler.Read(r);
        bool rawWeights = r.GetValue(RawWeights);

        int[] ids = [];
        var (model, tok, resolved) = ModelLoader.Load(dir, backend, (c, t) =>
        {
            var s = ModelLoader.Specials(t, c);
            ids = template ? ChatTemplate.Encode(t, [("user", prompt)]) : [.. (s.Bos is int b ? new[] { b } : []), .. t.Encode(prompt)];
            ModelLoader.EnsureContext(c, ids.Length, cfg.GenLength, "--gen-length");
            ModelLoader.EnsureContext(c, ids.Length, Math.Max(0, cfg.PadTo - ids.Length), "the --pad-to answer and padding");
            MemoryEstimate.Generate(c, ids.Length, cfg.GenLength, cfg.CfgScale > 0, cfg.Cache != LLaDA.Nn.CacheMode.None).EnsureFits("lower --gen-length or use a smaller model");
        }, rawWeights);
        using var _ = model;
        var sp = ModelLoader.Specials(tok, model.Config);
        var sampler = new ReverseSampler(new MaskPredictorLogits(model), sp);
        var steps = new List<SamplerStep>();
        var sw = Stopwatch.StartNew();
        SampleResult result;
        if (live && !Console.IsOutputRedirected)
        {
            result = null!;
            AnsiConsole.Live(new Markup("")).Start(ctx =>
            {
                result = sampler.Generate([ids], cfg, s =>
                {
                    steps.Add(s);
                    ctx.UpdateTarget(new Markup(LiveMarkup(tok, s, Math.Max(1, cfg.Dynamic ? cfg.GenLength : cfg.Steps))));
                    ctx.Refresh();
                });
            });
        }
        else result = sampler.Generate([ids], cfg, traceOut is null ? null : steps.Add);
        double secs = sw.Elapsed.TotalSeconds;
        var gen = result.Generated[0];
        int end = keepEos ? -1 : Array.IndexOf(gen, sp.Eos);
        string text = tok.Decode(end >= 0 ? gen[..end] : gen, skipSpecial: !keepEos);
        Console.WriteLine(prompt + text);
        Console.Error.WriteLine($"[{resolved}] {gen.Length} tokens, {result.Steps} steps, {result.ForwardPasses} forward passes ({(double)result.ForwardPasses / gen.Length:F3} per token), {secs:F2} s, {gen.Length / Math.Max(secs, 1e-9):F1} tokens/s");
        if (traceOut is not null)
        {
            TraceWriter.Write(traceOut, tok, steps, result);
            Console.Error.WriteLine($"trace written to {traceOut}");
        }
        return 0;
    }

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
