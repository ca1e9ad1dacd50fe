// The Docker Engine API's documents as typed DTOs, named after the swagger's definitions (../shared/specs, API 1.44-1.56)
// and serialized by the source-generated DockerJsonContext. A property is here when this engine answers it: the
// swagger's fields left out are listed in SwaggerFieldsTests and the README. Descriptions are the swagger's.
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

/// <summary>An image as <c>GET /images/json</c> and <c>docker images</c> list it.</summary>
public sealed class ImageSummary
{
    /// <summary>ID is the content-addressable ID of an image.</summary>
    public string Id { get; init; } = "";

    /// <summary>ID of the parent image.</summary>
    public string ParentId { get; init; } = "";

    /// <summary>List of image names/tags in the local image cache that reference this image.</summary>
    public List<string> RepoTags { get; init; } = [];

    /// <summary>List of content-addressable digests of locally available image manifests that the image is referenced from.</summary>
    public List<string> RepoDigests { get; init; } = [];

    /// <summary>Date and time at which the image was created as a Unix timestamp (number of seconds since EPOCH).</summary>
    public long Created { get; init; }

    /// <summary>Total size of the image including all layers it is composed of.</summary>
    public long Size { get; init; }

    /// <summary>Total size of image layers that are shared between this image and other images.</summary>
    public long SharedSize { get; init; }

    /// <summary>The same as Size (deprecated; API 1.43 and before).</summary>
    public long VirtualSize { get; init; }

    /// <summary>User-defined key/value metadata.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];

    /// <summary>Number of containers using this image.</summary>
    public long Containers { get; init; }
}

/// <summary>individual image layer information in response to ImageHistory operation.</summary>
public sealed class ImageHistoryResponseItem
{
    /// <summary>The ID.</summary>
    public string Id { get; init; } = "";

    /// <summary>When it was created.</summary>
    public long Created { get; init; }

    /// <summary>The build step that made it.</summary>
    public string CreatedBy { get; init; } = "";

    /// <summary>The tags (on the newest entry only).</summary>
    public List<string>? Tags { get; init; }

    /// <summary>The size in bytes.</summary>
    public long Size { get; init; }

    /// <summary>The comment.</summary>
    public string Comment { get; init; } = "";
}

/// <summary>What <c>POST /images/prune</c> removed. (the swagger's <c>#ImagePrune</c>)</summary>
public sealed class ImagePruneResponse
{
    /// <summary>Images that were deleted.</summary>
    public List<ImageDeleteResponseItem> ImagesDeleted { get; init; } = [];

    /// <summary>Disk space reclaimed in bytes.</summary>
    public long SpaceReclaimed { get; init; }
}

/// <summary>One thing an image removal did: a tag removed or an image deleted.</summary>
public sealed class ImageDeleteResponseItem
{
    /// <summary>The image ID of an image that was untagged.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Untagged { get; init; }

    /// <summary>The image ID of an image that was deleted.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Deleted { get; init; }
}

/// <summary>A network as <c>GET /networks/{id}</c> and <c>docker network inspect</c> show it.</summary>
public sealed class Network
{
    /// <summary>Name of the network.</summary>
    public string Name { get; init; } = "";

    /// <summary>ID that uniquely identifies a network on a single machine.</summary>
    public string Id { get; init; } = "";

    /// <summary>Date and time at which the network was created in RFC 3339 format with nano-seconds.</summary>
    public string Created { get; init; } = "";

    /// <summary>The level at which the network exists (e.g.</summary>
    public string Scope { get; init; } = "local";

    /// <summary>The name of the driver used to create the network (e.g.</summary>
    public string Driver { get; init; } = "";

    /// <summary>Whether the network was created with IPv4 enabled.</summary>
    public bool EnableIPv4 { get; init; }

    /// <summary>Whether the network was created with IPv6 enabled.</summary>
    public bool EnableIPv6 { get; init; }

    /// <summary>The network's IP Address Management.</summary>
    public IPAM IPAM { get; init; } = new();

    /// <summary>Whether the network is created to only allow internal networking connectivity.</summary>
    public bool Internal { get; init; }

    /// <summary>
    /// Whether a global / swarm scope network is manually attachable by regular containers from workers in swarm
    /// mode.
    /// </summary>
    public bool Attachable { get; init; }

    /// <summary>Whether the network is providing the routing-mesh for the swarm cluster.</summary>
    public bool Ingress { get; init; }

    /// <summary>The config-only network source to provide the configuration for this network.</summary>
    public ConfigReference ConfigFrom { get; init; } = new();

    /// <summary>Whether the network is a config-only network.</summary>
    public bool ConfigOnly { get; init; }

    /// <summary>The containers attached to the network, by ID.</summary>
    public Dictionary<string, EndpointResource> Containers { get; init; } = [];

    /// <summary>Network-specific options uses when creating the network.</summary>
    public Dictionary<string, string> Options { get; init; } = [];

    /// <summary>Metadata specific to the network being created.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];
}

/// <summary>A network's address management.</summary>
public sealed class IPAM
{
    /// <summary>Name of the IPAM driver to use.</summary>
    public string Driver { get; init; } = "default";

    /// <summary>Driver-specific options, specified as a map.</summary>
    public Dictionary<string, string> Options { get; init; } = [];

    /// <summary>
    /// List of IPAM configuration options, specified as a map: """ {"Subnet": , "IPRange": , "Gateway": ,
    /// "AuxAddress": } """.
    /// </summary>
    public List<IPAMConfig> Config { get; init; } = [];
}

/// <summary>A subnet of a network and its gateway.</summary>
public sealed class IPAMConfig
{
    /// <summary>The subnet in CIDR notation.</summary>
    public string Subnet { get; init; } = "";

    /// <summary>The IPv4 gateway.</summary>
    public string Gateway { get; init; } = "";
}

/// <summary>The config-only network source to provide the configuration for this network.</summary>
public sealed class ConfigReference
{
    /// <summary>The name of the config-only network that provides the network's configuration.</summary>
    public string Network { get; init; } = "";
}

/// <summary>contains network resources allocated and used for a container in a network.</summary>
public sealed class EndpointResource
{
    /// <summary>The name.</summary>
    public string Name { get; init; } = "";

    /// <summary>The endpoint's ID.</summary>
    public string EndpointID { get; init; } = "";

    /// <summary>IPv4Address</summary>
    public string IPv4Address { get; init; } = "";

    /// <summary>IPv6Address</summary>
    public string IPv6Address { get; init; } = "";
}

/// <summary>OK response to NetworkCreate operation.</summary>
public sealed class NetworkCreateResponse
{
    /// <summary>The ID of the created network.</summary>
    public string Id { get; init; } = "";

    /// <summary>Warnings encountered when creating the container.</summary>
    public string Warning { get; init; } = "";
}

/// <summary>What <c>POST /networks/prune</c> removed. (the swagger's <c>#NetworkPrune</c>)</summary>
public sealed class NetworkPruneResponse
{
    /// <summary>Networks that were deleted.</summary>
    public List<string> NetworksDeleted { get; init; } = [];
}

/// <summary>A volume as <c>GET /volumes/{name}</c> and <c>docker volume inspect</c> show it.</summary>
public sealed class Volume
{
    /// <summary>Name of the volume.</summary>
    public string Name { get; init; } = "";

    /// <summary>Name of the volume driver used by the volume.</summary>
    public string Driver { get; init; } = "";

    /// <summary>Mount path of the volume on the host.</summary>
    public string Mountpoint { get; init; } = "";

    /// <summary>Date/Time the volume was created.</summary>
    public string CreatedAt { get; init; } = "";

    /// <summary>User-defined key/value metadata.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];

    /// <summary>The level at which the volume exists.</summary>
    public string Scope { get; init; } = "local";

    /// <summary>The driver specific options used when creating the volume.</summary>
    public Dictionary<string, string> Options { get; init; } = [];

    /// <summary>Usage details about the volume.</summary>
    public VolumeUsageData? UsageData { get; init; }
}

/// <summary>A volume's disk usage (only in <c>GET /system/df</c>). (the swagger's <c>Volume.UsageData</c>)</summary>
public sealed class VolumeUsageData
{
    /// <summary>Amount of disk space used by the volume (in bytes).</summary>
    public long Size { get; init; }

    /// <summary>The number of containers referencing this volume.</summary>
    public long RefCount { get; init; }
}

/// <summary>Volume list response.</summary>
public sealed class VolumeListResponse
{
    /// <summary>List of volumes.</summary>
    public List<Volume> Volumes { get; init; } = [];

    /// <summary>Warnings that occurred when fetching the list of volumes.</summary>
    public List<string> Warnings { get; init; } = [];
}

/// <summary>What <c>POST /volumes/prune</c> removed. (the swagger's <c>#VolumePrune</c>)</summary>
public sealed class VolumePruneResponse
{
    /// <summary>Volumes that were deleted.</summary>
    public List<string> VolumesDeleted { get; init; } = [];

    /// <summary>Disk space reclaimed in bytes.</summary>
    public long SpaceReclaimed { get; init; }
}

/// <summary>The disk usage of images, containers and volumes (<c>GET /system/df</c>, API 1.44's shape).</summary>
public sealed class SystemDataUsageResponse
{
    /// <summary>The size of the layers on disk, each counted once.</summary>
    public long LayersSize { get; init; }

    /// <summary>The images.</summary>
    public List<ImageSummary> Images { get; init; } = [];

    /// <summary>The containers.</summary>
    public List<ContainerUsage> Containers { get; init; } = [];

    /// <summary>The volumes, with their usage.</summary>
    public List<Volume> Volumes { get; init; } = [];

    /// <summary>The build cache records (none are reported).</summary>
    public List<string> BuildCache { get; init; } = [];
}

/// <summary>A container and the size of its writable layer (<c>GET /system/df</c>).</summary>
public sealed class ContainerUsage
{
    /// <summary>The ID.</summary>
    public string Id { get; init; } = "";

    /// <summary>The names, each with a leading slash.</summary>
    public List<string> Names { get; init; } = [];

    /// <summary>The image.</summary>
    public string Image { get; init; } = "";

    /// <summary>The image's ID.</summary>
    public string ImageID { get; init; } = "";

    /// <summary>The command, as one string.</summary>
    public string Command { get; init; } = "";

    /// <summary>When it was created.</summary>
    public long Created { get; init; }

    /// <summary>The state.</summary>
    public string State { get; init; } = "";

    /// <summary>The status.</summary>
    public string Status { get; init; } = "";

    /// <summary>The size of the files the container wrote.</summary>
    public long SizeRw { get; init; }

    /// <summary>The size of its root filesystem (not counted: 0).</summary>
    public long SizeRootFs { get; init; }

    /// <summary>The labels.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];

    /// <summary>The mounts.</summary>
    public List<MountPoint> Mounts { get; init; } = [];
}

/// <summary>OK response to ContainerCreate operation.</summary>
public sealed class ContainerCreateResponse
{
    /// <summary>The ID of the created container.</summary>
    public string Id { get; init; } = "";

    /// <summary>Warnings encountered when creating the container.</summary>
    public List<string> Warnings { get; init; } = [];
}

/// <summary>Response for a successful container-update.</summary>
public sealed class ContainerUpdateResponse
{
    /// <summary>Warnings encountered when updating the container.</summary>
    public List<string> Warnings { get; init; } = [];
}

/// <summary>What <c>POST /containers/prune</c> removed. (the swagger's <c>#ContainerPrune</c>)</summary>
public sealed class ContainerPruneResponse
{
    /// <summary>Container IDs that were deleted.</summary>
    public List<string> ContainersDeleted { get; init; } = [];

    /// <summary>Disk space reclaimed in bytes.</summary>
    public long SpaceReclaimed { get; init; }
}

/// <summary>OK response to ContainerWait operation.</summary>
public sealed class ContainerWaitResponse
{
    /// <summary>Exit code of the container.</summary>
    public long StatusCode { get; init; }

    /// <summary>container waiting error, if any.</summary>
    public ContainerWaitExitError? Error { get; init; }
}

/// <summary>container waiting error, if any.</summary>
public sealed class ContainerWaitExitError
{
    /// <summary>Details of an error.</summary>
    public string Message { get; init; } = "";
}

/// <summary>Container "top" response.</summary>
public sealed class ContainerTopResponse
{
    /// <summary>The ps column titles.</summary>
    public List<string> Titles { get; init; } = [];

    /// <summary>Each process running in the container, where each process is an array of values corresponding to the titles.</summary>
    public List<List<string>> Processes { get; init; } = [];
}

/// <summary>An exec instance as <c>GET /exec/{id}/json</c> shows it. (the swagger's <c>#ExecInspect</c>)</summary>
public sealed class ExecInspectResponse
{
    /// <summary>The ID.</summary>
    public string ID { get; init; } = "";

    /// <summary>The container's ID.</summary>
    public string ContainerID { get; init; } = "";

    /// <summary>Whether it runs now.</summary>
    public bool Running { get; init; }

    /// <summary>The exit code.</summary>
    public int? ExitCode { get; init; }

    /// <summary>The system process ID for the exec process.</summary>
    public int Pid { get; init; }

    /// <summary>Whether stdin is attached.</summary>
    public bool OpenStdin { get; init; }

    /// <summary>Whether stdout is attached.</summary>
    public bool OpenStdout { get; init; }

    /// <summary>Whether stderr is attached.</summary>
    public bool OpenStderr { get; init; }

    /// <summary>Whether the exec instance may be removed (always false).</summary>
    public bool CanRemove { get; init; }

    /// <summary>The detach key sequence.</summary>
    public string DetachKeys { get; init; } = "";

    /// <summary>The process the instance runs.</summary>
    public ProcessConfig ProcessConfig { get; init; } = new();
}

/// <summary>The process the instance runs.</summary>
public sealed class ProcessConfig
{
    /// <summary>Tty</summary>
    [JsonPropertyName("tty")]
    public bool Tty { get; init; }

    /// <summary>Entrypoint</summary>
    [JsonPropertyName("entrypoint")]
    public string Entrypoint { get; init; } = "";

    /// <summary>Arguments</summary>
    [JsonPropertyName("arguments")]
    public List<string> Arguments { get; init; } = [];

    /// <summary>Privileged</summary>
    [JsonPropertyName("privileged")]
    public bool Privileged { get; init; }

    /// <summary>User</summary>
    [JsonPropertyName("user")]
    public string User { get; init; } = "";
}
