using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Containers.Orchestration.Storage;

/// <summary>
/// An <see cref="IObjectStore"/> that is another API server: reads, lists and watches are its REST API's (GET, LIST,
/// WATCH from a resourceVersion), writes are its POST, PUT (to the status subresource when the write is a status
/// write) and DELETE with the expected resourceVersion as precondition. It is how a machine that joined a cluster runs
/// the node-side parts (node agents, service proxy, pod routes) with the same code as a control-plane machine, talking
/// to the cluster as its node's user (client certificate): the API server authorizes every request (the Node
/// authorizer and RBAC) and runs its admission again. Revisions are the server's resourceVersions (etcd's revision, or
/// the embedded store's), so watches resume across a failover of the API server behind a virtual IP.
/// </summary>
public sealed class RemoteObjectStore : IObjectStore
{
    private readonly HttpClient http;
    private readonly Uri server;
    private long revision;

    /// <summary>A store over the API server at <paramref name="server"/>, reached through <paramref name="handler"/> (its TLS settings and client certificate).</summary>
    public RemoteObjectStore(Uri server, HttpMessageHandler handler)
    {
        ArgumentNullException.ThrowIfNull(server);
        this.server = server;
        http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>How long one request (not a watch) may take before it fails.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a broken watch is retried (the API server failing over, say) before the watch fails.</summary>
    public TimeSpan WatchRetryFor { get; init; } = TimeSpan.FromSeconds(60);

    /// <inheritdoc/>
    public long Revision => Volatile.Read(ref revision);

    /// <summary>Not kept: the objects are the API server's.</summary>
    public IReadOnlyList<string> Resources => [];

    /// <summary>Writes go to another API server, which may change what it stores (uids, defaults): callers read back what it answered.</summary>
    public bool Forwards => true;

    /// <inheritdoc/>
    public StoredObject? Get(ObjectKey key)
    {
        var (code, body) = Send(HttpMethod.Get, ItemPath(key), null);
        return code == HttpStatusCode.NotFound ? null : Stored(key, Expect(code, body, key));
    }

    /// <inheritdoc/>
    public (IReadOnlyList<StoredObject> Items, long Revision) List(string resource, string? ns = null)
    {
        var type = TypeOf(resource);
        var (code, body) = Send(HttpMethod.Get, CollectionPath(type, ns), null);
        var list = Expect(code, body, new ObjectKey(resource, ns, ""));
        long listRevision = Version(list);
        Bump(listRevision);
        var items = new List<StoredObject>();
        foreach (var item in Json.Items(list, "items"))
        {
            item["apiVersion"] ??= type.ApiVersion; // a list's items come without them
            item["kind"] ??= type.Kind;
            var bytes = Encoding.UTF8.GetBytes(item.ToJsonString());
            items.Add(new StoredObject(new ObjectKey(resource, type.Namespaced ? Json.Namespace(item) : null, Json.Name(item)), Version(item), bytes) { RevisionWritten = true });
        }

        return (items, listRevision);
    }

    /// <inheritdoc/>
    public StoredObject Create(ObjectKey key, ReadOnlyMemory<byte> json)
    {
        var obj = Parse(json);
        Json.Obj(obj, "metadata").Remove("resourceVersion");
        var (code, body) = Send(HttpMethod.Post, CollectionPath(TypeOf(key.Resource), key.Namespace), obj);
        if (code == HttpStatusCode.Conflict)
        {
            throw new StoreConflictException($"{key} already exists");
        }

        return Stored(key, Expect(code, body, key));
    }

    /// <inheritdoc/>
    public StoredObject Update(ObjectKey key, ReadOnlyMemory<byte> json, long? expectedRevision = null) => Update(key, json, expectedRevision, null);

    /// <summary>Replaces an object through the API server: the status subresource when <paramref name="subresource"/> says so, else the object.</summary>
    public StoredObject Update(ObjectKey key, ReadOnlyMemory<byte> json, long? expectedRevision, string? subresource)
    {
        var obj = Parse(json);
        var meta = Json.Obj(obj, "metadata");
        if (expectedRevision is { } expected)
        {
            meta["resourceVersion"] = expected.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            meta.Remove("resourceVersion");
        }

        string path = ItemPath(key) + (subresource == "status" && TypeOf(key.Resource).HasStatus ? "/status" : "");
        var (code, body) = Send(HttpMethod.Put, path, obj);
        return code switch
        {
            HttpStatusCode.Conflict => throw new StoreConflictException($"{key} changed since revision {expectedRevision}"),
            HttpStatusCode.NotFound => throw new StoreNotFoundException($"{key} not found"),
            _ => Stored(key, Expect(code, body, key)),
        };
    }

    /// <inheritdoc/>
    public StoredObject Delete(ObjectKey key, long? expectedRevision = null)
    {
        var options = new JsonObject { ["kind"] = "DeleteOptions", ["apiVersion"] = "v1", ["gracePeriodSeconds"] = 0 };
        if (expectedRevision is { } expected)
        {
            options["preconditions"] = new JsonObject { ["resourceVersion"] = expected.ToString(CultureInfo.InvariantCulture) };
        }

        var (code, body) = Send(HttpMethod.Delete, ItemPath(key), options);
        var answer = code switch
        {
            HttpStatusCode.Conflict => throw new StoreConflictException($"{key} changed since revision {expectedRevision}"),
            HttpStatusCode.NotFound => throw new StoreNotFoundException($"{key} not found"),
            _ => Expect(code, body, key),
        };
        if (Json.Str(answer, "kind") == "Status")
        {
            // an answer without the object: its last state is not known here, only its key
            answer = new JsonObject { ["metadata"] = new JsonObject { ["name"] = key.Name, ["namespace"] = key.Namespace, ["resourceVersion"] = Revision.ToString(CultureInfo.InvariantCulture) } };
        }

        return Stored(key, answer);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(string resource, string? ns, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var type = TypeOf(resource);
        long from = fromRevision;
        var brokenSince = (DateTime?)null;
        while (!cancellationToken.IsCancellationRequested)
        {
            HttpResponseMessage? response = null;
            try
            {
                var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server, CollectionPath(type, ns) + $"?watch=true&allowWatchBookmarks=true&resourceVersion={from.ToString(CultureInfo.InvariantCulture)}"));
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
            {
                response?.Dispose();
                response = null;
            }

            if (response is not null && response.StatusCode == HttpStatusCode.Gone)
            {
                response.Dispose();
                throw new StoreGoneException($"watch of {resource} from revision {from}: too old (410)");
            }

            if (response is { IsSuccessStatusCode: false })
            {
                string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                response.Dispose();
                if (status < 500)
                {
                    throw Failure(status, text, new ObjectKey(resource, ns, ""));
                }

                response = null;
            }

            if (response is not null)
            {
                using (response)
                {
                    brokenSince = null;
                    var lines = ReadLinesAsync(response, cancellationToken).GetAsyncEnumerator(cancellationToken);
                    await using (lines.ConfigureAwait(false))
                    {
                        while (true)
                        {
                            string? line;
                            try
                            {
                                line = await lines.MoveNextAsync().ConfigureAwait(false) ? lines.Current : null;
                            }
                            catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
                            {
                                line = null; // the connection broke: resumed below from the last revision seen
                            }

                            if (line is null)
                            {
                                break;
                            }

                            if (line.Length == 0 || JsonNode.Parse(line) is not JsonObject e2 || e2["object"] is not JsonObject obj)
                            {
                                continue;
                            }

                            string kind = Json.Str(e2, "type") ?? "";
                            if (kind == "ERROR")
                            {
                                if (Json.Int(obj, "code") == 410)
                                {
                                    throw new StoreGoneException($"watch of {resource} from revision {from}: {Json.Str(obj, "message")}");
                                }

                                break; // another error ends this stream: watched again from the last revision
                            }

                            long at = Version(obj);
                            from = Math.Max(from, at);
                            Bump(at);
                            if (kind == "BOOKMARK")
                            {
                                continue;
                            }

                            var type2 = kind switch { "ADDED" => WatchEventType.Added, "MODIFIED" => WatchEventType.Modified, "DELETED" => WatchEventType.Deleted, _ => (WatchEventType?)null };
                            if (type2 is { } t)
                            {
                                var key = new ObjectKey(resource, type.Namespaced ? Json.Namespace(obj) : null, Json.Name(obj));
                                yield return new WatchEvent(t, new StoredObject(key, at, Encoding.UTF8.GetBytes(obj.ToJsonString())) { RevisionWritten = true });
                            }
                        }
                    }
                }
            }

            brokenSince ??= DateTime.UtcNow;
            if (DateTime.UtcNow - brokenSince > WatchRetryFor)
            {
                throw new IOException($"the watch of {resource} on {server} broke and could not be resumed for {WatchRetryFor.TotalSeconds:0} s");
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }

    /// <summary>Not offered: the API server's own store compacts.</summary>
    public void Compact(long revision) => throw new NotSupportedException("the store behind another API server compacts on its own");

    /// <summary>Requests a service-account token bound to a pod (TokenRequest), as a node does for its pods' projected tokens; returns the token and its expiry.</summary>
    public (string Token, DateTimeOffset Expires) RequestToken(string ns, string account, long seconds, string? audience, JsonObject pod)
    {
        var spec = new JsonObject
        {
            ["expirationSeconds"] = seconds,
            ["boundObjectRef"] = new JsonObject { ["kind"] = "Pod", ["apiVersion"] = "v1", ["name"] = Json.Name(pod), ["uid"] = Json.Uid(pod) },
        };
        if (audience is { Length: > 0 })
        {
            spec["audiences"] = new JsonArray(audience);
        }

        var body = new JsonObject { ["apiVersion"] = "authentication.k8s.io/v1", ["kind"] = "TokenRequest", ["spec"] = spec };
        var (code, text) = Send(HttpMethod.Post, $"/api/v1/namespaces/{ns}/serviceaccounts/{account}/token", body);
        var answer = Expect(code, text, new ObjectKey("serviceaccounts", ns, account));
        return (Json.Str(answer, "status", "token") ?? "", Json.ParseTime(Json.Str(answer, "status", "expirationTimestamp")) ?? DateTimeOffset.UtcNow.AddSeconds(seconds));
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        http.Dispose();
        return ValueTask.CompletedTask;
    }

    private static async IAsyncEnumerable<string> ReadLinesAsync(HttpResponseMessage response, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            yield return line;
        }
    }

    private (HttpStatusCode Code, string Body) Send(HttpMethod method, string path, JsonObject? body)
    {
        using var request = new HttpRequestMessage(method, new Uri(server, path));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        using var timeout = new CancellationTokenSource(RequestTimeout);
        try
        {
            using var response = http.Send(request, timeout.Token);
            using var reader = new StreamReader(response.Content.ReadAsStream(timeout.Token), Encoding.UTF8);
            return (response.StatusCode, reader.ReadToEnd());
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            throw new ApiException(503, "ServiceUnavailable", $"the API server {server} did not answer {method} {path}: {e.Message}");
        }
    }

    private static JsonObject Expect(HttpStatusCode code, string body, ObjectKey key) =>
        (int)code is >= 200 and < 300 && JsonNode.Parse(body) is JsonObject o ? o : throw Failure((int)code, body, key);

    private static ApiException Failure(int code, string body, ObjectKey key)
    {
        JsonObject? status = null;
        try
        {
            status = JsonNode.Parse(body) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
        }

        return new ApiException(code, Json.Str(status, "reason") ?? ((HttpStatusCode)code).ToString(), Json.Str(status, "message") ?? $"{key}: HTTP {code} {body}");
    }

    private StoredObject Stored(ObjectKey key, JsonObject obj)
    {
        long at = Version(obj);
        Bump(at);
        return new StoredObject(key, at, Encoding.UTF8.GetBytes(obj.ToJsonString())) { RevisionWritten = Json.Has(obj, "metadata", "resourceVersion") };
    }

    private void Bump(long at)
    {
        long seen;
        while (at > (seen = Volatile.Read(ref revision)) && Interlocked.CompareExchange(ref revision, at, seen) != seen)
        {
        }
    }

    private static long Version(JsonNode obj) => long.TryParse(Json.Str(obj, "metadata", "resourceVersion"), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : 0;

    private static JsonObject Parse(ReadOnlyMemory<byte> json) => JsonNode.Parse(json.Span) as JsonObject ?? throw new ArgumentException("not a JSON object", nameof(json));

    private static ResourceType TypeOf(string resource) =>
        ResourceType.Stores.FirstOrDefault(t => t.StoreName == resource) ?? throw new ArgumentException($"no resource {resource}", nameof(resource));

    private static string CollectionPath(ResourceType type, string? ns)
    {
        string root = type.Group.Length == 0 ? "/api/v1" : $"/apis/{type.Group}/{type.Version}";
        return type.Namespaced && ns is not null ? $"{root}/namespaces/{Uri.EscapeDataString(ns)}/{type.Plural}" : $"{root}/{type.Plural}";
    }

    private static string ItemPath(ObjectKey key) => CollectionPath(TypeOf(key.Resource), key.Namespace) + "/" + Uri.EscapeDataString(key.Name);
}
