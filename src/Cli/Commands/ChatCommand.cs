using System.CommandLine;
using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;
using LLaDA.Tensors.Cpu;

namespace LLaDA.Cli.Commands;

/// <summary>`llada chat`: multi-turn conversation with the chat template (LLaDA chat.py semantics, SPEC §3).</summary>
/// <remarks>Turn n &gt; 1: prompt = previous full output with every EOS removed, then the new turn's templated ids minus their BOS.</remarks>
public static class ChatCommand
{
    private static readonly Option<string> Checkpoint = Opt.Text("checkpoint", "DIR", "checkpoint directory, or a training run (its latest checkpoint)", "runs/sft");
    private static readonly Option<Named<Device>> DeviceOption = Opt.Device();
    private static readonly Option<int> Threads = Opt.Threads();
    private static readonly Option<bool> RawWeights = Opt.RawWeights();
    private static readonly SamplerOptions Sampler = new(new SamplerConfig { GenLength = 32, BlockLength = 32, Steps = 32 });

    public static Command Definition()
    {
        var c = new Command("chat", "multi-turn chat with the chat template (one line per turn; an empty line or Ctrl-D ends)") { Checkpoint, DeviceOption, Threads, RawWeights };
        foreach (var o in Sampler.All) c.Add(o);
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string dir = p.GetValue(Checkpoint)!;
        var backend = Devices.Get(p.GetValue(DeviceOption));
        CpuParallel.Threads = p.GetValue(Threads);
        var cfg = Sampler.Read(p);
        bool rawWeights = p.GetValue(RawWeights);
        // Memory for the longest conversation the context allows; each turn is also checked against the context.
        var (model, tok, resolved) = ModelLoader.Load(dir, backend, (c, _) =>
            MemoryEstimate.Generate(c, Math.Max(0, c.MaxSequenceLength - cfg.GenLength), cfg.GenLength, cfg.CfgScale > 0, cfg.Cache != LLaDA.Nn.CacheMode.None).EnsureFits("lower --gen-length or use a smaller model"), rawWeights);
        using var _ = model;
        var sp = ModelLoader.Specials(tok, model.Config);
        var sampler = new ReverseSampler(new MaskPredictorLogits(model), sp);
        Console.Error.WriteLine($"chatting with {resolved} (empty line or Ctrl-D ends){(ChatTemplate.Supported(tok) ? "" : " — this tokenizer has no chat headers: plain prompts")}");
        var history = new List<int>();
        while (true)
        {
            Console.Write("> ");
            string? line = Console.ReadLine();
            if (string.IsNullOrWhiteSpace(line)) break;
            var turn = ChatTemplate.Encode(tok, [("user", line)]);
            int[] prompt;
            if (history.Count == 0) prompt = turn;
            else
            {
                int skip = sp.Bos is int b && turn.Length > 0 && turn[0] == b ? 1 : 0;
                prompt = [.. history.Where(t => t != sp.Eos), .. turn.Skip(skip)];
            }
            ModelLoader.EnsureContext(model.Config, prompt.Length, cfg.GenLength, "--gen-length");
            var r = sampler.Generate([prompt], cfg);
            var gen = r.Generated[0];
            int end = Array.IndexOf(gen, sp.Eos);
            int eot = sp.EndOfTurn is int e ? Array.IndexOf(gen, e) : -1;
            int stop = new[] { end, eot }.Where(x => x >= 0).DefaultIfEmpty(gen.Length).Min();
            Console.WriteLine(tok.Decode(gen[..stop], skipSpecial: true));
            history = [.. prompt, .. gen];
        }
        return 0;
    }
}
