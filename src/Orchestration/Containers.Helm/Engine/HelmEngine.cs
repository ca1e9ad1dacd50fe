using System.Text;
using Containers.Helm.Charts;
using Containers.Helm.Functions;
using Containers.Helm.Templates;

namespace Containers.Helm.Engine;

/// <summary>Looks up a live object for the <c>lookup</c> function: apiVersion, kind, namespace, name ("" lists).</summary>
public delegate Dictionary<string, object?> LookupFunction(string apiVersion, string kind, string ns, string name);

/// <summary>What a release render is for: its name, namespace, revision and whether it installs or upgrades.</summary>
/// <param name="Name">The release name.</param>
/// <param name="Namespace">The release namespace.</param>
/// <param name="Revision">The revision being made.</param>
/// <param name="IsInstall">True for install, false for upgrade.</param>
public sealed record ReleaseOptions(string Name, string Namespace, int Revision = 1, bool IsInstall = true);

/// <summary>
/// Helm's engine (pkg/engine): every template of the chart and its subcharts parsed into one set (deepest paths
/// first, so the parent's defines win), each non-partial rendered with its chart's values, and "&lt;no value&gt;"
/// removed. Functions: Go's, Sprig's (minus env and expandenv) and Helm's (include, tpl, required, fail, lookup,
/// toYaml, fromYaml, fromYamlArray, toJson, fromJson, fromJsonArray, toToml).
/// </summary>
public sealed class HelmEngine
{
    private const int RecursionMax = 1000;

    /// <summary>missingkey=error instead of zero (helm --strict).</summary>
    public bool Strict { get; init; }

    /// <summary>The lookup function's source (null: lookup returns an empty map, as helm template does).</summary>
    public LookupFunction? Lookup { get; init; }

    /// <summary>The clock and randomness of now, date and the rand* functions.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// Renders <paramref name="chart"/> with its final values (<see cref="RenderValues"/>): a map from
    /// CHART/templates/FILE to the rendered text, partials left out.
    /// </summary>
    /// <exception cref="TemplateException">A template does not parse or fails (the message names file, line and column as Helm's).</exception>
    public SortedDictionary<string, string> Render(Chart chart, Dictionary<string, object?> top)
    {
        var templates = new Dictionary<string, (string Text, Dictionary<string, object?> Values, string BasePath)>(StringComparer.Ordinal);
        Collect(chart, templates, top);
        var set = new TemplateSet(Sprig.Functions(Time), Strict ? MissingKey.Error : MissingKey.Zero);
        var included = new Dictionary<string, int>(StringComparer.Ordinal);
        AddHelmFunctions(set, included);
        var keys = templates.Keys.ToList();
        keys.Sort((a, b) =>
        {
            int ca = a.Count(c => c == '/'), cb = b.Count(c => c == '/');
            return ca != cb ? cb.CompareTo(ca) : string.CompareOrdinal(b, a);
        });
        foreach (string name in keys)
        {
            try
            {
                set.Parse(name, templates[name].Text);
            }
            catch (TemplateException e)
            {
                throw new TemplateException($"parse error at ({e.Template}:{e.Line}): {e.Reason}", e.Template, e.Line, null, e.Reason, e);
            }
        }

        var rendered = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in keys)
        {
            if (GoPath.Base(name).StartsWith('_'))
            {
                continue;
            }

            var (_, values, basePath) = templates[name];
            values["Template"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["Name"] = name, ["BasePath"] = basePath };
            string output;
            try
            {
                output = set.Execute(name, values);
            }
            catch (TemplateException e)
            {
                throw CleanExecError(e);
            }

            rendered[name] = output.Replace("<no value>", "", StringComparison.Ordinal);
        }

        return rendered;
    }

    /// <summary>Helm's cleanupExecError: required and fail become "execution error at (FILE:LINE:COL): MESSAGE".</summary>
    private static TemplateException CleanExecError(TemplateException e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is HelmFailure failure)
            {
                return new TemplateException($"execution error at ({e.Template}:{e.Line}:{e.Column}): {failure.Message}", e.Template, e.Line, e.Column, failure.Message, e);
            }
        }

        return e;
    }

    private static Dictionary<string, object?> Collect(Chart chart, Dictionary<string, (string, Dictionary<string, object?>, string)> templates, Dictionary<string, object?> parent)
    {
        var subcharts = new Dictionary<string, object?>(StringComparer.Ordinal);
        object? values;
        if (chart.IsRoot)
        {
            values = parent["Values"];
        }
        else
        {
            values = parent["Values"] is IDictionary<string, object?> pv && pv.TryGetValue(chart.Name, out var own) && own is Dictionary<string, object?> ownMap ? ownMap : new Dictionary<string, object?>(StringComparer.Ordinal);
        }

        var next = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["Chart"] = chart.Metadata,
            ["Files"] = new ChartFiles(chart.Files),
            ["Release"] = parent["Release"],
            ["Capabilities"] = parent["Capabilities"],
            ["Values"] = values,
            ["Subcharts"] = subcharts,
        };
        foreach (var child in chart.Dependencies)
        {
            subcharts[child.Name] = Collect(child, templates, next);
        }

        foreach (var template in chart.Templates)
        {
            if (chart.Metadata.IsLibrary && !GoPath.Base(template.Name).StartsWith('_'))
            {
                continue;
            }

            templates[chart.FullPath + "/" + template.Name] = (template.Text, next, chart.FullPath + "/templates");
        }

        return next;
    }

    /// <summary>The top-level object templates see, before .Template is added per file (chartutil.ToRenderValues).</summary>
    public static Dictionary<string, object?> RenderValues(Chart chart, Dictionary<string, object?> values, ReleaseOptions release, Capabilities? capabilities = null) =>
        new(StringComparer.Ordinal)
        {
            ["Chart"] = chart.Metadata,
            ["Capabilities"] = capabilities ?? Capabilities.Default,
            ["Release"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["Name"] = release.Name,
                ["Namespace"] = release.Namespace,
                ["IsUpgrade"] = !release.IsInstall,
                ["IsInstall"] = release.IsInstall,
                ["Revision"] = (long)release.Revision,
                ["Service"] = "Helm",
            },
            ["Values"] = values,
        };

    private void AddHelmFunctions(TemplateSet set, Dictionary<string, int> included)
    {
        set.AddFunction(new TemplateFunction("toYaml", [GoType.Any], false, a => GoYaml.Serialize(a[0]) is var y && y.EndsWith('\n') ? y[..^1] : y));
        set.AddFunction(new TemplateFunction("toYamlPretty", [GoType.Any], false, a => GoYaml.Serialize(a[0])[..^1]));
        set.AddFunction(new TemplateFunction("fromYaml", [GoType.String], false, a => FromYaml((string)a[0]!)));
        set.AddFunction(new TemplateFunction("fromYamlArray", [GoType.String], false, a => FromYamlArray((string)a[0]!)));
        set.AddFunction(new TemplateFunction("toJson", [GoType.Any], false, a => GoJson.Serialize(a[0])));
        set.AddFunction(new TemplateFunction("fromJson", [GoType.String], false, a => GoJson.TryParse((string)a[0]!, out var v, out string? error) ? v as Dictionary<string, object?> ?? new Dictionary<string, object?>(StringComparer.Ordinal) { ["Error"] = "json: cannot unmarshal into map" } : new Dictionary<string, object?>(StringComparer.Ordinal) { ["Error"] = error }));
        set.AddFunction(new TemplateFunction("fromJsonArray", [GoType.String], false, a => GoJson.TryParse((string)a[0]!, out var v, out string? error) ? v as List<object?> ?? [(object?)"json: cannot unmarshal object into Go value of type []interface {}"] : [(object?)error]));
        set.AddFunction(new TemplateFunction("toToml", [GoType.Any], false, a => Toml.Serialize(a[0])));
        set.AddFunction(new TemplateFunction("required", [GoType.String, GoType.Any], false, a => a[1] is null or "" ? throw new HelmFailure((string)a[0]!) : a[1]));
        set.AddFunction(new TemplateFunction("fail", [GoType.String], false, a => throw new HelmFailure((string)a[0]!)));
        set.AddFunction(new TemplateFunction("lookup", [GoType.String, GoType.String, GoType.String, GoType.String], false, a =>
            Lookup is null ? new Dictionary<string, object?>(StringComparer.Ordinal) : Lookup((string)a[0]!, (string)a[1]!, (string)a[2]!, (string)a[3]!)));
        BindIncludeAndTpl(set, included);
    }

    private void BindIncludeAndTpl(TemplateSet set, Dictionary<string, int> included)
    {
        set.AddFunction(new TemplateFunction("include", [GoType.String, GoType.Any], false, a =>
        {
            string name = (string)a[0]!;
            included.TryGetValue(name, out int depth);
            if (depth > RecursionMax)
            {
                throw new TemplateFunctionException($"rendering template has a nested reference name: {name}: unable to execute template");
            }

            included[name] = depth + 1;
            try
            {
                var sb = new StringBuilder();
                set.Execute(name, a[1], sb);
                return sb.ToString();
            }
            catch (TemplateException e)
            {
                throw new TemplateFunctionException(e.Message, e);
            }
            finally
            {
                included[name]--;
            }
        }));
        set.AddFunction(new TemplateFunction("tpl", [GoType.String, GoType.Any], false, a =>
        {
            var clone = set.Clone();
            BindIncludeAndTpl(clone, included);
            string text = (string)a[0]!;
            try
            {
                clone.Parse("gotpl", text);
            }
            catch (TemplateException e)
            {
                throw new TemplateFunctionException($"cannot parse template {GoFormat.Quote(text)}: {e.Message}", e);
            }

            try
            {
                return clone.Execute("gotpl", a[1]).Replace("<no value>", "", StringComparison.Ordinal);
            }
            catch (TemplateException e)
            {
                throw new TemplateFunctionException($"error during tpl function execution for {GoFormat.Quote(text)}: {e.Message}", e);
            }
        }));
    }

    private static Dictionary<string, object?> FromYaml(string text)
    {
        try
        {
            return GoYaml.Parse(text) as Dictionary<string, object?> ?? new Dictionary<string, object?>(StringComparer.Ordinal);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            return new Dictionary<string, object?>(StringComparer.Ordinal) { ["Error"] = $"error converting YAML to JSON: yaml: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}" };
        }
    }

    private static List<object?> FromYamlArray(string text)
    {
        try
        {
            return GoYaml.Parse(text) as List<object?> ?? [];
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            return [$"error converting YAML to JSON: yaml: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}"];
        }
    }
}

/// <summary>required or fail: Helm reports it as "execution error at (FILE:LINE:COL): MESSAGE".</summary>
public sealed class HelmFailure(string message) : TemplateFunctionException(message);
