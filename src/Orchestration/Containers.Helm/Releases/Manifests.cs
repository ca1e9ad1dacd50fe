using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Containers.Helm.Functions;

namespace Containers.Helm.Releases;

/// <summary>A hook (an object annotated helm.sh/hook): its events, weight, delete policies and last run.</summary>
public sealed class Hook
{
    /// <summary>metadata.name.</summary>
    public string Name { get; init; } = "";

    /// <summary>The kind (Job, Pod, ConfigMap...).</summary>
    public string Kind { get; init; } = "";

    /// <summary>The template it came from.</summary>
    public string Path { get; init; } = "";

    /// <summary>The YAML of the object.</summary>
    public string Manifest { get; init; } = "";

    /// <summary>pre-install, post-install, pre-upgrade, post-upgrade, pre-rollback, post-rollback, pre-delete, post-delete, test.</summary>
    public List<string> Events { get; init; } = [];

    /// <summary>helm.sh/hook-weight (lower first).</summary>
    public int Weight { get; init; }

    /// <summary>before-hook-creation, hook-succeeded, hook-failed.</summary>
    public List<string> DeletePolicies { get; init; } = [];

    /// <summary>When it last started.</summary>
    public DateTimeOffset StartedAt { get; set; } = DateTimeOffset.MinValue;

    /// <summary>When it last completed.</summary>
    public DateTimeOffset CompletedAt { get; set; } = DateTimeOffset.MinValue;

    /// <summary>Unknown, Running, Succeeded or Failed.</summary>
    public string Phase { get; set; } = "";

    private static string Time(DateTimeOffset t) =>
        t == DateTimeOffset.MinValue ? "0001-01-01T00:00:00Z" : Templates.GoTime.Rfc3339Nano(t);

    /// <summary>Helm's JSON of the hook.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["name"] = Name, ["kind"] = Kind, ["path"] = Path, ["manifest"] = Manifest, ["events"] = new JsonArray([.. Events.Select(e => (JsonNode)e)]) };
        json["last_run"] = new JsonObject { ["started_at"] = Time(StartedAt), ["completed_at"] = Time(CompletedAt), ["phase"] = Phase };
        if (Weight != 0)
        {
            json["weight"] = Weight;
        }

        if (DeletePolicies.Count > 0)
        {
            json["delete_policies"] = new JsonArray([.. DeletePolicies.Select(e => (JsonNode)e)]);
        }

        return json;
    }

    /// <summary>Reads Helm's JSON of a hook.</summary>
    public static Hook FromJson(JsonObject json) => new()
    {
        Name = (string?)json["name"] ?? "",
        Kind = (string?)json["kind"] ?? "",
        Path = (string?)json["path"] ?? "",
        Manifest = (string?)json["manifest"] ?? "",
        Events = (json["events"]?.AsArray() ?? []).Select(e => (string?)e ?? "").ToList(),
        Weight = (int?)json["weight"] ?? 0,
        DeletePolicies = (json["delete_policies"]?.AsArray() ?? []).Select(e => (string?)e ?? "").ToList(),
        Phase = (string?)json["last_run"]?["phase"] ?? "",
    };
}

/// <summary>One object of a rendered manifest: the template it came from, its YAML, and its kind and name.</summary>
public sealed record ManifestEntry(string Source, string Content, string ApiVersion, string Kind, string Name, string? Namespace);

/// <summary>
/// Helm's releaseutil: rendered files split into documents (SplitManifests), hooks told apart by annotation, and
/// both sorted by kind (InstallOrder, unknown kinds last by name) keeping the file order within a kind.
/// </summary>
public static partial class Manifests
{
    /// <summary>Helm's InstallOrder.</summary>
    public static readonly string[] InstallOrder =
    [
        "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount",
        "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
        "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet",
        "Pod", "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
        "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    ];

    /// <summary>Helm's UninstallOrder.</summary>
    public static readonly string[] UninstallOrder =
    [
        "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService", "Ingress", "IngressClass", "Service", "CronJob", "Job", "StatefulSet",
        "HorizontalPodAutoscaler", "Deployment", "ReplicaSet", "ReplicationController", "Pod", "DaemonSet", "RoleBindingList", "RoleBinding", "RoleList", "Role",
        "ClusterRoleBindingList", "ClusterRoleBinding", "ClusterRoleList", "ClusterRole", "CustomResourceDefinition", "PersistentVolumeClaim", "PersistentVolume",
        "StorageClass", "ConfigMap", "SecretList", "Secret", "ServiceAccount", "PodDisruptionBudget", "PodSecurityPolicy", "LimitRange", "ResourceQuota",
        "NetworkPolicy", "Namespace", "PriorityClass",
    ];

    private static readonly string[] HookEvents = ["pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade", "post-upgrade", "pre-rollback", "post-rollback", "test"];

    [GeneratedRegex(@"(?:^|\s*\n)---\s*")]
    private static partial Regex Separator();

    /// <summary>Splits a YAML stream into its documents (Helm's SplitManifests), trimmed, empty ones dropped.</summary>
    public static List<string> Split(string text) =>
        Separator().Split(text.Trim()).Where(d => d.Length > 0).Select(d => d.Trim()).ToList();

    /// <summary>Sorts rendered files into hooks and ordinary objects, each sorted by kind for installing.</summary>
    /// <exception cref="Charts.ChartException">A document is not YAML (named by its template), or a hook's weight is not a number.</exception>
    public static (List<Hook> Hooks, List<ManifestEntry> Objects) Sort(IReadOnlyDictionary<string, string> files)
    {
        var hooks = new List<(Hook Hook, int Order)>();
        var objects = new List<ManifestEntry>();
        foreach (var (path, content) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (GoPath.Base(path).StartsWith('_') || content.Trim().Length == 0)
            {
                continue;
            }

            foreach (string doc in Split(content))
            {
                object? head;
                try
                {
                    head = GoYaml.Parse(doc);
                }
                catch (YamlDotNet.Core.YamlException e)
                {
                    throw new Charts.ChartException($"YAML parse error on {path}: error converting YAML to JSON: yaml: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}", e);
                }

                var map = head as IDictionary<string, object?>;
                var metadata = map?.TryGetValue("metadata", out var m) == true ? m as IDictionary<string, object?> : null;
                string kind = map?.TryGetValue("kind", out var k) == true ? Cast.Str(k) : "";
                string apiVersion = map?.TryGetValue("apiVersion", out var av) == true ? Cast.Str(av) : "";
                string name = metadata?.TryGetValue("name", out var n) == true ? Cast.Str(n) : "";
                string? ns = metadata?.TryGetValue("namespace", out var nsv) == true && nsv is not null ? Cast.Str(nsv) : null;
                var annotations = metadata?.TryGetValue("annotations", out var a) == true ? a as IDictionary<string, object?> : null;
                if (annotations?.TryGetValue("helm.sh/hook", out var hookValue) == true && hookValue is not null)
                {
                    var events = Cast.Str(hookValue).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                        .Select(e => e == "test-success" ? "test" : e).Where(e => HookEvents.Contains(e)).ToList();
                    if (events.Count == 0)
                    {
                        continue; // only unknown hook events: Helm drops the document
                    }

                    int weight = 0;
                    if (annotations.TryGetValue("helm.sh/hook-weight", out var w) && w is not null && !int.TryParse(Cast.Str(w), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out weight))
                    {
                        weight = 0;
                    }

                    var policies = annotations.TryGetValue("helm.sh/hook-delete-policy", out var p) && p is not null
                        ? Cast.Str(p).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList()
                        : [];
                    hooks.Add((new Hook { Name = name, Kind = kind, Path = path, Manifest = doc, Events = events, Weight = weight, DeletePolicies = policies }, hooks.Count));
                    continue;
                }

                objects.Add(new ManifestEntry(path, doc, apiVersion, kind, name, ns));
            }
        }

        var sortedObjects = objects.Select((o, i) => (o, i)).OrderBy(x => x.o, Comparer<ManifestEntry>.Create((a, b) => CompareKinds(a.Kind, b.Kind, InstallOrder))).ThenBy(x => x.i).Select(x => x.o).ToList();
        var sortedHooks = hooks.OrderBy(h => h.Hook, Comparer<Hook>.Create((a, b) => CompareKinds(a.Kind, b.Kind, InstallOrder))).ThenBy(h => h.Order).Select(h => h.Hook).ToList();
        return (sortedHooks, sortedObjects);
    }

    /// <summary>Kind order: known kinds by the list, unknown ones after them by name.</summary>
    public static int CompareKinds(string a, string b, string[] order)
    {
        int ia = Array.IndexOf(order, a), ib = Array.IndexOf(order, b);
        if (ia < 0 && ib < 0)
        {
            return string.CompareOrdinal(a, b);
        }

        if (ia < 0)
        {
            return 1;
        }

        return ib < 0 ? -1 : ia.CompareTo(ib);
    }

    /// <summary>The release manifest: "---\n# Source: FILE\nCONTENT\n" per object.</summary>
    public static string Join(IEnumerable<ManifestEntry> objects)
    {
        var sb = new StringBuilder();
        foreach (var o in objects)
        {
            sb.Append("---\n# Source: ").Append(o.Source).Append('\n').Append(o.Content).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The objects of a stored release manifest, back as entries.</summary>
    public static List<ManifestEntry> Parse(string manifest) =>
        Sort(Split(manifest).Select((d, i) => (d, i)).ToDictionary(x => SourceOf(x.d) + "#" + x.i.ToString("D6", CultureInfo.InvariantCulture), x => x.d, StringComparer.Ordinal)).Objects
            .Select(o => o with { Source = o.Source[..o.Source.LastIndexOf('#')] }).ToList();

    private static string SourceOf(string doc)
    {
        if (!doc.StartsWith("# Source: ", StringComparison.Ordinal))
        {
            return "";
        }

        int newline = doc.IndexOf('\n', StringComparison.Ordinal);
        return doc["# Source: ".Length..(newline > 0 ? newline : doc.Length)];
    }
}
