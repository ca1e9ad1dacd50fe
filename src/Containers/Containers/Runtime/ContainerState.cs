namespace Containers.Runtime;

/// <summary>The lifecycle state of a container, as docker names it.</summary>
public enum ContainerStatus
{
    /// <summary>Made but never started.</summary>
    Created,

    /// <summary>Its process is running.</summary>
    Running,

    /// <summary>Frozen by the freezer cgroup.</summary>
    Paused,

    /// <summary>Waiting to be started again by its restart policy.</summary>
    Restarting,

    /// <summary>Its process has exited.</summary>
    Exited,

    /// <summary>Its monitor died and it could not be cleaned up.</summary>
    Dead,
}

/// <summary>What is known of a container at one moment; persisted as <c>state.json</c> in its directory.</summary>
public sealed record ContainerState
{
    /// <summary>The 64-hex-digit id.</summary>
    public required string Id { get; init; }

    /// <summary>The unique name.</summary>
    public required string Name { get; init; }

    /// <summary>The spec it runs.</summary>
    public required ContainerSpec Spec { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset Created { get; init; }

    /// <summary>Lifecycle status.</summary>
    public ContainerStatus Status { get; init; }

    /// <summary>Host pid of the container's first process; 0 when not running.</summary>
    public int Pid { get; init; }

    /// <summary>Start time of <see cref="Pid"/> (clock ticks since boot), guarding against pid reuse.</summary>
    public long PidStartTime { get; init; }

    /// <summary>The process that owns the container's stdio and exit status (in-process engine or detached monitor).</summary>
    public int MonitorPid { get; init; }

    /// <summary>Start time of <see cref="MonitorPid"/>.</summary>
    public long MonitorStartTime { get; init; }

    /// <summary>Exit code of the last run (128+signal when killed by a signal).</summary>
    public int ExitCode { get; init; }

    /// <summary>Whether the last run ended in an OOM kill.</summary>
    public bool OomKilled { get; init; }

    /// <summary>The error of the last failed start, if any.</summary>
    public string? Error { get; init; }

    /// <summary>When the current or last run started.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the last run ended.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>How many times the restart policy started it again.</summary>
    public int RestartCount { get; init; }

    /// <summary>Set by stop and kill so the restart policy does not start it again.</summary>
    public bool StopRequested { get; init; }

    /// <summary>The container's address on the bridge, if any.</summary>
    public string? IPAddress { get; init; }

    /// <summary>The bridge gateway, if any.</summary>
    public string? Gateway { get; init; }

    /// <summary>Where the running container is on each of its networks (empty when it is not running).</summary>
    public ImmutableArray<Networking.NetworkEndpoint> Networks { get; init; } = [];

    /// <summary>Published ports with the host ports actually bound.</summary>
    public ImmutableArray<PortBinding> Ports { get; init; } = [];

    /// <summary>The health check's state, when the container has one.</summary>
    public HealthState? Health { get; init; }

    /// <summary>True while the container runs (running, paused or restarting).</summary>
    public bool IsActive => Status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Restarting;
}
