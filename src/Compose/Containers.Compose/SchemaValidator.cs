using System.Text.Json;
using Json.Schema;

namespace Containers.Compose;

/// <summary>Validates a compose document against the compose spec's JSON schema (embedded) and reports the first error by file, line and path.</summary>
internal static class SchemaValidator
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
    {
        using var stream = typeof(SchemaValidator).Assembly.GetManifestResourceStream("compose-spec.schema.json")!;
        using var reader = new StreamReader(stream);
        var node = JsonNode.Parse(reader.ReadToEnd())!.AsObject();
        node["$schema"] = "http://json-schema.org/draft-07/schema#"; // the published file writes draft-07's URI without the '#'
        return JsonSchema.FromText(node.ToJsonString());
    });

    public static void Validate(JsonObject doc, Dictionary<string, string> lines)
    {
        using var json = JsonDocument.Parse(doc.ToJsonString());
        var result = Schema.Value.Evaluate(json.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (result.IsValid)
        {
            return;
        }

        var errors = (result.Details ?? []).Where(d => !d.IsValid && d.Errors is { Count: > 0 })
            .Select(d => (Path: Dotted(d.InstanceLocation.ToString()), Keyword: d.EvaluationPath.ToString().Split('/').LastOrDefault() ?? "", Errors: d.Errors!))
            .ToList();
        if (errors.Count == 0)
        {
            throw new ComposeException("the compose file does not match the compose specification");
        }

        // the deepest location is the most precise; among its errors prefer an unknown key, then a type error
        var deepest = errors.Max(e => e.Path.Length);
        var best = errors.Where(e => e.Path.Length == deepest)
            .OrderBy(e => e.Errors.ContainsKey("false") || e.Keyword == "additionalProperties" ? 0 : e.Errors.ContainsKey("type") ? 1 : 2)
            .First();
        var at = Locate(best.Path, lines);
        var message = best.Errors.ContainsKey("false") || best.Keyword == "additionalProperties"
            ? $"additional property {Last(best.Path)} is not allowed"
            : best.Errors.ContainsKey("type") ? $"{best.Errors["type"]}" : string.Join("; ", best.Errors.Values);
        throw new ComposeException($"{at}{(at.Length > 0 ? ": " : "")}{(best.Path.Length > 0 ? best.Path : "(top level)")}: {message}");
    }

    private static string Last(string path)
    {
        var i = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
        return i < 0 ? path : path[(i + 1)..].TrimEnd(']');
    }

    private static string Locate(string path, Dictionary<string, string> lines)
    {
        for (var p = path; p.Length > 0;)
        {
            if (lines.TryGetValue(p, out var at))
            {
                return at;
            }

            var i = Math.Max(p.LastIndexOf('.'), p.LastIndexOf('['));
            p = i < 0 ? "" : p[..i];
        }

        return "";
    }

    /// <summary><c>/services/web/ports/1</c> → <c>services.web.ports[1]</c>.</summary>
    internal static string Dotted(string pointer)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var raw in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var seg = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (seg.All(char.IsAsciiDigit) && sb.Length > 0)
            {
                sb.Append('[').Append(seg).Append(']');
            }
            else
            {
                sb.Append(sb.Length > 0 ? "." : "").Append(seg);
            }
        }

        return sb.ToString();
    }
}
