using System.Globalization;
using System.Text.Json.Nodes;
using Containers.Helm.Templates;

namespace Containers.Cli;

/// <summary>
/// docker's <c>--format</c> Go templates (<c>inspect -f '{{.State.Pid}}'</c>), executed by the Helm package's Go
/// text/template engine over the JSON document, with docker's template functions: json, join, lower, upper, split,
/// title, truncate and pad (and Go's builtins: index, len, printf, println, eq...).
/// </summary>
internal static class GoTemplateFormat
{
    /// <summary>Renders <paramref name="template"/> for one document. Throws <see cref="UsageException"/> naming a template that does not parse or run.</summary>
    public static string Render(string template, JsonNode? document)
    {
        var set = new TemplateSet(Functions, MissingKey.Zero, "inspect");
        try
        {
            set.Parse("inspect", template);
            return set.Execute("inspect", ToGo(document));
        }
        catch (TemplateException e)
        {
            throw new UsageException($"template parsing error: {e.Message}");
        }
    }

    private static readonly TemplateFunction[] Functions =
    [
        new("json", [GoType.Any], false, a => ToJson(a[0])),
        new("join", [GoType.Any, GoType.String], false, a => string.Join((string)a[1]!, Strings(a[0]))),
        new("lower", [GoType.String], false, a => ((string)a[0]!).ToLowerInvariant()),
        new("upper", [GoType.String], false, a => ((string)a[0]!).ToUpperInvariant()),
        new("split", [GoType.String, GoType.String], false, a => ((string)a[0]!).Split((string)a[1]!).Cast<object?>().ToList()),
        new("title", [GoType.String], false, a => string.Join(' ', ((string)a[0]!).Split(' ').Select(w => w.Length > 0 ? char.ToUpperInvariant(w[0]) + w[1..] : w))),
        new("truncate", [GoType.String, GoType.Int], false, a => (string)a[0]! is var s && s.Length > Convert.ToInt32(a[1], CultureInfo.InvariantCulture) ? s[..Convert.ToInt32(a[1], CultureInfo.InvariantCulture)] : (string)a[0]!),
        new("pad", [GoType.String, GoType.Int, GoType.Int], false, a => new string(' ', Convert.ToInt32(a[1], CultureInfo.InvariantCulture)) + (string)a[0]! + new string(' ', Convert.ToInt32(a[2], CultureInfo.InvariantCulture))),
    ];

    private static IEnumerable<string> Strings(object? list) => list is IEnumerable<object?> items ? items.Select(i => i?.ToString() ?? "") : [];

    /// <summary>JSON as Go values: objects as maps (so <c>.Field</c> works), arrays as slices, integers as int64.</summary>
    private static object? ToGo(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key, p => ToGo(p.Value), StringComparer.Ordinal),
        JsonArray a => a.Select(ToGo).ToList(),
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<double>(out var d) => d,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => node.ToJsonString(),
    };

    /// <summary>docker's json function: the value marshalled on one line.</summary>
    private static string ToJson(object? value) => FromGo(value)?.ToJsonString() ?? "null";

    private static JsonNode? FromGo(object? value) => value switch
    {
        null => null,
        IDictionary<string, object?> map => new JsonObject(map.Select(p => KeyValuePair.Create(p.Key, FromGo(p.Value)))),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        long l => JsonValue.Create(l),
        int i => JsonValue.Create(i),
        double d => JsonValue.Create(d),
        IEnumerable<object?> list => new JsonArray([.. list.Select(FromGo)]),
        _ => JsonValue.Create(value.ToString()),
    };
}
