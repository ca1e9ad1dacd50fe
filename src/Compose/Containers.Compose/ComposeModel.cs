namespace Containers.Compose;

/// <summary>What loading compose files takes: the files, the project directory and name, profiles, environment.</summary>
public sealed record ComposeOptions
{
    /// <summary>The compose files in merge order (<c>-f</c>); empty: discovered from <see cref="WorkingDirectory"/> and its parents, with the override file.</summary>
    public ImmutableArray<string> Files { get; init; } = [];

    /// <summary>Where discovery starts and relative paths resolve (default: the current directory).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The project name (<c>-p</c>); else COMPOSE_PROJECT_NAME, the file's <c>name:</c>, the directory's name.</summary>
    public string? ProjectName { get; init; }

    /// <summary>Enabled profiles (<c>--profile</c>); COMPOSE_PROFILES adds more.</summary>
    public ImmutableArray<string> Profiles { get; init; } = [];

    /// <summary>Environment files (<c>--env-file</c>); empty: <c>.env</c> in the project directory when present.</summary>
    public ImmutableArray<string> EnvFiles { get; init; } = [];

    /// <summary>The environment that wins over env files (default: this process's).</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }
}

/// <summary>A loaded, validated compose project.</summary>
public sealed record ComposeProject
{
    /// <summary>The project name (lower case, <c>[a-z0-9_-]</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The project directory.</summary>
    public required string WorkingDirectory { get; init; }

    /// <summary>The files it was loaded from.</summary>
    public ImmutableArray<string> ConfigFiles { get; init; } = [];

    /// <summary>The active services (profiles applied), by name.</summary>
    public ImmutableDictionary<string, ServiceConfig> Services { get; init; } = ImmutableDictionary<string, ServiceConfig>.Empty;

    /// <summary>Services left out by their profiles.</summary>
    public ImmutableArray<string> DisabledServices { get; init; } = [];

    /// <summary>Networks by their key in the file (<c>default</c> included when a service uses it).</summary>
    public ImmutableDictionary<string, NetworkConfig> Networks { get; init; } = ImmutableDictionary<string, NetworkConfig>.Empty;

    /// <summary>Volumes by their key in the file.</summary>
    public ImmutableDictionary<string, VolumeConfig> Volumes { get; init; } = ImmutableDictionary<string, VolumeConfig>.Empty;

    /// <summary>Secrets and configs with a file source, by key.</summary>
    public ImmutableDictionary<string, string> SecretFiles { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Configs with a file source, by key.</summary>
    public ImmutableDictionary<string, string> ConfigFilesByName { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Warnings met while loading (an obsolete <c>version</c>, unset variables).</summary>
    public ImmutableArray<string> Warnings { get; init; } = [];

    /// <summary>The resolved model, as <c>config</c> prints it.</summary>
    public required JsonObject Model { get; init; }

    /// <summary>Services in start order (dependencies first).</summary>
    public IReadOnlyList<ServiceConfig> StartOrder()
    {
        var order = new List<ServiceConfig>();
        var seen = new HashSet<string>();
        void Visit(ServiceConfig s)
        {
            if (!seen.Add(s.Name))
            {
                return;
            }

            foreach (var d in s.DependsOn.Keys.Order(StringComparer.Ordinal))
            {
                if (Services.TryGetValue(d, out var dep))
                {
                    Visit(dep);
                }
            }

            order.Add(s);
        }

        foreach (var s in Services.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            Visit(s);
        }

        return order;
    }
}

/// <summary>A service of a compose file, normalised.</summary>
public sealed record ServiceConfig
{
    /// <summary>Its key in the file.</summary>
    public required string Name { get; init; }

    /// <summary>The image to run (and the tag of a build); null when only <see cref="Build"/> is given.</summary>
    public string? Image { get; init; }

    /// <summary>How to build it, if it is built.</summary>
    public BuildConfig? Build { get; init; }

    /// <summary>The command, overriding the image's Cmd; null keeps it.</summary>
    public ImmutableArray<string>? Command { get; init; }

    /// <summary>The entrypoint, overriding the image's; null keeps it.</summary>
    public ImmutableArray<string>? Entrypoint { get; init; }

    /// <summary>Environment (env_file first, then environment), by name.</summary>
    public ImmutableSortedDictionary<string, string> Environment { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    /// <summary>Published ports.</summary>
    public ImmutableArray<PortBinding> Ports { get; init; } = [];

    /// <summary>Exposed ports (<c>80/tcp</c>).</summary>
    public ImmutableArray<string> Expose { get; init; } = [];

    /// <summary>Mounts: binds resolved to absolute paths, named volumes by their project-scoped name.</summary>
    public ImmutableArray<MountSpec> Mounts { get; init; } = [];

    /// <summary>Networks (keys of the file's networks) with aliases and fixed addresses.</summary>
    public ImmutableSortedDictionary<string, ServiceNetwork> Networks { get; init; } = ImmutableSortedDictionary<string, ServiceNetwork>.Empty;

    /// <summary><c>host</c>, <c>none</c>, <c>service:NAME</c> or <c>container:NAME</c> (another's network), or null for the service's networks.</summary>
    public string? NetworkMode { get; init; }

    /// <summary><c>privileged</c>: every capability and host device, no seccomp filter.</summary>
    public bool Privileged { get; init; }

    /// <summary><c>init</c>: a reaper as PID 1 that forwards signals.</summary>
    public bool Init { get; init; }

    /// <summary><c>devices</c>: host devices made in the container.</summary>
    public ImmutableArray<DeviceMapping> Devices { get; init; } = [];

    /// <summary><c>device_cgroup_rules</c>.</summary>
    public ImmutableArray<string> DeviceCgroupRules { get; init; } = [];

    /// <summary><c>pid</c>: <c>host</c>, <c>service:NAME</c> or <c>container:NAME</c>; null for a new namespace.</summary>
    public string? Pid { get; init; }

    /// <summary><c>userns_mode</c>: <c>host</c>, <c>auto</c> or <c>auto:size=N</c>; null for the engine's default.</summary>
    public string? UsernsMode { get; init; }

    /// <summary><c>ipc</c>: <c>private</c>, <c>shareable</c>, <c>none</c>, <c>host</c>, <c>service:NAME</c> or <c>container:NAME</c>.</summary>
    public string? Ipc { get; init; }

    /// <summary><c>volumes_from</c>: <c>SERVICE[:ro|rw]</c> or <c>container:NAME[:ro|rw]</c>.</summary>
    public ImmutableArray<string> VolumesFrom { get; init; } = [];

    /// <summary>Dependencies with their conditions.</summary>
    public ImmutableSortedDictionary<string, Dependency> DependsOn { get; init; } = ImmutableSortedDictionary<string, Dependency>.Empty;

    /// <summary>The health check (null: the image's).</summary>
    public HealthCheck? HealthCheck { get; init; }

    /// <summary>The restart policy.</summary>
    public RestartPolicy Restart { get; init; } = RestartPolicy.No;

    /// <summary>How many containers (<c>deploy.replicas</c> or <c>scale</c>; default 1).</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>cgroup limits from <c>deploy.resources.limits</c>, <c>mem_limit</c>, <c>cpus</c>, <c>pids_limit</c>.</summary>
    public Runtime.Cgroups.ResourceLimits Resources { get; init; } = Runtime.Cgroups.ResourceLimits.None;

    /// <summary>A fixed container name.</summary>
    public string? ContainerName { get; init; }

    /// <summary>Hostname.</summary>
    public string? Hostname { get; init; }

    /// <summary>User.</summary>
    public string? User { get; init; }

    /// <summary>Working directory.</summary>
    public string? WorkingDir { get; init; }

    /// <summary>Labels.</summary>
    public ImmutableSortedDictionary<string, string> Labels { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    /// <summary>The stop signal.</summary>
    public string? StopSignal { get; init; }

    /// <summary>Grace period before SIGKILL.</summary>
    public TimeSpan? StopGracePeriod { get; init; }

    /// <summary>Capabilities added.</summary>
    public ImmutableArray<string> CapAdd { get; init; } = [];

    /// <summary>security_opt: no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json (relative to the project directory).</summary>
    public ImmutableArray<string> SecurityOpt { get; init; } = [];

    /// <summary>Capabilities dropped.</summary>
    public ImmutableArray<string> CapDrop { get; init; } = [];

    /// <summary>The cgroup parent (relative, under containers-dotnet).</summary>
    public string? CgroupParent { get; init; }

    /// <summary>Read-only root filesystem.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Ulimits.</summary>
    public ImmutableArray<Ulimit> Ulimits { get; init; } = [];

    /// <summary>Profiles the service belongs to.</summary>
    public ImmutableArray<string> Profiles { get; init; } = [];

    /// <summary><c>always</c>, <c>never</c>, <c>missing</c> (default), <c>build</c>.</summary>
    public string PullPolicy { get; init; } = "missing";

    /// <summary>Keep stdin open and give a terminal.</summary>
    public bool StdinOpen { get; init; }

    /// <summary>Give a terminal.</summary>
    public bool Tty { get; init; }

    /// <summary>The service's definition as resolved, for the config hash and <c>config</c>.</summary>
    public required JsonObject Definition { get; init; }
}

/// <summary>A build section.</summary>
/// <param name="Context">The context directory (absolute).</param>
/// <param name="Dockerfile">The Dockerfile path relative to the context, or null.</param>
/// <param name="DockerfileInline">An inline Dockerfile, or null.</param>
/// <param name="Args">Build arguments.</param>
/// <param name="Target">The target stage.</param>
public sealed record BuildConfig(string Context, string? Dockerfile, string? DockerfileInline, ImmutableSortedDictionary<string, string> Args, string? Target);

/// <summary>A service's place on a network.</summary>
/// <param name="Aliases">Extra names.</param>
/// <param name="IPv4Address">A fixed address.</param>
public sealed record ServiceNetwork(ImmutableArray<string> Aliases, string? IPv4Address);

/// <summary>A dependency.</summary>
/// <param name="Condition"><c>service_started</c>, <c>service_healthy</c> or <c>service_completed_successfully</c>.</param>
/// <param name="Required">False: a missing or disabled dependency is skipped.</param>
/// <param name="Restart">Restart this service when the dependency is updated.</param>
public sealed record Dependency(string Condition, bool Required, bool Restart);

/// <summary>A top-level network.</summary>
/// <param name="Name">The real network name (<c>project_key</c>, or <c>name:</c>, or the external one).</param>
/// <param name="External">It must exist already; up never creates or removes it.</param>
/// <param name="Internal">No route out.</param>
/// <param name="Subnet">The subnet of its ipam config.</param>
/// <param name="Gateway">The gateway of its ipam config.</param>
/// <param name="Labels">Labels.</param>
public sealed record NetworkConfig(string Name, bool External, bool Internal, string? Subnet, string? Gateway, ImmutableSortedDictionary<string, string> Labels);

/// <summary>A top-level volume.</summary>
/// <param name="Name">The real volume name (<c>project_key</c>, <c>name:</c>, or the external one).</param>
/// <param name="External">It must exist already.</param>
/// <param name="Labels">Labels.</param>
/// <param name="Driver">Its driver (<c>driver:</c>; local unless given, replicated for a replicated volume).</param>
/// <param name="DriverOptions">Its driver's options (<c>driver_opts:</c>).</param>
public sealed record VolumeConfig(string Name, bool External, ImmutableSortedDictionary<string, string> Labels, string Driver = "local", ImmutableSortedDictionary<string, string>? DriverOptions = null);
