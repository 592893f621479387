using System.Diagnostics;
using LLaDA.Diffusion.Sampling;

namespace LLaDA;

/// <summary>Turns the sampler's steps into committed blocks: a block is reported once every position of it is committed (each
/// block exactly once, in order), with the answer's text so far cut at the first stop token.</summary>
/// <remarks>A byte-level tokenizer can split one character over two blocks: a trailing U+FFFD of an unfinished UTF-8 sequence is
/// held back until a later block completes it, so the deltas never have to be taken back and concatenate to the final text.</remarks>
internal sealed class BlockStreamer(LladaModel model, SamplerConfig cfg, Stopwatch clock, Action<GeneratedBlock> onBlock)
{
    private readonly int _blocks = cfg.GenLength / cfg.BlockLength;
    private int _next; // the next block to report
    private string _sent = "";
    private bool _stopped;

    public void OnStep(SamplerStep s)
    {
        var fixedAt = s.FixedAtStep[0];
        while (_next < _blocks && Committed(fixedAt, _next)) Report(s, _next++);
    }

    private bool Committed(int[] fixedAt, int block)
    {
        for (int j = block * cfg.BlockLength; j < (block + 1) * cfg.BlockLength; j++)
            if (fixedAt[j] < 0) return false;
        return true;
    }

    private void Report(SamplerStep s, int block)
    {
        bool last = block == _blocks - 1;
        string delta = "";
        if (!_stopped)
        {
            var answer = s.Tokens[0].AsSpan(s.PromptLength);
            int end = (block + 1) * cfg.BlockLength;
            int stop = model.StopIndex(answer, end);
            _stopped = stop < end;
            string text = model.Decode(answer[..stop]);
            if (!last && !_stopped) text = text.TrimEnd('\uFFFD'); // an unfinished character waits for its next bytes
            if (!text.StartsWith(_sent, StringComparison.Ordinal))
                throw new InvalidOperationException("streaming: the decoded text of a longer prefix does not extend the shorter one's (the tokenizer's decoding is not prefix-stable)");
            delta = text[_sent.Length..];
            _sent = text;
        }
        onBlock(new GeneratedBlock(block, _blocks, delta, _sent, _stopped, s.ForwardPasses, clock.Elapsed.TotalSeconds));
    }
}
