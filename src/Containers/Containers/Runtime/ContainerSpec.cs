using Containers.Runtime.Cgroups;

namespace Containers.Runtime;

/// <summary>
/// Everything needed to run a container, as an immutable value: inspectable and testable without a kernel.
/// Built by <see cref="ContainerBuilder"/>; persisted with the container so another process can manage it.
/// </summary>
public sealed record ContainerSpec
{
    /// <summary>
    /// The root filesystem directory (the overlay's top lower layer; never modified). Empty when the container is
    /// made from <see cref="Image"/>: the engine fills it (and <see cref="LowerLayers"/>) from the image's snapshots.
    /// </summary>
    public string Rootfs { get; init; } = "";

    /// <summary>Further lower layers below <see cref="Rootfs"/>, topmost first (image layers).</summary>
    public ImmutableArray<string> LowerLayers { get; init; } = [];

    /// <summary>The image reference the container was made from, or null when run from a rootfs directory.</summary>
    public string? Image { get; init; }

    /// <summary>The ID (config digest) of the image the container was made from, filled in by the engine.</summary>
    public string? ImageId { get; init; }

    /// <summary>
    /// The entrypoint, overriding the image's (<c>--entrypoint</c>); null keeps the image's. Setting it drops the
    /// image's Cmd, as docker does. The process run is Entrypoint + <see cref="Command"/>.
    /// </summary>
    public ImmutableArray<string>? Entrypoint { get; init; }

    /// <summary>
    /// The command and its arguments. Given: the arguments after the entrypoint (empty: the image's Cmd); once the
    /// engine filled the spec from its image (<see cref="ImageId"/> set), the whole argv, entrypoint first.
    /// </summary>
    public ImmutableArray<string> Command { get; init; } = [];

    /// <summary>The process's argv: <see cref="Entrypoint"/> then <see cref="Command"/>, or <see cref="Command"/> alone once filled from an image.</summary>
    public ImmutableArray<string> ProcessArgv() => ImageId is not null || Entrypoint is not { } entrypoint ? Command : [.. entrypoint, .. Command];

    /// <summary>The argv after the entrypoint: what docker shows as the container's Config.Cmd.</summary>
    public ImmutableArray<string> ArgumentsAfterEntrypoint()
    {
        var argv = ProcessArgv();
        var entrypoint = Entrypoint ?? [];
        return argv.Length >= entrypoint.Length && argv.Take(entrypoint.Length).SequenceEqual(entrypoint) ? argv[entrypoint.Length..] : argv;
    }

    /// <summary>Ports the image or the user exposes (<c>80/tcp</c>), published by <see cref="PublishAllPorts"/>.</summary>
    public ImmutableArray<string> ExposedPorts { get; init; } = [];

    /// <summary>Publish every exposed port on an ephemeral host port (<c>-P</c>).</summary>
    public bool PublishAllPorts { get; init; }

    /// <summary>The health check (the image's unless set; <see cref="HealthCheck.None"/> disables it).</summary>
    public HealthCheck? HealthCheck { get; init; }

    /// <summary>Container name; a random one is chosen when null.</summary>
    public string? Name { get; init; }

    /// <summary>Environment as <c>KEY=VALUE</c> strings.</summary>
    public ImmutableArray<string> Environment { get; init; } = [];

    /// <summary>Working directory inside the container (created when missing).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary><c>user[:group]</c>, by name (resolved from the rootfs's /etc/passwd and /etc/group) or number.</summary>
    public string? User { get; init; }

    /// <summary>Extra supplementary groups (names or numbers).</summary>
    public ImmutableArray<string> GroupAdd { get; init; } = [];

    /// <summary>Hostname; the first 12 characters of the id when null.</summary>
    public string? Hostname { get; init; }

    /// <summary>
    /// Network mode: <c>bridge</c> (the default bridge, the default), <c>none</c>, <c>host</c>, <c>slirp4netns</c>
    /// (see <see cref="Slirp4netns"/>), or the name of a user-defined network (with DNS for container names and aliases).
    /// </summary>
    public string NetworkMode { get; init; } = "bridge";

    /// <summary>
    /// The network mode of a container that reaches out through slirp4netns (user-mode networking, no bridge on the
    /// host): rootless engines' default, as Podman's. Ports are published by a proxy that connects inside it.
    /// </summary>
    public const string Slirp4netns = "slirp4netns";

    /// <summary>
    /// A group under the <c>containers-dotnet</c> cgroup parent that holds this container's cgroup (docker's
    /// <c>--cgroup-parent</c>, relative: <c>a/b</c>): one subtree for everything a test run starts, say. Null: directly under it.
    /// </summary>
    public string? CgroupParent { get; init; }

    /// <summary>The networks to join with their aliases and addresses; when empty, <see cref="NetworkMode"/> alone decides.</summary>
    public ImmutableArray<Networking.NetworkAttachment> Networks { get; init; } = [];

    /// <summary>Published ports.</summary>
    public ImmutableArray<PortBinding> Ports { get; init; } = [];

    /// <summary>Bind mounts and tmpfs mounts.</summary>
    public ImmutableArray<MountSpec> Mounts { get; init; } = [];

    /// <summary>cgroup limits.</summary>
    public ResourceLimits Resources { get; init; } = ResourceLimits.None;

    /// <summary>Mount the root filesystem read-only.</summary>
    public bool ReadOnlyRootfs { get; init; }

    /// <summary>Give the process a pseudo-terminal (<c>-t</c>).</summary>
    public bool Tty { get; init; }

    /// <summary>Keep stdin open (<c>-i</c>); otherwise stdin is /dev/null.</summary>
    public bool OpenStdin { get; init; }

    /// <summary>Close stdin when the first attached client's input ends (Docker's StdinOnce, Kubernetes' stdinOnce).</summary>
    public bool StdinOnce { get; init; }

    /// <summary>Remove the container when it exits (<c>--rm</c>).</summary>
    public bool AutoRemove { get; init; }

    /// <summary>Capabilities added to Docker's default set (names with or without CAP_, or ALL).</summary>
    public ImmutableArray<string> CapAdd { get; init; } = [];

    /// <summary>Capabilities dropped from Docker's default set (names with or without CAP_, or ALL).</summary>
    public ImmutableArray<string> CapDrop { get; init; } = [];

    /// <summary>Set no_new_privs (<c>--security-opt no-new-privileges</c>).</summary>
    public bool NoNewPrivileges { get; init; }

    /// <summary>
    /// The seccomp profile (<c>--security-opt seccomp=...</c>): null for Docker's default profile,
    /// <see cref="SeccompUnconfined"/> for none, or a profile in Docker's JSON format (its text, as docker sends it).
    /// </summary>
    public string? SeccompProfile { get; init; }

    /// <summary>The <see cref="SeccompProfile"/> value that turns seccomp off.</summary>
    public const string SeccompUnconfined = "unconfined";

    /// <summary>
    /// Docker's <c>--privileged</c>: every capability, no seccomp filter, every host device (and the device cgroup
    /// opened), and /proc and /sys without masks and writable.
    /// </summary>
    public bool Privileged { get; init; }

    /// <summary>
    /// Run a small init as PID 1 (<c>--init</c>, docker-init/tini): it starts the command as its child, forwards the
    /// signals it gets to it, reaps every orphan, and exits with the command's status.
    /// </summary>
    public bool Init { get; init; }

    /// <summary>Host devices made in the container (<c>--device HOST[:CONTAINER][:rwm]</c>), allowed in the device cgroup.</summary>
    public ImmutableArray<DeviceMapping> Devices { get; init; } = [];

    /// <summary>Extra device cgroup rules (<c>--device-cgroup-rule 'c 42:* rmw'</c>).</summary>
    public ImmutableArray<string> DeviceCgroupRules { get; init; } = [];

    /// <summary>
    /// The pid namespace (<c>--pid</c>): empty for a new one, <c>host</c> for the host's, or <c>container:ID</c> for
    /// another running container's.
    /// </summary>
    public string PidMode { get; init; } = "";

    /// <summary>
    /// The IPC namespace and /dev/shm (<c>--ipc</c>): empty or <c>private</c> (new, own /dev/shm; the default),
    /// <c>shareable</c> (new, and others may join it), <c>none</c> (new, no /dev/shm), <c>host</c>, or
    /// <c>container:ID</c> (a shareable running container's, with its /dev/shm).
    /// </summary>
    public string IpcMode { get; init; } = "";

    /// <summary>
    /// The user namespace (<c>--userns</c>): empty for the engine's default (the host's, unless
    /// <see cref="EngineOptions.UsernsRemap"/> is set), <c>host</c> for the host's even then, <c>auto</c> or
    /// <c>auto:size=N</c> for a range of its own taken from the subordinate ids of the user <c>containers</c>
    /// (as Podman's), or <c>private</c> with <see cref="UidMap"/> and <see cref="GidMap"/> given. Resolved when the
    /// container is created: the maps are then in the spec.
    /// </summary>
    public string UsernsMode { get; init; } = "";

    /// <summary>
    /// The uid map of the container's user namespace (<c>--uidmap CONTAINER:HOST:SIZE</c>); empty for none. Root in
    /// the container is the host id container id 0 maps to, with no privilege on the host.
    /// </summary>
    public ImmutableArray<IdMapping> UidMap { get; init; } = [];

    /// <summary>The gid map (<c>--gidmap</c>); the uid map when only that is given.</summary>
    public ImmutableArray<IdMapping> GidMap { get; init; } = [];

    /// <summary>Whether the container runs in a user namespace of its own (its maps are set).</summary>
    public bool HasUserNamespace => !UidMap.IsDefaultOrEmpty;

    /// <summary>Containers whose mounts this one gets too (<c>--volumes-from ID[:ro|rw]</c>), resolved when it is created.</summary>
    public ImmutableArray<string> VolumesFrom { get; init; } = [];

    /// <summary>Resource limits for setrlimit (<c>--ulimit</c>).</summary>
    public ImmutableArray<Ulimit> Ulimits { get; init; } = [];

    /// <summary>Restart policy (<c>--restart</c>).</summary>
    public RestartPolicy Restart { get; init; } = RestartPolicy.No;

    /// <summary>The signal <see cref="Container.StopAsync"/> sends first (null: the image's, else SIGTERM).</summary>
    public string? StopSignal { get; init; }

    /// <summary>How long stop waits after the stop signal before SIGKILL (default 10 s).</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Labels.</summary>
    public ImmutableDictionary<string, string> Labels { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>The label of a build's RUN step containers: they belong to the build, are not listed, and go when their build dies.</summary>
    internal const string BuildStepLabel = "io.containers-dotnet.build";

    /// <summary>Whether this is a build's RUN step (<see cref="BuildStepLabel"/>).</summary>
    internal bool IsBuildStep => Labels.ContainsKey(BuildStepLabel);

    /// <summary>The container's cgroup below the <c>containers-dotnet</c> parent: <see cref="CgroupParent"/>/id.</summary>
    internal string CgroupKey(string id) => CgroupParent is { Length: > 0 } p ? p.Trim('/') + "/" + id : id;

    /// <summary>With network mode <c>container:ID</c>: the container whose network, ipc and uts namespaces this one joins (a pod's containers share them); else null.</summary>
    public string? JoinedContainer => NetworkMode.StartsWith("container:", StringComparison.Ordinal) ? NetworkMode["container:".Length..] : null;

    /// <summary>The networks the container joins, in order (its first is eth0 and carries the default route).</summary>
    public ImmutableArray<Networking.NetworkAttachment> EffectiveNetworks() =>
        NetworkMode is "host" or "none" or Slirp4netns || JoinedContainer is not null ? []
        : !Networks.IsDefaultOrEmpty ? Networks
        : [new Networking.NetworkAttachment(NetworkMode)];
}

/// <summary>A host device made in a container: docker's <c>--device HOST[:CONTAINER][:PERMISSIONS]</c>.</summary>
/// <param name="HostPath">The device on the host (a character or block device, or a directory of them).</param>
/// <param name="ContainerPath">Where it appears in the container (the host path when empty).</param>
/// <param name="Permissions">What the device cgroup allows: a combination of r, w and m.</param>
public sealed record DeviceMapping(string HostPath, string ContainerPath = "", string Permissions = "rwm")
{
    /// <summary>Parses <c>HOST[:CONTAINER][:PERMISSIONS]</c>. Throws <see cref="InvalidContainerSpecException"/> naming the spec.</summary>
    public static DeviceMapping Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var parts = spec.Split(':');
        string host = parts[0], container = "", permissions = "rwm";
        switch (parts.Length)
        {
            case 1:
                break;
            case 2 when IsPermissions(parts[1]):
                permissions = parts[1];
                break;
            case 2:
                container = parts[1];
                break;
            case 3:
                container = parts[1];
                permissions = parts[2];
                break;
            default:
                throw new InvalidContainerSpecException($"invalid device spec '{spec}': expected HOST[:CONTAINER][:rwm]");
        }

        var d = new DeviceMapping(host, container, permissions);
        d.Validate();
        return d;
    }

    /// <summary>The container path (the host path when none was given).</summary>
    public string Target => ContainerPath is { Length: > 0 } c ? c : HostPath;

    /// <summary>Throws <see cref="InvalidContainerSpecException"/> naming what is wrong.</summary>
    public void Validate()
    {
        if (!HostPath.StartsWith('/') || !Target.StartsWith('/'))
        {
            throw new InvalidContainerSpecException($"invalid device '{HostPath}:{ContainerPath}': both paths must be absolute");
        }

        if (!IsPermissions(Permissions))
        {
            throw new InvalidContainerSpecException($"invalid device permissions '{Permissions}' for {HostPath}: a combination of r, w and m");
        }
    }

    private static bool IsPermissions(string p) => p.Length is > 0 and <= 3 && p.All(c => c is 'r' or 'w' or 'm') && p.Distinct().Count() == p.Length;
}

/// <summary>
/// One line of a user namespace's uid or gid map: <paramref name="Size"/> ids from <paramref name="ContainerId"/> in
/// the container are <paramref name="HostId"/> onwards on the host.
/// </summary>
public sealed record IdMapping(long ContainerId, long HostId, long Size)
{
    /// <summary>Parses <c>CONTAINER:HOST:SIZE</c> (docker's and podman's <c>--uidmap</c>). Throws <see cref="InvalidContainerSpecException"/> naming it.</summary>
    public static IdMapping Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var parts = spec.Split(':');
        if (parts.Length != 3 || !long.TryParse(parts[0], out var c) || !long.TryParse(parts[1], out var h) || !long.TryParse(parts[2], out var n))
        {
            throw new InvalidContainerSpecException($"invalid id mapping '{spec}': expected CONTAINER:HOST:SIZE");
        }

        var m = new IdMapping(c, h, n);
        m.Validate();
        return m;
    }

    /// <summary>The host id <paramref name="id"/> of the container is, or null when the map leaves it out.</summary>
    public static long? ToHost(IEnumerable<IdMapping> map, long id) =>
        map.FirstOrDefault(m => id >= m.ContainerId && id < m.ContainerId + m.Size) is { } hit ? hit.HostId + (id - hit.ContainerId) : null;

    /// <summary>The line of /proc/PID/uid_map (and gid_map) this is.</summary>
    public override string ToString() => $"{ContainerId} {HostId} {Size}";

    /// <summary>Throws <see cref="InvalidContainerSpecException"/> unless the ids are 32-bit and the size positive.</summary>
    public void Validate()
    {
        if (ContainerId < 0 || HostId < 0 || Size <= 0 || ContainerId + Size > uint.MaxValue || HostId + Size > uint.MaxValue)
        {
            throw new InvalidContainerSpecException($"invalid id mapping '{ContainerId}:{HostId}:{Size}': ids are 0 to 4294967294 and the size at least 1");
        }
    }
}

/// <summary>A published port: <c>[HostIp:][HostPort:]ContainerPort[/Protocol]</c>. HostPort 0 picks a free port.</summary>
/// <param name="ContainerPort">Port inside the container.</param>
/// <param name="HostPort">Port on the host; 0 for an ephemeral port.</param>
/// <param name="HostIp">Address to listen on (default 0.0.0.0, as docker).</param>
/// <param name="Protocol"><c>tcp</c> or <c>udp</c>.</param>
public sealed record PortBinding(int ContainerPort, int HostPort = 0, string HostIp = "0.0.0.0", string Protocol = "tcp")
{
    /// <summary>Parses docker's <c>-p</c> syntax. Throws <see cref="InvalidContainerSpecException"/> naming the spec.</summary>
    public static PortBinding Parse(string spec)
    {
        var protocol = "tcp";
        var s = spec;
        var slash = s.LastIndexOf('/');
        if (slash >= 0)
        {
            protocol = s[(slash + 1)..].ToLowerInvariant();
            s = s[..slash];
            if (protocol is not ("tcp" or "udp"))
            {
                throw new InvalidContainerSpecException($"invalid port spec '{spec}': protocol must be tcp or udp");
            }
        }

        string hostIp = "0.0.0.0", hostPort = "", containerPort;
        var lastColon = s.LastIndexOf(':');
        if (lastColon < 0)
        {
            containerPort = s;
        }
        else
        {
            containerPort = s[(lastColon + 1)..];
            var rest = s[..lastColon];
            var colon = rest.LastIndexOf(':');
            if (colon < 0)
            {
                hostPort = rest;
            }
            else
            {
                hostIp = rest[..colon].Trim('[', ']');
                hostPort = rest[(colon + 1)..];
            }
        }

        if (!System.Net.IPAddress.TryParse(hostIp, out _))
        {
            throw new InvalidContainerSpecException($"invalid port spec '{spec}': '{hostIp}' is not an IP address");
        }

        return new PortBinding(ParsePort(containerPort, spec, false), hostPort.Length == 0 ? 0 : ParsePort(hostPort, spec, true), hostIp, protocol);
    }

    /// <summary>The docker form, e.g. <c>0.0.0.0:8080->80/tcp</c>.</summary>
    public override string ToString() => $"{HostIp}:{HostPort}->{ContainerPort}/{Protocol}";

    private static int ParsePort(string s, string spec, bool allowZero) =>
        int.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p <= 65535 && (p > 0 || allowZero)
            ? p
            : throw new InvalidContainerSpecException($"invalid port spec '{spec}': '{s}' is not a valid port number");
}

/// <summary>The kind of a <see cref="MountSpec"/>.</summary>
public enum MountType
{
    /// <summary>A host directory or file.</summary>
    Bind,

    /// <summary>A tmpfs.</summary>
    Tmpfs,

    /// <summary>A named volume of the root (<see cref="MountSpec.Source"/> is its name; empty for a new anonymous one).</summary>
    Volume,
}

/// <summary>A mount in the container.</summary>
/// <param name="Type">Bind or tmpfs.</param>
/// <param name="Source">Host path for bind mounts; ignored for tmpfs.</param>
/// <param name="Target">Absolute path in the container.</param>
/// <param name="ReadOnly">Mount read-only.</param>
/// <param name="TmpfsOptions">tmpfs options (e.g. <c>size=64m,mode=1777</c>).</param>
public sealed record MountSpec(MountType Type, string Source, string Target, bool ReadOnly = false, string? TmpfsOptions = null)
{
    /// <summary>
    /// For a bind mount: create a missing source directory on start, as docker does for <c>-v /host:/dst</c> and compose
    /// for its short syntax (<c>bind.create_host_path</c>); when false a missing source is an error (<c>--mount</c>).
    /// </summary>
    public bool CreateHostPath { get; init; }

    /// <summary>
    /// For a bind mount into a container in a user namespace: mount it idmapped (Podman's <c>idmap</c> option,
    /// <c>-v /host:/dst:idmap</c>), so the host's owners show as the same ids inside (root's files are the
    /// container root's) and what the container writes lands with those ids. Named volumes always are.
    /// </summary>
    public bool IdMap { get; init; }

    /// <summary>
    /// Parses <c>-v</c>: <c>/host:/dst[:ro|rw]</c> (bind), <c>name:/dst[:ro|rw]</c> (named volume, created when missing)
    /// or <c>/dst</c> (a new anonymous volume). Throws <see cref="InvalidContainerSpecException"/> naming the spec.
    /// </summary>
    public static MountSpec ParseVolume(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var parts = spec.Split(':');
        if (parts.Length == 1 && spec.StartsWith('/'))
        {
            return new MountSpec(MountType.Volume, "", spec);
        }

        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            throw new InvalidContainerSpecException($"invalid volume spec '{spec}': expected SRC:DST[:ro]");
        }

        var isVolume = !parts[0].StartsWith('/');
        if (isVolume && !VolumeNames.IsValid(parts[0]))
        {
            throw new InvalidContainerSpecException($"invalid volume spec '{spec}': '{parts[0]}' is neither an absolute host path nor a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)");
        }

        if (!parts[1].StartsWith('/'))
        {
            throw new InvalidContainerSpecException($"invalid volume spec '{spec}': the container path '{parts[1]}' must be absolute");
        }

        bool ro = false, idmap = false;
        if (parts.Length == 3)
        {
            foreach (var opt in parts[2].Split(','))
            {
                idmap |= opt == "idmap";
                ro = opt switch
                {
                    "ro" => true,
                    "rw" => false,
                    // SELinux relabelling (no SELinux here), docker Desktop's file-sharing consistency hints and
                    // propagation modes that are the default here: accepted as docker on Linux accepts them
                    "z" or "Z" or "idmap" or "cached" or "delegated" or "consistent" or "rprivate" or "private" or "nocopy" => ro,
                    _ => throw new InvalidContainerSpecException($"invalid volume spec '{spec}': unknown option '{opt}'"),
                };
            }
        }

        return new MountSpec(isVolume ? MountType.Volume : MountType.Bind, parts[0], parts[1], ro) { CreateHostPath = !isVolume, IdMap = idmap };
    }

    /// <summary>
    /// Parses <c>--mount type=bind|volume|tmpfs,source=S,target=T[,readonly][,tmpfs-size=N][,tmpfs-mode=M]</c>.
    /// Throws <see cref="InvalidContainerSpecException"/> naming the field.
    /// </summary>
    public static MountSpec ParseMount(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in spec.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = field.Split('=', 2);
            fields[kv[0].Trim()] = kv.Length > 1 ? kv[1].Trim() : "true";
        }

        var type = fields.GetValueOrDefault("type", "volume");
        var source = fields.GetValueOrDefault("source") ?? fields.GetValueOrDefault("src") ?? "";
        var target = fields.GetValueOrDefault("target") ?? fields.GetValueOrDefault("dst") ?? fields.GetValueOrDefault("destination")
            ?? throw new InvalidContainerSpecException($"invalid mount spec '{spec}': target is required");
        if (!target.StartsWith('/'))
        {
            throw new InvalidContainerSpecException($"invalid mount spec '{spec}': target '{target}' must be an absolute path");
        }

        var ro = fields.TryGetValue("readonly", out var r) ? r is "true" or "1" : fields.TryGetValue("ro", out var r2) && r2 is "true" or "1";
        foreach (var key in fields.Keys.Where(k => k is not ("type" or "source" or "src" or "target" or "dst" or "destination" or "readonly" or "ro" or "tmpfs-size" or "tmpfs-mode" or "bind-propagation" or "volume-nocopy" or "idmap" or "consistency")))
        {
            throw new InvalidContainerSpecException($"invalid mount spec '{spec}': unknown field '{key}'");
        }

        return type switch
        {
            "bind" when source.StartsWith('/') => new MountSpec(MountType.Bind, source, target, ro) { IdMap = fields.TryGetValue("idmap", out var i) && i is "true" or "1" },
            "bind" => throw new InvalidContainerSpecException($"invalid mount spec '{spec}': a bind source must be an absolute host path"),
            "volume" when source.Length == 0 || VolumeNames.IsValid(source) => new MountSpec(MountType.Volume, source, target, ro),
            "volume" => throw new InvalidContainerSpecException($"invalid mount spec '{spec}': '{source}' is not a valid volume name"),
            "tmpfs" => new MountSpec(MountType.Tmpfs, "tmpfs", target, ro, string.Join(',', new[]
            {
                fields.TryGetValue("tmpfs-size", out var size) ? "size=" + size : null,
                fields.TryGetValue("tmpfs-mode", out var mode) ? "mode=" + mode : null,
            }.OfType<string>()) is { Length: > 0 } o ? o : null),
            _ => throw new InvalidContainerSpecException($"invalid mount spec '{spec}': type must be bind, volume or tmpfs"),
        };
    }

    /// <summary>Parses <c>--tmpfs DST[:OPTIONS]</c>.</summary>
    public static MountSpec ParseTmpfs(string spec)
    {
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var target = colon < 0 ? spec : spec[..colon];
        if (!target.StartsWith('/'))
        {
            throw new InvalidContainerSpecException($"invalid tmpfs spec '{spec}': the path must be absolute");
        }

        return new MountSpec(MountType.Tmpfs, "tmpfs", target, false, colon < 0 ? null : spec[(colon + 1)..]);
    }
}

/// <summary>A setrlimit limit, docker's <c>--ulimit name=soft[:hard]</c>.</summary>
/// <param name="Name">core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack, as.</param>
/// <param name="Soft">Soft limit.</param>
/// <param name="Hard">Hard limit.</param>
public sealed record Ulimit(string Name, ulong Soft, ulong Hard)
{
    private static readonly string[] Names = ["cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime"];

    /// <summary>The RLIMIT_* number.</summary>
    public int Resource => Array.IndexOf(Names, Name) is var i and >= 0 ? i : throw new InvalidContainerSpecException($"invalid ulimit '{Name}': unknown resource");

    /// <summary>Parses <c>name=soft[:hard]</c>; -1 means unlimited.</summary>
    public static Ulimit Parse(string spec)
    {
        var eq = spec.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new InvalidContainerSpecException($"invalid ulimit '{spec}': expected name=soft[:hard]");
        }

        var name = spec[..eq];
        var values = spec[(eq + 1)..].Split(':');
        var soft = Value(values[0], spec);
        var hard = values.Length > 1 ? Value(values[1], spec) : soft;
        if (soft > hard)
        {
            throw new InvalidContainerSpecException($"invalid ulimit '{spec}': soft limit exceeds hard limit");
        }

        var u = new Ulimit(name, soft, hard);
        _ = u.Resource;
        return u;
    }

    private static ulong Value(string s, string spec) => s == "-1" ? ulong.MaxValue
        : ulong.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v
        : throw new InvalidContainerSpecException($"invalid ulimit '{spec}': '{s}' is not a number");
}

/// <summary>When a container that exits is started again: docker's no, on-failure[:N], always, unless-stopped.</summary>
/// <param name="Name">Policy name.</param>
/// <param name="MaximumRetryCount">For on-failure: the most restarts (0 = unlimited).</param>
public sealed record RestartPolicy(string Name, int MaximumRetryCount = 0)
{
    /// <summary>Never restart.</summary>
    public static RestartPolicy No { get; } = new("no");

    /// <summary>Parses <c>no</c>, <c>on-failure[:N]</c>, <c>always</c>, <c>unless-stopped</c>.</summary>
    public static RestartPolicy Parse(string spec)
    {
        var parts = spec.Split(':');
        var name = parts[0];
        if (name is not ("no" or "on-failure" or "always" or "unless-stopped") || parts.Length > 2)
        {
            throw new InvalidContainerSpecException($"invalid restart policy '{spec}': expected no, on-failure[:N], always or unless-stopped");
        }

        if (parts.Length == 2)
        {
            if (name != "on-failure" || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
            {
                throw new InvalidContainerSpecException($"invalid restart policy '{spec}': only on-failure takes a retry count");
            }

            return new RestartPolicy(name, n);
        }

        return new RestartPolicy(name);
    }

    /// <summary>Whether a container that exited with <paramref name="exitCode"/> after <paramref name="restarts"/> restarts starts again.</summary>
    public bool ShouldRestart(int exitCode, int restarts, bool stoppedByUser) => !stoppedByUser && Name switch
    {
        "always" or "unless-stopped" => true,
        "on-failure" => exitCode != 0 && (MaximumRetryCount == 0 || restarts < MaximumRetryCount),
        _ => false,
    };

    /// <inheritdoc />
    public override string ToString() => MaximumRetryCount > 0 ? $"{Name}:{MaximumRetryCount}" : Name;
}
