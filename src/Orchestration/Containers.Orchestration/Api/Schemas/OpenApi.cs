using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Containers.Orchestration.Api;

/// <summary>
/// The OpenAPI documents kubectl reads: v3 per group version (<c>/openapi/v3/apis/apps/v1</c>) with an operation per
/// kind tagged with its x-kubernetes-group-version-kind and declaring <c>fieldValidation</c> (so kubectl hands
/// validation to the server), and the kinds' schemas from <see cref="KindSchemas"/> (so <c>kubectl explain</c> works);
/// and v2 (<c>/openapi/v2</c>, JSON) with the same schemas as definitions. Each document is built once and served as
/// bytes; its hash in the v3 index changes when it does.
/// </summary>
internal static class OpenApi
{
    private static readonly ConcurrentDictionary<string, Lazy<byte[]?>> Documents = new(StringComparer.Ordinal);
    private static readonly Lazy<byte[]> V2 = new(BuildV2);
    private static readonly Lazy<byte[]> IndexBytes = new(() => System.Text.Encoding.UTF8.GetBytes(Index().ToJsonString()));

    private static IEnumerable<(string Path, string Group, string Version)> GroupVersions() =>
        new[] { ("api/v1", "", "v1") }.Concat(ResourceType.All.Where(t => t.Group.Length > 0).Select(t => (t.Group, t.Version)).Distinct()
            .Select(gv => ($"apis/{gv.Group}/{gv.Version}", gv.Group, gv.Version)));

    /// <summary>The v3 index: each group version's document with its hash.</summary>
    public static JsonObject Index()
    {
        var paths = new JsonObject();
        foreach (var (path, _, _) in GroupVersions())
        {
            string hash = Convert.ToHexString(SHA256.HashData(Document(path)!))[..16];
            paths[path] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{path}?hash={hash}" };
        }

        return new JsonObject { ["paths"] = paths };
    }

    /// <summary>The v3 index as served: made once (the documents, and so their hashes, do not change while the process runs).</summary>
    public static byte[] IndexJson() => IndexBytes.Value;

    /// <summary>The v3 document of a group version (api/v1, apis/apps/v1), or null when none is served.</summary>
    public static byte[]? Document(string groupVersion) =>
        Documents.GetOrAdd(groupVersion, gv => new Lazy<byte[]?>(() => BuildV3(gv))).Value;

    /// <summary>The v2 (swagger 2.0) document: every kind's schema as a definition.</summary>
    public static byte[] Swagger() => V2.Value;

    private static byte[]? BuildV3(string groupVersion)
    {
        var gv = GroupVersions().FirstOrDefault(g => g.Path == groupVersion);
        if (gv.Path is null)
        {
            return null;
        }

        var paths = new JsonObject();
        foreach (var t in ResourceType.All.Where(t => t.Group == gv.Group && t.Version == gv.Version))
        {
            string prefix = gv.Group.Length == 0 ? "/api/v1" : $"/apis/{gv.Group}/{gv.Version}";
            string path = t.Namespaced ? $"{prefix}/namespaces/{{namespace}}/{t.Plural}/{{name}}" : $"{prefix}/{t.Plural}/{{name}}";
            var response = KindSchemas.NameOf(t) is { } schema
                ? new JsonObject { ["description"] = "OK", ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = "#/components/schemas/" + schema } } } }
                : new JsonObject { ["description"] = "OK" };
            paths[path] = new JsonObject
            {
                ["get"] = Operation("read", t, [], (JsonObject)response.DeepClone()),
                ["patch"] = Operation("patch", t, ["fieldValidation", "dryRun", "fieldManager"], response),
            };
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("openapi", "3.0.0");
            w.WritePropertyName("info");
            Info().WriteTo(w);
            w.WritePropertyName("paths");
            paths.WriteTo(w);
            w.WriteStartObject("components");
            w.WritePropertyName("schemas");
            KindSchemas.Schemas.WriteTo(w);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static JsonObject Operation(string verb, ResourceType t, string[] query, JsonObject ok) => new()
    {
        ["operationId"] = $"{verb}{t.Kind}",
        ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind },
        ["parameters"] = new JsonArray([.. query.Select(q => (JsonNode)new JsonObject { ["name"] = q, ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } })]),
        ["responses"] = new JsonObject { ["200"] = ok },
    };

    private static JsonObject Info() => new() { ["title"] = "Kubernetes (containers-dotnet)", ["version"] = KubeApiServer.KubernetesVersion };

    private static byte[] BuildV2()
    {
        // the same schemas, their references pointing at #/definitions/
        string definitions = KindSchemas.Schemas.GetRawText().Replace("#/components/schemas/", "#/definitions/", StringComparison.Ordinal);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("swagger", "2.0");
            w.WritePropertyName("info");
            Info().WriteTo(w);
            w.WriteStartObject("paths");
            w.WriteEndObject();
            w.WritePropertyName("definitions");
            w.WriteRawValue(definitions, skipInputValidation: true);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
