namespace Containers.Orchestration.Api;

/// <summary>Small helpers over <see cref="JsonNode"/> trees, the form objects take in the control plane.</summary>
public static partial class Json
{
    /// <summary>The string at a path, or null.</summary>
    public static string? Str(JsonNode? node, params ReadOnlySpan<string> path)
    {
        if (Locate(node, path, out var element) is { } found)
        {
            return found is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        }

        return element.ValueKind == JsonValueKind.String ? StringOf(element) : null;
    }

    /// <summary>
    /// Strings read off parsed JSON, by their UTF-8 bytes: every reader of every revision of an object reads the same
    /// names, namespaces, uids and phases, and a hit here is a comparison instead of a new string. Direct-mapped and
    /// lock-free: a slot holds one string until a miss that maps there replaces it. Only ASCII values of up to 64
    /// bytes without escapes are kept (what names, uids and phases are); others are decoded as usual.
    /// </summary>
    private static readonly string?[] RecentStrings = new string?[1 << 14];

    /// <summary>A JSON string's value, from <see cref="RecentStrings"/> when it is one kept there.</summary>
    internal static string StringOf(JsonElement element)
    {
        var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element); // with its quotes
        return raw.Length >= 2 && Recent(raw[1..^1]) is { } s ? s : element.GetString()!;
    }

    private static string NameOf(JsonProperty property) =>
        Recent(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8PropertyName(property)) ?? property.Name;

    /// <summary>The string of raw (still escaped) UTF-8 JSON string content, from <see cref="RecentStrings"/>; null when it is not one to keep there.</summary>
    private static string? Recent(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > 64)
        {
            return null;
        }

        // the slot: from the length and the first and last 8 bytes (names and uids differ there), mixed
        ulong head, tail;
        if (utf8.Length >= 8)
        {
            head = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(utf8);
            tail = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(utf8[^8..]);
        }
        else
        {
            Span<byte> padded = stackalloc byte[8];
            padded.Clear();
            utf8.CopyTo(padded);
            head = tail = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(padded);
        }

        ulong mixed = ((head * 0x9E3779B97F4A7C15UL) ^ (tail * 0xC2B2AE3D27D4EB4FUL) ^ (ulong)utf8.Length) * 0x165667B19E3779F9UL;
        ref string? slot = ref RecentStrings[(int)(mixed >> 50)];
        string? cached = Volatile.Read(ref slot);
        if (cached is not null && System.Text.Ascii.Equals(utf8, cached))
        {
            return cached; // equal to a kept string: ASCII without escapes (only such are kept)
        }

        if (utf8.Contains((byte)'\\') || !System.Text.Ascii.IsValid(utf8))
        {
            return null;
        }

        string made = System.Text.Encoding.ASCII.GetString(utf8);
        Volatile.Write(ref slot, made);
        return made;
    }

    /// <summary>The integer at a path, or null.</summary>
    public static long? Int(JsonNode? node, params ReadOnlySpan<string> path)
    {
        if (Locate(node, path, out var element) is not { } found)
        {
            return element.ValueKind != JsonValueKind.Number ? null
                : element.TryGetInt64(out long whole) ? whole : element.TryGetDecimal(out decimal exact) ? (long)exact : (long)element.GetDouble();
        }

        if (found is not JsonValue v)
        {
            return null;
        }

        if (v.TryGetValue(out long l))
        {
            return l;
        }

        if (v.TryGetValue(out int i))
        {
            return i;
        }

        if (v.TryGetValue(out double d))
        {
            return (long)d;
        }

        return v.GetValueKind() == JsonValueKind.Number ? (long)v.GetValue<decimal>() : null;
    }

    /// <summary>The boolean at a path, or null.</summary>
    public static bool? Bool(JsonNode? node, params ReadOnlySpan<string> path)
    {
        if (Locate(node, path, out var element) is { } found)
        {
            return found is JsonValue v && v.TryGetValue(out bool b) ? b : null;
        }

        return element.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null };
    }

    /// <summary>
    /// Whether property <paramref name="name"/> of two objects is equal ignoring its resourceVersion, compared on the
    /// parsed JSON itself when both objects are still as parsed (views); null when either has been built (compare the
    /// nodes then).
    /// </summary>
    public static bool? SameIgnoringVersion(JsonObject a, JsonObject b, string name)
    {
        if (!Unbuilt(a, out var x) || !Unbuilt(b, out var y))
        {
            return null;
        }

        bool hasX = x.TryGetProperty(name, out x), hasY = y.TryGetProperty(name, out y);
        if (!hasX || !hasY)
        {
            return hasX == hasY;
        }

        if (x.ValueKind != JsonValueKind.Object || y.ValueKind != JsonValueKind.Object)
        {
            return JsonElement.DeepEquals(x, y);
        }

        var ex = x.EnumerateObject();
        var ey = y.EnumerateObject();
        while (true)
        {
            bool more = Next(ref ex);
            if (more != Next(ref ey))
            {
                return false;
            }

            if (!more)
            {
                return true;
            }

            if (!ex.Current.NameEquals(ey.Current.Name) || !SameValue(ex.Current.Value, ey.Current.Value))
            {
                return false;
            }
        }

        // the same bytes are the same value; otherwise compare as JSON (another order or escaping can be equal)
        static bool SameValue(JsonElement a, JsonElement b) =>
            System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(a).SequenceEqual(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(b))
            || JsonElement.DeepEquals(a, b);

        static bool Next(ref JsonElement.ObjectEnumerator e)
        {
            while (e.MoveNext())
            {
                if (!e.Current.NameEquals("resourceVersion"u8))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Follows a path for a reader of a leaf: through built nodes while there are any, then, from the first object
    /// still backed by its parsed JSON (a view nobody has looked into there), through the JSON itself, so reading a
    /// string off a view builds no nodes. Returns the node found, or null with <paramref name="element"/> set to the
    /// element found (<see cref="JsonValueKind.Undefined"/> when the path does not exist).
    /// </summary>
    private static JsonNode? Locate(JsonNode? node, ReadOnlySpan<string> path, out JsonElement element)
    {
        element = default;
        for (int i = 0; i < path.Length; i++)
        {
            if (node is not JsonObject o)
            {
                return null;
            }

            if (Unbuilt(o, out var backing))
            {
                foreach (string p in path[i..])
                {
                    if (backing.ValueKind != JsonValueKind.Object || !backing.TryGetProperty(p, out backing))
                    {
                        return null;
                    }
                }

                element = backing;
                return null;
            }

            if (!o.TryGetPropertyValue(path[i], out node))
            {
                return null;
            }
        }

        return node;
    }

    /// <summary>
    /// The parsed JSON behind an object whose properties have not been built as nodes yet (it cannot have been changed,
    /// since any change builds them first). Read against a concurrent build: the element counts only when the
    /// dictionary is still unbuilt after it was copied (the build publishes the dictionary before it drops the element).
    /// </summary>
    private static bool Unbuilt(JsonObject o, out JsonElement element) =>
        Unbuilt(o, static o => Volatile.Read(ref DictionaryOf(o)) is not null, static o => ElementOf(o), out element);

    /// <summary>As <see cref="Unbuilt(JsonObject, out JsonElement)"/>, for an array whose items have not been built.</summary>
    private static bool Unbuilt(JsonArray a, out JsonElement element) =>
        Unbuilt(a, static a => Volatile.Read(ref ListOf(a)) is not null, static a => ElementOf(a), out element);

    private static bool Unbuilt<T>(T node, Func<T, bool> built, Func<T, JsonElement?> parsed, out JsonElement element)
    {
        element = default;
        if (!ElementAccessWorks || built(node))
        {
            return false;
        }

        try
        {
            JsonElement? copy = parsed(node);
            Interlocked.MemoryBarrier();
            if (copy is not { } e || built(node))
            {
                return false;
            }

            element = e;
            return true;
        }
        catch (MissingMemberException)
        {
            ElementAccessWorks = false; // another System.Text.Json: read through nodes
            return false;
        }
    }

    private static bool ElementAccessWorks = true;

    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Field, Name = "_jsonElement")]
    private static extern ref JsonElement? ElementOf(JsonArray a);

    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Field, Name = "_list")]
    private static extern ref List<JsonNode?>? ListOf(JsonArray a);

    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Field, Name = "_jsonElement")]
    private static extern ref JsonElement? ElementOf(JsonObject o);

    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Field, Name = "_dictionary")]
    private static extern ref OrderedDictionary<string, JsonNode?>? DictionaryOf(JsonObject o);

    /// <summary>Whether there is a value other than null at a path (read off the parsed JSON where nothing is built: no nodes made).</summary>
    public static bool Has(JsonNode? node, params ReadOnlySpan<string> path) =>
        Locate(node, path, out var element) is not null || element.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);

    /// <summary>
    /// A copy of <paramref name="node"/> to change: for an object still as parsed, a copy-on-write view over the same
    /// (immutable) parse; otherwise a deep clone.
    /// </summary>
    public static JsonNode? Copy(JsonNode? node) =>
        node is JsonObject o && Unbuilt(o, out var element) ? JsonObject.Create(element) : node?.DeepClone();

    /// <summary>Whether <paramref name="o"/> has property <paramref name="name"/> with the value null (read off the parsed JSON when unbuilt).</summary>
    public static bool HasNull(JsonObject o, string name) =>
        Unbuilt(o, out var element)
            ? element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Null
            : o.TryGetPropertyValue(name, out var node) && node is null;

    /// <summary>The node at a path, or null.</summary>
    public static JsonNode? At(JsonNode? node, params ReadOnlySpan<string> path)
    {
        foreach (string p in path)
        {
            if (node is not JsonObject o || !o.TryGetPropertyValue(p, out node))
            {
                return null;
            }
        }

        return node;
    }

    /// <summary>The object at a path, created (with every object on the way) when missing.</summary>
    public static JsonObject Obj(JsonObject node, params ReadOnlySpan<string> path)
    {
        foreach (string p in path)
        {
            if (node[p] is not JsonObject child)
            {
                child = [];
                node[p] = child;
            }

            node = child;
        }

        return node;
    }

    /// <summary>The array at a path, or an empty sequence.</summary>
    public static IEnumerable<JsonObject> Items(JsonNode? node, params ReadOnlySpan<string> path) =>
        At(node, path) is JsonArray a ? a.OfType<JsonObject>() : [];

    /// <summary>
    /// The objects of the array at a path, for reading only: where the array is still as parsed, each item is a fresh
    /// view of its JSON (not attached to the array, so changing one changes nothing; use <see cref="Items"/> to edit).
    /// </summary>
    public static IEnumerable<JsonObject> ReadItems(JsonNode? node, params ReadOnlySpan<string> path)
    {
        if (Locate(node, path, out var element) is { } found)
        {
            return found is JsonArray a ? a.OfType<JsonObject>() : [];
        }

        return element.ValueKind == JsonValueKind.Array ? Views(element) : [];

        static IEnumerable<JsonObject> Views(JsonElement array)
        {
            foreach (var item in array.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object)
                {
                    yield return JsonObject.Create(item)!;
                }
            }
        }
    }

    /// <summary>
    /// The node at a path, for reading only: where the path runs through JSON still as parsed, a fresh node of what is
    /// there (not attached to the tree; use <see cref="At"/> or <see cref="Obj"/> to edit).
    /// </summary>
    public static JsonNode? Read(JsonNode? node, params ReadOnlySpan<string> path)
    {
        if (Locate(node, path, out var element) is { } found)
        {
            return found;
        }

        return element.ValueKind switch
        {
            JsonValueKind.Object => JsonObject.Create(element),
            JsonValueKind.Array => JsonArray.Create(element),
            JsonValueKind.Undefined or JsonValueKind.Null => null,
            _ => JsonValue.Create(element),
        };
    }

    /// <summary>The string map at a path (labels, annotations, data).</summary>
    public static Dictionary<string, string> Map(JsonNode? node, params ReadOnlySpan<string> path)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Locate(node, path, out var element) is null)
        {
            if (element.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in element.EnumerateObject())
                {
                    if (p.Value.ValueKind == JsonValueKind.String)
                    {
                        map[NameOf(p)] = StringOf(p.Value);
                    }
                }
            }

            return map;
        }

        if (At(node, path) is JsonObject o)
        {
            foreach (var (k, v) in o)
            {
                if (v is JsonValue value && value.TryGetValue(out string? s))
                {
                    map[k] = s;
                }
            }
        }

        return map;
    }

    /// <summary>metadata.name.</summary>
    public static string Name(JsonNode o) => Str(o, "metadata", "name") ?? "";

    /// <summary>metadata.namespace.</summary>
    public static string? Namespace(JsonNode o) => Str(o, "metadata", "namespace");

    /// <summary>metadata.uid.</summary>
    public static string Uid(JsonNode o) => Str(o, "metadata", "uid") ?? "";

    /// <summary>metadata.labels.</summary>
    public static Dictionary<string, string> Labels(JsonNode o) => Map(o, "metadata", "labels");

    /// <summary>An RFC 3339 timestamp as Kubernetes writes them (seconds).</summary>
    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Parses a timestamp written by <see cref="Time"/> (or any RFC 3339 one).</summary>
    public static DateTimeOffset? ParseTime(string? s) =>
        s is not null && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    /// <summary>A deep copy.</summary>
    public static JsonObject Clone(JsonObject o) => (JsonObject)o.DeepClone();

    /// <summary>How long ago, the way kubectl prints ages (5s, 3m2s, 4h, 2d).</summary>
    public static string Age(DateTimeOffset since, DateTimeOffset now)
    {
        var d = now - since;
        if (d < TimeSpan.Zero)
        {
            d = TimeSpan.Zero;
        }

        int s = (int)d.TotalSeconds;
        return s switch
        {
            < 120 => $"{s}s",
            < 600 => s % 60 == 0 ? $"{s / 60}m" : $"{s / 60}m{s % 60}s",
            < 3 * 3600 => $"{s / 60}m",
            < 8 * 3600 => (s / 60 % 60) == 0 ? $"{s / 3600}h" : $"{s / 3600}h{s / 60 % 60}m",
            < 48 * 3600 => $"{s / 3600}h",
            < 8 * 86400 => (s / 3600 % 24) == 0 ? $"{s / 86400}d" : $"{s / 86400}d{s / 3600 % 24}h",
            _ => $"{s / 86400}d",
        };
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonNode))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
internal sealed partial class JsonContext : System.Text.Json.Serialization.JsonSerializerContext;
