using System.CommandLine;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Commands;

/// <summary>`llada chat --model DIR`: multi-turn conversation with the chat template (LLaDA chat.py semantics, SPEC §3), each
/// answer streamed as its blocks are committed (<see cref="ChatSession"/>).</summary>
/// <remarks>Turn n &gt; 1: prompt = previous full output with every EOS removed, then the new turn's templated ids minus their BOS.
/// Sampler settings: the command line &gt; the model's generation_config.json &gt; this command's defaults.</remarks>
public static class ChatCommand
{
    private static readonly Option<string> ModelOption = Opt.Model("runs/sft");
    private static readonly Option<Named<Device>> DeviceOption = Opt.Device();
    private static readonly Option<int> Threads = Opt.Threads();
    private static readonly Option<bool> RawWeights = Opt.RawWeights();
    private static readonly SamplerOptions Sampler = new(new SamplerConfig { GenLength = 32, BlockLength = 32, Steps = 32 });

    public static Command Definition()
    {
        var c = new Command("chat", "multi-turn chat with the chat template, answers streamed block by block (one line per turn; an empty line or Ctrl-D ends)") { ModelOption, DeviceOption, Threads, RawWeights };
        foreach (var o in Sampler.All) c.Add(o);
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string dir = p.GetValue(ModelOption)!;
        var backend = Devices.Get(p.GetValue(DeviceOption));
        CpuParallel.Threads = p.GetValue(Threads);
        SamplerConfig cfg = null!;
        // Memory for the longest conversation the context allows; each turn is also checked against the context.
        using var model = ModelLoader.Open(dir, backend, check =>
        {
            cfg = Sampler.Resolve(p, check.Defaults);
            var c = check.Config;
            MemoryEstimate.Generate(c, Math.Max(0, c.MaxSequenceLength - cfg.GenLength), cfg.GenLength, cfg.CfgScale > 0, cfg.Cache != LLaDA.Nn.CacheMode.None).EnsureFits("lower --gen-length or use a smaller model");
        }, p.GetValue(RawWeights));
        bool templated = LLaDA.Diffusion.Data.ChatTemplate.Applies(model.Tokenizer, model.ChatFormat);
        Console.Error.WriteLine($"chatting with {model.Directory} (empty line or Ctrl-D ends){(templated ? "" : " — no chat template: plain prompts")}");
        var session = model.StartChat();
        while (true)
        {
            Console.Write("> ");
            string? line = Console.ReadLine();
            if (string.IsNullOrWhiteSpace(line)) break;
            ModelLoader.EnsureContext(model.Config, session.NextPrompt(line).Length, cfg.GenLength, "--gen-length");
            session.Send(line, cfg, b =>
            {
                Console.Write(b.Delta);
                Console.Out.Flush();
            });
            Console.WriteLine();
        }
        return 0;
    }
}
