using System.Text;
using LLaDA.Cli.Commands;
using LLaDA.Diffusion.Likelihood;
using LLaDA.Nn;

namespace LLaDA.Examples;

/// <summary>The API in one page: load a model directory, chat with a streamed answer, stream a plain generation with
/// <c>await foreach</c>, and score an answer's likelihood.</summary>
/// <remarks>
/// <c>dotnet run --project examples/Quickstart -c Release [DIR]</c>. DIR is a Hugging Face LLaDA directory (e.g. a download of
/// GSAI-ML/LLaDA-8B-Instruct) or one of ours; without it a tiny synthetic checkpoint in LLaDA-8B-Instruct's layout (`llada
/// make-checkpoint --shape mini`: random weights, so the text is noise) is written to a temporary folder and removed afterwards.
/// </remarks>
public static class Quickstart
{
    /// <summary>What the example did (the test of this example checks it).</summary>
    public sealed record Report(GenerationResult Chat, IReadOnlyList<GeneratedBlock> ChatBlocks, string StreamedText, int StreamedBlocks, LogLikelihood Score);

    public static async Task<int> Main(string[] args)
    {
        await RunAsync(args.Length > 0 ? args[0] : null, Console.Out);
        return 0;
    }

    public static async Task<Report> RunAsync(string? modelDir, TextWriter output)
    {
        string dir = modelDir ?? Path.Combine(Path.GetTempPath(), "llada-quickstart-" + Guid.NewGuid().ToString("N"));
        try
        {
            if (modelDir is null) SyntheticCheckpoint.Write(dir, SyntheticCheckpoint.Plan("mini"), seed: 0);

            // 1. Load: config.json, memory-mapped BF16 shards, tokenizer.json, the chat template of tokenizer_config.json and the
            //    defaults of generation_config.json.
            using var model = LladaModel.Load(dir);
            output.WriteLine($"loaded {model.Directory}: {model.Config.NLayers} layers, d_model {model.Config.DModel}, vocabulary {model.Tokenizer.VocabSize}");

            // 2. Chat: 32 tokens in blocks of 8, Fast-dLLM dual cache and threshold decoding. Options set here override
            //    generation_config.json, which overrides the built-in defaults. The answer is streamed block by block.
            var options = new GenerationOptions { GenLength = 32, BlockLength = 8, Threshold = 0.9, Cache = CacheMode.Dual };
            var blocks = new List<GeneratedBlock>();
            output.Write("assistant: ");
            var chat = model.Chat([ChatMessage.User("What is a masked diffusion language model?")], options, block =>
            {
                blocks.Add(block);
                output.Write(block.Delta);
            });
            output.WriteLine();
            output.WriteLine($"{chat.Generated.Length} tokens, {chat.Forwards} forward passes, {chat.Seconds:F2} s ({chat.TokensPerSecond:F1} tokens/s)");

            // 3. The same kind of stream as an IAsyncEnumerable, for a plain continuation.
            var streamed = new StringBuilder();
            int count = 0;
            await foreach (var block in model.GenerateStreamAsync("The capital of France is", options))
            {
                streamed.Append(block.Delta);
                count++;
            }
            output.WriteLine($"continuation: {streamed}");

            // 4. Likelihood: a Monte-Carlo lower bound of log p(answer | prompt) (LLaDA's get_log_likelihood).
            var score = model.Likelihood("The capital of France is", " Paris", new LikelihoodConfig { McNum = 8, BatchSize = 4 });
            output.WriteLine($"log p(\" Paris\" | prompt) ≥ {score.Value:F3} nats (± {score.StdError:F3})");
            return new Report(chat, blocks, streamed.ToString(), count, score);
        }
        finally
        {
            if (modelDir is null && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
