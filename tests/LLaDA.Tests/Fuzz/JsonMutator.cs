using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LLaDA.Tests.Fuzz;

/// <summary>Structured mutations of a JSON document: pick a node by seed and delete it, null it, give it a value of another type
/// or an extreme number, reorder or resize its array, or repeat an object's key — documents that are still JSON, so the
/// checks behind the parser are reached (random bytes mostly stop at the parser).</summary>
public static class JsonMutator
{
    /// <summary>Replacement values: wrong types, extreme and non-finite numbers, deep nesting, long and odd strings.</summary>
    public static readonly string[] Values =
    [
        "null", "true", "\"\"", "\"x\"", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"1e39\"", "0", "-1", "-0", "1.5", "2147483647", "2147483648",
        "-2147483649", "9.3e18", "1e39", "-1e39", "1e-45", "123456789012345678901234567890", "[]", "{}", "[1, 2]", "[-1]", "{\"a\": 1}",
        "\"\\ud800\"", "\"\\u0000\"", "\"a/../b\"", "\"" + new string('z', 5000) + "\"", new string('[', 100) + new string(']', 100),
    ];

    /// <summary>Every node below the root with its parent and key (object) or index (array).</summary>
    private static List<(JsonNode Parent, string? Key, int Index)> Slots(JsonNode root)
    {
        var list = new List<(JsonNode, string?, int)>();
        void Walk(JsonNode n)
        {
            if (n is JsonObject o)
                foreach (var (k, v) in o.ToList())
                {
                    list.Add((o, k, -1));
                    if (v is not null) Walk(v);
                }
            else if (n is JsonArray a)
                for (int i = 0; i < a.Count; i++)
                {
                    list.Add((a, null, i));
                    if (a[i] is JsonNode c) Walk(c);
                }
        }
        Walk(root);
        return list;
    }

    /// <summary>One mutation of <paramref name="json"/> chosen by <paramref name="seed"/>; returns the new text and what was done.</summary>
    public static (string Json, string What) Mutate(string json, int seed)
    {
        var rng = new Random(seed);
        var root = JsonNode.Parse(json)!;
        var slots = Slots(root);
        if (slots.Count == 0) return ("[]", "root → []");
        var (parent, key, index) = slots[rng.Next(slots.Count)];
        string where = key ?? $"[{index}]";
        int op = rng.Next(6);
        switch (op)
        {
            case 0 when key is not null:
                ((JsonObject)parent).Remove(key);
                return (root.ToJsonString(), $"delete '{where}'");
            case 1 when key is not null:
                // Repeat the key (System.Text.Json's writer cannot, so splice the text): {"k": other, ...original}.
                string text = root.ToJsonString();
                string v = Values[rng.Next(Values.Length)];
                string target = parent.ToJsonString();
                int at = text.IndexOf(target, StringComparison.Ordinal);
                string spliced = target.Length > 2 ? "{" + JsonSerializer.Serialize(key) + ":" + v + "," + target[1..] : target;
                return (text[..at] + spliced + text[(at + target.Length)..], $"duplicate key '{where}' = {Short(v)}");
            case 2 when parent is JsonArray arr && arr.Count > 1:
                var first = arr[0];
                arr.RemoveAt(0);
                arr.Add(first);
                return (root.ToJsonString(), $"rotate array holding {where}");
            case 3 when parent is JsonArray arr2:
                if (rng.Next(2) == 0) arr2.RemoveAt(arr2.Count - 1);
                else arr2.Add(arr2[0]?.DeepClone());
                return (root.ToJsonString(), $"resize array holding {where}");
            default:
                // Spliced as text: lone surrogates and deep nesting are valid JSON text that JsonNode refuses to write.
                string val = Values[rng.Next(Values.Length)];
                const string placeholder = "__fuzz_value__";
                if (key is not null) parent[key] = placeholder;
                else parent[index] = placeholder;
                return (root.ToJsonString().Replace($"\"{placeholder}\"", val, StringComparison.Ordinal), $"'{where}' = {Short(val)}");
        }
    }

    /// <summary>Byte-level damage of a text file: truncation, a flipped byte, invalid UTF-8, a BOM, NULs.</summary>
    public static (byte[] Bytes, string What) Damage(byte[] bytes, int seed)
    {
        var rng = new Random(seed);
        var b = (byte[])bytes.Clone();
        switch (rng.Next(5))
        {
            case 0:
                int cut = rng.Next(b.Length);
                return (b[..cut], $"truncated at {cut}/{b.Length}");
            case 1:
                int i = rng.Next(b.Length);
                b[i] ^= (byte)(1 << rng.Next(8));
                return (b, $"bit flip at {i}");
            case 2:
                int j = rng.Next(b.Length);
                return ([.. b[..j], 0xC3, 0x28, 0xFF, .. b[j..]], $"invalid UTF-8 at {j}");
            case 3:
                return ([0xEF, 0xBB, 0xBF, .. b], "UTF-8 BOM");
            default:
                int k = rng.Next(b.Length);
                return ([.. b[..k], 0, 0, 0, .. b[k..]], $"NULs at {k}");
        }
    }

    private static string Short(string v) => v.Length > 24 ? v[..20] + "…" : v;

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
