using System.Text;
using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>Reading requests and writing answers as kube-apiserver does: JSON (or YAML, or protobuf) bodies, Status errors, Table output, warnings.</summary>
internal static class ApiHttp
{
    /// <summary>Writes <paramref name="body"/> as JSON with <paramref name="code"/>.</summary>
    public static async Task WriteAsync(HttpContext http, int code, JsonNode body)
    {
        http.Response.StatusCode = code;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(Json.Bytes(body), http.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Writes one object, or its Table when the client asked for one (<c>kubectl get</c>).</summary>
    public static async Task WriteObjectAsync(HttpContext http, ObjectApi api, ResourceType type, JsonObject obj)
    {
        if (WantsTable(http))
        {
            await WriteAsync(http, 200, Tables.Build(type, [obj], Json.Str(obj, "metadata", "resourceVersion"), api.Time.GetUtcNow(), http.Request.Query["includeObject"] == "Object")).ConfigureAwait(false);
            return;
        }

        await WriteAsync(http, 200, obj).ConfigureAwait(false);
    }

    /// <summary>
    /// A boolean query parameter as kube-apiserver parses one (Go's strconv.ParseBool): 1, t, T, TRUE, true and True
    /// are true; 0, f, F, FALSE, false, False and absence are false; anything else is a 400 naming the parameter.
    /// KubernetesClient sends <c>stdout=1</c>, kubectl <c>stdout=true</c>.
    /// </summary>
    public static bool Flag(HttpContext http, string name) => http.Request.Query[name].FirstOrDefault() switch
    {
        null or "" => false,
        "1" or "t" or "T" or "TRUE" or "true" or "True" => true,
        "0" or "f" or "F" or "FALSE" or "false" or "False" => false,
        var other => throw ApiException.BadRequest($"{name}: invalid boolean value \"{other}\""),
    };

    /// <summary>Whether the client asked for server-side printing.</summary>
    public static bool WantsTable(HttpContext http) =>
        http.Request.Headers.Accept.ToString().Contains("as=Table", StringComparison.Ordinal);

    /// <summary>Refuses a body of another kind than the URL's (400).</summary>
    public static void CheckKind(ResourceType type, JsonObject body)
    {
        if (Json.Str(body, "kind") is { } kind && kind != type.Kind)
        {
            throw ApiException.BadRequest($"the body is a {kind}, not a {type.Kind}");
        }
    }

    /// <summary>The DeleteOptions of a DELETE: its body, else the query.</summary>
    public static async Task<DeleteOptions> DeleteOptionsAsync(HttpContext http)
    {
        var bytes = await ReadBytesAsync(http).ConfigureAwait(false);
        var body = bytes.Length > 0 ? Json.Parse(bytes) : null;
        return ParseDeleteOptions(body, http);
    }

    /// <summary>DeleteOptions from a body (null: none) and the query (gracePeriodSeconds, propagationPolicy, orphanDependents, dryRun).</summary>
    public static DeleteOptions ParseDeleteOptions(JsonObject? body, HttpContext http)
    {
        var q = http.Request.Query;
        long? grace = Json.Int(body, "gracePeriodSeconds") ?? (long.TryParse(q["gracePeriodSeconds"], out long g) ? g : null);
        string? policy = Json.Str(body, "propagationPolicy") ?? q["propagationPolicy"].FirstOrDefault();
        if (Json.Bool(body, "orphanDependents") == true || Flag(http, "orphanDependents"))
        {
            policy = "Orphan";
        }

        bool dryRun = q["dryRun"].Count > 0 || Json.At(body, "dryRun") is JsonArray { Count: > 0 };
        return new DeleteOptions(grace, policy, Json.Str(body, "preconditions", "uid"), dryRun, Json.Str(body, "preconditions", "resourceVersion"));
    }

    /// <summary>The request's body; 415 for protobuf (unless <paramref name="protobuf"/>) and CBOR.</summary>
    public static async Task<byte[]> ReadBytesAsync(HttpContext http, bool protobuf = false)
    {
        if ((!protobuf && http.Request.ContentType?.Contains("protobuf", StringComparison.Ordinal) == true) || http.Request.ContentType?.Contains("cbor", StringComparison.Ordinal) == true)
        {
            throw new ApiException(415, "UnsupportedMediaType", $"the body's media type \"{http.Request.ContentType}\" is not supported here: send application/json");
        }

        using var ms = new MemoryStream();
        await http.Request.Body.CopyToAsync(ms, http.RequestAborted).ConfigureAwait(false);
        return ms.ToArray();
    }

    /// <summary>The request's body as an object: JSON, YAML or Kubernetes' protobuf.</summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpContext http)
    {
        bool protobuf = Protobuf.Is(http.Request.ContentType);
        var bytes = await ReadBytesAsync(http, protobuf).ConfigureAwait(false);
        if (bytes.Length == 0)
        {
            throw ApiException.BadRequest("the request has no body");
        }

        if (protobuf)
        {
            return Protobuf.Decode(bytes);
        }

        if (http.Request.ContentType?.Contains("yaml", StringComparison.Ordinal) == true)
        {
            return Manifests.ParseDocuments(Encoding.UTF8.GetString(bytes), "request body").FirstOrDefault()
                ?? throw ApiException.BadRequest("the request has no body");
        }

        return Json.Parse(bytes);
    }

    /// <summary>Reports dropped unknown fields as kube-apiserver does: a <c>Warning: 299 - "unknown field \"path\""</c> header each (kubectl prints them).</summary>
    public static void Warn(HttpContext http, IReadOnlyList<string> unknown)
    {
        foreach (var field in unknown)
        {
            http.Response.Headers.Append("Warning", $"299 - \"unknown field \\\"{field}\\\"\"");
        }
    }

    /// <summary>The Status of a request for a path nothing serves.</summary>
    public static ApiException NotServed() => new(404, "NotFound", "the server could not find the requested resource");
}

/// <summary>
/// What a resource URL names, from its route values: <c>/api/{version}</c> or <c>/apis/{group}/{version}</c>, then
/// <c>[namespaces/{namespace}/]{resource}[/{name}[/{subresource}]]</c>.
/// </summary>
/// <param name="Type">The kind.</param>
/// <param name="Namespace">The namespace of the URL (null for cluster-scoped kinds and for lists across namespaces).</param>
/// <param name="Name">The object's name (null for the collection).</param>
/// <param name="Subresource">The subresource (status, scale, log), or null.</param>
internal sealed record ResourceRoute(ResourceType Type, string? Namespace, string? Name, string? Subresource)
{
    /// <summary>The route's resource, or 404 when nothing is served there.</summary>
    public static ResourceRoute Of(HttpContext http)
    {
        var values = http.Request.RouteValues;
        string group = values["group"] as string ?? "";
        string version = values["version"] as string ?? "";
        string resource = values["resource"] as string ?? "";
        string? ns = values["namespace"] as string, name = values["name"] as string, sub = values["subresource"] as string;
        if (ns is not null && ResourceType.Find(group, resource) is not { Namespaced: true })
        {
            // namespaces/{name}/{subresource}: the namespace itself (its status, its finalize)
            if (name is not null)
            {
                throw ApiHttp.NotServed();
            }

            (resource, name, sub, ns) = (ResourceType.Namespaces.Plural, ns, resource, null);
        }

        var type = ResourceType.Find(group, version, resource) ?? throw ApiHttp.NotServed();

        return new ResourceRoute(type, ns, name, sub);
    }
}
