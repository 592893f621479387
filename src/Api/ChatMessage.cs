namespace LLaDA;

/// <summary>One turn of a conversation: Role is "system", "user" or "assistant" (any non-empty name is rendered as given).</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);
    public static ChatMessage System(string content) => new("system", content);
}
