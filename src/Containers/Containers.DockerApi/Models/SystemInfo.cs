// The Docker Engine API's documents as typed DTOs, named after the swagger's definitions (../shared/specs, API 1.44-1.56)
// and serialized by the source-generated DockerJsonContext. A property is here when this engine answers it: the
// swagger's fields left out are listed in SwaggerFieldsTests and the README. Descriptions are the swagger's.
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

/// <summary>The engine's version, as <c>GET /version</c> and <c>docker version</c> show it.</summary>
public sealed class SystemVersion
{
    /// <summary>The product.</summary>
    public SystemVersionPlatform Platform { get; init; } = new();

    /// <summary>Information about system components.</summary>
    public List<ComponentVersion> Components { get; init; } = [];

    /// <summary>The version of the daemon.</summary>
    public string Version { get; init; } = "";

    /// <summary>The default (and highest) API version that is supported by the daemon.</summary>
    public string ApiVersion { get; init; } = "";

    /// <summary>The minimum API version that is supported by the daemon.</summary>
    public string MinAPIVersion { get; init; } = "";

    /// <summary>The Git commit of the source code that was used to build the daemon.</summary>
    public string GitCommit { get; init; } = "";

    /// <summary>The version Go used to compile the daemon, and the version of the Go runtime in use.</summary>
    public string GoVersion { get; init; } = "";

    /// <summary>The operating system that the daemon is running on ("linux" or "windows").</summary>
    public string Os { get; init; } = "";

    /// <summary>Architecture of the daemon, as returned by the Go runtime ("GOARCH").</summary>
    public string Arch { get; init; } = "";

    /// <summary>The kernel version ("uname -r") that the daemon is running on.</summary>
    public string KernelVersion { get; init; } = "";

    /// <summary>The date and time that the daemon was compiled.</summary>
    public string BuildTime { get; init; } = "";

    /// <summary>Indicates if the daemon is started with experimental features enabled.</summary>
    public bool Experimental { get; init; }
}

/// <summary>The product. (the swagger's <c>SystemVersion.Platform</c>)</summary>
public sealed class SystemVersionPlatform
{
    /// <summary>The name.</summary>
    public string Name { get; init; } = "";
}

/// <summary>A component of the engine and its version. (the swagger's <c>SystemVersion.Components[]</c>)</summary>
public sealed class ComponentVersion
{
    /// <summary>Name of the component.</summary>
    public string Name { get; init; } = "";

    /// <summary>Version of the component.</summary>
    public string Version { get; init; } = "";

    /// <summary>Key/value pairs of strings with additional information about the component.</summary>
    public Dictionary<string, string>? Details { get; init; }
}

/// <summary>The engine and its host, as <c>GET /info</c> and <c>docker info</c> show them.</summary>
public sealed class SystemInfo
{
    /// <summary>Unique identifier of the daemon.</summary>
    public string ID { get; init; } = "";

    /// <summary>Total number of containers on the host.</summary>
    public int Containers { get; init; }

    /// <summary>Number of containers with status ""running"".</summary>
    public int ContainersRunning { get; init; }

    /// <summary>Number of containers with status ""paused"".</summary>
    public int ContainersPaused { get; init; }

    /// <summary>Number of containers with status ""stopped"".</summary>
    public int ContainersStopped { get; init; }

    /// <summary>Total number of images on the host.</summary>
    public int Images { get; init; }

    /// <summary>Name of the storage driver in use.</summary>
    public string Driver { get; init; } = "";

    /// <summary>Root directory of persistent Docker state.</summary>
    public string DockerRootDir { get; init; } = "";

    /// <summary>The driver to use for managing cgroups.</summary>
    public string CgroupDriver { get; init; } = "";

    /// <summary>The version of the cgroup.</summary>
    public string CgroupVersion { get; init; } = "";

    /// <summary>Generic type of the operating system of the host, as returned by the Go runtime ("GOOS").</summary>
    public string OSType { get; init; } = "";

    /// <summary>Hardware architecture of the host, as returned by the operating system.</summary>
    public string Architecture { get; init; } = "";

    /// <summary>Name of the host's operating system, for example: "Ubuntu 24.04 LTS" or "Windows Server 2016 Datacenter".</summary>
    public string OperatingSystem { get; init; } = "";

    /// <summary>Kernel version of the host.</summary>
    public string KernelVersion { get; init; } = "";

    /// <summary>The number of logical CPUs usable by the daemon.</summary>
    public int NCPU { get; init; }

    /// <summary>Total amount of physical memory available on the host, in bytes.</summary>
    public long MemTotal { get; init; }

    /// <summary>Hostname of the host.</summary>
    public string Name { get; init; } = "";

    /// <summary>Version string of the daemon.</summary>
    public string ServerVersion { get; init; } = "";

    /// <summary>User-defined labels (key/value metadata) as set on the daemon.</summary>
    public List<string> Labels { get; init; } = [];

    /// <summary>
    /// List of warnings / informational messages about missing features, or issues related to the daemon
    /// configuration.
    /// </summary>
    public List<string> Warnings { get; init; } = [];

    /// <summary>List of OCI compliant runtimes configured on the daemon.</summary>
    public Dictionary<string, RuntimeInfo> Runtimes { get; init; } = [];

    /// <summary>Name of the default OCI runtime that is used when starting containers.</summary>
    public string DefaultRuntime { get; init; } = "";

    /// <summary>
    /// List of security features that are enabled on the daemon, such as apparmor, seccomp, SELinux, user-
    /// namespaces (userns), rootless and no-new-privileges.
    /// </summary>
    public List<string> SecurityOptions { get; init; } = [];

    /// <summary>Indicates if the host has memory limit support enabled.</summary>
    public bool MemoryLimit { get; init; }

    /// <summary>Indicates if the host has memory swap limit support enabled.</summary>
    public bool SwapLimit { get; init; }

    /// <summary>Indicates if CPU CFS(Completely Fair Scheduler) period is supported by the host.</summary>
    public bool CpuCfsPeriod { get; init; }

    /// <summary>Indicates if CPU CFS(Completely Fair Scheduler) quota is supported by the host.</summary>
    public bool CpuCfsQuota { get; init; }

    /// <summary>Indicates if CPU Shares limiting is supported by the host.</summary>
    public bool CPUShares { get; init; }

    /// <summary>Indicates if CPUsets (cpuset.cpus, cpuset.mems) are supported by the host.</summary>
    public bool CPUSet { get; init; }

    /// <summary>Indicates if the host kernel has PID limit support enabled.</summary>
    public bool PidsLimit { get; init; }

    /// <summary>Indicates if OOM killer disable is supported on the host.</summary>
    public bool OomKillDisable { get; init; }

    /// <summary>Indicates IPv4 forwarding is enabled.</summary>
    public bool IPv4Forwarding { get; init; }

    /// <summary>Indicates if the daemon is running in debug-mode / with debug-level logging enabled.</summary>
    public bool Debug { get; init; }

    /// <summary>Number of event listeners subscribed.</summary>
    public int NEventsListener { get; init; }

    /// <summary>Indicates if experimental features are enabled on the daemon.</summary>
    public bool ExperimentalBuild { get; init; }

    /// <summary>The total number of file Descriptors in use by the daemon process.</summary>
    public int NFd { get; init; }

    /// <summary>The number of goroutines that currently exist.</summary>
    public int NGoroutines { get; init; }

    /// <summary>Current system-time in RFC 3339 format with nano-seconds.</summary>
    public string SystemTime { get; init; } = "";

    /// <summary>The logging driver to use as a default for new containers.</summary>
    public string LoggingDriver { get; init; } = "";

    /// <summary>
    /// Address / URL of the index server that is used for image search, and as a default for user authentication
    /// for Docker Hub and Docker Cloud.
    /// </summary>
    public string IndexServerAddress { get; init; } = "";

    /// <summary>HTTP-proxy configured for the daemon.</summary>
    public string HttpProxy { get; init; } = "";

    /// <summary>HTTPS-proxy configured for the daemon.</summary>
    public string HttpsProxy { get; init; } = "";

    /// <summary>Comma-separated list of domain extensions for which no proxy should be used.</summary>
    public string NoProxy { get; init; } = "";

    /// <summary>
    /// Version of the host's operating system  &gt; **Note**: The information returned in this field, including its
    /// &gt; very existence, and the formatting of values, should not be considered &gt; stable, and may change
    /// without notice.
    /// </summary>
    public string OSVersion { get; init; } = "";

    /// <summary>Represents the isolation technology to use as a default for containers.</summary>
    public string Isolation { get; init; } = "";

    /// <summary>Name and, optional, path of the "docker-init" binary.</summary>
    public string InitBinary { get; init; } = "";

    /// <summary>Information specific to the storage driver, provided as "label" / "value" pairs.</summary>
    public List<List<string>> DriverStatus { get; init; } = [];

    /// <summary>List of directories where (Container Device Interface) CDI specifications are located.</summary>
    public List<string> CDISpecDirs { get; init; } = [];

    /// <summary>
    /// List of custom default address pools for local networks, which can be specified in the daemon.json file or
    /// dockerd option.
    /// </summary>
    public List<AddressPool> DefaultAddressPools { get; init; } = [];

    /// <summary>Represents generic information about swarm.</summary>
    public SwarmInfo Swarm { get; init; } = new();
}

/// <summary>Runtime describes an OCI compliant runtime. (the swagger's <c>Runtime</c>)</summary>
public sealed class RuntimeInfo
{
    /// <summary>Name and, optional, path, of the OCI executable binary.</summary>
    [JsonPropertyName("path")]
    public string Path { get; init; } = "";
}

/// <summary>A pool networks take their subnets from. (the swagger's <c>SystemInfo.DefaultAddressPools[]</c>)</summary>
public sealed class AddressPool
{
    /// <summary>The network address in CIDR format.</summary>
    public string Base { get; init; } = "";

    /// <summary>The network pool size.</summary>
    public int Size { get; init; }
}

/// <summary>Represents generic information about swarm.</summary>
public sealed class SwarmInfo
{
    /// <summary>Unique identifier of for this node in the swarm.</summary>
    public string NodeID { get; init; } = "";

    /// <summary>IP address at which this node can be reached by other nodes in the swarm.</summary>
    public string NodeAddr { get; init; } = "";

    /// <summary>Current local status of this node.</summary>
    public string LocalNodeState { get; init; } = "inactive";

    /// <summary>Whether this node is a swarm manager (false).</summary>
    public bool ControlAvailable { get; init; }

    /// <summary>The error of the last start, or empty.</summary>
    public string Error { get; init; } = "";

    /// <summary>List of ID's and addresses of other managers in the swarm.</summary>
    public List<PeerNode>? RemoteManagers { get; init; }
}

/// <summary>Represents a peer-node in the swarm.</summary>
public sealed class PeerNode
{
    /// <summary>Unique identifier of for this node in the swarm.</summary>
    public string NodeID { get; init; } = "";

    /// <summary>IP address and ports at which this node can be reached.</summary>
    public string Addr { get; init; } = "";
}

/// <summary>Represents an error.</summary>
public sealed class ErrorResponse
{
    /// <summary>The error message.</summary>
    [JsonPropertyName("message")]
    public string Message { get; init; } = "";
}

/// <summary>Response to an API call that returns just an Id.</summary>
public sealed class IDResponse
{
    /// <summary>The id of the newly created object.</summary>
    public string Id { get; init; } = "";
}
