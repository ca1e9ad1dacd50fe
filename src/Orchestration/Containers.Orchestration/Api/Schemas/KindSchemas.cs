using System.IO.Compression;

namespace Containers.Orchestration.Api;

/// <summary>
/// The OpenAPI v3 schemas of the kinds (field names, types and descriptions), derived at build time from the
/// KubernetesClient package's models and XML documentation (see Containers.Orchestration.SchemaGen) and embedded
/// gzipped: the one source the OpenAPI documents, <c>kubectl explain</c> and <see cref="FieldSchema"/> are made from.
/// Parsed once, on first use, into a read-only document (safe to read from any thread).
/// </summary>
internal static class KindSchemas
{
    private static readonly Lazy<JsonElement> All = new(Load);
    private static readonly Lazy<Dictionary<(string Group, string Version, string Kind), string>> ByKind = new(() =>
    {
        var result = new Dictionary<(string, string, string), string>();
        foreach (var schema in All.Value.EnumerateObject())
        {
            if (schema.Value.TryGetProperty("x-kubernetes-group-version-kind", out var gvks))
            {
                foreach (var gvk in gvks.EnumerateArray())
                {
                    result[(gvk.GetProperty("group").GetString()!, gvk.GetProperty("version").GetString()!, gvk.GetProperty("kind").GetString()!)] = schema.Name;
                }
            }
        }

        return result;
    });

    /// <summary>Every schema, by definition name (io.k8s.api.core.v1.Pod).</summary>
    public static JsonElement Schemas => All.Value;

    /// <summary>The definition name of <paramref name="type"/>'s schema, or null when the models have none.</summary>
    public static string? NameOf(ResourceType type) => ByKind.Value.GetValueOrDefault((type.Group, type.Version, type.Kind));

    /// <summary>The definition a property refers to (its <c>$ref</c>, direct or under <c>allOf</c>), or null for a scalar, array or map.</summary>
    public static string? RefOf(JsonElement property)
    {
        string? reference = null;
        if (property.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (property.TryGetProperty("$ref", out var direct))
        {
            reference = direct.GetString();
        }
        else if (property.TryGetProperty("allOf", out var allOf))
        {
            reference = allOf.EnumerateArray().Select(r => r.TryGetProperty("$ref", out var x) ? x.GetString() : null).FirstOrDefault(r => r is not null);
        }

        return reference?[(reference.LastIndexOf('/') + 1)..];
    }

    private static JsonElement Load()
    {
        using var resource = typeof(KindSchemas).Assembly.GetManifestResourceStream("kubernetes-schemas.json.gz")
            ?? throw new InvalidOperationException("the embedded Kubernetes schemas are missing from Containers.Orchestration (kubernetes-schemas.json.gz)");
        using var gzip = new GZipStream(resource, CompressionMode.Decompress);
        var all = JsonNode.Parse(gzip)!.AsObject();

        // the CSI snapshot API's kinds are CRDs in Kubernetes (external-snapshotter), not in the client's models: their
        // schemas, as those CRDs give them, are embedded beside
        using var snapshots = typeof(KindSchemas).Assembly.GetManifestResourceStream("snapshot-schemas.json")
            ?? throw new InvalidOperationException("the embedded snapshot schemas are missing from Containers.Orchestration (snapshot-schemas.json)");
        foreach (var (name, schema) in JsonNode.Parse(snapshots)!.AsObject().ToList())
        {
            all[name] = schema?.DeepClone();
        }

        return JsonDocument.Parse(all.ToJsonString()).RootElement; // kept for the process's life
    }
}
