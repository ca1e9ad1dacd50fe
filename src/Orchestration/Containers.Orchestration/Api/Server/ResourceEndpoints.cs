using Containers.Orchestration.Api.Kinds;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Containers.Orchestration.Api;

/// <summary>
/// The generic REST verbs on every kind served: get, list (or watch), create, update, patch, delete and
/// deletecollection, the status and scale subresources, and the subresources a kind's strategy declares that write
/// through the store (pods/eviction). Streams (logs, exec, attach, port-forward) are <see cref="PodStreamEndpoints"/>.
/// </summary>
internal sealed class ResourceEndpoints(ObjectApi api, ReviewEndpoints? reviews)
{
    /// <summary>The resource URLs, for the core group (<c>/api/{version}</c>) and the named groups (<c>/apis/{group}/{version}</c>).</summary>
    public static readonly string[] Patterns =
    [
        "/api/{version}/namespaces/{namespace}/{resource}/{name?}/{subresource?}",
        "/api/{version}/{resource}/{name?}/{subresource?}",
        "/apis/{group}/{version}/namespaces/{namespace}/{resource}/{name?}/{subresource?}",
        "/apis/{group}/{version}/{resource}/{name?}/{subresource?}",
    ];

    /// <summary>Maps the resource routes.</summary>
    public void Map(IEndpointRouteBuilder app)
    {
        var watch = new WatchEndpoint(api);
        foreach (string pattern in Patterns)
        {
            app.Map(pattern, http =>
            {
                var route = ResourceRoute.Of(http);
                if (route.Type.Stored is not null)
                {
                    return ConvertedEndpoints.ServeAsync(http, api, route, watch); // an older version, converted
                }

                return route.Name is null ? CollectionAsync(http, route, watch) : ItemAsync(http, route);
            });
        }
    }

    private async Task CollectionAsync(HttpContext http, ResourceRoute route, WatchEndpoint watch)
    {
        var (type, ns, _, _) = route;
        var q = http.Request.Query;
        if (type.Strategy is MetricsStrategy && http.Request.Method == "GET")
        {
            var selector = LabelSelector.Parse(q["labelSelector"]);
            var items = type == MetricsStrategy.Pods
                ? api.Metrics.Pods(ns).Select(s => (s, Source: api.Unchecked.TryGet(ResourceType.Pods, s.Namespace, s.Name))).Where(x => x.Source is not null && selector.Matches(x.Source))
                    .OrderBy(x => x.s.Namespace, StringComparer.Ordinal).ThenBy(x => x.s.Name, StringComparer.Ordinal).Select(x => MetricsStrategy.Of(x.s, x.Source))
                : api.Metrics.Nodes().Select(s => (s, Source: api.Unchecked.TryGet(ResourceType.Nodes, null, s.Name))).Where(x => x.Source is not null && selector.Matches(x.Source))
                    .OrderBy(x => x.s.Name, StringComparer.Ordinal).Select(x => MetricsStrategy.Of(x.s, x.Source));
            await ApiHttp.WriteAsync(http, 200, MetricsStrategy.List(type, items)).ConfigureAwait(false);
            return;
        }

        if (type.Strategy.Virtual)
        {
            if (http.Request.Method != "POST" || reviews is null)
            {
                throw new ApiException(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
            }

            await reviews.ReviewAsync(http, type, ns, await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false)).ConfigureAwait(false);
            return;
        }

        switch (http.Request.Method)
        {
            case "GET" when ApiHttp.Flag(http, "watch"):
                await watch.ServeAsync(http, type, ns).ConfigureAwait(false);
                return;
            case "GET":
            {
                var (items, revision) = api.List(type, ns, LabelSelector.Parse(q["labelSelector"]), FieldSelector.Parse(q["fieldSelector"]));
                string rv = revision.ToString(CultureInfo.InvariantCulture);
                if (ApiHttp.WantsTable(http))
                {
                    await ApiHttp.WriteAsync(http, 200, Tables.Build(type, items, rv, api.Time.GetUtcNow(), q["includeObject"] == "Object")).ConfigureAwait(false);
                    return;
                }

                await ApiHttp.WriteAsync(http, 200, List(type, rv, new JsonArray([.. items]))).ConfigureAwait(false);
                return;
            }

            case "POST":
            {
                var body = await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false);
                ApiHttp.CheckKind(type, body);
                ApiHttp.Warn(http, FieldSchema.Enforce(type, body, FieldSchema.ParseMode(q["fieldValidation"])));
                reviews?.GuardRbacWrite(http, type, type.Namespaced ? ns ?? "default" : ns, body);
                if (type == Kinds.CertificateSigningRequestStrategy.Type)
                {
                    Kinds.CertificateSigningRequestStrategy.SetRequester(body, Authentication.User(http));
                }

                var created = api.Create(type, type.Namespaced ? ns ?? "default" : ns, body, DryRun(http), Manager(http));
                await ApiHttp.WriteAsync(http, 201, created).ConfigureAwait(false);
                return;
            }

            case "DELETE" when type.Strategy.DeleteCollection:
            {
                var options = await ApiHttp.DeleteOptionsAsync(http).ConfigureAwait(false);
                var (items, revision) = api.List(type, ns, LabelSelector.Parse(q["labelSelector"]), FieldSelector.Parse(q["fieldSelector"]));
                var deleted = new JsonArray();
                foreach (var item in items)
                {
                    try
                    {
                        deleted.Add((JsonNode)api.Delete(type, Json.Namespace(item), Json.Name(item), options).Object);
                    }
                    catch (ApiException e) when (e.Code == 404)
                    {
                    }
                }

                await ApiHttp.WriteAsync(http, 200, List(type, revision.ToString(CultureInfo.InvariantCulture), deleted)).ConfigureAwait(false);
                return;
            }
        }

        throw new ApiException(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
    }

    private static JsonObject List(ResourceType type, string resourceVersion, JsonArray items) => new()
    {
        ["kind"] = type.Kind + "List",
        ["apiVersion"] = type.ApiVersion,
        ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion },
        ["items"] = items,
    };

    private static bool DryRun(HttpContext http) => http.Request.Query["dryRun"].Count > 0;

    /// <summary>Who writes, for managedFields: the fieldManager parameter, else the client's user agent up to its first '/' (as kube-apiserver names managers).</summary>
    private static string? Manager(HttpContext http)
    {
        if (http.Request.Query["fieldManager"].FirstOrDefault() is { Length: > 0 } manager)
        {
            return manager;
        }

        string agent = http.Request.Headers.UserAgent.ToString();
        int slash = agent.IndexOf('/', StringComparison.Ordinal);
        string prefix = (slash < 0 ? agent : agent[..slash]).Trim();
        return prefix.Length == 0 ? null : prefix[..Math.Min(prefix.Length, 128)];
    }

    private async Task ItemAsync(HttpContext http, ResourceRoute route)
    {
        var (type, ns, name, sub) = route;
        string n = name!;
        var q = http.Request.Query;
        bool dryRun = DryRun(http);
        if (sub is not null && type.Strategy.WritesMainResource(sub))
        {
            sub = null;
        }

        if (type.Strategy is MetricsStrategy)
        {
            var metrics = http.Request.Method != "GET" || sub is not null
                ? throw new ApiException(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
                : type == MetricsStrategy.Pods
                    ? api.Metrics.Pod(ns ?? "default", n) is { } p ? MetricsStrategy.Of(p, api.Unchecked.TryGet(ResourceType.Pods, p.Namespace, p.Name)) : null
                    : api.Metrics.Node(n) is { } node ? MetricsStrategy.Of(node, api.Unchecked.TryGet(ResourceType.Nodes, null, n)) : null;
            await ApiHttp.WriteAsync(http, 200, metrics ?? throw ApiException.NotFound(type, n)).ConfigureAwait(false);
            return;
        }

        switch (http.Request.Method, sub)
        {
            case ("GET", null):
            case ("GET", "status") when type.HasStatus:
                await ApiHttp.WriteObjectAsync(http, api, type, api.Get(type, ns, n)).ConfigureAwait(false);
                return;
            case ("GET", "scale") when type.HasScale:
                await ApiHttp.WriteAsync(http, 200, api.GetScale(type, ns, n)).ConfigureAwait(false);
                return;
            case ("PUT", "scale") when type.HasScale:
                await ApiHttp.WriteAsync(http, 200, api.UpdateScale(type, ns, n, await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false))).ConfigureAwait(false);
                return;
            case ("PATCH", "scale") when type.HasScale:
                api.Patch(type, ns, n, http.Request.ContentType ?? "", await ApiHttp.ReadBytesAsync(http).ConfigureAwait(false), "scale", dryRun);
                await ApiHttp.WriteAsync(http, 200, api.GetScale(type, ns, n)).ConfigureAwait(false);
                return;
            case ("PUT", null):
            case ("PUT", "status") when type.HasStatus:
            case ("PUT", "approval") when type == Kinds.CertificateSigningRequestStrategy.Type:
            {
                var body = await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false);
                ApiHttp.CheckKind(type, body);
                ApiHttp.Warn(http, FieldSchema.Enforce(type, body, FieldSchema.ParseMode(q["fieldValidation"])));
                reviews?.GuardRbacWrite(http, type, ns, body);
                if (sub == "approval")
                {
                    reviews?.GuardSignerApproval(http, Json.Str(api.Get(type, ns, n), "spec", "signerName") ?? "");
                }

                await ApiHttp.WriteObjectAsync(http, api, type, api.Update(type, ns, n, body, sub, dryRun, Manager(http))).ConfigureAwait(false);
                return;
            }

            case ("PATCH", null) when (http.Request.ContentType ?? "").StartsWith(Patches.ApplyPatch, StringComparison.Ordinal):
            {
                // server-side apply: the body is the manager's configuration of the object (YAML or JSON)
                var config = await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false);
                ApiHttp.Warn(http, FieldSchema.Enforce(type, config, FieldSchema.ParseMode(q["fieldValidation"])));
                if (reviews is not null && type.Group == Kinds.Rbac.Group)
                {
                    reviews.GuardRbacWrite(http, type, ns, config);
                }

                bool existed = api.TryGet(type, ns, n) is not null;
                var applied = api.Apply(type, ns, n, config, q["fieldManager"].FirstOrDefault() ?? "", ApiHttp.Flag(http, "force"), dryRun);
                if (existed)
                {
                    await ApiHttp.WriteObjectAsync(http, api, type, applied).ConfigureAwait(false);
                }
                else
                {
                    await ApiHttp.WriteAsync(http, 201, applied).ConfigureAwait(false);
                }

                return;
            }

            case ("PATCH", null):
            case ("PATCH", "status") when type.HasStatus:
            {
                var warnings = new List<string>();
                var patch = await ApiHttp.ReadBytesAsync(http).ConfigureAwait(false);
                if (reviews is not null && type.Group == Kinds.Rbac.Group)
                {
                    // what the patch would make is checked first (a role's rules, a binding's role)
                    reviews.GuardRbacWrite(http, type, ns, api.Patch(type, ns, n, http.Request.ContentType ?? "", patch, sub, dryRun: true));
                }

                var patched = api.Patch(type, ns, n, http.Request.ContentType ?? "", patch, sub, dryRun, FieldSchema.ParseMode(q["fieldValidation"]), warnings, Manager(http));
                ApiHttp.Warn(http, warnings);
                await ApiHttp.WriteObjectAsync(http, api, type, patched).ConfigureAwait(false);
                return;
            }

            case ("DELETE", null):
            {
                var (obj, _) = api.Delete(type, ns, n, await ApiHttp.DeleteOptionsAsync(http).ConfigureAwait(false));
                await ApiHttp.WriteObjectAsync(http, api, type, obj).ConfigureAwait(false);
                return;
            }

            case ("POST", "token") when type.Strategy.Subresources.Any(s => s.Name == "token") && reviews is not null:
                await reviews.TokenRequestAsync(http, ns ?? "default", n, await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false)).ConfigureAwait(false);
                return;
            case ("POST", "eviction") when type.Strategy.Subresources.Any(s => s.Name == "eviction"):
            {
                // the Eviction's deleteOptions, as a delete unless a PodDisruptionBudget refuses it (429)
                var eviction = await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false);
                api.Evict(ns ?? "default", n, ApiHttp.ParseDeleteOptions(Json.At(eviction, "deleteOptions") as JsonObject, http));
                await ApiHttp.WriteAsync(http, 201, new JsonObject
                {
                    ["kind"] = "Status",
                    ["apiVersion"] = "v1",
                    ["metadata"] = new JsonObject(),
                    ["status"] = "Success",
                }).ConfigureAwait(false);
                return;
            }
        }

        throw ApiHttp.NotServed();
    }
}
