namespace Containers;

/// <summary>Settings of a <see cref="ContainerEngine"/>; bound from the configuration section "Containers" by hosting.</summary>
public sealed record EngineOptions
{
    /// <summary>The root directory holding containers (and later images). Default: CONTAINERS_ROOT, else /var/lib/containers-dotnet (rootless: <see cref="Rootless.DefaultRoot"/>).</summary>
    public string Root { get; init; } = Env("CONTAINERS_ROOT") ?? (Rootless.IsActive ? Rootless.DefaultRoot : "/var/lib/containers-dotnet");

    /// <summary>Machine-wide state shared by every root (the bridge's address allocations). Default: CONTAINERS_MACHINE_STATE, else /run/containers-dotnet (rootless: <see cref="Rootless.DefaultStateDirectory"/>).</summary>
    public string MachineStateDirectory { get; init; } = Env("CONTAINERS_MACHINE_STATE") ?? (Rootless.IsActive ? Rootless.DefaultStateDirectory : "/run/containers-dotnet");

    /// <summary>Name of the default bridge interface. Default: CONTAINERS_BRIDGE or cdnet0.</summary>
    public string BridgeName { get; init; } = Env("CONTAINERS_BRIDGE") ?? "cdnet0";

    /// <summary>Subnet of the default bridge, CIDR; pick one that clashes with no route on the machine. Default: CONTAINERS_BRIDGE_SUBNET or 10.213.0.0/16.</summary>
    public string BridgeSubnet { get; init; } = Env("CONTAINERS_BRIDGE_SUBNET") ?? "10.213.0.0/16";

    /// <summary>
    /// Where the embedded DNS servers of user-defined networks send names that are not containers' (<c>ip</c> or
    /// <c>ip:port</c>). Default: CONTAINERS_DNS_UPSTREAM (comma-separated), else the nameservers of the host's
    /// /etc/resolv.conf (loopback ones included: the servers run in the host's namespace).
    /// </summary>
    public System.Collections.Immutable.ImmutableArray<string> DnsUpstreams { get; init; } =
        Env("CONTAINERS_DNS_UPSTREAM") is { } dns ? [.. dns.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] : [];

    /// <summary>Volume drivers besides <c>local</c> (<c>volume create --driver NAME</c>).</summary>
    public System.Collections.Immutable.ImmutableArray<IVolumeDriver> VolumeDrivers { get; init; } = [];

    /// <summary>Path of the NativeAOT shim; found next to the Containers assembly when null.</summary>
    public string? ShimPath { get; init; }

    /// <summary>Path of containers-monitor.dll (detached containers); found next to the Containers assembly when null.</summary>
    public string? MonitorPath { get; init; }

    /// <summary>
    /// The command that starts a detached monitor, to which the engine appends the monitor's arguments; it must end
    /// up in <see cref="ContainerMonitorHost.RunAsync"/>. Null: <c>dotnet exec containers-monitor.dll</c>. An app that
    /// hosts the monitor itself (the CLI, published NativeAOT) passes its own path and a hidden verb.
    /// </summary>
    public System.Collections.Immutable.ImmutableArray<string> MonitorCommand { get; init; }

    /// <summary>
    /// Keep one shim spawned ahead (after the first start) so the next start skips spawning it: worth it for apps and
    /// test fixtures that run many containers; off for one-shot processes (the CLI, the detached monitor).
    /// </summary>
    public bool PrespawnShim { get; init; } = true;

    /// <summary>
    /// The container this engine is made to start at once (the CLI's <c>run</c>). When its start can take a shim
    /// spawned ahead (new network, pid and ipc namespaces, no terminal and no stdin, no user namespace, cgroup parent
    /// or <c>--privileged</c>) the shim is spawned as the engine is made: its spawn and start-up overlap the engine's
    /// set-up and the start's first steps. With <see cref="PrespawnShim"/> off no other shim is spawned ahead after it.
    /// A start of another shape spawns its own; the spawned one exits unused.
    /// </summary>
    public ContainerSpec? FirstStart { get; init; }

    /// <summary>
    /// Whether the engine sweeps its root when it is made (containers whose monitor died, their cgroups and addresses,
    /// the trash, vanished bridges' rules, dead writers' files). Off for a container's monitor: the engine that started
    /// it has just swept, and the sweep reads every container's state (per pod start, on a node of many pods).
    /// </summary>
    internal bool SweepAtStart { get; init; } = true;

    /// <summary>
    /// Docker's <c>userns-remap</c>: every container without <c>--userns</c> of its own runs in a user namespace
    /// mapped onto the subordinate ids of this user (<c>USER[:GROUP]</c>, names or ids, from
    /// <see cref="SubordinateUidFile"/> and <see cref="SubordinateGidFile"/>; <c>default</c> is the user
    /// <c>dockremap</c>, as Docker's). Null: containers share the host's user namespace. Default: CONTAINERS_USERNS_REMAP.
    /// </summary>
    public string? UsernsRemap { get; init; } = Env("CONTAINERS_USERNS_REMAP");

    /// <summary>
    /// How the layers of a container in a user namespace are given to it: true for idmapped mounts (shared, nothing
    /// copied; Linux 5.19 or later), false for copies with every owner shifted, made once per map and cached under
    /// ROOT/idmapped. Null (the default): idmapped where the kernel and the root's filesystem allow them.
    /// </summary>
    public bool? IdMappedMounts { get; init; }

    /// <summary>The subordinate uid ranges (<c>USER:START:COUNT</c> lines) of <see cref="UsernsRemap"/> and <c>--userns auto</c>. Default: CONTAINERS_SUBUID or /etc/subuid.</summary>
    public string SubordinateUidFile { get; init; } = Env("CONTAINERS_SUBUID") ?? "/etc/subuid";

    /// <summary>The subordinate gid ranges. Default: CONTAINERS_SUBGID or /etc/subgid.</summary>
    public string SubordinateGidFile { get; init; } = Env("CONTAINERS_SUBGID") ?? "/etc/subgid";

    /// <summary>Registry access: insecure registries, credentials, certificates, concurrency.</summary>
    public Images.Registry.RegistryOptions Registry { get; init; } = new();

    /// <summary>When starting a container from an image pulls it (default: when missing).</summary>
    public Images.PullPolicy PullPolicy { get; init; } = Images.PullPolicy.Missing;

    /// <summary>Clock for timestamps and backoff.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
}
