using System.Text.Json.Nodes;

namespace Containers.Orchestration.Api;

/// <summary>
/// A minimal OpenAPI v3 description per group version: one PATCH operation per kind, tagged with its
/// x-kubernetes-group-version-kind and declaring the <c>fieldValidation</c> query parameter. That is what kubectl reads
/// to hand validation to the server (it sends <c>fieldValidation=Strict</c> and skips downloading schemas); without
/// any OpenAPI document kubectl refuses to apply unless told <c>--validate=false</c>.
/// </summary>
internal static class OpenApi
{
    private static IEnumerable<(string Path, string Group)> GroupVersions() =>
        new[] { ("api/v1", "") }.Concat(ResourceType.Groups.Select(g => ($"apis/{g}/v1", g)));

    public static JsonObject Index()
    {
        var paths = new JsonObject();
        foreach (var (path, _) in GroupVersions())
        {
            paths[path] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{path}?hash=1" };
        }

        return new JsonObject { ["paths"] = paths };
    }

    public static JsonObject? Document(string groupVersion)
    {
        var gv = GroupVersions().FirstOrDefault(g => g.Path == groupVersion);
        if (gv.Path is null)
        {
            return null;
        }

        var paths = new JsonObject();
        foreach (var t in ResourceType.All.Where(t => t.Group == gv.Group))
        {
            string prefix = gv.Group.Length == 0 ? "/api/v1" : $"/apis/{gv.Group}/v1";
            string path = t.Namespaced ? $"{prefix}/namespaces/{{namespace}}/{t.Plural}/{{name}}" : $"{prefix}/{t.Plural}/{{name}}";
            paths[path] = new JsonObject
            {
                ["patch"] = new JsonObject
                {
                    ["operationId"] = $"patch{t.Kind}",
                    ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind },
                    ["parameters"] = new JsonArray(
                        new JsonObject { ["name"] = "fieldValidation", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } },
                        new JsonObject { ["name"] = "dryRun", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } },
                        new JsonObject { ["name"] = "fieldManager", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } }),
                    ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
                },
            };
        }

        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes (containers-dotnet)", ["version"] = KubeApiServer.KubernetesVersion },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = new JsonObject() },
        };
    }
}
