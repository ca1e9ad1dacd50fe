using System.Text;
using System.Text.Json.Nodes;
using Containers.Helm.Charts;
using Containers.Helm.Functions;
using Containers.Images;
using Containers.Images.Registry;

namespace Containers.Helm.Repositories;

/// <summary>
/// Charts in OCI registries as Helm 3.8+ stores them: a manifest whose config is the chart's metadata
/// (application/vnd.cncf.helm.config.v1+json) and whose one layer is the packaged chart
/// (application/vnd.cncf.helm.chart.content.v1.tar+gzip), tagged with the chart version (+ as _).
/// </summary>
public sealed class OciCharts : IDisposable
{
    /// <summary>The config media type.</summary>
    public const string ConfigMediaType = "application/vnd.cncf.helm.config.v1+json";

    /// <summary>The chart layer media type.</summary>
    public const string ChartMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

    private readonly RegistryArtifacts registry;

    /// <summary>A client with the engine's registry settings (credentials, insecure registries, certificates).</summary>
    public OciCharts(RegistryOptions? options = null) => registry = new RegistryArtifacts(options);

    /// <summary>helm push CHART.tgz oci://REGISTRY/PATH: returns the reference pushed and its manifest digest.</summary>
    /// <exception cref="ChartException">The archive is not a chart.</exception>
    public async Task<(string Reference, string Digest)> PushAsync(string archivePath, string remote, CancellationToken ct = default)
    {
        byte[] archive = await File.ReadAllBytesAsync(archivePath, ct).ConfigureAwait(false);
        using var ms = new MemoryStream(archive);
        var chart = Chart.LoadArchive(ms, archivePath);
        string tag = chart.Metadata.Version.Replace('+', '_');
        var reference = ImageReference.Parse(Strip(remote).TrimEnd('/') + "/" + chart.Name + ":" + tag);
        byte[] config = Encoding.UTF8.GetBytes(chart.Metadata.ToJson().ToJsonString());
        var configDigest = await registry.PushBlobAsync(reference, config, ct).ConfigureAwait(false);
        var layerDigest = await registry.PushBlobAsync(reference, archive, ct).ConfigureAwait(false);

        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = ConfigMediaType, ["digest"] = configDigest.ToString(), ["size"] = config.Length },
            ["layers"] = new JsonArray(new JsonObject { ["mediaType"] = ChartMediaType, ["digest"] = layerDigest.ToString(), ["size"] = archive.Length }),
            ["annotations"] = new JsonObject
            {
                ["org.opencontainers.image.title"] = chart.Name,
                ["org.opencontainers.image.version"] = chart.Metadata.Version,
                ["org.opencontainers.image.description"] = chart.Metadata.Description,
            },
        };
        byte[] body = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        var manifestDigest = await registry.PutManifestAsync(reference, tag, body, "application/vnd.oci.image.manifest.v1+json", ct).ConfigureAwait(false);
        return (reference.ToString(), manifestDigest.ToString());
    }

    /// <summary>helm pull oci://REGISTRY/PATH/CHART [--version V]: the chart and its archive (newest semver tag when no version).</summary>
    /// <exception cref="HelmException">No such chart or version, or it is not a Helm chart artifact.</exception>
    public async Task<(Chart Chart, byte[] Archive)> PullAsync(string remote, string? version, CancellationToken ct = default)
    {
        string stripped = Strip(remote);
        var reference = ImageReference.Parse(stripped);
        bool tagged = stripped[(stripped.LastIndexOf('/') + 1)..].Contains(':', StringComparison.Ordinal);
        string tag = version is { Length: > 0 } ? version.Replace('+', '_') : tagged ? reference.Tag ?? "" : "";
        if (tag.Length == 0 || (version is { Length: > 0 } && GoSemver.Parse(version) is null))
        {
            var tags = await registry.ListTagsAsync(reference, ct).ConfigureAwait(false);
            var best = tags.Select(t => (Tag: t, Version: GoSemver.Parse(t.Replace('_', '+'))))
                .Where(t => t.Version is not null && (version is not { Length: > 0 } || GoSemver.Satisfies(version, t.Version.ToString())))
                .OrderByDescending(t => t.Version!).FirstOrDefault();
            tag = best.Tag ?? throw new HelmException($"{remote}: no chart version {(version is { Length: > 0 } ? "matching " + version : "")} found");
        }

        var (body, _) = await registry.GetManifestAsync(reference, tag, ct).ConfigureAwait(false);
        var manifest = JsonNode.Parse(body);
        var layer = (manifest?["layers"]?.AsArray() ?? []).FirstOrDefault(l => (string?)l?["mediaType"] == ChartMediaType)
            ?? throw new HelmException($"{remote}:{tag} is not a Helm chart (no {ChartMediaType} layer)");
        var digest = Digest.Parse((string)layer["digest"]!);
        byte[] archive = await registry.GetBlobAsync(reference, digest, ct).ConfigureAwait(false);

        using var ms = new MemoryStream(archive);
        return (Chart.LoadArchive(ms, remote + ":" + tag), archive);
    }

    private static string Strip(string remote) =>
        remote.StartsWith("oci://", StringComparison.Ordinal) ? remote["oci://".Length..] : throw new HelmException($"{remote}: OCI references start with oci://");

    /// <inheritdoc/>
    public void Dispose() => registry.Dispose();
}
