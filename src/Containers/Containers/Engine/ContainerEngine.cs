using System.Collections.Concurrent;
using System.Diagnostics;
using Containers.Runtime.Cgroups;
using Microsoft.Extensions.Logging.Abstractions;

namespace Containers;

/// <summary>
/// The entry point: runs containers in this process (attached) or under a detached monitor, and finds the
/// containers of its root that other processes started. Creating an engine sweeps what a crashed process left.
/// </summary>
public sealed class ContainerEngine : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ContainerSupervisor> supervisors = new();
    private readonly ConcurrentDictionary<string, byte> disowned = new();
    private VolumeService? volumes;
    private NetworkService? networks;
    private readonly EngineOptions options;

    /// <summary>Creates an engine over <see cref="EngineOptions.Root"/>. Throws <see cref="ContainerException"/> when the machine lacks cgroups or the shim.</summary>
    public ContainerEngine(EngineOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(options, loggerFactory, LinuxSyscalls.Instance)
    {
    }

    /// <summary>
    /// An engine composed over <paramref name="sys"/>, the one seam to the kernel that every part below it is given
    /// (tests pass one that fails a chosen call, to see a start undo what it did).
    /// </summary>
    internal ContainerEngine(EngineOptions? options, ILoggerFactory? loggerFactory, ISyscalls sys)
        : this(EngineParts.Compose(options ?? new EngineOptions(), loggerFactory, sys))
    {
    }

    /// <summary>An engine over parts already made (the composition root is <see cref="EngineParts.Compose"/>); it sweeps what a crashed process left.</summary>
    internal ContainerEngine(EngineParts parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        options = parts.Options;
        Context = parts.Context;
        Images = parts.Images;
        if (!options.SweepAtStart)
        {
            housekeeping = Task.CompletedTask;
            return;
        }

        Janitor.Sweep(Context, housekeeping: false);
        // what removed containers left in the trash (a CLI that exited while deleting one) and the cgroups of dead
        // pooled shims go beside this engine's work, not before it: 2-3 ms of every `containers run --rm` here
        housekeeping = Task.Run(() =>
        {
            try
            {
                Janitor.Housekeeping(Context);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ContainerException)
            {
                // the next engine's sweep retries
            }
        });
        Context.Bridge.Firewall.Sweep();
        Images.Store.Sweep();
    }

    private readonly Task housekeeping;

    /// <summary>The images of this root: pull, push, list, tag, remove, save, load, import.</summary>
    public Images.ImageService Images { get; }

    /// <summary>The networks of this root: create, list, inspect, remove, connect, and reach containers by name from this process.</summary>
    public NetworkService Networks => networks ??= new(this);

    /// <summary>The named volumes of this root.</summary>
    public VolumeService Volumes => volumes ??= new(Context, options.VolumeDrivers);

    /// <summary>The root directory.</summary>
    public string Root => Context.Store.Root;

    /// <summary>"v1" or "v2": the cgroup backend in use.</summary>
    public string CgroupVersion => Context.Cgroups.Version;

    internal RuntimeContext Context { get; }

    /// <summary>Starts building a container whose root filesystem is <paramref name="rootfs"/> (never modified: an overlay keeps the changes).</summary>
    public ContainerBuilder FromRootfs(string rootfs) => new(this, new ContainerSpec { Rootfs = Path.GetFullPath(rootfs) });

    /// <summary>
    /// Starts building a container from an image (pulled on start when missing, per <see cref="EngineOptions.PullPolicy"/>):
    /// its Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts, StopSignal, Healthcheck and Labels apply unless overridden.
    /// </summary>
    public ContainerBuilder FromImage(string image)
        => new(this, new ContainerSpec { Image = image });

    /// <summary>
    /// Fills a spec made from an image: its snapshots as the rootfs layers, and its config where the spec is silent
    /// (docker's rules: <c>--entrypoint</c> drops the image's Cmd; environment merged by name). Pulls per the policy.
    /// A spec with a rootfs is returned unchanged.
    /// </summary>
    public async Task<ContainerSpec> ResolveAsync(ContainerSpec spec, IProgress<Containers.Images.LayerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Rootfs.Length > 0 || spec.Image is null)
        {
            return ImageDefaults.PublishAll(spec);
        }

        var image = await Images.EnsureAsync(spec.Image, options.PullPolicy, progress, cancellationToken).ConfigureAwait(false);
        return ImageDefaults.PublishAll(ImageDefaults.Apply(spec, image, Images.Store.LowerDirs(image)));
    }

    /// <summary>
    /// Creates a container without starting it (docker create): the name is reserved and the spec validated and
    /// stored; start it with <see cref="Container.StartAsync"/> or <see cref="Container.StartDetachedAsync"/>.
    /// </summary>
    public Container Create(ContainerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Rootfs.Length == 0 && spec.Image is { } name)
        {
            var image = Images.Get(name); // no pull here: CreateAsync pulls
            spec = ImageDefaults.Apply(spec, image, Images.Store.LowerDirs(image));
        }

        spec = ImageDefaults.PublishAll(spec);
        spec = WithUserNamespace(WithVolumesFrom(spec));
        Validate(spec);
        var state = CreateState(spec);
        return new Container(this, state.Id, state.Name, owned: false);
    }

    /// <summary>
    /// Creates and starts a container owned by this process: its output is logged and, when given, passed to
    /// <paramref name="output"/> live. Throws <see cref="ContainerStartException"/>, <see cref="InvalidContainerSpecException"/>
    /// or <see cref="ContainerConflictException"/>, having removed everything it made.
    /// </summary>
    public async Task<Container> StartAsync(ContainerSpec spec, Action<string, ReadOnlyMemory<byte>>? output = null, CancellationToken cancellationToken = default)
    {
        spec = await ResolveAsync(spec, null, cancellationToken).ConfigureAwait(false);
        spec = WithUserNamespace(WithVolumesFrom(spec));
        Validate(spec);
        var state = CreateState(spec);
        var supervisor = await RunAttachedAsync(state.Id, output, cancellationToken, state.Spec).ConfigureAwait(false);
        return new Container(this, state.Id, state.Name, owned: true, supervisor);
    }

    // the volumes of drivers other than local are attached before each start (a driver's data may not be there since);
    // a spec without volume mounts costs nothing, and a new container's spec is passed in rather than read again
    private void AttachVolumes(string id, ContainerSpec? spec)
    {
        if (options.VolumeDrivers.IsDefaultOrEmpty || (spec is not null && !spec.Mounts.Any(m => m.Type == MountType.Volume)))
        {
            return;
        }

        if ((spec ?? Context.Store.Read(id)?.Spec) is { } s)
        {
            Volumes.Attach(s);
        }
    }

    /// <summary>Stores a new container with its volumes prepared; a failure leaves no anonymous volume behind.</summary>
    private ContainerState CreateState(ContainerSpec spec)
    {
        var prepared = Volumes.Prepare(spec);
        try
        {
            return Context.Store.Create(prepared, Context.Time);
        }
        catch
        {
            foreach (var (before, after) in spec.Mounts.Zip(prepared.Mounts))
            {
                if (before.Type == MountType.Volume && before.Source.Length == 0)
                {
                    Context.Volumes.Delete(after.Source);
                }
            }

            throw;
        }
    }

    internal async Task<ContainerSupervisor> RunAttachedAsync(string id, Action<string, ReadOnlyMemory<byte>>? output, CancellationToken cancellationToken, ContainerSpec? spec = null)
    {
        AttachVolumes(id, spec);
        var supervisor = new ContainerSupervisor(Context, id, output, HealthMonitor.Companion(Context));
        if (supervisors.TryGetValue(id, out var previous) && previous.Completion.IsCompleted)
        {
            supervisors.TryRemove(KeyValuePair.Create(id, previous)); // its run ended: the container may start again
        }

        if (!supervisors.TryAdd(id, supervisor))
        {
            throw new ContainerConflictException($"container {id} is already running in this process");
        }

        try
        {
            await supervisor.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            supervisors.TryRemove(id, out _);
            throw;
        }

        _ = supervisor.Completion.ContinueWith(_ => supervisors.TryRemove(KeyValuePair.Create(id, supervisor)), TaskScheduler.Default);
        return supervisor;
    }

    /// <summary>
    /// Creates and starts a container under a detached monitor process that outlives this one (<c>run -d</c>).
    /// Throws as <see cref="StartAsync"/> does.
    /// </summary>
    public async Task<Container> StartDetachedAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        spec = await ResolveAsync(spec, null, cancellationToken).ConfigureAwait(false);
        spec = WithUserNamespace(WithVolumesFrom(spec));
        Validate(spec);
        var state = CreateState(spec);
        await RunDetachedAsync(state.Id, cancellationToken, state.Spec).ConfigureAwait(false);
        return new Container(this, state.Id, state.Name, owned: false);
    }

    internal async Task RunDetachedAsync(string id, CancellationToken cancellationToken, ContainerSpec? spec = null)
    {
        AttachVolumes(id, spec);
        var psi = MonitorStartInfo(id);
        using var monitor = Process.Start(psi) ?? throw new ContainerException("failed to start containers-monitor");
        monitor.StandardInput.Close();
        var line = await monitor.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (line == "ok")
        {
            return;
        }

        var stderr = await monitor.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await monitor.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (line is null)
        {
            Context.Store.Delete(id, withAnonymousVolumes: true);
        }

        throw line is null ? new ContainerException($"containers-monitor exited before starting the container: {stderr.Trim()}") : MonitorError.Parse(line);
    }

    /// <summary>
    /// docker commit: makes an image of a container's changes over its image (or over its rootfs directory), named
    /// <paramref name="reference"/> when given. A running container is frozen meanwhile unless <see cref="Images.CommitOptions.Pause"/> is false.
    /// Throws <see cref="ContainerNotFoundException"/> or <see cref="Images.ImageException"/>.
    /// </summary>
    public async Task<Images.LocalImage> CommitAsync(string container, string? reference = null, Images.CommitOptions? commit = null, CancellationToken cancellationToken = default)
    {
        commit ??= new Images.CommitOptions();
        var handle = Get(container);
        var name = reference is null ? null : Containers.Images.ImageReference.Parse(reference);
        var state = handle.State;
        var freeze = commit.Pause && state.Status == ContainerStatus.Running;
        if (freeze)
        {
            await handle.PauseAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var upper = Path.Combine(Context.Store.Dir(state.Id), "upper");
            return await new Images.ImageCommitter(Images.Store, Context.Time).CommitAsync(state, upper, name, commit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (freeze)
            {
                await handle.UnpauseAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// docker build: builds the Dockerfile of <see cref="Build.BuildOptions.ContextDirectory"/> (RUN steps in containers of this
    /// engine), names the result per the tags and returns it. Each step is reported to <paramref name="progress"/>.
    /// Throws <see cref="Build.DockerfileException"/> (file:line) for bad Dockerfiles and failing steps; nothing half-built is named.
    /// </summary>
    public Task<Build.BuildResult> BuildAsync(Build.BuildOptions build, IProgress<Build.BuildEvent>? progress = null, CancellationToken cancellationToken = default) =>
        new Build.ImageBuilder(this, build ?? throw new ArgumentNullException(nameof(build)), progress).BuildAsync(cancellationToken);

    /// <summary>The containers of this root (only running ones unless <paramref name="all"/>), newest first; a build's RUN steps are the build's, not listed.</summary>
    public IReadOnlyList<ContainerState> List(bool all = false) =>
        Context.Store.List().Where(s => (all || s.IsActive) && !s.Spec.IsBuildStep).ToArray();

    /// <summary>A handle on a container of this root by name, id or unique id prefix. Throws <see cref="ContainerNotFoundException"/>.</summary>
    public Container Get(string idOrName)
    {
        var s = Context.Store.Find(idOrName);
        return new Container(this, s.Id, s.Name, owned: false);
    }

    /// <summary>Kills and removes every container this process started attached, and ends the pre-spawned shim.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var id in supervisors.Keys.Where(k => !disowned.ContainsKey(k)).ToArray())
        {
            try
            {
                await new Container(this, id, id, owned: true).DisposeAsync().ConfigureAwait(false);
            }
            catch (ContainerNotFoundException)
            {
            }
        }

        if (Context.Pool is { } pool)
        {
            await pool.DisposeAsync().ConfigureAwait(false);
        }

        await housekeeping.ConfigureAwait(false);
        Images.Dispose();
    }

    internal ContainerSupervisor? Supervisor(string id) => supervisors.GetValueOrDefault(id);

    /// <summary>Leaves a container out of what <see cref="DisposeAsync"/> removes.</summary>
    internal void Disown(string id) => disowned[id] = 0;

    /// <summary>
    /// <c>--volumes-from ID[:ro|rw]</c>: the named containers' bind and volume mounts added to the spec (read-only
    /// with <c>:ro</c>, else as they were), except where the spec mounts something at the same target.
    /// </summary>
    /// <summary>The spec with its user namespace's maps worked out (<see cref="Runtime.UserNamespaces"/>), and made rootless when the engine is (<see cref="Rootless"/>).</summary>
    private ContainerSpec WithUserNamespace(ContainerSpec spec) =>
        Rootless.IsActive ? RootlessSpec(spec) : Runtime.UserNamespaces.Resolve(spec, options, Context.Store);

    /// <summary>
    /// What a container can have from a rootless engine: slirp4netns for the default bridge, no user-defined network
    /// and no cgroup limit (refused with the reason: an ordinary user cannot make bridges, and this machine delegates
    /// no cgroup to one), no user namespace of its own beyond the engine's.
    /// </summary>
    private ContainerSpec RootlessSpec(ContainerSpec spec)
    {
        if (spec.NetworkMode == "bridge" && spec.Networks.IsDefaultOrEmpty)
        {
            spec = spec with { NetworkMode = ContainerSpec.Slirp4netns };
        }

        if (spec.EffectiveNetworks().FirstOrDefault() is { } n)
        {
            throw new InvalidContainerSpecException($"rootless: network {n.Network} needs a bridge and veths on the host, which an ordinary user cannot make; use the default (slirp4netns), host or none");
        }

        if (Context.Cgroups is Runtime.Cgroups.NoCgroupManager && Runtime.Cgroups.NoCgroupManager.Named(spec.Resources).ToList() is { Count: > 0 } limits)
        {
            throw new InvalidContainerSpecException($"rootless: {string.Join(", ", limits)} cannot be applied: {Runtime.Cgroups.NoCgroupManager.Why}");
        }

        if (spec.UsernsMode is not ("" or "host") || !spec.UidMap.IsDefaultOrEmpty || !spec.GidMap.IsDefaultOrEmpty)
        {
            throw new InvalidContainerSpecException("rootless: the engine's own user namespace is the containers'; --userns, --uidmap and --gidmap need the engine run as root");
        }

        return spec;
    }

    private ContainerSpec WithVolumesFrom(ContainerSpec spec)
    {
        if (spec.VolumesFrom.IsDefaultOrEmpty)
        {
            return spec;
        }

        var mounts = spec.Mounts.ToList();
        foreach (var from in spec.VolumesFrom)
        {
            var parts = from.Split(':');
            if (parts.Length > 2 || parts[0].Length == 0 || (parts.Length == 2 && parts[1] is not ("ro" or "rw")))
            {
                throw new InvalidContainerSpecException($"invalid volumes-from '{from}': expected CONTAINER[:ro|rw]");
            }

            var source = Context.Store.ReadByIdOrName(parts[0]) ?? throw new ContainerNotFoundException($"volumes-from {parts[0]}: no such container");
            foreach (var m in source.Spec.Mounts.Where(m => m.Type != MountType.Tmpfs))
            {
                if (mounts.All(existing => existing.Target != m.Target))
                {
                    mounts.Add(parts.Length == 2 ? m with { ReadOnly = parts[1] == "ro" } : m);
                }
            }
        }

        return spec with { Mounts = [.. mounts] };
    }

    private void Validate(ContainerSpec spec)
    {
        foreach (var (what, mode, allowed) in new[] { ("pid", spec.PidMode, new[] { "", "host" }), ("ipc", spec.IpcMode, new[] { "", "private", "shareable", "none", "host" }) })
        {
            if (mode.StartsWith("container:", StringComparison.Ordinal))
            {
                _ = Context.Store.RunningFor(what, mode);
            }
            else if (!allowed.Contains(mode))
            {
                throw new InvalidContainerSpecException($"invalid {what} mode '{mode}': expected {string.Join(", ", allowed.Where(a => a.Length > 0))} or container:NAME|ID");
            }
        }

        foreach (var d in spec.Devices)
        {
            d.Validate();
        }

        foreach (var rule in spec.DeviceCgroupRules)
        {
            _ = ContainerSupervisor.DeviceRule(rule);
        }

        if (spec.ProcessArgv().IsDefaultOrEmpty)
        {
            throw new InvalidContainerSpecException("no command specified");
        }

        if (spec.NetworkMode is "host" or "none" && !spec.Networks.IsDefaultOrEmpty && spec.Networks.Any(n => n.Network != spec.NetworkMode))
        {
            throw new InvalidContainerSpecException($"network mode {spec.NetworkMode} cannot be combined with other networks");
        }

        if (spec.JoinedContainer is not null)
        {
            _ = Context.Store.RunningFor("network", spec.NetworkMode);
            if (!spec.Ports.IsDefaultOrEmpty || !spec.Networks.IsDefaultOrEmpty)
            {
                throw new InvalidContainerSpecException("a container that joins another's network (container:ID) cannot publish ports or join networks");
            }
        }

        foreach (var n in spec.EffectiveNetworks())
        {
            var network = Context.Networks.Find(n.Network) ?? throw new ContainerNotFoundException($"network {n.Network} not found");
            if (network.IsDefault && !n.Aliases.IsDefaultOrEmpty)
            {
                throw new InvalidContainerSpecException("network-scoped aliases are only supported for user-defined networks");
            }
        }

        if (spec.CgroupParent is { Length: > 0 } cp && (cp.StartsWith('/') || cp.Split('/').Any(p => p.Length == 0 || p is "." or ".." || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))))
        {
            throw new InvalidContainerSpecException($"invalid cgroup parent '{cp}': a relative path of [A-Za-z0-9_.-] names under containers-dotnet");
        }

        _ = Capabilities.Of(spec);
        foreach (var u in spec.Ulimits)
        {
            _ = u.Resource;
        }

        if (!Directory.Exists(spec.Rootfs))
        {
            throw new InvalidContainerSpecException($"rootfs '{spec.Rootfs}' does not exist or is not a directory");
        }
    }

    private ProcessStartInfo MonitorStartInfo(string id)
    {
        string[] prefix;
        if (!options.MonitorCommand.IsDefaultOrEmpty)
        {
            prefix = [.. options.MonitorCommand];
        }
        else
        {
            var dll = options.MonitorPath ?? Path.Combine(AppContext.BaseDirectory, "containers-monitor.dll");
            if (!File.Exists(dll))
            {
                throw new ContainerException($"containers-monitor.dll was not found at {dll}; reference Containers.Monitor, or set EngineOptions.MonitorPath or MonitorCommand");
            }

            prefix = [DotnetHost(), "exec", dll];
        }

        var psi = new ProcessStartInfo(prefix[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in prefix.Skip(1).Concat(["--root", Root, "--machine-state", options.MachineStateDirectory, "--bridge", options.BridgeName, "--subnet", options.BridgeSubnet, "--dns-upstream", string.Join(',', Context.DnsUpstreams), "--shim", Context.Spawner.ShimPath, id]))
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    private static string DotnetHost()
    {
        if (Environment.ProcessPath is { } p && Path.GetFileName(p) == "dotnet")
        {
            return p;
        }

        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h))
        {
            return h;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            var candidate = Path.Combine(dir, "dotnet");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root ? Path.Combine(root, "dotnet") : "dotnet";
    }
}

/// <summary>How a monitor process reports a failed start to the process that launched it (one JSON line).</summary>
internal sealed record MonitorError(string Type, string Message, string? Step = null, int Errno = 0, int ExitCode = 125)
{
    public static string Format(Exception e) => JsonSerializer.Serialize(
        e switch
        {
            ContainerStartException s => new MonitorError("start", s.Message, s.Step, s.Errno, s.ExitCode),
            InvalidContainerSpecException => new MonitorError("spec", e.Message),
            ContainerConflictException => new MonitorError("conflict", e.Message),
            _ => new MonitorError("error", e.Message),
        },
        MonitorJsonContext.Default.MonitorError);

    public static ContainerException Parse(string line)
    {
        MonitorError? e;
        try
        {
            e = JsonSerializer.Deserialize(line, MonitorJsonContext.Default.MonitorError);
        }
        catch (JsonException)
        {
            e = null;
        }

        return e switch
        {
            null => new ContainerException("containers-monitor: " + line),
            { Type: "start" } => new ContainerStartException(e.Message, e.Step ?? "", e.Errno, e.ExitCode),
            { Type: "spec" } => new InvalidContainerSpecException(e.Message),
            { Type: "conflict" } => new ContainerConflictException(e.Message),
            _ => new ContainerException(e.Message),
        };
    }
}
