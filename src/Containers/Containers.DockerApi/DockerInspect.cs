using Containers.DockerApi.Models;
using Containers.Images;

namespace Containers.DockerApi;

/// <summary>
/// docker's inspect documents, as the Docker Engine API answers <c>GET /containers/{id}/json</c> and
/// <c>GET /images/{name}/json</c>: one builder, so the API and the <c>containers inspect</c> CLI print the same.
/// </summary>
public static class DockerInspect
{
    /// <summary>A container as <c>docker inspect</c> shows it (as API <paramref name="apiVersion"/> answers; the
    /// newest served when null).</summary>
    public static ContainerInspectResponse Container(ContainerEngine engine, ContainerState state, Version? apiVersion = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(state);
        return ContainerEndpoints.Inspect(engine, state, apiVersion);
    }

    /// <summary>
    /// An image as <c>docker image inspect</c> shows it, as API <paramref name="apiVersion"/> answers (the newest served
    /// when null): VirtualSize before 1.44 and Descriptor from 1.48 on, as dockerd. Container and ContainerConfig, which
    /// dockerd drops from 1.45 on, stay: docker-compose 1.29 negotiates the newest version and reads
    /// ContainerConfig.Volumes at each recreate (its "KeyError: 'ContainerConfig'" against Docker 25 and later).
    /// </summary>
    public static ImageInspect Image(LocalImage image, Version? apiVersion = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var version = apiVersion ?? Version.Parse(DockerApiServer.ApiVersion);
        var c = image.Config.Config ?? new Images.Oci.ContainerConfig();
        // what dockerd answers for what the image does not set: Healthcheck, Shell, StopSignal and ArgsEscaped (omitempty) are left out
        var config = new ImageConfig
        {
            User = c.User ?? "",
            ExposedPorts = c.ExposedPorts is { } ports ? new(ports) : null,
            Env = c.Env is { } env ? [.. env] : [],
            Cmd = c.Cmd is { } cmd ? [.. cmd] : null,
            Healthcheck = c.Healthcheck is { } h ? new HealthConfig { Test = [.. h.Test], Interval = h.Interval, Timeout = h.Timeout, StartPeriod = h.StartPeriod, StartInterval = h.StartInterval, Retries = h.Retries } : null,
            ArgsEscaped = c.ArgsEscaped,
            WorkingDir = c.WorkingDir ?? "",
            Entrypoint = c.Entrypoint is { } ep ? [.. ep] : null,
            Volumes = c.Volumes is { } volumes ? new(volumes) : null,
            OnBuild = c.OnBuild is { } onBuild ? [.. onBuild] : null,
            Labels = c.Labels is { } labels ? new(labels) : null,
            StopSignal = c.StopSignal,
            Shell = c.Shell is { } shell ? [.. shell] : null,
        };
        return new ImageInspect
        {
            Id = image.Id.ToString(),
            RepoTags = [.. image.Names.Select(DockerApiServer.Short)],
            RepoDigests = [.. image.RepoDigests.Select(DockerApiServer.Short)],
            Created = ContainerEndpoints.Time(image.Created),
            Author = image.Config.Author ?? "",
            Config = config,
            Architecture = image.Config.Architecture,
            Variant = image.Config.Variant,
            Os = image.Config.Os,
            Size = image.Size,
            VirtualSize = version < new Version(1, 44) ? image.Size : null,
            Container = "",
            ContainerConfig = new ContainerConfig(),
            GraphDriver = new DriverData { Name = "overlay" },
            RootFS = new ImageRootFS { Layers = [.. image.Config.RootFs.DiffIds] },
            Descriptor = version < new Version(1, 48) ? null : new OCIDescriptor { MediaType = image.ManifestDescriptor.MediaType, Digest = image.ManifestDigest.ToString(), Size = image.ManifestDescriptor.Size },
            Metadata = new ImageMetadata(),
        };
    }
}
