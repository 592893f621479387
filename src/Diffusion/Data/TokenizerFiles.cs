using LLaDA.Nn.Serialization;

namespace LLaDA.Diffusion.Data;

/// <summary>Finds the tokenizer that belongs to a checkpoint directory: ours (tokenizer.char.json) or a Hugging Face tokenizer.json (+ tokenizer_config.json).</summary>
public static class TokenizerFiles
{
    public const string CharFile = "tokenizer.char.json";
    public const string HfFile = "tokenizer.json";
    public const string HfConfigFile = "tokenizer_config.json";

    public static ITokenizer Load(string dir)
    {
        string ch = Path.Combine(dir, CharFile);
        if (File.Exists(ch)) return CharTokenizer.FromJson(InputFile.ReadText(ch, "tokenizer"));
        string hf = Path.Combine(dir, HfFile);
        if (File.Exists(hf))
        {
            string cfg = Path.Combine(dir, HfConfigFile);
            return BpeTokenizer.Load(hf, File.Exists(cfg) ? cfg : null);
        }
        throw new FileNotFoundException($"{dir}: no tokenizer ({CharFile} or {HfFile})");
    }
}

/// <summary>LLaDA's chat template (SPEC §3): per message &lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;, BOS first; tokenizers without header tokens get BOS + the plain text.</summary>
public static class ChatTemplate
{
    public const string StartHeader = "<|start_header_id|>", EndHeader = "<|end_header_id|>", EndOfTurn = "<|eot_id|>";

    /// <summary>True when the tokenizer knows LLaDA's header tokens.</summary>
    public static bool Supported(ITokenizer tok) => tok is BpeTokenizer b && b.TokenToId(StartHeader) is not null && b.TokenToId(EndHeader) is not null;

    /// <summary>True when <paramref name="format"/> is rendered for this tokenizer: there is a template and the tokenizer has its
    /// header token (our char tokenizers have none: they get plain prompts).</summary>
    public static bool Applies(ITokenizer tok, ChatFormat? format) => format is not null && tok is BpeTokenizer b && b.TokenToId(format.HeaderStart) is not null;

    /// <summary>Templated ids of a conversation in LLaDA's format (<see cref="ChatFormat.Llada"/>); with <paramref name="addGenerationPrompt"/> it ends with the assistant header.</summary>
    public static int[] Encode(ITokenizer tok, IReadOnlyList<(string Role, string Content)> messages, bool addGenerationPrompt = true) =>
        Encode(tok, ChatFormat.Llada, messages, addGenerationPrompt);

    /// <summary>Templated ids of a conversation in <paramref name="format"/> (a checkpoint's tokenizer_config.json template); a
    /// null format or a tokenizer without the header tokens gives BOS + the plain texts.</summary>
    public static int[] Encode(ITokenizer tok, ChatFormat? format, IReadOnlyList<(string Role, string Content)> messages, bool addGenerationPrompt = true)
    {
        bool templated = Applies(tok, format);
        var ids = new List<int>();
        if (tok.Specials.Bos is int bos && (!templated || format!.BosFirst)) ids.Add(bos);
        if (!templated)
        {
            foreach (var (_, content) in messages) ids.AddRange(tok.Encode(content.Trim()));
            return ids.ToArray();
        }
        ids.AddRange(tok.Encode(format!.Render(null, messages, addGenerationPrompt)));
        return ids.ToArray();
    }
}

/// <summary>SFT data from conversations (LLaDA paper App. B.1): a dialogue of n assistant turns becomes n single-turn pairs, each prompt holding the whole history up to that turn.</summary>
public static class Dialogues
{
    public static List<(IReadOnlyList<(string Role, string Content)> Prompt, string Answer)> SplitIntoPairs(IReadOnlyList<(string Role, string Content)> dialogue)
    {
        var pairs = new List<(IReadOnlyList<(string, string)>, string)>();
        for (int i = 0; i < dialogue.Count; i++)
            if (dialogue[i].Role == "assistant" && i > 0)
                pairs.Add((dialogue.Take(i).ToList(), dialogue[i].Content));
        return pairs;
    }

    /// <summary>(prompt ids, answer ids) of each pair: templated history with the generation prompt, then the answer followed by EoT when the tokenizer has one.</summary>
    public static List<(int[] Prompt, int[] Answer)> Encode(ITokenizer tok, IReadOnlyList<(string Role, string Content)> dialogue)
    {
        var res = new List<(int[], int[])>();
        foreach (var (prompt, answer) in SplitIntoPairs(dialogue))
        {
            var p = ChatTemplate.Encode(tok, prompt, addGenerationPrompt: true);
            var a = tok.Encode(answer.Trim());
            if (ChatTemplate.Supported(tok) && tok.Specials.EndOfTurn is int eot) a = [.. a, eot];
            // BOS is added again by PromptAnswer; drop the template's own.
            if (tok.Specials.Bos is int bos && p.Length > 0 && p[0] == bos) p = p[1..];
            res.Add((p, a));
        }
        return res;
    }
}
