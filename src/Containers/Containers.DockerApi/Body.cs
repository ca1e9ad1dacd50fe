namespace Containers.DockerApi;

/// <summary>Typed reads of a request's JSON body: a field of the wrong type is a <see cref="FormatException"/> naming it (a 400).</summary>
internal static class Body
{
    public static string? Str(JsonObject o, string key, string where) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new FormatException($"{where}{key}: expected a string, got {o[key]!.ToJsonString()}"),
    };

    public static bool? Bool(JsonObject o, string key, string where) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw new FormatException($"{where}{key}: expected true or false, got {o[key]!.ToJsonString()}"),
    };

    public static long? Long(JsonObject o, string key, string where) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<long>(out var n) => n,
        JsonValue v when v.TryGetValue<double>(out var d) && d == Math.Floor(d) => (long)d,
        _ => throw new FormatException($"{where}{key}: expected an integer, got {o[key]!.ToJsonString()}"),
    };

    public static JsonObject? Obj(JsonObject o, string key, string where) => o[key] switch
    {
        null => null,
        JsonObject x => x,
        _ => throw new FormatException($"{where}{key}: expected an object, got {o[key]!.ToJsonString()}"),
    };

    /// <summary>An array of strings (a single string counts as one; null as none).</summary>
    public static IReadOnlyList<string> Strs(JsonObject o, string key, string where) => o[key] switch
    {
        null => [],
        JsonValue v when v.TryGetValue<string>(out var s) => [s],
        JsonArray a => [.. a.Select((x, i) => x is JsonValue xv && xv.TryGetValue<string>(out var s) ? s : throw new FormatException($"{where}{key}[{i}]: expected a string"))],
        _ => throw new FormatException($"{where}{key}: expected an array of strings, got {o[key]!.ToJsonString()}"),
    };

    /// <summary>String values of an object (labels, options).</summary>
    public static IReadOnlyDictionary<string, string> Map(JsonObject o, string key, string where) => Obj(o, key, where) is { } m
        ? m.ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new FormatException($"{where}{key}.{kv.Key}: expected a string"))
        : new Dictionary<string, string>();
}
