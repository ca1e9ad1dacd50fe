// The Docker Engine API's documents as typed DTOs, named after the swagger's definitions (../shared/specs, API 1.44-1.56)
// and serialized by the source-generated DockerJsonContext. A property is here when this engine answers it: the
// swagger's fields left out are listed in SwaggerFieldsTests and the README. Descriptions are the swagger's.
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

/// <summary>Container configuration that depends on the host we are running on.</summary>
public sealed class HostConfig
{
    /// <summary>A list of volume bindings for this container.</summary>
    public List<string> Binds { get; init; } = [];

    /// <summary>Network mode to use for this container.</summary>
    public string NetworkMode { get; init; } = "";

    /// <summary>
    /// PortMap describes the mapping of container ports to host ports, using the container's port-number and
    /// protocol as key in the format "/", for example, "80/udp".
    /// </summary>
    public Dictionary<string, List<PortBinding>?> PortBindings { get; init; } = [];

    /// <summary>The behavior to apply when the container exits.</summary>
    public RestartPolicy RestartPolicy { get; init; } = new();

    /// <summary>Automatically remove the container when the container's process exits.</summary>
    public bool AutoRemove { get; init; }

    /// <summary>A list of kernel capabilities to add to the container.</summary>
    public List<string> CapAdd { get; init; } = [];

    /// <summary>A list of kernel capabilities to drop from the container.</summary>
    public List<string> CapDrop { get; init; } = [];

    /// <summary>Mount the container's root filesystem as read only.</summary>
    public bool ReadonlyRootfs { get; init; }

    /// <summary>Memory limit in bytes.</summary>
    public long Memory { get; init; }

    /// <summary>Total memory limit (memory + swap).</summary>
    public long MemorySwap { get; init; }

    /// <summary>CPU quota in units of 10-9 CPUs.</summary>
    public long NanoCpus { get; init; }

    /// <summary>An integer value representing this container's relative CPU weight versus other containers.</summary>
    public long CpuShares { get; init; }

    /// <summary>Tune a container's PIDs limit.</summary>
    public long? PidsLimit { get; init; }

    /// <summary>Path to "cgroups" under which the container's "cgroup" is created.</summary>
    public string CgroupParent { get; init; } = "";

    /// <summary>Allocates an ephemeral host port for all of a container's exposed ports.</summary>
    public bool PublishAllPorts { get; init; }

    /// <summary>Gives the container full access to the host.</summary>
    public bool Privileged { get; init; }

    /// <summary>The logging configuration for this container.</summary>
    public LogConfig LogConfig { get; init; } = new();

    /// <summary>A list of additional groups that the container process will run as.</summary>
    public List<string>? GroupAdd { get; init; }

    /// <summary>A list of resource limits to set in the container.</summary>
    public List<Ulimit> Ulimits { get; init; } = [];

    /// <summary>A list of string values to customize labels for MLS systems, such as SELinux.</summary>
    public List<string>? SecurityOpt { get; init; }

    /// <summary>
    /// A map of container directories which should be replaced by tmpfs mounts, and their corresponding mount
    /// options.
    /// </summary>
    public Dictionary<string, string>? Tmpfs { get; init; }

    /// <summary>The list of paths to be masked inside the container (this overrides the default set of paths).</summary>
    public List<string> MaskedPaths { get; init; } = [];

    /// <summary>The list of paths to be set as read-only inside the container (this overrides the default set of paths).</summary>
    public List<string> ReadonlyPaths { get; init; } = [];

    /// <summary>Path to a file where the container ID is written.</summary>
    public string ContainerIDFile { get; init; } = "";

    /// <summary>Driver that this container uses to mount volumes.</summary>
    public string VolumeDriver { get; init; } = "";

    /// <summary>A list of volumes to inherit from another container, specified in the form "[:]".</summary>
    public List<string>? VolumesFrom { get; init; }

    /// <summary>Initial console size, as an "[height, width]" array.</summary>
    public List<int> ConsoleSize { get; init; } = [];

    /// <summary>
    /// Arbitrary non-identifying metadata attached to container and provided to the runtime when the container is
    /// started.
    /// </summary>
    public Dictionary<string, string>? Annotations { get; init; }

    /// <summary>cgroup namespace mode for the container.</summary>
    public string CgroupnsMode { get; init; } = "private";

    /// <summary>A list of DNS servers for the container to use.</summary>
    public List<string> Dns { get; init; } = [];

    /// <summary>A list of DNS options.</summary>
    public List<string> DnsOptions { get; init; } = [];

    /// <summary>A list of DNS search domains.</summary>
    public List<string> DnsSearch { get; init; } = [];

    /// <summary>A list of hostnames/IP mappings to add to the container's "/etc/hosts" file.</summary>
    public List<string>? ExtraHosts { get; init; }

    /// <summary>IPC sharing mode for the container.</summary>
    public string IpcMode { get; init; } = "private";

    /// <summary>Cgroup to use for the container.</summary>
    public string Cgroup { get; init; } = "";

    /// <summary>A list of links for the container in the form "container_name:alias".</summary>
    public List<string>? Links { get; init; }

    /// <summary>An integer value containing the score given to the container in order to tune OOM killer preferences.</summary>
    public int OomScoreAdj { get; init; }

    /// <summary>Set the PID (Process) Namespace mode for the container.</summary>
    public string PidMode { get; init; } = "";

    /// <summary>UTS namespace to use for the container.</summary>
    public string UTSMode { get; init; } = "";

    /// <summary>Sets the usernamespace mode for the container when usernamespace remapping option is enabled.</summary>
    public string UsernsMode { get; init; } = "";

    /// <summary>Size of "/dev/shm" in bytes.</summary>
    public long ShmSize { get; init; }

    /// <summary>Runtime to use with this container.</summary>
    public string Runtime { get; init; } = "runc";

    /// <summary>Isolation technology of the container.</summary>
    public string Isolation { get; init; } = "";

    /// <summary>Run an init inside the container that forwards signals and reaps processes.</summary>
    public bool? Init { get; init; }

    /// <summary>Specification for mounts to be added to the container.</summary>
    public List<Mount>? Mounts { get; init; }

    /// <summary>A list of kernel parameters (sysctls) to set in the container.</summary>
    public Dictionary<string, string>? Sysctls { get; init; }

    /// <summary>Storage driver options for this container, in the form "{"size": "120G"}".</summary>
    public Dictionary<string, string>? StorageOpt { get; init; }

    /// <summary>Block IO weight (relative weight).</summary>
    public int BlkioWeight { get; init; }

    /// <summary>Block IO weight (relative device weight) in the form: """ [{"Path": "device_path", "Weight": weight}] """.</summary>
    public List<WeightDevice> BlkioWeightDevice { get; init; } = [];

    /// <summary>
    /// Limit read rate (bytes per second) from a device, in the form: """ [{"Path": "device_path", "Rate": rate}]
    /// """.
    /// </summary>
    public List<ThrottleDevice> BlkioDeviceReadBps { get; init; } = [];

    /// <summary>
    /// Limit write rate (bytes per second) to a device, in the form: """ [{"Path": "device_path", "Rate": rate}]
    /// """.
    /// </summary>
    public List<ThrottleDevice> BlkioDeviceWriteBps { get; init; } = [];

    /// <summary>Limit read rate (IO per second) from a device, in the form: """ [{"Path": "device_path", "Rate": rate}] """.</summary>
    public List<ThrottleDevice> BlkioDeviceReadIOps { get; init; } = [];

    /// <summary>Limit write rate (IO per second) to a device, in the form: """ [{"Path": "device_path", "Rate": rate}] """.</summary>
    public List<ThrottleDevice> BlkioDeviceWriteIOps { get; init; } = [];

    /// <summary>The length of a CPU period in microseconds.</summary>
    public long CpuPeriod { get; init; }

    /// <summary>Microseconds of CPU time that the container can get in a CPU period.</summary>
    public long CpuQuota { get; init; }

    /// <summary>The length of a CPU real-time period in microseconds.</summary>
    public long CpuRealtimePeriod { get; init; }

    /// <summary>The length of a CPU real-time runtime in microseconds.</summary>
    public long CpuRealtimeRuntime { get; init; }

    /// <summary>CPUs in which to allow execution (e.g., "0-3", "0,1").</summary>
    public string CpusetCpus { get; init; } = "";

    /// <summary>Memory nodes (MEMs) in which to allow execution (0-3, 0,1).</summary>
    public string CpusetMems { get; init; } = "";

    /// <summary>A list of devices to add to the container.</summary>
    public List<DeviceMapping> Devices { get; init; } = [];

    /// <summary>a list of cgroup rules to apply to the container.</summary>
    public List<string>? DeviceCgroupRules { get; init; }

    /// <summary>A list of requests for devices to be sent to device drivers.</summary>
    public List<DeviceRequest>? DeviceRequests { get; init; }

    /// <summary>Memory soft limit in bytes.</summary>
    public long MemoryReservation { get; init; }

    /// <summary>Tune a container's memory swappiness behavior.</summary>
    public long? MemorySwappiness { get; init; }

    /// <summary>Disable OOM Killer for the container.</summary>
    public bool? OomKillDisable { get; init; }

    /// <summary>The number of usable CPUs (Windows only).</summary>
    public long CpuCount { get; init; }

    /// <summary>The usable percentage of the available CPUs (Windows only).</summary>
    public long CpuPercent { get; init; }

    /// <summary>Maximum IOps for the container system drive (Windows only).</summary>
    public long IOMaximumIOps { get; init; }

    /// <summary>Maximum IO in bytes per second for the container system drive (Windows only).</summary>
    public long IOMaximumBandwidth { get; init; }
}

/// <summary>The behavior to apply when the container exits.</summary>
public sealed class RestartPolicy
{
    /// <summary>
    /// - Empty string means not to restart - "no" Do not automatically restart - "always" Always restart - "unless-
    /// stopped" Restart always except when the user has manually stopped the container - "on-failure" Restart only
    /// when the container exit code is non-zero.
    /// </summary>
    public string Name { get; init; } = "";

    /// <summary>If "on-failure" is used, the number of times to retry before giving up.</summary>
    public int MaximumRetryCount { get; init; }
}

/// <summary>The logging configuration of a container. (the swagger's <c>HostConfig.LogConfig</c>)</summary>
public sealed class LogConfig
{
    /// <summary>Name of the logging driver used for the container or "none" if logging is disabled.</summary>
    public string Type { get; init; } = "";

    /// <summary>Driver-specific configuration options for the logging driver.</summary>
    public Dictionary<string, string> Config { get; init; } = [];
}

/// <summary>A resource limit (setrlimit). (the swagger's <c>Resources.Ulimits[]</c>)</summary>
public sealed class Ulimit
{
    /// <summary>Name of ulimit.</summary>
    public string Name { get; init; } = "";

    /// <summary>Soft limit.</summary>
    public long Soft { get; init; }

    /// <summary>Hard limit.</summary>
    public long Hard { get; init; }
}

/// <summary>A block IO weight for a device. (the swagger's <c>Resources.BlkioWeightDevice[]</c>)</summary>
public sealed class WeightDevice
{
    /// <summary>The device's path on the host.</summary>
    public string Path { get; init; } = "";

    /// <summary>The relative weight.</summary>
    public int Weight { get; init; }
}

/// <summary>A rate limit for a device.</summary>
public sealed class ThrottleDevice
{
    /// <summary>Device path.</summary>
    public string Path { get; init; } = "";

    /// <summary>Rate.</summary>
    public long Rate { get; init; }
}

/// <summary>A device mapping between the host and container.</summary>
public sealed class DeviceMapping
{
    /// <summary>The device on the host.</summary>
    public string PathOnHost { get; init; } = "";

    /// <summary>Where the device is in the container.</summary>
    public string PathInContainer { get; init; } = "";

    /// <summary>The cgroup permissions (rwm).</summary>
    public string CgroupPermissions { get; init; } = "";
}

/// <summary>A request for devices to be sent to device drivers.</summary>
public sealed class DeviceRequest
{
    /// <summary>The name of the device driver to use for this request.</summary>
    public string Driver { get; init; } = "";

    /// <summary>How many devices (-1: all).</summary>
    public int Count { get; init; }

    /// <summary>The devices by ID.</summary>
    public List<string>? DeviceIDs { get; init; }

    /// <summary>A list of capabilities; an OR list of AND lists of capabilities.</summary>
    public List<List<string>>? Capabilities { get; init; }

    /// <summary>Driver-specific options, specified as a key/value pairs.</summary>
    public Dictionary<string, string>? Options { get; init; }
}

/// <summary>A mount of a container (HostConfig.Mounts).</summary>
public sealed class Mount
{
    /// <summary>Container path.</summary>
    public string Target { get; init; } = "";

    /// <summary>Mount source (e.g.</summary>
    public string Source { get; init; } = "";

    /// <summary>The mount type.</summary>
    public string Type { get; init; } = "";

    /// <summary>Whether the mount should be read-only.</summary>
    public bool ReadOnly { get; init; }
}
