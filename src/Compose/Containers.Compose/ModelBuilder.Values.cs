namespace Containers.Compose;

/// <summary>How the compose file's values read: scalars, booleans, sizes, lists and maps in either form, and commands split as a shell splits words.</summary>
internal static partial class ModelBuilder
{
    private static long? Bytes(JsonNode? node, string field, Func<string, string, ComposeException> error)
    {
        if (node is null)
        {
            return null;
        }

        try
        {
            return ByteSize.Parse(Scalar(node));
        }
        catch (InvalidContainerSpecException e)
        {
            throw error(field, e.Message);
        }
    }

    private static ImmutableArray<string>? Command(JsonNode? node) => node switch
    {
        null => null,
        JsonArray a => [.. a.Select(x => x is null ? "" : Scalar(x))],
        _ => [.. SplitWords(Scalar(node))],
    };

    /// <summary>Splits a command string as a POSIX shell would split words (quotes and backslashes; no expansion).</summary>
    internal static List<string> SplitWords(string text)
    {
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        var inWord = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\\' && i + 1 < text.Length)
            {
                current.Append(text[++i]);
                inWord = true;
            }
            else if (c is '\'' or '"')
            {
                var close = text.IndexOf(c, i + 1);
                if (close < 0)
                {
                    throw new ComposeException($"unterminated quote in command '{text}'");
                }

                current.Append(text, i + 1, close - i - 1);
                i = close;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }

    internal static string Scalar(JsonNode node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node.ToJsonString().Trim('"');

    internal static long? Int(JsonNode? node) => node is null ? null : long.TryParse(Scalar(node), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;

    internal static bool IsTrue(JsonNode? node) => node is JsonValue v && ((v.TryGetValue<bool>(out var b) && b) || (v.TryGetValue<string>(out var s) && s is "true" or "True" or "yes"));

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        null => [],
        JsonArray a => a.Select(x => x is null ? "" : Scalar(x)),
        _ => [Scalar(node)],
    };

    private static ImmutableSortedDictionary<string, string> Map(JsonNode? node) =>
        (node as JsonObject ?? []).ToImmutableSortedDictionary(kv => kv.Key, kv => kv.Value is null ? "" : Scalar(kv.Value), StringComparer.Ordinal);
}
