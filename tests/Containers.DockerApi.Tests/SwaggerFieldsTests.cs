using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Containers.DockerApi;
using Containers.Tests.Images;
using YamlDotNet.RepresentationModel;

namespace Containers.Tests.DockerApi;

/// <summary>
/// The fields of docker's main documents (container and image inspect, info, version, network, volume) that the
/// swagger defines and our answers leave out, against a list the README repeats: a field we start filling, or one
/// a newer swagger adds, fails this test until both say so.
/// </summary>
public sealed class SwaggerFieldsTests
{
    /// <summary>What we leave out (absent keys; empty values are not counted), by definition and path.</summary>
    /// Most are left out by dockerd too unless set (Go's omitempty: ArgsEscaped, Shell, Healthcheck, StopSignal, the
    /// sizes, swarm's); the rest are containerd's and swarm's, plugins and the
    /// registry configuration, events listeners, and fields of API versions after ours (1.47).
    private static readonly string[] LeftOut =
    [
        "ContainerInspectResponse.Config.ArgsEscaped", "ContainerInspectResponse.Config.NetworkDisabled", "ContainerInspectResponse.Config.Shell", "ContainerInspectResponse.ImageManifestDescriptor", "ContainerInspectResponse.SizeRootFs", "ContainerInspectResponse.SizeRw", "ContainerInspectResponse.Storage",
        "ImageInspect.Config.ArgsEscaped", "ImageInspect.Config.Healthcheck", "ImageInspect.Config.Shell", "ImageInspect.Config.StopSignal", "ImageInspect.Descriptor", "ImageInspect.Identity", "ImageInspect.Manifests", "ImageInspect.OsVersion",
        "Network.Peers",
        "SystemInfo.Containerd", "SystemInfo.ContainerdCommit", "SystemInfo.DiscoveredDevices", "SystemInfo.FirewallBackend", "SystemInfo.GenericResources", "SystemInfo.InitCommit", "SystemInfo.LiveRestoreEnabled", "SystemInfo.NRI", "SystemInfo.Plugins", "SystemInfo.ProductLicense", "SystemInfo.RegistryConfig", "SystemInfo.RuncCommit", "SystemInfo.Swarm.Cluster", "SystemInfo.Swarm.Managers", "SystemInfo.Swarm.Nodes",
        "Volume.ClusterVolume", "Volume.Status",
    ];

    [Fact]
    public async Task The_fields_left_out_of_dockers_documents_are_the_listed_ones()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        using var http = DockerHttp.Client(server);
        var created = await (await http.PostAsJsonAsync("containers/create?name=fields", new JsonObject { ["Image"] = "busybox:latest", ["Cmd"] = new JsonArray("sleep", "60") })).Content.ReadFromJsonAsync<JsonObject>();
        var id = created!["Id"]!.GetValue<string>();
        Assert.True((await http.PostAsync($"containers/{id}/start", null)).IsSuccessStatusCode);
        Assert.True((await http.PostAsJsonAsync("volumes/create", new JsonObject { ["Name"] = "fields-volume" })).IsSuccessStatusCode);
        try
        {
            var definitions = Swagger.Section("definitions").Children.ToDictionary(d => ((YamlScalarNode)d.Key).Value!, d => (YamlMappingNode)d.Value);
            var missing = new List<string>();
            foreach (var (definition, url) in new[]
            {
                ("ContainerInspectResponse", $"containers/{id}/json"), ("ImageInspect", "images/busybox:latest/json"), ("SystemInfo", "info"),
                ("SystemVersion", "version"), ("Network", "networks/bridge"), ("Volume", "volumes/fields-volume"),
            })
            {
                var answer = await http.GetFromJsonAsync<JsonObject>(url);
                Compare(definitions, definition, definitions[definition], answer!, definition, missing, depth: 0);
            }

            Assert.True(LeftOut.Order(StringComparer.Ordinal).SequenceEqual(missing.Order(StringComparer.Ordinal)),
                "left out now: " + string.Join(", ", missing.Order(StringComparer.Ordinal).Select(m => '"' + m + '"')));
        }
        finally
        {
            await http.DeleteAsync($"containers/{id}?force=true");
            await http.DeleteAsync("volumes/fields-volume");
        }
    }

    private static void Compare(Dictionary<string, YamlMappingNode> definitions, string name, YamlMappingNode schema, JsonObject answer, string path, List<string> missing, int depth)
    {
        foreach (var (field, fieldSchema) in Properties(definitions, schema))
        {
            if (!answer.TryGetPropertyValue(field, out var value))
            {
                missing.Add($"{path}.{field}");
                continue;
            }

            // into the objects the document is made of (State, Config, HostConfig, NetworkSettings...), one level
            if (depth == 0 && value is JsonObject inner && Ref(fieldSchema) is { } target && definitions.TryGetValue(target, out var targetSchema) && Properties(definitions, targetSchema).Count > 0)
            {
                Compare(definitions, target, targetSchema, inner, $"{path}.{field}", missing, depth + 1);
            }
        }
    }

    /// <summary>The properties of a schema, through its allOf and $ref parts.</summary>
    private static List<(string Name, YamlMappingNode Schema)> Properties(Dictionary<string, YamlMappingNode> definitions, YamlMappingNode schema)
    {
        var result = new List<(string, YamlMappingNode)>();
        if (Ref(schema) is { } r && definitions.TryGetValue(r, out var referenced))
        {
            result.AddRange(Properties(definitions, referenced));
        }

        if (schema.Children.TryGetValue(new YamlScalarNode("allOf"), out var all) && all is YamlSequenceNode parts)
        {
            foreach (var part in parts.OfType<YamlMappingNode>())
            {
                result.AddRange(Properties(definitions, part));
            }
        }

        if (schema.Children.TryGetValue(new YamlScalarNode("properties"), out var props) && props is YamlMappingNode map)
        {
            result.AddRange(map.Children.Select(p => (((YamlScalarNode)p.Key).Value!, p.Value as YamlMappingNode ?? new YamlMappingNode())));
        }

        return result;
    }

    private static string? Ref(YamlMappingNode schema)
    {
        if (schema.Children.TryGetValue(new YamlScalarNode("$ref"), out var r) && r is YamlScalarNode s)
        {
            return s.Value!.Replace("#/definitions/", "", StringComparison.Ordinal);
        }

        // a property described as allOf: [$ref] (to add a description to it)
        return schema.Children.TryGetValue(new YamlScalarNode("allOf"), out var all) && all is YamlSequenceNode { Children.Count: 1 } one && one[0] is YamlMappingNode m ? Ref(m) : null;
    }
}
