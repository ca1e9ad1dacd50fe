using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Containers.Helm.Charts;
using Containers.Helm.Functions;

namespace Containers.Helm.Releases;

/// <summary>
/// A release revision as Helm 3 stores it (pkg/release/v1: name, info, chart, config, manifest, hooks, version,
/// namespace), written and read as the same JSON.
/// </summary>
public sealed class Release
{
    /// <summary>The release name.</summary>
    public required string Name { get; init; }

    /// <summary>The namespace it is installed in.</summary>
    public required string Namespace { get; init; }

    /// <summary>The revision (1, 2, ...).</summary>
    public required int Version { get; init; }

    /// <summary>Status, times, description and notes.</summary>
    public required ReleaseInfo Info { get; init; }

    /// <summary>The chart as Helm stores it: metadata, templates, values, schema, files (as JSON).</summary>
    public required JsonObject Chart { get; init; }

    /// <summary>The values the user gave (not the chart's defaults).</summary>
    public Dictionary<string, object?> Config { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The rendered manifests ("---\n# Source: FILE\n..." each), hooks not included.</summary>
    public string Manifest { get; init; } = "";

    /// <summary>The hooks.</summary>
    public List<Hook> Hooks { get; init; } = [];

    /// <summary>The chart's name.</summary>
    public string ChartName => (string?)Chart["metadata"]?["name"] ?? "";

    /// <summary>The chart's version.</summary>
    public string ChartVersion => (string?)Chart["metadata"]?["version"] ?? "";

    /// <summary>The app version of the chart.</summary>
    public string AppVersion => (string?)Chart["metadata"]?["appVersion"] ?? "";

    /// <summary>The Secret name of this revision: sh.helm.release.v1.NAME.vREVISION.</summary>
    public string StorageKey => Key(Name, Version);

    /// <summary>The Secret name of a revision.</summary>
    public static string Key(string name, int version) => $"sh.helm.release.v1.{name}.v{version.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Helm's JSON of a chart (chart.Chart: metadata, lock, templates, values, schema, files).</summary>
    public static JsonObject ChartJson(Chart chart) => new()
    {
        ["metadata"] = chart.Metadata.ToJson(),
        ["lock"] = chart.Lock is null ? null : JsonNode.Parse(GoJson.Serialize(GoYaml.Parse(chart.Lock), escapeHtml: false)),
        ["templates"] = new JsonArray([.. chart.Templates.Select(t => (JsonNode)new JsonObject { ["name"] = t.Name, ["data"] = Convert.ToBase64String(t.Data) })]),
        ["values"] = JsonNode.Parse(GoJson.Serialize(chart.Values, escapeHtml: false)),
        ["schema"] = chart.Schema is null ? null : Convert.ToBase64String(chart.Schema),
        ["files"] = new JsonArray([.. chart.Files.Select(f => (JsonNode)new JsonObject { ["name"] = f.Name, ["data"] = Convert.ToBase64String(f.Data) })]),
    };

    /// <summary>The chart back from its stored JSON (for rollback and upgrade --reuse-values).</summary>
    public Chart LoadChart()
    {
        var files = new List<ChartFile>();
        var metadata = (Dictionary<string, object?>)GoJson.Convert(System.Text.Json.JsonDocument.Parse(Chart["metadata"]!.ToJsonString()).RootElement)!;
        files.Add(new ChartFile("Chart.yaml", Encoding.UTF8.GetBytes(GoYaml.Serialize(metadata))));
        files.AddRange((Chart["templates"]?.AsArray() ?? []).Select(t => new ChartFile((string)t!["name"]!, Convert.FromBase64String((string?)t["data"] ?? ""))));
        files.AddRange((Chart["files"]?.AsArray() ?? []).Select(t => new ChartFile((string)t!["name"]!, Convert.FromBase64String((string?)t["data"] ?? ""))));
        files.Add(new ChartFile("values.yaml", Encoding.UTF8.GetBytes(GoYaml.Serialize(GoJson.Convert(System.Text.Json.JsonDocument.Parse(Chart["values"]?.ToJsonString() ?? "{}").RootElement)))));
        if ((string?)Chart["schema"] is { } schema)
        {
            files.Add(new ChartFile("values.schema.json", Convert.FromBase64String(schema)));
        }

        return Charts.Chart.FromFiles(files, Name + " revision " + Version);
    }

    /// <summary>The release as Helm's JSON.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["name"] = Name,
            ["info"] = Info.ToJson(),
            ["chart"] = Chart.DeepClone(),
        };
        if (Config.Count > 0)
        {
            json["config"] = JsonNode.Parse(GoJson.Serialize(Config, escapeHtml: false));
        }

        if (Manifest.Length > 0)
        {
            json["manifest"] = Manifest;
        }

        if (Hooks.Count > 0)
        {
            json["hooks"] = new JsonArray([.. Hooks.Select(h => (JsonNode)h.ToJson())]);
        }

        json["version"] = Version;
        json["namespace"] = Namespace;
        return json;
    }

    /// <summary>Reads Helm's release JSON.</summary>
    public static Release FromJson(JsonObject json) => new()
    {
        Name = (string?)json["name"] ?? "",
        Namespace = (string?)json["namespace"] ?? "",
        Version = (int?)json["version"] ?? 0,
        Info = ReleaseInfo.FromJson(json["info"] as JsonObject ?? []),
        Chart = json["chart"]?.DeepClone() as JsonObject ?? [],
        Config = json["config"] is JsonObject config ? (Dictionary<string, object?>)GoJson.Convert(System.Text.Json.JsonDocument.Parse(config.ToJsonString()).RootElement)! : new(StringComparer.Ordinal),
        Manifest = (string?)json["manifest"] ?? "",
        Hooks = (json["hooks"]?.AsArray() ?? []).OfType<JsonObject>().Select(Hook.FromJson).ToList(),
    };
}

/// <summary>The state of a release revision (Helm's release.Status).</summary>
public static class ReleaseStatus
{
    /// <summary>The revision is live.</summary>
    public const string Deployed = "deployed";

    /// <summary>A later revision replaced it.</summary>
    public const string Superseded = "superseded";

    /// <summary>Its install or upgrade failed.</summary>
    public const string Failed = "failed";

    /// <summary>Uninstalled (kept with --keep-history).</summary>
    public const string Uninstalled = "uninstalled";

    /// <summary>Being uninstalled.</summary>
    public const string Uninstalling = "uninstalling";

    /// <summary>Being installed.</summary>
    public const string PendingInstall = "pending-install";

    /// <summary>Being upgraded.</summary>
    public const string PendingUpgrade = "pending-upgrade";

    /// <summary>Being rolled back.</summary>
    public const string PendingRollback = "pending-rollback";

    /// <summary>Whether an operation on the release is in progress.</summary>
    public static bool IsPending(string status) => status is PendingInstall or PendingUpgrade or PendingRollback;
}

/// <summary>Release.Info: first and last deployment, deletion, description, status and notes.</summary>
public sealed class ReleaseInfo
{
    /// <summary>When revision 1 was deployed.</summary>
    public DateTimeOffset FirstDeployed { get; set; }

    /// <summary>When this revision was deployed.</summary>
    public DateTimeOffset LastDeployed { get; set; }

    /// <summary>When it was uninstalled (MinValue: not).</summary>
    public DateTimeOffset Deleted { get; set; } = DateTimeOffset.MinValue;

    /// <summary>A human-readable description ("Install complete", "Upgrade complete", "Rollback to 1").</summary>
    public string Description { get; set; } = "";

    /// <summary>One of <see cref="ReleaseStatus"/>.</summary>
    public string Status { get; set; } = "unknown";

    /// <summary>The rendered NOTES.txt.</summary>
    public string Notes { get; set; } = "";

    private static string Time(DateTimeOffset t) =>
        t == DateTimeOffset.MinValue ? "0001-01-01T00:00:00Z" : Templates.GoTime.Rfc3339Nano(t);

    /// <summary>Helm's JSON of the info.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["first_deployed"] = Time(FirstDeployed),
            ["last_deployed"] = Time(LastDeployed),
            ["deleted"] = Time(Deleted),
        };
        if (Description.Length > 0)
        {
            json["description"] = Description;
        }

        json["status"] = Status;
        if (Notes.Length > 0)
        {
            json["notes"] = Notes;
        }

        return json;
    }

    /// <summary>Reads Helm's JSON of the info.</summary>
    public static ReleaseInfo FromJson(JsonObject json)
    {
        static DateTimeOffset Parse(JsonNode? n) =>
            n is not null && DateTimeOffset.TryParse((string?)n, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) && t.Year > 1 ? t : DateTimeOffset.MinValue;
        return new ReleaseInfo
        {
            FirstDeployed = Parse(json["first_deployed"]),
            LastDeployed = Parse(json["last_deployed"]),
            Deleted = Parse(json["deleted"]),
            Description = (string?)json["description"] ?? "",
            Status = (string?)json["status"] ?? "unknown",
            Notes = (string?)json["notes"] ?? "",
        };
    }
}
