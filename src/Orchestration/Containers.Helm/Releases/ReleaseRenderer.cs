using System.Text;
using System.Text.Json.Nodes;
using Containers.Helm.Charts;
using Containers.Helm.Engine;
using Containers.Helm.Functions;

namespace Containers.Helm.Releases;

/// <summary>A chart rendered for a release: its objects in install order, its hooks, notes, CRDs and the values used.</summary>
public sealed record RenderedRelease(List<ManifestEntry> Objects, List<Hook> Hooks, string Notes, List<(string Path, ChartFile File)> Crds, Dictionary<string, object?> Values)
{
    /// <summary>The manifest text stored with the release.</summary>
    public string Manifest => Manifests.Join(Objects);

    /// <summary>What helm template prints: CRDs (when asked), the objects, then the hooks.</summary>
    public string ToTemplateOutput(bool includeCrds, bool includeHooks = true)
    {
        var sb = new StringBuilder();
        if (includeCrds)
        {
            foreach (var (path, file) in Crds)
            {
                sb.Append("---\n# Source: ").Append(path).Append('\n').Append(file.Text.TrimEnd('\n')).Append('\n');
            }
        }

        sb.Append(Manifest.Trim()).Append('\n');
        if (includeHooks)
        {
            foreach (var hook in Hooks)
            {
                sb.Append("---\n# Source: ").Append(hook.Path).Append('\n').Append(hook.Manifest).Append('\n');
            }
        }

        return sb.ToString();
    }
}

/// <summary>Renders a chart for a release as Helm's action package does (renderResources).</summary>
public static class ReleaseRenderer
{
    /// <summary>
    /// Resolves dependencies, coalesces and validates values, renders every template, takes NOTES.txt out, and sorts
    /// the rest into hooks and objects.
    /// </summary>
    /// <exception cref="ChartException">Dependencies or values are wrong, or a rendered document is not YAML.</exception>
    /// <exception cref="Templates.TemplateException">A template does not parse or fails.</exception>
    public static RenderedRelease Render(Chart chart, Dictionary<string, object?> userValues, ReleaseOptions release, Capabilities capabilities, HelmEngine engine)
    {
        if (chart.Metadata.IsLibrary)
        {
            throw new ChartException("validation: chart.metadata.type: library charts are not installable");
        }

        if (chart.Metadata.KubeVersion.Length > 0 && !Satisfies(chart.Metadata.KubeVersion, capabilities.KubeVersion))
        {
            throw new ChartException($"chart requires kubeVersion: {chart.Metadata.KubeVersion} which is incompatible with Kubernetes {capabilities.KubeVersion}");
        }

        var values = ChartValues.Prepare(chart, userValues);
        var files = engine.Render(chart, HelmEngine.RenderValues(chart, values, release, capabilities));
        string notes = "";
        foreach (string name in files.Keys.Where(k => k.EndsWith("/NOTES.txt", StringComparison.Ordinal)).ToList())
        {
            if (name == chart.Name + "/templates/NOTES.txt")
            {
                notes = files[name];
            }

            files.Remove(name);
        }

        var (hooks, objects) = Manifests.Sort(files);
        return new RenderedRelease(objects, hooks, notes, chart.Crds().ToList(), values);
    }

    private static bool Satisfies(string constraint, string version)
    {
        try
        {
            return GoSemver.Satisfies(constraint, version);
        }
        catch (Templates.TemplateFunctionException)
        {
            return false;
        }
    }

    /// <summary>A manifest document as a JSON object (numbers as YAML gave them).</summary>
    /// <exception cref="ChartException">It is not a YAML map.</exception>
    public static JsonObject ToObject(string yaml, string source)
    {
        object? parsed;
        try
        {
            parsed = GoYaml.Parse(yaml);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ChartException($"YAML parse error on {source}: {e.Message}", e);
        }

        return JsonNode.Parse(GoJson.Serialize(parsed, escapeHtml: false)) as JsonObject ?? throw new ChartException($"{source}: a document is not a map");
    }
}
