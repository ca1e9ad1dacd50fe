// The Docker Engine API's documents as typed DTOs, named after the swagger's definitions (../shared/specs, API 1.44-1.56)
// and serialized by the source-generated DockerJsonContext. A property is here when this engine answers it: the
// swagger's fields left out are listed in SwaggerFieldsTests and the README. Descriptions are the swagger's.
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

/// <summary>A container as <c>GET /containers/{id}/json</c> and <c>docker inspect</c> show it.</summary>
public sealed class ContainerInspectResponse
{
    /// <summary>The ID of this container as a 128-bit (64-character) hexadecimal string (32 bytes).</summary>
    public string Id { get; init; } = "";

    /// <summary>Date and time at which the container was created, formatted in RFC 3339 format with nano-seconds.</summary>
    public string Created { get; init; } = "";

    /// <summary>The path to the command being run.</summary>
    public string Path { get; init; } = "";

    /// <summary>The arguments to the command being run.</summary>
    public List<string> Args { get; init; } = [];

    /// <summary>ContainerState stores container's running state.</summary>
    public ContainerState State { get; init; } = new();

    /// <summary>The ID (digest) of the image that this container was created from.</summary>
    public string Image { get; init; } = "";

    /// <summary>IDs of exec instances that are running in the container.</summary>
    public List<string>? ExecIDs { get; init; }

    /// <summary>Location of the "/etc/resolv.conf" generated for the container on the host.</summary>
    public string ResolvConfPath { get; init; } = "";

    /// <summary>Location of the "/etc/hostname" generated for the container on the host.</summary>
    public string HostnamePath { get; init; } = "";

    /// <summary>Location of the "/etc/hosts" generated for the container on the host.</summary>
    public string HostsPath { get; init; } = "";

    /// <summary>Location of the file used to buffer the container's logs.</summary>
    public string LogPath { get; init; } = "";

    /// <summary>The name associated with this container.</summary>
    public string Name { get; init; } = "";

    /// <summary>Number of times the container was restarted since it was created, or since daemon was started.</summary>
    public int RestartCount { get; init; }

    /// <summary>The storage-driver used for the container's filesystem (graph-driver or snapshotter).</summary>
    public string Driver { get; init; } = "";

    /// <summary>The platform (operating system) for which the container was created.</summary>
    public string Platform { get; init; } = "";

    /// <summary>SELinux mount label set for the container.</summary>
    public string MountLabel { get; init; } = "";

    /// <summary>SELinux process label set for the container.</summary>
    public string ProcessLabel { get; init; } = "";

    /// <summary>The AppArmor profile set for the container.</summary>
    public string AppArmorProfile { get; init; } = "";

    /// <summary>Container configuration that depends on the host we are running on.</summary>
    public HostConfig HostConfig { get; init; } = new();

    /// <summary>Information about the storage driver used to store the container's and image's filesystem.</summary>
    public DriverData GraphDriver { get; init; } = new();

    /// <summary>List of mounts used by the container.</summary>
    public List<MountPoint> Mounts { get; init; } = [];

    /// <summary>Configuration for a container that is portable between hosts.</summary>
    public ContainerConfig Config { get; init; } = new();

    /// <summary>NetworkSettings exposes the network settings in the API.</summary>
    public NetworkSettings NetworkSettings { get; init; } = new();
}

/// <summary>ContainerState stores container's running state.</summary>
public sealed class ContainerState
{
    /// <summary>String representation of the container state.</summary>
    public string Status { get; init; } = "";

    /// <summary>Whether this container is running.</summary>
    public bool Running { get; init; }

    /// <summary>Whether this container is paused.</summary>
    public bool Paused { get; init; }

    /// <summary>Whether this container is restarting.</summary>
    public bool Restarting { get; init; }

    /// <summary>
    /// Whether a process within this container has been killed because it ran out of memory since the container was
    /// last started.
    /// </summary>
    public bool OOMKilled { get; init; }

    /// <summary>Whether the container is dead (could not be removed).</summary>
    public bool Dead { get; init; }

    /// <summary>The process ID of this container.</summary>
    public int Pid { get; init; }

    /// <summary>The last exit code of this container.</summary>
    public int ExitCode { get; init; }

    /// <summary>The error of the last start, or empty.</summary>
    public string Error { get; init; } = "";

    /// <summary>The time when this container was last started.</summary>
    public string StartedAt { get; init; } = "";

    /// <summary>The time when this container last exited.</summary>
    public string FinishedAt { get; init; } = "";

    /// <summary>Health stores information about the container's healthcheck results.</summary>
    public Health? Health { get; init; }
}

/// <summary>Health stores information about the container's healthcheck results.</summary>
public sealed class Health
{
    /// <summary>
    /// Status is one of "none", "starting", "healthy" or "unhealthy" - "none" Indicates there is no healthcheck -
    /// "starting" Starting indicates that the container is not yet ready - "healthy" Healthy indicates that the
    /// container is running correctly - "unhealthy" Unhealthy indicates that the container has a problem.
    /// </summary>
    public string Status { get; init; } = "";

    /// <summary>FailingStreak is the number of consecutive failures.</summary>
    public int FailingStreak { get; init; }

    /// <summary>Log contains the last few results (oldest first).</summary>
    public List<HealthcheckResult> Log { get; init; } = [];
}

/// <summary>HealthcheckResult stores information about a single run of a healthcheck probe.</summary>
public sealed class HealthcheckResult
{
    /// <summary>Date and time at which this check started in RFC 3339 format with nano-seconds.</summary>
    public string Start { get; init; } = "";

    /// <summary>Date and time at which this check ended in RFC 3339 format with nano-seconds.</summary>
    public string End { get; init; } = "";

    /// <summary>
    /// ExitCode meanings: - "0" healthy - "1" unhealthy - "2" reserved (considered unhealthy) - other values: error
    /// running probe.
    /// </summary>
    public int ExitCode { get; init; }

    /// <summary>Output from last check.</summary>
    public string Output { get; init; } = "";
}

/// <summary>Information about the storage driver used to store the container's and image's filesystem.</summary>
public sealed class DriverData
{
    /// <summary>Name of the storage driver.</summary>
    public string Name { get; init; } = "";

    /// <summary>Low-level storage metadata, provided as key/value pairs.</summary>
    public Dictionary<string, string> Data { get; init; } = [];
}

/// <summary>MountPoint represents a mount point configuration inside the container.</summary>
public sealed class MountPoint
{
    /// <summary>The mount type: - "bind" a mount of a file or directory from the host into the container.</summary>
    public string Type { get; init; } = "";

    /// <summary>Name is the name reference to the underlying data defined by "Source" e.g., the volume name.</summary>
    public string? Name { get; init; }

    /// <summary>Source location of the mount.</summary>
    public string Source { get; init; } = "";

    /// <summary>
    /// Destination is the path relative to the container root ("/") where the "Source" is mounted inside the
    /// container.
    /// </summary>
    public string Destination { get; init; } = "";

    /// <summary>Driver is the volume driver used to create the volume (if it is a volume).</summary>
    public string? Driver { get; init; }

    /// <summary>Mode is a comma separated list of options supplied by the user when creating the bind/volume mount.</summary>
    public string Mode { get; init; } = "";

    /// <summary>Whether the mount is mounted writable (read-write).</summary>
    public bool RW { get; init; }

    /// <summary>Propagation describes how mounts are propagated from the host into the mount point, and vice-versa.</summary>
    public string Propagation { get; init; } = "";
}
