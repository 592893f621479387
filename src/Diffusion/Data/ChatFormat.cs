using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LLaDA.Nn.Serialization;

namespace LLaDA.Diffusion.Data;

/// <summary>A chat template of LLaDA's header/eot form, read from tokenizer_config.json's "chat_template" (SPEC §3):
/// per message <c>{HeaderStart}{role}{HeaderEnd}{content, trimmed}{EndOfTurn}</c>, BOS before the first message, and with the
/// generation prompt <c>{HeaderStart}assistant{HeaderEnd}</c> at the end.</summary>
/// <remarks>
/// The template is Jinja; this project does not run Jinja. It recognises the header/eot family (LLaDA-8B-Instruct's and
/// LLaMA-3's template) and takes its literal strings from the template text, so a tokenizer_config.json whose template uses
/// other header or end-of-turn strings renders with those. A template of another shape is refused with a message that says so,
/// never rendered wrong.
/// </remarks>
public sealed partial record ChatFormat(string HeaderStart, string HeaderEnd, string EndOfTurn, bool TrimContent = true, bool BosFirst = true)
{
    /// <summary>LLaDA-8B-Instruct's template (SPEC §3): what <see cref="ChatTemplate.Encode(ITokenizer, IReadOnlyList{ValueTuple{string, string}}, bool)"/> renders.</summary>
    public static readonly ChatFormat Llada = new(ChatTemplate.StartHeader, ChatTemplate.EndHeader + "\n\n", ChatTemplate.EndOfTurn);

    /// <summary>The text of a conversation (BOS written as <paramref name="bos"/>, or nothing when null).</summary>
    public string Render(string? bos, IReadOnlyList<(string Role, string Content)> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < messages.Count; i++)
        {
            if (i == 0 && BosFirst && bos is not null) sb.Append(bos);
            var (role, content) = messages[i];
            sb.Append(HeaderStart).Append(role).Append(HeaderEnd).Append(TrimContent ? content.Trim() : content).Append(EndOfTurn);
        }
        if (addGenerationPrompt) sb.Append(HeaderStart).Append("assistant").Append(HeaderEnd);
        return sb.ToString();
    }

    // '<H1>' + message['role'] + '<H2>' + message['content'] | trim + '<EOT>' %}   (Jinja string literals in single or double
    // quotes; the end-of-turn literal must end the expression, so a template that appends more after it is not taken for this form)
    [GeneratedRegex("""(?<q>['"])(?<h1>(?:\\.|(?!\k<q>).)*)\k<q>\s*\+\s*message\[\s*['"]role['"]\s*\]\s*\+\s*(?<q2>['"])(?<h2>(?:\\.|(?!\k<q2>).)*)\k<q2>\s*\+\s*message\[\s*['"]content['"]\s*\]\s*(?<trim>\|\s*trim\s*)?\+\s*(?<q3>['"])(?<eot>(?:\\.|(?!\k<q3>).)*)\k<q3>\s*-?(?:%\}|\}\})""", RegexOptions.Singleline)]
    private static partial Regex MessageRegex();

    // {% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}, or {{ bos_token }} before the loop
    [GeneratedRegex("""\{%-?\s*if\s+loop\.index0\s*==\s*0\s*-?%\}\s*\{%-?\s*set\s+content\s*=\s*bos_token\s*\+\s*content\s*-?%\}|^\s*\{\{-?\s*bos_token\s*-?\}\}""", RegexOptions.Singleline)]
    private static partial Regex BosRegex();

    // {% if add_generation_prompt %}{{ '<H1>assistant<H2>' }}{% endif %}
    [GeneratedRegex("""\{%-?\s*if\s+add_generation_prompt\s*-?%\}\s*\{\{-?\s*(?<q>['"])(?<gen>(?:\\.|(?!\k<q>).)*)\k<q>\s*-?\}\}""", RegexOptions.Singleline)]
    private static partial Regex GenerationPromptRegex();

    /// <summary>The format of a Jinja chat template, or an <see cref="InvalidDataException"/> naming what does not fit the header/eot form.</summary>
    public static ChatFormat Parse(string template, string source = "chat_template")
    {
        InvalidDataException Unsupported(string what) => new($"{source}: {what}; only LLaDA's header/eot chat template (<|start_header_id|>role<|end_header_id|>\\n\\ncontent<|eot_id|>, BOS first) is supported");
        var message = MessageRegex().Match(template);
        if (!message.Success) throw Unsupported("no '<header start>' + message['role'] + '<header end>' + message['content'] + '<end of turn>' expression");
        if (!Regex.IsMatch(template, @"\{%-?\s*for\s+message\s+in\s+\w+\s*-?%\}")) throw Unsupported("no loop over the messages");
        string h1 = Unescape(message.Groups["h1"].Value, source), h2 = Unescape(message.Groups["h2"].Value, source), eot = Unescape(message.Groups["eot"].Value, source);
        if (h1.Length == 0 || eot.Length == 0) throw Unsupported("an empty header start or end-of-turn string");
        var format = new ChatFormat(h1, h2, eot, message.Groups["trim"].Success, BosRegex().IsMatch(template));
        var gen = GenerationPromptRegex().Match(template);
        if (!gen.Success) throw Unsupported("no {% if add_generation_prompt %}{{ '…' }} block");
        string genText = Unescape(gen.Groups["gen"].Value, source);
        if (genText != h1 + "assistant" + h2)
            throw Unsupported($"the generation prompt '{genText.ReplaceLineEndings("\\n")}' is not the assistant header '{(h1 + "assistant" + h2).ReplaceLineEndings("\\n")}'");
        return format;
    }

    /// <summary>The format named by a tokenizer_config.json text: null when it has no "chat_template" (a base model: plain prompts).</summary>
    /// <remarks>"chat_template" is a string, or a list of {"name", "template"} of which the one named "default" is used.</remarks>
    public static ChatFormat? FromTokenizerConfig(string json, string source = "tokenizer_config.json")
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}: the root is not a JSON object");
            if (!doc.RootElement.TryGetProperty("chat_template", out var t) || t.ValueKind == JsonValueKind.Null) return null;
            if (t.ValueKind == JsonValueKind.String) return Parse(t.GetString()!, source + " chat_template");
            if (t.ValueKind == JsonValueKind.Array)
            {
                foreach (var e in t.EnumerateArray())
                    if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default"
                        && e.TryGetProperty("template", out var tt) && tt.ValueKind == JsonValueKind.String)
                        return Parse(tt.GetString()!, source + " chat_template 'default'");
                throw new InvalidDataException($"{source}: chat_template is a list without a template named 'default'");
            }
            throw new InvalidDataException($"{source}: chat_template is neither a string nor a list of named templates");
        }
    }

    /// <summary>The format of a checkpoint directory's tokenizer_config.json; null without the file or without a template.</summary>
    public static ChatFormat? FromDirectory(string dir)
    {
        string path = Path.Combine(dir, TokenizerFiles.HfConfigFile);
        return File.Exists(path) ? FromTokenizerConfig(InputFile.ReadText(path, "tokenizer config"), path) : null;
    }

    /// <summary>A Jinja string literal's escapes (\n, \t, \\, \', \").</summary>
    private static string Unescape(string s, string source)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\') { sb.Append(s[i]); continue; }
            if (++i == s.Length) throw new InvalidDataException($"{source}: a string literal ends in a backslash");
            sb.Append(s[i] switch
            {
                'n' => '\n', 't' => '\t', 'r' => '\r', '\\' => '\\', '\'' => '\'', '"' => '"',
                _ => throw new InvalidDataException($"{source}: unsupported escape '\\{s[i]}' in a string literal"),
            });
        }
        return sb.ToString();
    }
}
