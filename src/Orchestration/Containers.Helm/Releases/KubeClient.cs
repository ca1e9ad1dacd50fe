using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Containers.Helm.Releases;

/// <summary>
/// What Helm needs of a cluster, over its HTTP API (as Helm uses client-go): discovery of kinds, get, list, create,
/// server-side apply, delete and the version; errors keep the API server's status and message.
/// </summary>
public sealed class KubeClient : IDisposable
{
    private readonly HttpClient http;
    private readonly string baseUrl;
    private readonly SemaphoreSlim discoveryLock = new(1, 1);
    private Dictionary<string, (string Resource, bool Namespaced)>? kinds;

    /// <summary>A client for the API at <paramref name="baseUrl"/> (the HttpClient carries the credentials).</summary>
    public KubeClient(HttpClient http, string baseUrl)
    {
        this.http = http;
        this.baseUrl = baseUrl.TrimEnd('/');
    }

    /// <summary>The cluster's version (gitVersion, such as v1.32.0).</summary>
    public async Task<string> VersionAsync(CancellationToken ct)
    {
        var doc = await SendAsync(HttpMethod.Get, "/version", null, null, ct).ConfigureAwait(false);
        return (string?)doc?["gitVersion"] ?? "v1.32.0";
    }

    /// <summary>Every group/version and group/version/kind the cluster serves (for .Capabilities.APIVersions).</summary>
    public async Task<IReadOnlyCollection<string>> ApiVersionsAsync(CancellationToken ct)
    {
        var known = await KindsAsync(ct).ConfigureAwait(false);
        var versions = new HashSet<string>(StringComparer.Ordinal);
        foreach (string key in known.Keys)
        {
            int slash = key.LastIndexOf('/');
            versions.Add(key[..slash]);
            versions.Add(key);
        }

        return versions;
    }

    /// <summary>Whether a kind is namespaced; throws when the cluster does not serve it.</summary>
    /// <exception cref="KubeException">The kind is not served (as kubectl's "no matches for kind").</exception>
    public async Task<bool> IsNamespacedAsync(string apiVersion, string kind, CancellationToken ct) =>
        (await ResolveAsync(apiVersion, kind, ct).ConfigureAwait(false)).Namespaced;

    private async Task<Dictionary<string, (string Resource, bool Namespaced)>> KindsAsync(CancellationToken ct, bool refresh = false)
    {
        await discoveryLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (kinds is not null && !refresh)
            {
                return kinds;
            }

            var found = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
            var versions = new List<string> { "v1" };
            var groups = await SendAsync(HttpMethod.Get, "/apis", null, null, ct).ConfigureAwait(false);
            foreach (var group in groups?["groups"]?.AsArray() ?? [])
            {
                foreach (var v in group?["versions"]?.AsArray() ?? [])
                {
                    versions.Add((string)v!["groupVersion"]!);
                }
            }

            foreach (string gv in versions)
            {
                var list = await SendAsync(HttpMethod.Get, gv == "v1" ? "/api/v1" : "/apis/" + gv, null, null, ct).ConfigureAwait(false);
                foreach (var r in list?["resources"]?.AsArray() ?? [])
                {
                    string name = (string)r!["name"]!;
                    if (name.Contains('/', StringComparison.Ordinal))
                    {
                        continue;
                    }

                    found[gv + "/" + (string)r["kind"]!] = (name, (bool?)r["namespaced"] ?? false);
                }
            }

            kinds = found;
            return found;
        }
        finally
        {
            discoveryLock.Release();
        }
    }

    private async Task<(string Resource, bool Namespaced)> ResolveAsync(string apiVersion, string kind, CancellationToken ct)
    {
        var known = await KindsAsync(ct).ConfigureAwait(false);
        if (known.TryGetValue(apiVersion + "/" + kind, out var hit))
        {
            return hit;
        }

        // a CRD installed moments ago: look again once
        known = await KindsAsync(ct, refresh: true).ConfigureAwait(false);
        return known.TryGetValue(apiVersion + "/" + kind, out hit) ? hit
            : throw new KubeException(404, $"resource mapping not found for kind \"{kind}\" in version \"{apiVersion}\": ensure CRDs are installed first");
    }

    private async Task<string> PathAsync(string apiVersion, string kind, string? ns, string? name, CancellationToken ct)
    {
        var (resource, namespaced) = await ResolveAsync(apiVersion, kind, ct).ConfigureAwait(false);
        var sb = new StringBuilder(apiVersion.Contains('/', StringComparison.Ordinal) ? "/apis/" + apiVersion : "/api/" + apiVersion);
        if (namespaced && !string.IsNullOrEmpty(ns))
        {
            sb.Append("/namespaces/").Append(Uri.EscapeDataString(ns));
        }

        sb.Append('/').Append(resource);
        if (name is not null)
        {
            sb.Append('/').Append(Uri.EscapeDataString(name));
        }

        return sb.ToString();
    }

    /// <summary>The object, or null when it does not exist.</summary>
    public async Task<JsonObject?> GetAsync(string apiVersion, string kind, string? ns, string name, CancellationToken ct)
    {
        try
        {
            return await SendAsync(HttpMethod.Get, await PathAsync(apiVersion, kind, ns, name, ct).ConfigureAwait(false), null, null, ct).ConfigureAwait(false);
        }
        catch (KubeException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The objects of a kind (in <paramref name="ns"/>, or everywhere when null), optionally by label selector.</summary>
    public async Task<List<JsonObject>> ListAsync(string apiVersion, string kind, string? ns, string? labelSelector, CancellationToken ct)
    {
        string path = await PathAsync(apiVersion, kind, ns, null, ct).ConfigureAwait(false);
        if (labelSelector is not null)
        {
            path += "?labelSelector=" + Uri.EscapeDataString(labelSelector);
        }

        var list = await SendAsync(HttpMethod.Get, path, null, null, ct).ConfigureAwait(false);
        return (list?["items"]?.AsArray() ?? []).OfType<JsonObject>().Select(o =>
        {
            o["apiVersion"] ??= apiVersion;
            o["kind"] ??= kind;
            return o;
        }).ToList();
    }

    /// <summary>Creates the object.</summary>
    /// <exception cref="KubeException">The API refused it (409 when it exists).</exception>
    public async Task<JsonObject> CreateAsync(JsonObject obj, string? ns, CancellationToken ct)
    {
        var (apiVersion, kind, _) = Identity(obj);
        string path = await PathAsync(apiVersion, kind, ns, null, ct).ConfigureAwait(false);
        return (await SendAsync(HttpMethod.Post, path, obj.ToJsonString(), "application/json", ct).ConfigureAwait(false))!;
    }

    /// <summary>Replaces the object (PUT; the object carries the resourceVersion it read).</summary>
    public async Task<JsonObject> UpdateAsync(JsonObject obj, string? ns, CancellationToken ct)
    {
        var (apiVersion, kind, name) = Identity(obj);
        string path = await PathAsync(apiVersion, kind, ns, name, ct).ConfigureAwait(false);
        return (await SendAsync(HttpMethod.Put, path, obj.ToJsonString(), "application/json", ct).ConfigureAwait(false))!;
    }

    /// <summary>Server-side apply as field manager <paramref name="manager"/>, forcing conflicts (creates when absent).</summary>
    public async Task<JsonObject> ApplyAsync(JsonObject obj, string? ns, string manager, CancellationToken ct)
    {
        var (apiVersion, kind, name) = Identity(obj);
        string path = await PathAsync(apiVersion, kind, ns, name, ct).ConfigureAwait(false) + "?fieldManager=" + Uri.EscapeDataString(manager) + "&force=true";
        return (await SendAsync(HttpMethod.Patch, path, obj.ToJsonString(), "application/apply-patch+yaml", ct).ConfigureAwait(false))!;
    }

    /// <summary>Deletes the object (background propagation); false when it was not there.</summary>
    public async Task<bool> DeleteAsync(string apiVersion, string kind, string? ns, string name, CancellationToken ct, string propagation = "Background")
    {
        try
        {
            string path = await PathAsync(apiVersion, kind, ns, name, ct).ConfigureAwait(false);
            await SendAsync(HttpMethod.Delete, path, new JsonObject { ["kind"] = "DeleteOptions", ["apiVersion"] = "v1", ["propagationPolicy"] = propagation }.ToJsonString(), "application/json", ct).ConfigureAwait(false);
            return true;
        }
        catch (KubeException e) when (e.Status == 404)
        {
            return false;
        }
    }

    private static (string ApiVersion, string Kind, string Name) Identity(JsonObject obj) =>
        ((string?)obj["apiVersion"] ?? throw new KubeException(400, "object has no apiVersion"), (string?)obj["kind"] ?? throw new KubeException(400, "object has no kind"), (string?)obj["metadata"]?["name"] ?? "");

    private async Task<JsonObject?> SendAsync(HttpMethod method, string path, string? body, string? contentType, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, baseUrl + path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType!);
        }

        using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
        string text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            string message = text;
            try
            {
                message = (string?)JsonNode.Parse(text)?["message"] ?? text;
            }
            catch (System.Text.Json.JsonException)
            {
            }

            throw new KubeException((int)response.StatusCode, message.Length == 0 ? response.StatusCode.ToString() : message);
        }

        return text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        http.Dispose();
        discoveryLock.Dispose();
    }
}

/// <summary>The API server refused a request: its HTTP status and message.</summary>
public sealed class KubeException(int status, string message) : Exception(message)
{
    /// <summary>The HTTP status (404 not found, 409 conflict or exists, 422 invalid).</summary>
    public int Status { get; } = status;

    /// <summary>Whether it says the object already exists or changed meanwhile.</summary>
    public bool IsConflict => Status == (int)HttpStatusCode.Conflict;
}
