namespace Containers.Compose;

/// <summary>Options of <see cref="ComposeEngine.UpAsync"/> (docker compose up).</summary>
public sealed record UpOptions
{
    /// <summary>Only these services (and their dependencies unless <see cref="NoDeps"/>); empty: all.</summary>
    public ImmutableArray<string> Services { get; init; } = [];

    /// <summary>Build images before starting (<c>--build</c>).</summary>
    public bool Build { get; init; }

    /// <summary>Recreate containers even when their configuration is unchanged.</summary>
    public bool ForceRecreate { get; init; }

    /// <summary>Do not start linked services.</summary>
    public bool NoDeps { get; init; }

    /// <summary>Remove containers of services no longer in the file.</summary>
    public bool RemoveOrphans { get; init; }

    /// <summary>Replica counts overriding the file (<c>--scale svc=N</c>).</summary>
    public ImmutableDictionary<string, int> Scale { get; init; } = ImmutableDictionary<string, int>.Empty;

    /// <summary>Wait for every service to be running (and healthy when it has a health check), as <c>--wait</c>.</summary>
    public bool Wait { get; init; }

    /// <summary>How long a dependency condition or <see cref="Wait"/> may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Supervise the containers in this process (they end with it, and start without a monitor process each: the
    /// choice of test fixtures and app hosts) instead of under detached monitors that outlive it (the CLI's <c>up -d</c>).
    /// </summary>
    public bool InProcess { get; init; }

    /// <summary>A cgroup parent for every container this up makes, over the services' own (a test run's subtree, say).</summary>
    public string? CgroupParent { get; init; }

    /// <summary>Labels added to every container, network and volume this up makes (a test run's label, say).</summary>
    public ImmutableDictionary<string, string> ExtraLabels { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Keep what a failed up started (default: a failed up removes the containers, networks and volumes it made).</summary>
    public bool KeepOnFailure { get; init; }
}

/// <summary>What <c>up</c> does to one container.</summary>
/// <param name="Service">The service.</param>
/// <param name="Container">The container name.</param>
/// <param name="Action"><c>create</c>, <c>recreate</c>, <c>start</c>, <c>keep</c> or <c>remove</c>.</param>
/// <param name="Reason">Why (for recreate: the fields that differ).</param>
public sealed record PlanStep(string Service, string Container, string Action, string Reason);
