using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Containers.Orchestration.Api;

/// <summary>Ordinary Kubernetes manifests: multi-document YAML (or JSON) files and folders of them, into objects.</summary>
public static class Manifests
{
    /// <summary>The objects of every document in <paramref name="text"/> (empty documents skipped, <c>kind: List</c> expanded); errors name <paramref name="source"/> and the line.</summary>
    public static List<JsonObject> ParseDocuments(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new Parser(new StringReader(text))); // merge keys: YamlMerge
        }
        catch (YamlException e)
        {
            throw ApiException.BadRequest($"{source}:{e.Start.Line}: invalid YAML: {(e.InnerException ?? e).Message}");
        }

        var result = new List<JsonObject>();
        foreach (var doc in stream.Documents)
        {
            if (doc.RootNode is YamlScalarNode { Value: null or "" })
            {
                continue;
            }

            if (Convert(doc.RootNode, source, 0) is not JsonObject obj)
            {
                throw ApiException.BadRequest($"{source}:{doc.RootNode.Start.Line}: a manifest must be a mapping (apiVersion, kind, metadata, ...)");
            }

            if (Json.Str(obj, "kind") is "List" && obj["items"] is JsonArray items)
            {
                result.AddRange(items.OfType<JsonObject>().Select(i => (JsonObject)i.DeepClone()));
                continue;
            }

            foreach (string field in new[] { "apiVersion", "kind" })
            {
                if (string.IsNullOrEmpty(Json.Str(obj, field)))
                {
                    throw ApiException.BadRequest($"{source}:{doc.RootNode.Start.Line}: {field} not set in the document starting here");
                }
            }

            result.Add(obj);
        }

        return result;
    }

    /// <summary>The objects in files and folders (<c>*.yaml</c>, <c>*.yml</c>, <c>*.json</c>; folders not recursed, as <c>kubectl apply -f DIR</c>).</summary>
    public static List<(string File, JsonObject Object)> Load(IEnumerable<string> paths)
    {
        var result = new List<(string, JsonObject)>();
        foreach (string path in paths)
        {
            IEnumerable<string> files = Directory.Exists(path)
                ? Directory.EnumerateFiles(path).Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
                : File.Exists(path) ? [path] : throw new FileNotFoundException($"the path \"{path}\" does not exist", path);
            foreach (string file in files)
            {
                result.AddRange(ParseDocuments(File.ReadAllText(file), file).Select(o => (file, o)));
            }
        }

        return result;
    }

    private static JsonNode? Convert(YamlNode node, string source, int depth)
    {
        if (depth > 100)
        {
            throw ApiException.BadRequest($"{source}:{node.Start.Line}: nesting too deep");
        }

        switch (node)
        {
            case YamlMappingNode map:
                var o = new JsonObject();
                foreach (var (k, v) in Containers.Compose.YamlMerge.Entries(map, n => ApiException.BadRequest($"{source}:{n.Start.Line}: a merge key (<<) takes a mapping or a list of mappings")))
                {
                    string key = (k as YamlScalarNode)?.Value ?? throw ApiException.BadRequest($"{source}:{k.Start.Line}: a mapping key must be a scalar");
                    if (o.ContainsKey(key))
                    {
                        throw ApiException.BadRequest($"{source}:{k.Start.Line}: mapping key \"{key}\" already defined");
                    }

                    o[key] = Convert(v, source, depth + 1);
                }

                return o;
            case YamlSequenceNode seq:
                return new JsonArray([.. seq.Children.Select(c => Convert(c, source, depth + 1))]);
            case YamlScalarNode scalar:
                string value = scalar.Value ?? "";
                if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
                {
                    return JsonValue.Create(value);
                }

                return value switch
                {
                    "" or "~" or "null" or "Null" or "NULL" => null,
                    "true" or "True" or "TRUE" => JsonValue.Create(true),
                    "false" or "False" or "FALSE" => JsonValue.Create(false),
                    _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) && !value.StartsWith('+') && (value.Length == 1 || value[0] != '0') => JsonValue.Create(l),
                    _ when value.Any(char.IsDigit) && !value.Any(char.IsLetter) && value.Contains('.', StringComparison.Ordinal) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => JsonValue.Create(d),
                    _ => JsonValue.Create(value),
                };
            default:
                throw ApiException.BadRequest($"{source}:{node.Start.Line}: unsupported YAML node");
        }
    }
}
