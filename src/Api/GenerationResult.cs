namespace LLaDA;

/// <summary>A finished generation: the answer's text and tokens (up to the first stop token), every generated token, and what it
/// cost — forward passes, denoising steps and wall-clock seconds of the sampling (loading and tokenizing not included).</summary>
/// <param name="Text">The answer, decoded without special tokens, cut at the first stop token (EOS, end of turn, generation_config's eos ids).</param>
/// <param name="Tokens">The answer's ids (up to, not including, the stop token).</param>
/// <param name="Generated">All GenLength generated ids, stop token and what follows included.</param>
/// <param name="PromptTokens">Length of the prompt that was sampled after (template and BOS included).</param>
/// <param name="Forwards">Forward passes of the model (a cached step counts as one).</param>
/// <param name="Steps">Denoising steps.</param>
/// <param name="Seconds">Wall-clock seconds of the sampling.</param>
public sealed record GenerationResult(string Text, int[] Tokens, int[] Generated, int PromptTokens, int Forwards, int Steps, double Seconds)
{
    /// <summary>Generated tokens per second (all GenLength positions, as `llada generate` reports).</summary>
    public double TokensPerSecond => Generated.Length / Math.Max(Seconds, 1e-9);

    /// <summary>Forward passes per generated token.</summary>
    public double ForwardsPerToken => (double)Forwards / Math.Max(1, Generated.Length);
}

/// <summary>One block of the answer, reported when the sampler has committed every position of it (semi-autoregressive blocks are
/// final once committed). Concatenating every block's <see cref="Delta"/> gives the final <see cref="GenerationResult.Text"/>.</summary>
/// <param name="Index">The block's index, 0 … Count − 1.</param>
/// <param name="Count">Blocks in the answer (GenLength / BlockLength).</param>
/// <param name="Delta">The text this block adds (empty once the answer has stopped; a character split across blocks comes with the block that completes it).</param>
/// <param name="Text">The answer's text so far (the concatenation of the deltas up to this block).</param>
/// <param name="Stopped">True once a stop token has been committed: the answer is complete and later blocks add nothing.</param>
/// <param name="Forwards">Forward passes so far.</param>
/// <param name="Seconds">Seconds since the sampling started.</param>
public sealed record GeneratedBlock(int Index, int Count, string Delta, string Text, bool Stopped, int Forwards, double Seconds);
