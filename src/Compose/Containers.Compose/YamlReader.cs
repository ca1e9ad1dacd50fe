using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Containers.Compose;

/// <summary>
/// Reads a compose file into JSON nodes (merge keys and anchors resolved), interpolating every scalar value as it
/// goes (keys are not interpolated), and remembers the line of every path for error messages.
/// </summary>
internal static partial class YamlReader
{
    /// <summary>Parses <paramref name="path"/>; <paramref name="lines"/> receives <c>services.web.ports[1]</c> → line.</summary>
    public static JsonObject Read(string path, Func<string, string?> lookup, Action<string> warn, Dictionary<string, int> lines)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException e)
        {
            throw new ComposeException($"{path}: {e.Message}", e);
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new Parser(new StringReader(text))); // merge keys: YamlMerge
        }
        catch (YamlException e)
        {
            throw new ComposeException($"{path}:{e.Start.Line}: invalid YAML: {Inner(e).Message}", e);
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            throw new ComposeException($"{path}: empty compose file");
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new ComposeException($"{path}:{stream.Documents[0].RootNode.Start.Line}: the top level must be a mapping");
        }

        return (JsonObject)Convert(root, "", path, lookup, warn, lines, 0)!;
    }

    private static Exception Inner(Exception e) => e.InnerException is YamlException i ? Inner(i) : e;

    private static JsonNode? Convert(YamlNode node, string at, string file, Func<string, string?> lookup, Action<string> warn, Dictionary<string, int> lines, int depth)
    {
        if (depth > 64)
        {
            throw new ComposeException($"{file}:{node.Start.Line}: nesting too deep (a recursive alias?)");
        }

        lines.TryAdd(at, (int)node.Start.Line);
        switch (node)
        {
            case YamlMappingNode map:
            {
                var o = new JsonObject();
                foreach (var (k, v) in YamlMerge.Entries(map, n => new ComposeException($"{file}:{n.Start.Line}: {at}: a merge key (<<) takes a mapping or a list of mappings")))
                {
                    var key = (k as YamlScalarNode)?.Value ?? throw new ComposeException($"{file}:{k.Start.Line}: a mapping key must be a scalar");
                    var child = at.Length == 0 ? key : at + "." + key;
                    if (o.ContainsKey(key))
                    {
                        throw new ComposeException($"{file}:{k.Start.Line}: {child}: mapping key '{key}' appears twice");
                    }

                    o[key] = Convert(v, child, file, lookup, warn, lines, depth + 1);
                }

                return o;
            }

            case YamlSequenceNode seq:
            {
                var a = new JsonArray();
                var i = 0;
                foreach (var item in seq.Children)
                {
                    a.Add(Convert(item, $"{at}[{i++}]", file, lookup, warn, lines, depth + 1));
                }

                return a;
            }

            case YamlScalarNode scalar:
            {
                var raw = scalar.Value ?? "";
                var plain = scalar.Style is ScalarStyle.Plain or ScalarStyle.Any;
                var where = $"{file}:{scalar.Start.Line}: {at}: ";
                var value = raw.Contains('$', StringComparison.Ordinal) ? Interpolation.Substitute(raw, lookup, where, warn) : raw;
                return plain ? Typed(value, raw) : JsonValue.Create(value);
            }

            default:
                throw new ComposeException($"{file}:{node.Start.Line}: unsupported YAML node");
        }
    }

    /// <summary>YAML 1.2 core schema typing of a plain scalar (after interpolation, as compose-go casts).</summary>
    private static JsonNode? Typed(string value, string raw)
    {
        if (raw.Length == 0 || value is "~" or "null" or "Null" or "NULL")
        {
            return raw.Length == 0 || !raw.Contains('$', StringComparison.Ordinal) ? null : JsonValue.Create(value);
        }

        if (value is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }

        if (value is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }

        if (IntPattern().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }

        if (FloatPattern().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return JsonValue.Create(d);
        }

        return JsonValue.Create(value);
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
