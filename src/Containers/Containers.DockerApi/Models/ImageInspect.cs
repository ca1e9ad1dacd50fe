// The Docker Engine API's documents as typed DTOs, named after the swagger's definitions (../shared/specs, API 1.44-1.56)
// and serialized by the source-generated DockerJsonContext. A property is here when this engine answers it: the
// swagger's fields left out are listed in SwaggerFieldsTests and the README. Descriptions are the swagger's.
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

/// <summary>An image as <c>GET /images/{name}/json</c> and <c>docker image inspect</c> show it.</summary>
public sealed class ImageInspect
{
    /// <summary>ID is the content-addressable ID of an image.</summary>
    public string Id { get; init; } = "";

    /// <summary>List of image names/tags in the local image cache that reference this image.</summary>
    public List<string> RepoTags { get; init; } = [];

    /// <summary>List of content-addressable digests of locally available image manifests that the image is referenced from.</summary>
    public List<string> RepoDigests { get; init; } = [];

    /// <summary>The ID of the parent image (empty for pulled and built images).</summary>
    public string Parent { get; init; } = "";

    /// <summary>Optional message that was set when committing or importing the image.</summary>
    public string Comment { get; init; } = "";

    /// <summary>Date and time at which the image was created, formatted in RFC 3339 format with nano-seconds.</summary>
    public string Created { get; init; } = "";

    /// <summary>The docker version that built the image (empty).</summary>
    public string DockerVersion { get; init; } = "";

    /// <summary>
    /// Name of the author that was specified when committing the image, or as specified through MAINTAINER
    /// (deprecated) in the Dockerfile.
    /// </summary>
    public string Author { get; init; } = "";

    /// <summary>Configuration of the image.</summary>
    public ImageConfig Config { get; init; } = new();

    /// <summary>Hardware CPU architecture that the image runs on.</summary>
    public string Architecture { get; init; } = "";

    /// <summary>CPU architecture variant (presently ARM-only).</summary>
    public string? Variant { get; init; }

    /// <summary>Operating System the image is built to run on.</summary>
    public string Os { get; init; } = "";

    /// <summary>Total size of the image variant, including all layers it is composed of.</summary>
    public long Size { get; init; }

    /// <summary>The same as Size (deprecated).</summary>
    public long VirtualSize { get; init; }

    /// <summary>Information about the storage driver used to store the container's and image's filesystem.</summary>
    public DriverData GraphDriver { get; init; } = new();

    /// <summary>Information about the image's RootFS, including the layer IDs.</summary>
    public ImageRootFS RootFS { get; init; } = new();

    /// <summary>Descriptor is an OCI descriptor of the image target.</summary>
    public OCIDescriptor Descriptor { get; init; } = new();

    /// <summary>Additional metadata of the image in the local cache.</summary>
    public ImageMetadata Metadata { get; init; } = new();
}

/// <summary>
/// The layers of an image's root filesystem, by their uncompressed digests (diff IDs). (the swagger's
/// <c>ImageInspect.RootFS</c>)
/// </summary>
public sealed class ImageRootFS
{
    /// <summary>The type.</summary>
    public string Type { get; init; } = "layers";

    /// <summary>The diff IDs, bottom layer first.</summary>
    public List<string> Layers { get; init; } = [];
}

/// <summary>
/// A descriptor struct containing digest, media type, and size, as defined in the OCI Content Descriptors
/// Specification.
/// </summary>
public sealed class OCIDescriptor
{
    /// <summary>The media type of the object this schema refers to.</summary>
    [JsonPropertyName("mediaType")]
    public string MediaType { get; init; } = "";

    /// <summary>The digest of the targeted content.</summary>
    [JsonPropertyName("digest")]
    public string Digest { get; init; } = "";

    /// <summary>The size in bytes of the blob.</summary>
    [JsonPropertyName("size")]
    public long Size { get; init; }
}

/// <summary>What the engine knows of an image beyond its configuration. (the swagger's <c>ImageInspect.Metadata</c>)</summary>
public sealed class ImageMetadata
{
    /// <summary>Date and time at which the image was last tagged in RFC 3339 format with nano-seconds.</summary>
    public string LastTagTime { get; init; } = "0001-01-01T00:00:00Z";
}

/// <summary>A container as <c>GET /containers/json</c> and <c>docker ps</c> list it.</summary>
public sealed class ContainerSummary
{
    /// <summary>The ID of this container as a 128-bit (64-character) hexadecimal string (32 bytes).</summary>
    public string Id { get; init; } = "";

    /// <summary>The names associated with this container.</summary>
    public List<string> Names { get; init; } = [];

    /// <summary>The name or ID of the image used to create the container.</summary>
    public string Image { get; init; } = "";

    /// <summary>The ID (digest) of the image that this container was created from.</summary>
    public string ImageID { get; init; } = "";

    /// <summary>Command to run when starting the container.</summary>
    public string Command { get; init; } = "";

    /// <summary>Date and time at which the container was created as a Unix timestamp (number of seconds since EPOCH).</summary>
    public long Created { get; init; }

    /// <summary>The state of this container.</summary>
    public string State { get; init; } = "";

    /// <summary>Additional human-readable status of this container (e.g.</summary>
    public string Status { get; init; } = "";

    /// <summary>Port-mappings for the container.</summary>
    public List<PortSummary> Ports { get; init; } = [];

    /// <summary>User-defined key/value metadata.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];

    /// <summary>Summary of host-specific runtime information of the container.</summary>
    public ContainerSummaryHostConfig HostConfig { get; init; } = new();

    /// <summary>Summary of the container's network settings.</summary>
    public ContainerSummaryNetworkSettings NetworkSettings { get; init; } = new();

    /// <summary>List of mounts used by the container.</summary>
    public List<MountPoint> Mounts { get; init; } = [];
}

/// <summary>Describes a port-mapping between the container and the host.</summary>
public sealed class PortSummary
{
    /// <summary>Host IP address that the container's port is mapped to.</summary>
    public string IP { get; init; } = "";

    /// <summary>Port on the container.</summary>
    public int PrivatePort { get; init; }

    /// <summary>Port exposed on the host.</summary>
    public int PublicPort { get; init; }

    /// <summary>The type.</summary>
    public string Type { get; init; } = "";
}

/// <summary>A listed container's host configuration. (the swagger's <c>ContainerSummary.HostConfig</c>)</summary>
public sealed class ContainerSummaryHostConfig
{
    /// <summary>Networking mode ("host", "none", "container:") or name of the primary network the container is using.</summary>
    public string NetworkMode { get; init; } = "";
}

/// <summary>A listed container's networks. (the swagger's <c>ContainerSummary.NetworkSettings</c>)</summary>
public sealed class ContainerSummaryNetworkSettings
{
    /// <summary>Summary of network-settings for each network the container is attached to.</summary>
    public Dictionary<string, EndpointSettings> Networks { get; init; } = [];
}
