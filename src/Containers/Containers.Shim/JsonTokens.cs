// Shared between the library and the shim (compiled into both): the steps of the hand-written JSON readers
// (ShimConfigReader, the library's ContainerStateJson), which read with a Utf8JsonReader and no serializer metadata.
using System.Text.Json;

namespace Containers.Shim;

/// <summary>
/// Steps of a reader written by hand over a <see cref="Utf8JsonReader"/>, with the serializer's rules: property names
/// match as written (ordinal), unknown ones are skipped by the caller, null stands for a missing value.
/// </summary>
internal static class JsonTokens
{
    /// <summary>Reads one item of an array, the reader on its first token.</summary>
    public delegate T Item<T>(ref Utf8JsonReader r);

    /// <summary>Moves to the next token; throws <see cref="JsonException"/> at the end of the input.</summary>
    public static void Next(ref Utf8JsonReader r)
    {
        if (!r.Read())
        {
            throw new JsonException("the JSON ends early");
        }
    }

    /// <summary>Throws <see cref="JsonException"/> unless the reader is on a token of <paramref name="type"/>.</summary>
    public static void Expect(ref Utf8JsonReader r, JsonTokenType type)
    {
        if (r.TokenType != type)
        {
            throw new JsonException($"{type} expected, not {r.TokenType}");
        }
    }

    /// <summary>The next property's name with the reader on its value, or null at the object's end.</summary>
    public static string? Property(ref Utf8JsonReader r)
    {
        Next(ref r);
        if (r.TokenType == JsonTokenType.EndObject)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.PropertyName);
        var name = r.GetString();
        Next(ref r);
        return name;
    }

    /// <summary>A string or null; throws <see cref="JsonException"/> for another kind of value.</summary>
    public static string? String(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.TokenType == JsonTokenType.String ? r.GetString() : throw new JsonException($"a string expected, not {r.TokenType}");

    /// <summary>A string that may not be null.</summary>
    public static string NonNullString(ref Utf8JsonReader r) => String(ref r) ?? throw new JsonException("null where a string is expected");

    /// <summary>The items of an array (an empty list for null).</summary>
    public static List<T> List<T>(ref Utf8JsonReader r, Item<T> item)
    {
        var list = new List<T>();
        if (r.TokenType == JsonTokenType.Null)
        {
            return list;
        }

        Expect(ref r, JsonTokenType.StartArray);
        while (true)
        {
            Next(ref r);
            if (r.TokenType == JsonTokenType.EndArray)
            {
                return list;
            }

            list.Add(item(ref r));
        }
    }

    /// <summary>An array of strings, none of them null.</summary>
    public static List<string> Strings(ref Utf8JsonReader r) => List(ref r, NonNullString);

    /// <summary>Runs <paramref name="read"/>, turning a value of the wrong kind (a string for a number, say) into a <see cref="JsonException"/>.</summary>
    public static T Document<T>(ReadOnlySpan<byte> json, string what, Item<T> read)
    {
        if (json.IsEmpty)
        {
            throw new JsonException($"the {what} is empty");
        }

        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            Next(ref reader);
            var value = read(ref reader);
            if (reader.Read())
            {
                throw new JsonException($"the {what} goes on after its end");
            }

            return value;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException)
        {
            throw new JsonException(e.Message, e);
        }
    }
}
