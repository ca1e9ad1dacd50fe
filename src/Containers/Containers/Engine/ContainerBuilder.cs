namespace Containers;

/// <summary>
/// An immutable fluent builder: every <c>With*</c> returns a new builder; <see cref="ToSpec"/> shows what would run;
/// <see cref="StartAsync"/> validates and starts it.
/// </summary>
public sealed class ContainerBuilder
{
    private readonly ContainerEngine engine;
    private readonly ContainerSpec spec;
    private readonly WaitStrategy? wait;

    internal ContainerBuilder(ContainerEngine engine, ContainerSpec spec, WaitStrategy? wait = null)
    {
        this.engine = engine;
        this.spec = spec;
        this.wait = wait;
    }

    /// <summary>What <see cref="StartAsync"/> and <see cref="StartDetachedAsync"/> wait for before they return (a log
    /// line, a port, an HTTP answer, healthy); when it does not come, the container is removed and the wait's error thrown.</summary>
    public WaitStrategy? WaitStrategy => wait;

    /// <summary>Waits for <paramref name="strategy"/> after the start (Testcontainers' <c>WithWaitStrategy</c>).</summary>
    public ContainerBuilder WithWaitStrategy(WaitStrategy strategy) => new(engine, spec, strategy);

    /// <summary>Overrides the image's entrypoint (and drops its Cmd, as docker does).</summary>
    public ContainerBuilder WithEntrypoint(params string[] entrypoint) => With(spec with { Entrypoint = [.. entrypoint] });

    /// <summary>Sets the health check (see <see cref="HealthCheck"/>; <see cref="HealthCheck.None"/> disables the image's).</summary>
    public ContainerBuilder WithHealthCheck(HealthCheck check) => With(spec with { HealthCheck = check });

    /// <summary>Publishes every exposed port on an ephemeral host port (<c>-P</c>).</summary>
    public ContainerBuilder WithPublishAllPorts(bool publish = true) => With(spec with { PublishAllPorts = publish });

    /// <summary>The command and arguments.</summary>
    public ContainerBuilder WithCommand(params string[] command) => With(spec with { Command = [.. command] });

    /// <summary>The container name.</summary>
    public ContainerBuilder WithName(string name) => With(spec with { Name = name });

    /// <summary>Adds (or replaces) an environment variable.</summary>
    public ContainerBuilder WithEnvironment(string name, string value) =>
        With(spec with { Environment = [.. spec.Environment.Where(e => !e.StartsWith(name + "=", StringComparison.Ordinal)), $"{name}={value}"] });

    /// <summary>The working directory.</summary>
    public ContainerBuilder WithWorkingDirectory(string path) => With(spec with { WorkingDirectory = path });

    /// <summary>The user, <c>name|uid[:group|gid]</c>.</summary>
    public ContainerBuilder WithUser(string user) => With(spec with { User = user });

    /// <summary>The hostname.</summary>
    public ContainerBuilder WithHostname(string hostname) => With(spec with { Hostname = hostname });

    /// <summary>
    /// Network mode: <c>bridge</c>, <c>none</c>, <c>host</c>, or a user-defined network (the only one, replacing any
    /// set before) on which the container also answers to <paramref name="aliases"/>.
    /// </summary>
    public ContainerBuilder WithNetwork(string mode, params string[] aliases) => With(spec with
    {
        NetworkMode = mode,
        Networks = aliases.Length > 0 ? [new Networking.NetworkAttachment(mode) { Aliases = [.. aliases] }] : [],
    });

    /// <summary>
    /// Joins one more user-defined network (the first one replaces the default bridge), answering there to
    /// <paramref name="aliases"/> besides its name.
    /// </summary>
    public ContainerBuilder AddNetwork(string network, params string[] aliases)
    {
        var attachment = new Networking.NetworkAttachment(network) { Aliases = [.. aliases] };
        return spec.Networks.IsDefaultOrEmpty && spec.NetworkMode == "bridge"
            ? With(spec with { NetworkMode = network, Networks = [attachment] })
            : With(spec with { Networks = [.. spec.EffectiveNetworks(), attachment] });
    }

    /// <summary>Puts the container's cgroup in a group under <c>containers-dotnet</c> (docker's <c>--cgroup-parent</c>, relative).</summary>
    public ContainerBuilder WithCgroupParent(string parent) => With(spec with { CgroupParent = parent });

    /// <summary>Publishes <paramref name="containerPort"/> on <paramref name="hostPort"/> (0 = ephemeral) of <paramref name="hostIp"/>.</summary>
    public ContainerBuilder WithPortBinding(int hostPort, int containerPort, string hostIp = "0.0.0.0", string protocol = "tcp") =>
        With(spec with { Ports = spec.Ports.Add(new PortBinding(containerPort, hostPort, hostIp, protocol)) });

    /// <summary>Bind-mounts a host path; <paramref name="idMap"/> idmaps it into the container's user namespace (<see cref="MountSpec.IdMap"/>).</summary>
    public ContainerBuilder WithBindMount(string hostPath, string containerPath, bool readOnly = false, bool idMap = false) =>
        With(spec with { Mounts = spec.Mounts.Add(new MountSpec(MountType.Bind, hostPath, containerPath, readOnly) { IdMap = idMap }) });

    /// <summary>Mounts the named volume <paramref name="volume"/> (created when missing; filled from the image on first use).</summary>
    public ContainerBuilder WithVolume(string volume, string containerPath, bool readOnly = false) =>
        With(spec with { Mounts = spec.Mounts.Add(new MountSpec(MountType.Volume, volume, containerPath, readOnly)) });

    /// <summary>Mounts a tmpfs.</summary>
    public ContainerBuilder WithTmpfs(string containerPath, string? options = null) =>
        With(spec with { Mounts = spec.Mounts.Add(new MountSpec(MountType.Tmpfs, "tmpfs", containerPath, false, options)) });

    /// <summary>Memory limit in bytes (see <see cref="ByteSize.Parse"/> for "64m").</summary>
    public ContainerBuilder WithMemoryLimit(long bytes, long? memoryAndSwapBytes = null) =>
        With(spec with { Resources = spec.Resources with { MemoryBytes = bytes, MemorySwapBytes = memoryAndSwapBytes } });

    /// <summary>CPU limit in CPUs (0.5 = half a CPU).</summary>
    public ContainerBuilder WithCpus(double cpus) => With(spec with { Resources = spec.Resources with { NanoCpus = (long)(cpus * 1e9) } });

    /// <summary>Relative CPU weight.</summary>
    public ContainerBuilder WithCpuShares(long shares) => With(spec with { Resources = spec.Resources with { CpuShares = shares } });

    /// <summary>Maximum number of processes.</summary>
    public ContainerBuilder WithPidsLimit(long limit) => With(spec with { Resources = spec.Resources with { PidsLimit = limit } });

    /// <summary>Mounts the root filesystem read-only.</summary>
    public ContainerBuilder WithReadOnlyRootfs(bool readOnly = true) => With(spec with { ReadOnlyRootfs = readOnly });

    /// <summary>Adds capabilities to Docker's default set.</summary>
    public ContainerBuilder WithCapAdd(params string[] capabilities) => With(spec with { CapAdd = spec.CapAdd.AddRange(capabilities) });

    /// <summary>Drops capabilities from Docker's default set.</summary>
    public ContainerBuilder WithCapDrop(params string[] capabilities) => With(spec with { CapDrop = spec.CapDrop.AddRange(capabilities) });

    /// <summary>Sets no_new_privs.</summary>
    public ContainerBuilder WithNoNewPrivileges(bool value = true) => With(spec with { NoNewPrivileges = value });

    /// <summary>
    /// Runs under the seccomp profile <paramref name="profileJson"/> (Docker's JSON format) instead of Docker's
    /// default profile. Throws <see cref="InvalidContainerSpecException"/> when it is not a valid profile.
    /// </summary>
    public ContainerBuilder WithSeccompProfile(string profileJson)
    {
        _ = Security.SeccompFilters.Parsed(profileJson);
        return With(spec with { SeccompProfile = profileJson });
    }

    /// <summary>Runs with no seccomp filter (<c>--security-opt seccomp=unconfined</c>).</summary>
    public ContainerBuilder WithSeccompUnconfined() => With(spec with { SeccompProfile = ContainerSpec.SeccompUnconfined });

    /// <summary>Runs privileged (<c>--privileged</c>): every capability, no seccomp filter, every host device, /proc and /sys unmasked and writable.</summary>
    public ContainerBuilder WithPrivileged(bool value = true) => With(spec with { Privileged = value });

    /// <summary>Runs a small init as PID 1 that forwards signals to the command and reaps orphans (<c>--init</c>).</summary>
    public ContainerBuilder WithInit(bool value = true) => With(spec with { Init = value });

    /// <summary>
    /// Makes a host device in the container (<c>--device HOST[:CONTAINER][:rwm]</c>). Throws
    /// <see cref="InvalidContainerSpecException"/> when the spec is malformed.
    /// </summary>
    public ContainerBuilder WithDevice(string device) => With(spec with { Devices = spec.Devices.Add(DeviceMapping.Parse(device)) });

    /// <summary>The pid namespace: <c>host</c>, or <c>container:NAME|ID</c> (a new one by default).</summary>
    public ContainerBuilder WithPidMode(string mode) => With(spec with { PidMode = mode });

    /// <summary>
    /// The user namespace (<c>--userns</c>): <c>host</c>, <c>auto</c> or <c>auto:size=N</c> (a range of its own from
    /// the subordinate ids of the user <c>containers</c>); see <see cref="ContainerSpec.UsernsMode"/>.
    /// </summary>
    public ContainerBuilder WithUserNamespace(string mode) => With(spec with { UsernsMode = mode });

    /// <summary>
    /// A user namespace with these maps (<c>--uidmap</c> and <c>--gidmap</c>; the gid map is the uid map when none is
    /// given): root in the container is the host id container id 0 maps to, with no privilege on the host.
    /// </summary>
    public ContainerBuilder WithIdMaps(IEnumerable<IdMapping> uidMap, IEnumerable<IdMapping>? gidMap = null) =>
        With(spec with { UidMap = [.. uidMap], GidMap = gidMap is null ? [] : [.. gidMap] });

    /// <summary>The IPC namespace: <c>private</c> (the default), <c>shareable</c>, <c>none</c>, <c>host</c>, or <c>container:NAME|ID</c>.</summary>
    public ContainerBuilder WithIpcMode(string mode) => With(spec with { IpcMode = mode });

    /// <summary>Mounts what another container mounts (<c>--volumes-from NAME|ID[:ro|rw]</c>).</summary>
    public ContainerBuilder WithVolumesFrom(string container) => With(spec with { VolumesFrom = spec.VolumesFrom.Add(container) });

    /// <summary>Adds a setrlimit limit.</summary>
    public ContainerBuilder WithUlimit(string name, ulong soft, ulong hard) => With(spec with { Ulimits = spec.Ulimits.Add(new Ulimit(name, soft, hard)) });

    /// <summary>The restart policy.</summary>
    public ContainerBuilder WithRestartPolicy(RestartPolicy policy) => With(spec with { Restart = policy });

    /// <summary>The stop signal and grace period.</summary>
    public ContainerBuilder WithStop(string signal, TimeSpan timeout) => With(spec with { StopSignal = signal, StopTimeout = timeout });

    /// <summary>Allocates a pseudo-terminal.</summary>
    public ContainerBuilder WithTty(bool tty = true) => With(spec with { Tty = tty });

    /// <summary>Keeps stdin open.</summary>
    public ContainerBuilder WithOpenStdin(bool open = true) => With(spec with { OpenStdin = open });

    /// <summary>Closes stdin when the first attached client's input ends (<see cref="Container.OpenInput"/>).</summary>
    public ContainerBuilder WithStdinOnce(bool once = true) => With(spec with { StdinOnce = once });

    /// <summary>Removes the container when it exits.</summary>
    public ContainerBuilder WithAutoRemove(bool remove = true) => With(spec with { AutoRemove = remove });

    /// <summary>Adds a label.</summary>
    public ContainerBuilder WithLabel(string key, string value) => With(spec with { Labels = spec.Labels.SetItem(key, value) });

    /// <summary>The spec this builder describes.</summary>
    public ContainerSpec ToSpec() => spec;

    /// <summary>Starts the container in this process (see <see cref="ContainerEngine.StartAsync"/>), then waits for
    /// its <see cref="WaitStrategy"/>.</summary>
    public async Task<Container> StartAsync(CancellationToken cancellationToken = default) =>
        await WaitedAsync(await engine.StartAsync(spec, null, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary>Starts the container under a detached monitor (see <see cref="ContainerEngine.StartDetachedAsync"/>),
    /// then waits for its <see cref="WaitStrategy"/>.</summary>
    public async Task<Container> StartDetachedAsync(CancellationToken cancellationToken = default) =>
        await WaitedAsync(await engine.StartDetachedAsync(spec, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    private async Task<Container> WaitedAsync(Container container, CancellationToken cancellationToken)
    {
        if (wait is null)
        {
            return container;
        }

        try
        {
            await wait.WaitAsync(container, cancellationToken).ConfigureAwait(false);
            return container;
        }
        catch
        {
            await container.RemoveAsync(force: true, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private ContainerBuilder With(ContainerSpec s) => new(engine, s, wait);
}
