using LLaDA.Diffusion.Data;
using LLaDA.Diffusion.Sampling;

namespace LLaDA;

/// <summary>A multi-turn conversation with LLaDA chat.py's semantics (SPEC §3): turn 1's prompt is the templated user message;
/// turn n &gt; 1's is the previous prompt and full generated output with every EOS removed, followed by the new turn's templated
/// ids minus their BOS. (<see cref="LladaModel.Chat"/> instead renders a whole message list with the template.)</summary>
public sealed class ChatSession
{
    private readonly LladaModel _model;
    private List<int> _history = [];

    internal ChatSession(LladaModel model) => _model = model;

    /// <summary>Ids of everything said so far (prompts and full outputs).</summary>
    public IReadOnlyList<int> History => _history;

    /// <summary>The prompt the next turn would be sampled after.</summary>
    public int[] NextPrompt(string user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var turn = _model.EncodeChat([ChatMessage.User(user)]);
        if (_history.Count == 0) return turn;
        var sp = _model.Specials;
        int skip = sp.Bos is int b && turn.Length > 0 && turn[0] == b ? 1 : 0;
        return [.. _history.Where(t => t != sp.Eos), .. turn.Skip(skip)];
    }

    /// <summary>Answers <paramref name="user"/>, streaming committed blocks to <paramref name="onBlock"/>; options as <see cref="LladaModel.Chat"/>.</summary>
    public GenerationResult Send(string user, GenerationOptions? options = null, Action<GeneratedBlock>? onBlock = null) =>
        Send(user, _model.ResolveOptions(options), onBlock);

    /// <summary>As <see cref="Send(string, GenerationOptions?, Action{GeneratedBlock}?)"/> with a resolved sampler configuration.</summary>
    public GenerationResult Send(string user, SamplerConfig cfg, Action<GeneratedBlock>? onBlock = null)
    {
        var prompt = NextPrompt(user);
        var r = _model.GenerateIds(prompt, cfg, onBlock);
        _history = [.. prompt, .. r.Generated];
        return r;
    }
}
