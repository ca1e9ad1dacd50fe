using System.Text.Json.Nodes;
using Containers.Helm.Functions;
using Containers.Helm.Templates;

namespace Containers.Helm.Charts;

/// <summary>
/// Chart.yaml (Helm's chart.Metadata): what templates see as <c>.Chart</c> (Go field names: Name, Version,
/// AppVersion, ...) and what a release stores as JSON (json names: name, version, appVersion, ...).
/// </summary>
public sealed class ChartMetadata : ITemplateObject
{
    private static readonly (string Field, string Json)[] Fields =
    [
        ("Name", "name"), ("Home", "home"), ("Sources", "sources"), ("Version", "version"), ("Description", "description"),
        ("Keywords", "keywords"), ("Maintainers", "maintainers"), ("Icon", "icon"), ("APIVersion", "apiVersion"),
        ("Condition", "condition"), ("Tags", "tags"), ("AppVersion", "appVersion"), ("Deprecated", "deprecated"),
        ("Annotations", "annotations"), ("KubeVersion", "kubeVersion"), ("Dependencies", "dependencies"), ("Type", "type"),
    ];

    private readonly Dictionary<string, object?> raw;

    /// <summary>Reads Chart.yaml's values.</summary>
    public ChartMetadata(Dictionary<string, object?> raw)
    {
        this.raw = raw;
        Dependencies = (raw.GetValueOrDefault("dependencies") as List<object?> ?? []).OfType<Dictionary<string, object?>>().Select(d => new ChartDependency(d)).ToList();
    }

    /// <summary>The chart's name (for a subchart with an alias, the alias).</summary>
    public string Name
    {
        get => Str("name");
        set => raw["name"] = value;
    }

    /// <summary>The chart's version (SemVer 2).</summary>
    public string Version => Str("version");

    /// <summary>The version of the app it deploys.</summary>
    public string AppVersion => Str("appVersion");

    /// <summary>v2 (Helm 3) or v1.</summary>
    public string ApiVersion => Str("apiVersion");

    /// <summary>application or library.</summary>
    public string Type => Str("type");

    /// <summary>The description.</summary>
    public string Description => Str("description");

    /// <summary>A semver constraint on the cluster's Kubernetes version.</summary>
    public string KubeVersion => Str("kubeVersion");

    /// <summary>The declared dependencies.</summary>
    public List<ChartDependency> Dependencies { get; }

    /// <summary>Whether this is a library chart (templates only for others to include).</summary>
    public bool IsLibrary => Type == "library";

    private string Str(string key) => raw.GetValueOrDefault(key) is { } v ? Cast.Str(v) : "";

    /// <summary>Checks what Helm's Metadata.Validate checks.</summary>
    /// <exception cref="ChartException">A required field is missing or invalid (named).</exception>
    public void Validate(string where)
    {
        if (ApiVersion.Length == 0)
        {
            throw new ChartException($"{where}: chart.metadata.apiVersion is required");
        }

        if (Name.Length == 0)
        {
            throw new ChartException($"{where}: chart.metadata.name is required");
        }

        if (Name.Contains('/', StringComparison.Ordinal) || Name.Contains('\\', StringComparison.Ordinal) || Name is "." or "..")
        {
            throw new ChartException($"{where}: chart.metadata.name \"{Name}\" is invalid");
        }

        if (Version.Length == 0)
        {
            throw new ChartException($"{where}: chart.metadata.version is required");
        }

        if (GoSemver.Parse(Version) is null)
        {
            throw new ChartException($"{where}: chart.metadata.version \"{Version}\" is invalid");
        }

        if (Type is not ("" or "application" or "library"))
        {
            throw new ChartException($"{where}: chart.metadata.type must be application or library");
        }
    }

    /// <inheritdoc/>
    public string GoTypeName => "chart.Metadata";

    /// <inheritdoc/>
    public bool TryGetField(string name, out object? value)
    {
        if (name == "IsRoot")
        {
            value = IsRoot;
            return true;
        }

        foreach (var (field, json) in Fields)
        {
            if (field == name)
            {
                raw.TryGetValue(json, out value);
                value ??= field switch
                {
                    "Sources" or "Keywords" or "Maintainers" or "Tags" or "Dependencies" => null,
                    "Annotations" => null,
                    "Deprecated" => false,
                    _ => "",
                };
                if (field == "Dependencies" && value is List<object?>)
                {
                    value = Dependencies.Cast<object?>().ToList();
                }

                return true;
            }
        }

        value = null;
        return false;
    }

    /// <summary>Whether the chart is the one being installed (false for subcharts), as Helm's .Chart.IsRoot.</summary>
    public bool IsRoot { get; set; } = true;

    /// <inheritdoc/>
    public TemplateFunction? GetMethod(string name) => null;

    /// <summary>The metadata as Helm's JSON (for the release record and Chart.yaml on packaging).</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject();
        foreach (var (_, key) in Fields)
        {
            if (raw.TryGetValue(key, out var v) && v is not null && !(v is string s && s.Length == 0))
            {
                json[key] = JsonNode.Parse(GoJson.Serialize(v, escapeHtml: false));
            }
        }

        return json;
    }

    /// <summary>A copy (subcharts with aliases are copies renamed).</summary>
    public ChartMetadata Clone() => new((Dictionary<string, object?>)Cast.DeepCopy(raw)!);

    /// <inheritdoc/>
    public override string ToString() => "{" + string.Join(" ", Fields.Select(f => GoFormat.Print(raw.GetValueOrDefault(f.Json) ?? ""))) + "}";
}

/// <summary>One entry of Chart.yaml's dependencies.</summary>
public sealed class ChartDependency(Dictionary<string, object?> raw) : ITemplateObject
{
    /// <summary>The chart's name.</summary>
    public string Name => raw.GetValueOrDefault("name") is { } v ? Cast.Str(v) : "";

    /// <summary>A version constraint.</summary>
    public string Version => raw.GetValueOrDefault("version") is { } v ? Cast.Str(v) : "";

    /// <summary>The repository URL (or @alias, or file://).</summary>
    public string Repository => raw.GetValueOrDefault("repository") is { } v ? Cast.Str(v) : "";

    /// <summary>Comma-separated value paths whose first boolean enables it.</summary>
    public string Condition => raw.GetValueOrDefault("condition") is { } v ? Cast.Str(v) : "";

    /// <summary>Tags that enable it.</summary>
    public List<string> Tags => (raw.GetValueOrDefault("tags") as List<object?> ?? []).Select(Cast.Str).ToList();

    /// <summary>The name it is installed under.</summary>
    public string Alias => raw.GetValueOrDefault("alias") is { } v ? Cast.Str(v) : "";

    /// <summary>import-values entries: strings or {child, parent} maps.</summary>
    public List<object?> ImportValues => raw.GetValueOrDefault("import-values") as List<object?> ?? [];

    /// <inheritdoc/>
    public string GoTypeName => "*chart.Dependency";

    /// <inheritdoc/>
    public bool TryGetField(string name, out object? value)
    {
        string key = name switch { "ImportValues" => "import-values", _ => char.ToLowerInvariant(name[0]) + name[1..] };
        value = raw.GetValueOrDefault(key) ?? (name is "Enabled" ? false : name is "Tags" or "ImportValues" ? null : "");
        return name is "Name" or "Version" or "Repository" or "Condition" or "Tags" or "Enabled" or "ImportValues" or "Alias";
    }

    /// <inheritdoc/>
    public TemplateFunction? GetMethod(string name) => null;
}

/// <summary>A chart that cannot be loaded, or values that do not fit it (the message names the file and field).</summary>
public class ChartException(string message, Exception? inner = null) : Exception(message, inner);
