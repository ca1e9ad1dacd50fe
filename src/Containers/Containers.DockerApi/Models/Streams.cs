// The Docker Engine API's documents as typed DTOs, named after the swagger's definitions (../shared/specs, API 1.44-1.56)
// and serialized by the source-generated DockerJsonContext. A property is here when this engine answers it: the
// swagger's fields left out are listed in SwaggerFieldsTests and the README. Descriptions are the swagger's.
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

/// <summary>A container's resource usage, as <c>GET /containers/{id}/stats</c> answers it (once, or a line a second).</summary>
public sealed class ContainerStatsResponse
{
    /// <summary>Name of the container for which the stats were collected.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init; } = "";

    /// <summary>ID of the container for which the stats were collected.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init; } = "";

    /// <summary>Date and time at which this sample was collected.</summary>
    [JsonPropertyName("read")]
    public string Read { get; init; } = "";

    /// <summary>Date and time at which this first sample was collected.</summary>
    [JsonPropertyName("preread")]
    public string Preread { get; init; } = "";

    /// <summary>PidsStats contains Linux-specific stats of a container's process-IDs (PIDs).</summary>
    [JsonPropertyName("pids_stats")]
    public ContainerPidsStats PidsStats { get; init; } = new();

    /// <summary>CPU related info of the container.</summary>
    [JsonPropertyName("cpu_stats")]
    public ContainerCPUStats CpuStats { get; init; } = new();

    /// <summary>CPU related info of the container.</summary>
    [JsonPropertyName("precpu_stats")]
    public ContainerCPUStats PrecpuStats { get; init; } = new();

    /// <summary>Aggregates all memory stats since container inception on Linux.</summary>
    [JsonPropertyName("memory_stats")]
    public ContainerMemoryStats MemoryStats { get; init; } = new();

    /// <summary>Block IO statistics (none are reported: empty).</summary>
    [JsonPropertyName("blkio_stats")]
    public Dictionary<string, string> BlkioStats { get; init; } = [];

    /// <summary>Network statistics per interface (none are reported: empty).</summary>
    [JsonPropertyName("networks")]
    public Dictionary<string, string> Networks { get; init; } = [];
}

/// <summary>PidsStats contains Linux-specific stats of a container's process-IDs (PIDs).</summary>
public sealed class ContainerPidsStats
{
    /// <summary>Current is the number of PIDs in the cgroup.</summary>
    [JsonPropertyName("current")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Current { get; init; }

    /// <summary>Limit is the hard limit on the number of pids in the cgroup.</summary>
    [JsonPropertyName("limit")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Limit { get; init; }
}

/// <summary>CPU related info of the container.</summary>
public sealed class ContainerCPUStats
{
    /// <summary>All CPU stats aggregated since container inception.</summary>
    [JsonPropertyName("cpu_usage")]
    public ContainerCPUUsage CpuUsage { get; init; } = new();

    /// <summary>System Usage.</summary>
    [JsonPropertyName("system_cpu_usage")]
    public long SystemCpuUsage { get; init; }

    /// <summary>Number of online CPUs.</summary>
    [JsonPropertyName("online_cpus")]
    public int OnlineCpus { get; init; }

    /// <summary>CPU throttling stats of the container.</summary>
    [JsonPropertyName("throttling_data")]
    public ContainerThrottlingData ThrottlingData { get; init; } = new();
}

/// <summary>All CPU stats aggregated since container inception.</summary>
public sealed class ContainerCPUUsage
{
    /// <summary>Total CPU time consumed in nanoseconds (Linux) or 100's of nanoseconds (Windows).</summary>
    [JsonPropertyName("total_usage")]
    public long TotalUsage { get; init; }

    /// <summary>
    /// Time (in nanoseconds) spent by tasks of the cgroup in kernel mode (Linux), or time spent (in 100's of
    /// nanoseconds) by all container processes in kernel mode (Windows).
    /// </summary>
    [JsonPropertyName("usage_in_kernelmode")]
    public long UsageInKernelmode { get; init; }

    /// <summary>
    /// Time (in nanoseconds) spent by tasks of the cgroup in user mode (Linux), or time spent (in 100's of
    /// nanoseconds) by all container processes in kernel mode (Windows).
    /// </summary>
    [JsonPropertyName("usage_in_usermode")]
    public long UsageInUsermode { get; init; }
}

/// <summary>CPU throttling stats of the container.</summary>
public sealed class ContainerThrottlingData
{
    /// <summary>Number of periods with throttling active.</summary>
    [JsonPropertyName("periods")]
    public long Periods { get; init; }

    /// <summary>Number of periods when the container hit its throttling limit.</summary>
    [JsonPropertyName("throttled_periods")]
    public long ThrottledPeriods { get; init; }

    /// <summary>Aggregated time (in nanoseconds) the container was throttled for.</summary>
    [JsonPropertyName("throttled_time")]
    public long ThrottledTime { get; init; }
}

/// <summary>Aggregates all memory stats since container inception on Linux.</summary>
public sealed class ContainerMemoryStats
{
    /// <summary>Current "res_counter" usage for memory.</summary>
    [JsonPropertyName("usage")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Usage { get; init; }

    /// <summary>Maximum usage ever recorded.</summary>
    [JsonPropertyName("max_usage")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? MaxUsage { get; init; }

    /// <summary>This field is Linux-specific and omitted for Windows containers.</summary>
    [JsonPropertyName("limit")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Limit { get; init; }

    /// <summary>All the stats exported via memory.stat.</summary>
    [JsonPropertyName("stats")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, long>? Stats { get; init; }
}

/// <summary>An event, as <c>GET /events</c> streams it and <c>docker events</c> prints it.</summary>
public sealed class EventMessage
{
    /// <summary>The type of object emitting the event.</summary>
    public string Type { get; init; } = "";

    /// <summary>The type of event.</summary>
    public string Action { get; init; } = "";

    /// <summary>Actor describes something that generates events, like a container, network, or a volume.</summary>
    public EventActor Actor { get; init; } = new();

    /// <summary>Scope of the event.</summary>
    [JsonPropertyName("scope")]
    public string Scope { get; init; } = "local";

    /// <summary>Timestamp of event.</summary>
    [JsonPropertyName("time")]
    public long Time { get; init; }

    /// <summary>Timestamp of event, with nanosecond accuracy.</summary>
    [JsonPropertyName("timeNano")]
    public long TimeNano { get; init; }

    /// <summary>The action of a container event (deprecated; what docker CLIs before 1.22 read).</summary>
    [JsonPropertyName("status")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Status { get; init; }

    /// <summary>The ID of a container event's container (deprecated).</summary>
    [JsonPropertyName("id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Id { get; init; }
}

/// <summary>Actor describes something that generates events, like a container, network, or a volume.</summary>
public sealed class EventActor
{
    /// <summary>The ID of the object emitting the event.</summary>
    public string ID { get; init; } = "";

    /// <summary>Various key/value attributes of the object, depending on its type.</summary>
    public Dictionary<string, string> Attributes { get; init; } = [];
}
