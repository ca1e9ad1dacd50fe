namespace Containers.Orchestration.Api;

/// <summary>
/// A label selector: equality (<c>a=b</c>, <c>a==b</c>, <c>a!=b</c>) and set-based (<c>a in (x,y)</c>, <c>a notin (x)</c>,
/// <c>a</c>, <c>!a</c>) requirements, all of which must hold. Also built from a LabelSelector object
/// (matchLabels + matchExpressions with In, NotIn, Exists, DoesNotExist).
/// </summary>
public sealed class LabelSelector
{
    private readonly List<(string Key, string Op, HashSet<string> Values)> requirements;

    private LabelSelector(List<(string Key, string Op, HashSet<string> Values)> requirements) => this.requirements = requirements;

    /// <summary>Whether it selects everything.</summary>
    public bool IsEmpty => requirements.Count == 0;

    /// <summary>Matches everything.</summary>
    public static LabelSelector Everything { get; } = new([]);

    /// <summary>Parses the query-string form. Throws <see cref="ApiException"/> (400) naming the bad part.</summary>
    public static LabelSelector Parse(string? text)
    {
        var reqs = new List<(string, string, HashSet<string>)>();
        if (string.IsNullOrWhiteSpace(text))
        {
            return new(reqs);
        }

        int i = 0;
        while (i < text.Length)
        {
            // one requirement up to a comma outside parentheses
            int depth = 0, start = i;
            while (i < text.Length && (text[i] != ',' || depth > 0))
            {
                depth += text[i] == '(' ? 1 : text[i] == ')' ? -1 : 0;
                i++;
            }

            reqs.Add(ParseOne(text[start..i].Trim(), text));
            i++;
        }

        return new(reqs);
    }

    /// <summary>From a LabelSelector object (null selects nothing, as for a workload without one).</summary>
    public static LabelSelector FromObject(JsonNode? selector)
    {
        var reqs = new List<(string, string, HashSet<string>)>();
        foreach (var (k, v) in Json.Map(selector, "matchLabels"))
        {
            reqs.Add((k, "=", [v]));
        }

        foreach (var e in Json.Items(selector, "matchExpressions"))
        {
            string key = Json.Str(e, "key") ?? "";
            string op = Json.Str(e, "operator") switch
            {
                "In" => "in",
                "NotIn" => "notin",
                "Exists" => "exists",
                "DoesNotExist" => "!",
                var o => throw ApiException.BadRequest($"matchExpressions: operator \"{o}\" is not In, NotIn, Exists or DoesNotExist"),
            };
            var values = Json.At(e, "values") is JsonArray a ? a.Select(x => x?.GetValue<string>() ?? "").ToHashSet(StringComparer.Ordinal) : [];
            reqs.Add((key, op, values));
        }

        return new(reqs);
    }

    /// <summary>A selector matching exactly these labels (a Service's spec.selector, a ReplicaSet's matchLabels).</summary>
    public static LabelSelector FromMap(IReadOnlyDictionary<string, string> labels) =>
        new([.. labels.Select(kv => (kv.Key, "=", new HashSet<string>(StringComparer.Ordinal) { kv.Value }))]);

    /// <summary>Whether <paramref name="labels"/> satisfy every requirement.</summary>
    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, op, values) in requirements)
        {
            bool has = labels.TryGetValue(key, out string? value);
            bool ok = op switch
            {
                "=" or "in" => has && values.Contains(value!),
                "!=" or "notin" => !has || !values.Contains(value!),
                "exists" => has,
                "!" => !has,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether the object's labels match.</summary>
    public bool Matches(JsonNode obj) => IsEmpty || Matches(Json.Labels(obj));

    /// <summary>The query-string form.</summary>
    public override string ToString() => string.Join(",", requirements.Select(r => r.Op switch
    {
        "=" or "!=" => $"{r.Key}{r.Op}{r.Values.First()}",
        "exists" => r.Key,
        "!" => "!" + r.Key,
        _ => $"{r.Key} {r.Op} ({string.Join(",", r.Values.Order(StringComparer.Ordinal))})",
    }));

    private static (string, string, HashSet<string>) ParseOne(string part, string whole)
    {
        if (part.Length == 0)
        {
            throw ApiException.BadRequest($"unable to parse requirement: empty requirement in label selector \"{whole}\"");
        }

        if (part[0] == '!')
        {
            return (part[1..].Trim(), "!", []);
        }

        foreach (string op in new[] { " notin ", " in " })
        {
            int at = part.IndexOf(op, StringComparison.Ordinal);
            if (at > 0)
            {
                string set = part[(at + op.Length)..].Trim();
                if (!set.StartsWith('(') || !set.EndsWith(')'))
                {
                    throw ApiException.BadRequest($"unable to parse requirement: \"{part}\": expected a parenthesized set of values");
                }

                var values = set[1..^1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
                return (part[..at].Trim(), op.Trim(), values);
            }
        }

        foreach (string op in new[] { "!=", "==", "=" })
        {
            int at = part.IndexOf(op, StringComparison.Ordinal);
            if (at > 0)
            {
                return (part[..at].Trim(), op == "==" ? "=" : op, [part[(at + op.Length)..].Trim()]);
            }
        }

        return (part, "exists", []);
    }
}

/// <summary>A field selector: <c>path=value</c>, <c>path==value</c>, <c>path!=value</c> over dotted JSON paths (spec.nodeName, status.phase, metadata.name, involvedObject.uid).</summary>
public sealed class FieldSelector
{
    private readonly List<(string[] Path, bool Equal, string Value)> requirements;

    private FieldSelector(List<(string[] Path, bool Equal, string Value)> requirements) => this.requirements = requirements;

    /// <summary>Whether it selects everything.</summary>
    public bool IsEmpty => requirements.Count == 0;

    /// <summary>Parses the query-string form.</summary>
    public static FieldSelector Parse(string? text)
    {
        var reqs = new List<(string[], bool, string)>();
        foreach (string part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int ne = part.IndexOf("!=", StringComparison.Ordinal);
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (ne > 0)
            {
                reqs.Add((part[..ne].Split('.'), false, part[(ne + 2)..]));
            }
            else if (eq > 0)
            {
                string value = part[(eq + 1)..];
                reqs.Add((part[..eq].Split('.'), true, value.StartsWith('=') ? value[1..] : value));
            }
            else
            {
                throw ApiException.BadRequest($"invalid selector: '{part}'; can't understand '{part}'");
            }
        }

        return new(reqs);
    }

    /// <summary>Whether the object matches.</summary>
    public bool Matches(JsonNode obj)
    {
        foreach (var (path, equal, value) in requirements)
        {
            string actual = Json.At(obj, path) switch
            {
                null => "",
                JsonValue v when v.TryGetValue(out string? s) => s,
                var n => n.ToJsonString(),
            };
            if ((actual == value) != equal)
            {
                return false;
            }
        }

        return true;
    }
}
