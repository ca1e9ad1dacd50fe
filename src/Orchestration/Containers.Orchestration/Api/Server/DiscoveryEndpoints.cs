using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Containers.Orchestration.Api;

/// <summary>What kubectl reads before anything else: /version, the health checks, /api, /apis and each group version's resources, OpenAPI v3.</summary>
internal static class DiscoveryEndpoints
{
    /// <summary>Maps the discovery routes.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/version", http => ApiHttp.WriteAsync(http, 200, Version()));
        foreach (string health in new[] { "/healthz", "/livez", "/readyz" })
        {
            app.MapGet(health, async http =>
            {
                http.Response.ContentType = "text/plain";
                await http.Response.WriteAsync("ok").ConfigureAwait(false);
            });
        }

        app.MapGet("/api", http => ApiHttp.WriteAsync(http, 200, new JsonObject
        {
            ["kind"] = "APIVersions",
            ["versions"] = new JsonArray("v1"),
            ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = http.Request.Host.Value }),
        }));
        app.MapGet("/apis", http => ApiHttp.WriteAsync(http, 200, new JsonObject
        {
            ["kind"] = "APIGroupList",
            ["apiVersion"] = "v1",
            ["groups"] = new JsonArray([.. ResourceType.Groups.Select(g => (JsonNode)Group(g))]),
        }));
        app.MapGet("/api/{version}", http => ApiHttp.WriteAsync(http, 200, Resources("", Value(http, "version"))));
        app.MapGet("/apis/{group}", http => ApiHttp.WriteAsync(http, 200, ResourceType.Groups.Contains(Value(http, "group")) ? Group(Value(http, "group")) : throw ApiHttp.NotServed()));
        app.MapGet("/apis/{group}/{version}", http => ApiHttp.WriteAsync(http, 200, Resources(Value(http, "group"), Value(http, "version"))));
        app.MapGet("/openapi/v3", http => WriteBytesAsync(http, OpenApi.IndexJson())); // kubectl apply reads it every time: its hashes made once
        app.MapGet("/openapi/v3/{**path}", http => WriteBytesAsync(http, OpenApi.Document(Value(http, "path")) ?? throw ApiHttp.NotServed()));
        app.MapGet("/openapi/v2", http =>
        {
            // client-go asks for the protobuf form first, and falls back on 406; only JSON is served
            string accept = http.Request.Headers.Accept.ToString();
            if (accept.Length > 0 && !accept.Contains("json", StringComparison.Ordinal) && !accept.Contains("*/*", StringComparison.Ordinal))
            {
                throw new ApiException(406, "NotAcceptable", "only application/json is served for /openapi/v2");
            }

            return WriteBytesAsync(http, OpenApi.Swagger());
        });
    }

    private static async Task WriteBytesAsync(HttpContext http, byte[] body)
    {
        http.Response.StatusCode = 200;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(body, http.RequestAborted).ConfigureAwait(false);
    }

    private static string Value(HttpContext http, string name) => http.Request.RouteValues[name] as string ?? "";

    private static JsonObject Version() => new()
    {
        ["major"] = "1",
        ["minor"] = "32",
        ["gitVersion"] = KubeApiServer.KubernetesVersion,
        ["gitCommit"] = "containers-dotnet",
        ["gitTreeState"] = "clean",
        ["buildDate"] = "2026-01-01T00:00:00Z",
        ["goVersion"] = "n/a (.NET " + Environment.Version + ")",
        ["compiler"] = "dotnet",
        ["platform"] = "linux/amd64",
    };

    private static JsonObject Group(string name) => new()
    {
        ["kind"] = "APIGroup",
        ["apiVersion"] = "v1",
        ["name"] = name,
        ["versions"] = new JsonArray([.. VersionsOf(name).Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{name}/{v}", ["version"] = v })]),
        ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{name}/{VersionsOf(name)[0]}", ["version"] = VersionsOf(name)[0] },
    };

    /// <summary>The versions a group serves, in the registry's order (the first preferred).</summary>
    private static List<string> VersionsOf(string group) => [.. ResourceType.All.Where(t => t.Group == group).Select(t => t.Version).Distinct()];

    /// <summary>The APIResourceList of a group version: each kind, its status and scale subresources, and those its strategy declares.</summary>
    private static JsonObject Resources(string group, string version)
    {
        var types = ResourceType.All.Where(t => t.Group == group && t.Version == version).ToList();
        if (types.Count == 0)
        {
            throw ApiHttp.NotServed();
        }

        var list = new JsonArray();
        foreach (var t in types)
        {
            var strategy = t.Strategy;
            string[] verbs = strategy.Virtual ? [.. strategy.Verbs ?? ["create"]] : strategy.DeleteCollection
                ? ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
                : ["create", "delete", "get", "list", "patch", "update", "watch"];
            var entry = new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Singular,
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = Strings(verbs),
            };
            if (t.ShortNames.Count > 0)
            {
                entry["shortNames"] = Strings(t.ShortNames);
            }

            if (strategy.InCategoryAll)
            {
                entry["categories"] = new JsonArray("all");
            }

            list.Add((JsonNode)entry);
            if (t.HasStatus)
            {
                list.Add((JsonNode)Sub(t, new("status", t.Kind, ["get", "patch", "update"])));
            }

            if (t.HasScale)
            {
                list.Add((JsonNode)Sub(t, new("scale", "Scale", ["get", "patch", "update"], "autoscaling", "v1")));
            }

            foreach (var sub in strategy.Subresources)
            {
                list.Add((JsonNode)Sub(t, sub));
            }
        }

        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = list,
        };
    }

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)v)]);

    private static JsonObject Sub(ResourceType t, Kinds.Subresource sub)
    {
        var entry = new JsonObject
        {
            ["name"] = $"{t.Plural}/{sub.Name}",
            ["singularName"] = "",
            ["namespaced"] = t.Namespaced,
            ["kind"] = sub.Kind,
            ["verbs"] = Strings(sub.Verbs),
        };
        if (sub.Group is not null)
        {
            entry["group"] = sub.Group;
            entry["version"] = sub.Version;
        }

        return entry;
    }
}
