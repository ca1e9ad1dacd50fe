using System.Text.Json;
using Containers.Images;
using Containers.Images.Oci;

namespace Containers.DockerApi;

/// <summary>
/// docker's inspect documents, as the Docker Engine API answers <c>GET /containers/{id}/json</c> and
/// <c>GET /images/{name}/json</c>: one builder, so the API and the <c>containers inspect</c> CLI print the same.
/// </summary>
public static class DockerInspect
{
    /// <summary>A container as <c>docker inspect</c> shows it (as API <paramref name="apiVersion"/> answers; the
    /// newest served when null).</summary>
    public static JsonObject Container(ContainerEngine engine, ContainerState state, Version? apiVersion = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(state);
        return ContainerEndpoints.Inspect(engine, state, apiVersion);
    }

    /// <summary>An image as <c>docker image inspect</c> shows it.</summary>
    public static JsonObject Image(LocalImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var config = (image.Config.Config is { } cc ? JsonSerializer.SerializeToNode(cc, OciJsonContext.Default.ContainerConfig) as JsonObject : null) ?? new JsonObject();
        // what dockerd answers for what the image does not set (the omitempty ones, Healthcheck, Shell, StopSignal and
        // ArgsEscaped, it leaves out as well)
        foreach (var (key, value) in new (string, Func<JsonNode?>)[] { ("User", () => ""), ("ExposedPorts", () => null), ("Env", () => new JsonArray()), ("Cmd", () => null), ("WorkingDir", () => ""), ("Entrypoint", () => null), ("Volumes", () => null), ("OnBuild", () => null), ("Labels", () => null) })
        {
            if (!config.ContainsKey(key))
            {
                config[key] = value();
            }
        }

        return new JsonObject
        {
            ["Id"] = image.Id.ToString(),
            ["RepoTags"] = new JsonArray([.. image.Names.Select(n => (JsonNode)DockerApiServer.Short(n))]),
            ["RepoDigests"] = new JsonArray([.. image.RepoDigests.Select(n => (JsonNode)DockerApiServer.Short(n))]),
            ["Parent"] = "",
            ["Comment"] = "",
            ["Created"] = ContainerEndpoints.Time(image.Created),
            ["DockerVersion"] = "",
            ["Author"] = image.Config.Author ?? "",
            ["Config"] = config,
            ["Architecture"] = image.Config.Architecture,
            ["Variant"] = image.Config.Variant,
            ["Os"] = image.Config.Os,
            ["Size"] = image.Size,
            ["VirtualSize"] = image.Size,
            ["GraphDriver"] = new JsonObject { ["Name"] = "overlay", ["Data"] = new JsonObject() },
            ["RootFS"] = new JsonObject { ["Type"] = "layers", ["Layers"] = new JsonArray([.. image.Config.RootFs.DiffIds.Select(d => (JsonNode)d)]) },
            ["Descriptor"] = new JsonObject { ["mediaType"] = image.ManifestDescriptor.MediaType, ["digest"] = image.ManifestDigest.ToString(), ["size"] = image.ManifestDescriptor.Size },
            ["Metadata"] = new JsonObject { ["LastTagTime"] = "0001-01-01T00:00:00Z" },
        };
    }
}
