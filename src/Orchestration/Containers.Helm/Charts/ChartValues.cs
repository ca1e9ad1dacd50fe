using System.Text;
using System.Text.Json;
using Containers.Helm.Functions;
using Json.Schema;

namespace Containers.Helm.Charts;

/// <summary>
/// The values a chart renders with (chartutil ProcessDependencies, CoalesceValues, ValidateAgainstSchema):
/// dependencies resolved (aliases, conditions, tags, import-values, missing ones refused), defaults coalesced
/// under the user's values, and every chart's values.schema.json checked.
/// </summary>
public static class ChartValues
{
    /// <summary>Resolves the dependencies of <paramref name="chart"/> (in place) and returns the coalesced values.</summary>
    /// <exception cref="ChartException">A dependency is missing, or the values break a schema (every violation listed).</exception>
    public static Dictionary<string, object?> Prepare(Chart chart, Dictionary<string, object?> user)
    {
        CheckMissing(chart);
        ProcessEnabled(chart, user, "");
        ProcessImports(chart);
        var values = ValueMaps.Coalesce(chart, user);
        Validate(chart, values);
        return values;
    }

    private static void CheckMissing(Chart chart)
    {
        var missing = chart.Metadata.Dependencies.Where(d => !chart.Dependencies.Any(c => c.Name == d.Name || c.Name == d.Alias)).Select(d => d.Name).ToList();
        if (missing.Count > 0)
        {
            throw new ChartException($"{chart.Name}: found in Chart.yaml, but missing in charts/ directory: {string.Join(", ", missing)}");
        }

        foreach (var child in chart.Dependencies)
        {
            CheckMissing(child);
        }
    }

    private static void ProcessEnabled(Chart chart, Dictionary<string, object?> values, string path)
    {
        if (chart.Metadata.Dependencies.Count == 0)
        {
            return;
        }

        // charts in charts/ that Chart.yaml does not list stay; listed ones come in (aliased copies for aliases)
        var loaded = chart.Dependencies.ToList();
        var resolved = loaded.Where(c => !chart.Metadata.Dependencies.Any(d => d.Name == c.Name)).ToList();
        var names = new Dictionary<ChartDependency, string>();
        foreach (var dep in chart.Metadata.Dependencies)
        {
            var found = loaded.FirstOrDefault(c => c.Name == dep.Name) ?? loaded.FirstOrDefault(c => c.Name == dep.Alias);
            if (found is null)
            {
                continue;
            }

            var child = dep.Alias.Length > 0 && found.Name != dep.Alias ? found.WithAlias(dep.Alias) : found;
            resolved.Add(child);
            names[dep] = child.Name;
        }

        foreach (var c in loaded)
        {
            chart.RemoveDependency(c);
        }

        foreach (var c in resolved)
        {
            chart.AddDependency(c);
        }

        var coalesced = ValueMaps.Coalesce(chart, values);
        var tags = coalesced.GetValueOrDefault("tags") as IDictionary<string, object?>;
        var disabled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (dep, name) in names)
        {
            bool enabled = true;
            if (tags is not null && dep.Tags.Count > 0)
            {
                bool hasTrue = dep.Tags.Any(t => tags.TryGetValue(t, out var v) && v is true);
                bool hasFalse = dep.Tags.Any(t => tags.TryGetValue(t, out var v) && v is false);
                enabled = hasTrue || !hasFalse;
            }

            foreach (string condition in dep.Condition.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (ValueMaps.PathValue(coalesced, path + condition, out bool found) is bool b && found)
                {
                    enabled = b;
                    break;
                }
            }

            if (!enabled)
            {
                disabled.Add(name);
            }
        }

        foreach (var c in chart.Dependencies.Where(c => disabled.Contains(c.Name)).ToList())
        {
            chart.RemoveDependency(c);
        }

        foreach (var c in chart.Dependencies)
        {
            ProcessEnabled(c, coalesced, path + c.Name + ".");
        }
    }

    private static void ProcessImports(Chart chart)
    {
        foreach (var child in chart.Dependencies)
        {
            ProcessImports(child);
        }

        if (chart.Metadata.Dependencies.All(d => d.ImportValues.Count == 0))
        {
            return;
        }

        var cvals = ValueMaps.Coalesce(chart, new Dictionary<string, object?>(StringComparer.Ordinal));
        var imported = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var dep in chart.Metadata.Dependencies)
        {
            string name = dep.Alias.Length > 0 ? dep.Alias : dep.Name;
            foreach (var entry in dep.ImportValues)
            {
                string child, parent;
                if (entry is IDictionary<string, object?> map)
                {
                    child = Cast.Str(map.TryGetValue("child", out var c) ? c : null);
                    parent = Cast.Str(map.TryGetValue("parent", out var p) ? p : null);
                }
                else
                {
                    child = "exports." + Cast.Str(entry);
                    parent = ".";
                }

                if (ValueMaps.PathValue(cvals, name + "." + child, out bool found) is Dictionary<string, object?> table && found)
                {
                    var copy = (Dictionary<string, object?>)Cast.DeepCopy(table)!;
                    ValueMaps.CoalesceTables(imported, parent == "." ? copy : PathToMap(parent, copy), merge: false);
                }
            }
        }

        var merged = ValueMaps.CoalesceTables((Dictionary<string, object?>)Cast.DeepCopy(chart.Values)!, imported, merge: false);
        chart.Values.Clear();
        foreach (var (k, v) in merged)
        {
            chart.Values[k] = v;
        }
    }

    private static Dictionary<string, object?> PathToMap(string path, Dictionary<string, object?> data)
    {
        var parts = path.Split('.', StringSplitOptions.RemoveEmptyEntries);
        var result = data;
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            result = new Dictionary<string, object?>(StringComparer.Ordinal) { [parts[i]] = result };
        }

        return result;
    }

    /// <summary>Checks every chart's values.schema.json against its values.</summary>
    /// <exception cref="ChartException">Violations, listed per chart as Helm lists them.</exception>
    public static void Validate(Chart chart, Dictionary<string, object?> values)
    {
        var sb = new StringBuilder();
        Validate(chart, values, sb);
        if (sb.Length > 0)
        {
            throw new ChartException("values don't meet the specifications of the schema(s) in the following chart(s):\n" + sb.ToString().TrimEnd('\n'));
        }
    }

    private static void Validate(Chart chart, Dictionary<string, object?> values, StringBuilder errors)
    {
        if (chart.Schema is { Length: > 0 } schemaBytes)
        {
            JsonSchema schema;
            try
            {
                // charts name draft-04 to draft-07 in $schema; their keywords validate the same under the default dialect
                var node = System.Text.Json.Nodes.JsonNode.Parse(schemaBytes) as System.Text.Json.Nodes.JsonObject
                    ?? throw new ChartException($"{chart.FullPath}/values.schema.json: the schema is not a JSON object");
                node.Remove("$schema");
                schema = JsonSchema.FromText(node.ToJsonString());
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or JsonSchemaException)
            {
                throw new ChartException($"{chart.FullPath}/values.schema.json: not a JSON schema: {e.Message}", e);
            }

            using var instance = JsonDocument.Parse(GoJson.Serialize(values, escapeHtml: false));
            var result = schema.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (!result.IsValid)
            {
                errors.Append(chart.Name).Append(":\n");
                foreach (var detail in (result.Details ?? []).Where(d => !d.IsValid && d.Errors is { Count: > 0 }))
                {
                    foreach (var message in detail.Errors!.Values)
                    {
                        string location = detail.InstanceLocation.ToString().TrimStart('/').Replace('/', '.');
                        errors.Append("- ").Append(location.Length == 0 ? "(root)" : location).Append(": ").Append(message).Append('\n');
                    }
                }
            }
        }

        foreach (var child in chart.Dependencies)
        {
            Validate(child, values.GetValueOrDefault(child.Name) as Dictionary<string, object?> ?? [], errors);
        }
    }
}
