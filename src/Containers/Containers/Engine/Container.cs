using Containers.Runtime.Cgroups;

namespace Containers;

/// <summary>How a container's process ended.</summary>
/// <param name="ExitCode">Exit code; 128+signal when a signal ended it (137 for SIGKILL).</param>
/// <param name="OomKilled">Whether the kernel's OOM killer struck inside the container.</param>
public sealed record ContainerExit(int ExitCode, bool OomKilled);

/// <summary>
/// A handle on a container of an engine's root. Disposing a handle returned by <see cref="ContainerEngine.StartAsync"/>
/// kills and removes the container; handles of detached or found containers leave it alone.
/// </summary>
public sealed partial class Container : IAsyncDisposable
{
    private readonly ContainerEngine engine;
    private ContainerSupervisor? supervisor; // the run this handle started or was made with: WaitAsync follows it after the engine forgets it (--rm)
    private bool owned;

    internal Container(ContainerEngine engine, string id, string name, bool owned, ContainerSupervisor? supervisor = null)
    {
        this.engine = engine;
        Id = id;
        Name = name;
        this.owned = owned;
        this.supervisor = supervisor;
    }

    /// <summary>The 64-hex-digit id.</summary>
    public string Id { get; }

    /// <summary>The name.</summary>
    public string Name { get; }

    /// <summary>The current state (read from the root, so it reflects other processes' changes). Throws <see cref="ContainerNotFoundException"/> once removed.</summary>
    public ContainerState State => Ctx.Store.Read(Id) ?? throw new ContainerNotFoundException($"no such container: {Id}");

    /// <summary>The container's address on the default bridge, or null.</summary>
    public string? IPAddress => State.IPAddress;

    /// <summary>Stdin of the container when started with OpenStdin and no TTY, in this process; else null.</summary>
    public Stream? StandardInput => engine.Supervisor(Id)?.Stdin;

    /// <summary>The pty master when started with a TTY, in this process; else null.</summary>
    public Stream? Terminal => engine.Supervisor(Id)?.Terminal;

    /// <summary>
    /// True while this engine instance supervises the container's run, so its live output, stdin and terminal are
    /// reachable from here; false for a container that is not running, or that another process of the same root
    /// started (its output is then only in the log).
    /// </summary>
    public bool IsSupervisedHere => engine.Supervisor(Id) is not null;

    private RuntimeContext Ctx => engine.Context;

    /// <summary>
    /// Sets the size of the container's terminal (docker resize) when it was started with a TTY: directly when this
    /// process holds it, else through its monitor's attach socket.
    /// </summary>
    public void ResizeTerminal(int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        var state = State; // a removed container is a ContainerNotFoundException
        if (Terminal is FileStream pty)
        {
            Linux.Pty.Resize(Ctx.Sys, pty, rows, columns);
        }
        else if (state.Spec.Tty && state.Status == ContainerStatus.Running)
        {
            AttachServer.SendResize(Ctx.Store.Root, Id, rows, columns);
        }
    }

    /// <summary>
    /// Opens the container's input (docker attach, kubectl attach): what is written goes to its stdin, or to its
    /// terminal when it has one. Works for a container this process runs and for a detached one (through its monitor,
    /// so from any process). Disposing the stream closes the container's stdin only when its spec says StdinOnce.
    /// Null when the container keeps no stdin open or does not run.
    /// </summary>
    public Stream? OpenInput()
    {
        var state = State;
        if ((!state.Spec.OpenStdin && !state.Spec.Tty) || state.Status != ContainerStatus.Running)
        {
            return null;
        }

        if (engine.Supervisor(Id) is { } running)
        {
            return (running.Terminal ?? running.Stdin) is { } target ? new SharedInput(target, state.Spec.StdinOnce && !state.Spec.Tty) : null;
        }

        return AttachServer.ConnectInput(Ctx.Store.Root, Id);
    }

    /// <summary>The host port bound for <paramref name="containerPort"/>. Throws <see cref="ContainerNotFoundException"/> when it is not published.</summary>
    public int GetHostPort(int containerPort, string protocol = "tcp") =>
        State.Ports.FirstOrDefault(p => p.ContainerPort == containerPort && p.Protocol == protocol)?.HostPort
        ?? throw new ContainerNotFoundException($"port {containerPort}/{protocol} of container {Name} is not published");

    /// <summary>
    /// Opens a TCP connection to <paramref name="port"/> on the container's own loopback, inside its network namespace
    /// (as <c>kubectl port-forward</c> reaches a pod): a server bound to 127.0.0.1 in the container is reachable, with
    /// no published port. Throws <see cref="ContainerException"/> when the container is not running and
    /// <see cref="System.Net.Sockets.SocketException"/> when nothing listens there.
    /// </summary>
    public async Task<System.Net.Sockets.Socket> ConnectAsync(int port, CancellationToken cancellationToken = default)
    {
        var state = State;
        if (state.Status != ContainerStatus.Running || state.Pid <= 0)
        {
            throw new ContainerException($"container {Name} is not running");
        }

        var socket = SocketInNetworkNamespace(state.Pid);
        try
        {
            await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A TCP socket made in the network namespace of <paramref name="pid"/> (a socket stays in the namespace it was made in).</summary>
    private System.Net.Sockets.Socket SocketInNetworkNamespace(int pid)
    {
        // setns is per thread: a thread of its own enters the namespace, makes the socket and ends (no pooled thread is moved)
        System.Net.Sockets.Socket? made = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                int fd = Ctx.Sys.Open($"/proc/{pid}/ns/net", 0x80000);
                try
                {
                    Ctx.Sys.Setns(fd, ShimSpawner.CLONE_NEWNET);
                }
                finally
                {
                    Ctx.Sys.Close(fd);
                }

                made = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
            }
#pragma warning disable CA1031 // handed to the caller's thread
            catch (Exception e)
#pragma warning restore CA1031
            {
                error = e;
            }
        }) { IsBackground = true, Name = "netns-socket" };
        thread.Start();
        thread.Join();
        return made ?? throw new ContainerException($"cannot open a socket in the network namespace of container {Name}: {error?.Message}", error);
    }

    /// <summary>Starts a created or exited container in this process (docker start: an exited one keeps its filesystem changes).
    /// Throws <see cref="ContainerConflictException"/> when it is running, and as <see cref="ContainerEngine.StartAsync"/> does when it
    /// cannot start (a never-started container is then removed; an exited one is kept with the error).</summary>
    public async Task StartAsync(Action<string, ReadOnlyMemory<byte>>? output = null, CancellationToken cancellationToken = default)
    {
        EnsureCreated();
        // kept: a --rm container that ends at once is gone from the engine (and the store) before a WaitAsync that
        // follows could find its run, and that wait then lost its exit code (the Docker API's docker run --rm)
        supervisor = await engine.RunAttachedAsync(Id, output, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a created container under a detached monitor. Throws as <see cref="StartAsync"/> does.</summary>
    public Task StartDetachedAsync(CancellationToken cancellationToken = default)
    {
        EnsureCreated();
        return engine.RunDetachedAsync(Id, cancellationToken);
    }

    /// <summary>Waits until the container has exited for good (after any restarts) and returns how it ended.</summary>
    public async Task<ContainerExit> WaitAsync(CancellationToken cancellationToken = default)
    {
        // the handle keeps the supervisor it started with: a --rm container's state is gone once it ends
        if ((supervisor ?? engine.Supervisor(Id)) is { } sup)
        {
            await sup.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            var s = Ctx.Store.Read(Id);
            return sup.LastExit ?? (s is null ? LastExit ?? new ContainerExit(0, false) : new ContainerExit(s.ExitCode, s.OomKilled));
        }

        while (true)
        {
            var s = Ctx.Store.Read(Id) ?? throw new ContainerNotFoundException($"no such container: {Id}");
            if (!s.IsActive || !new ProcessIdentity(s.MonitorPid, s.MonitorStartTime).IsAlive)
            {
                if (s.IsActive)
                {
                    Janitor.Sweep(Ctx);
                    s = Ctx.Store.Read(Id) ?? s;
                }

                return new ContainerExit(s.ExitCode, s.OomKilled);
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends the stop signal (the spec's, default SIGTERM), waits up to <paramref name="timeout"/> (the spec's
    /// StopTimeout when null), then SIGKILL. The restart policy does not start it again.
    /// </summary>
    public async Task<ContainerExit> StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var s = MarkStopped();
        if (!s.IsActive)
        {
            return new ContainerExit(s.ExitCode, s.OomKilled);
        }

        Signal(s, Signals.Parse(s.Spec.StopSignal ?? "SIGTERM"));
        if (s.Status == ContainerStatus.Paused)
        {
            Thaw(s);
        }

        var grace = timeout ?? s.Spec.StopTimeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(grace);
        try
        {
            return await WaitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Signal(State, 9);
            return await WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends <paramref name="signal"/> (name or number, default SIGKILL) to the container's first process.
    /// Throws <see cref="ContainerConflictException"/> when it is not running.</summary>
    public Task KillAsync(string signal = "SIGKILL", CancellationToken cancellationToken = default)
    {
        var number = Signals.Parse(signal);
        var s = State;
        if (s.Status is not (ContainerStatus.Running or ContainerStatus.Paused))
        {
            throw new ContainerConflictException($"container {Name} is not running");
        }

        if (number == 9)
        {
            s = MarkStopped();
        }

        Signal(s, number);
        if (number == 9 && s.Status == ContainerStatus.Paused)
        {
            Thaw(s);
        }

        return Task.CompletedTask;
    }

    /// <summary>Freezes every process of the container (freezer cgroup). Throws <see cref="ContainerConflictException"/> when not running.</summary>
    public Task PauseAsync(CancellationToken cancellationToken = default)
    {
        var s = State;
        if (s.Status != ContainerStatus.Running)
        {
            throw new ContainerConflictException($"container {Name} is not running");
        }

        Ctx.Cgroups.Open(State.Spec.CgroupKey(Id)).SetFrozen(true);
        Ctx.Store.Update(Id, x => x with { Status = ContainerStatus.Paused });
        return Task.CompletedTask;
    }

    /// <summary>Thaws a paused container. Throws <see cref="ContainerConflictException"/> when it is not paused.</summary>
    public Task UnpauseAsync(CancellationToken cancellationToken = default)
    {
        var s = State;
        if (s.Status != ContainerStatus.Paused)
        {
            throw new ContainerConflictException($"container {Name} is not paused");
        }

        Thaw(s);
        return Task.CompletedTask;
    }

    /// <summary>The processes of the container (host pids), from its cgroup; empty when it is not running.</summary>
    public IReadOnlyList<int> GetProcesses() =>
        State is { IsActive: true } s ? Ctx.Cgroups.Open(s.Spec.CgroupKey(Id)).ReadProcesses() : [];

    /// <summary>docker rename: gives the container a new name. Throws <see cref="ContainerConflictException"/> when another
    /// container has it and <see cref="InvalidContainerSpecException"/> when it is not a valid name.</summary>
    public void Rename(string newName)
    {
        ArgumentNullException.ThrowIfNull(newName);
        newName = newName.TrimStart('/');
        if (!NameGenerator.IsValid(newName))
        {
            throw new InvalidContainerSpecException($"invalid container name '{newName}': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        }

        Ctx.Store.Update(Id, x => Ctx.Store.List().FirstOrDefault(o => o.Name == newName && o.Id != Id) is { } clash
            ? throw new ContainerConflictException($"the container name \"/{newName}\" is already in use by container \"{clash.Id}\"")
            : x with { Name = newName, Spec = x.Spec with { Name = newName } }); // under the store's lock
    }

    /// <summary>docker update: changes the resource limits (applied at once to a running container's cgroup, kept for its
    /// next start) and, when given, the restart policy.</summary>
    public void Update(ResourceLimits limits, RestartPolicy? restart = null)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var s = Ctx.Store.Update(Id, x => x with
        {
            Spec = x.Spec with
            {
                Resources = new ResourceLimits(
                    limits.MemoryBytes ?? x.Spec.Resources.MemoryBytes,
                    limits.MemorySwapBytes ?? x.Spec.Resources.MemorySwapBytes,
                    limits.NanoCpus ?? x.Spec.Resources.NanoCpus,
                    limits.CpuShares ?? x.Spec.Resources.CpuShares,
                    limits.PidsLimit ?? x.Spec.Resources.PidsLimit),
                Restart = restart ?? x.Spec.Restart,
            },
        });
        if (s.IsActive)
        {
            Ctx.Cgroups.Open(s.Spec.CgroupKey(Id)).Apply(s.Spec.Resources);
        }
    }

    /// <summary>Memory, CPU and pids usage from the container's cgroup. Throws <see cref="ContainerConflictException"/> when not running.</summary>
    public Task<CgroupStats> GetStatsAsync(CancellationToken cancellationToken = default)
    {
        var s = State;
        return s.IsActive
            ? Task.FromResult(Ctx.Cgroups.Open(State.Spec.CgroupKey(Id)).ReadStats())
            : throw new ContainerConflictException($"container {Name} is not running");
    }

    /// <summary>
    /// The container's output from its json log; with <paramref name="follow"/>, goes on until the container stops.
    /// The log is opened by this call, not at the first read: what it holds then is read even if the container is
    /// removed before the enumeration starts.
    /// </summary>
    public IAsyncEnumerable<LogEntry> GetLogsAsync(bool follow = false, int? tail = null, CancellationToken cancellationToken = default) =>
        JsonLogReader.Open(Ctx.Store.LogPath(Id), follow, tail, () => Ctx.Store.Read(Id)?.IsActive == true, cancellationToken);

    /// <summary>Starts a second process in the container's namespaces and cgroup (docker exec).
    /// Throws <see cref="ContainerConflictException"/> when the container is not running, <see cref="ContainerStartException"/> when the command cannot start.</summary>
    public Task<ExecProcess> StartExecAsync(ExecOptions options, CancellationToken cancellationToken = default) =>
        ExecProcess.StartAsync(Ctx, State, options, cancellationToken);

    /// <summary>Runs <paramref name="command"/> in the container and collects its output and exit code.</summary>
    public async Task<ExecResult> ExecAsync(IEnumerable<string> command, CancellationToken cancellationToken = default)
    {
        await using var exec = await StartExecAsync(new ExecOptions { Command = [.. command] }, cancellationToken).ConfigureAwait(false);
        var stdout = new StreamReader(exec.StandardOutput).ReadToEndAsync(cancellationToken);
        var stderr = new StreamReader(exec.StandardError).ReadToEndAsync(cancellationToken);
        var code = await exec.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new ExecResult(code, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>Removes the container. Throws <see cref="ContainerConflictException"/> when it is running and <paramref name="force"/> is false.</summary>
    public async Task RemoveAsync(bool force = false, CancellationToken cancellationToken = default)
    {
        var s = Ctx.Store.Read(Id);
        if (s is null)
        {
            return;
        }

        if (s.IsActive && new ProcessIdentity(s.MonitorPid, s.MonitorStartTime).IsAlive)
        {
            if (!force)
            {
                throw new ContainerConflictException($"cannot remove container {Name}: it is {s.Status.ToString().ToLowerInvariant()}; stop it first or force the removal");
            }

            s = MarkStopped();
            Signal(s, 9);
            if (s.Status == ContainerStatus.Paused)
            {
                Thaw(s);
            }

            LastExit = await WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (s.IsActive)
        {
            Janitor.Sweep(Ctx);
        }

        Ctx.Store.Delete(Id);
    }

    /// <summary>
    /// Stops owning the container: neither disposing this handle nor disposing the engine removes it; it stays
    /// (running, or exited for logs and inspect) like <c>docker run</c> without <c>--rm</c>.
    /// </summary>
    public void Keep()
    {
        owned = false;
        engine.Disown(Id);
    }

    /// <summary>For containers this handle started attached: kills and removes them. Otherwise does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (owned)
        {
            await RemoveAsync(force: true).ConfigureAwait(false);
        }
    }

    private ContainerExit? LastExit { get; set; }

    private void EnsureCreated()
    {
        var s = State;
        if (s.IsActive)
        {
            throw new ContainerConflictException($"container {Name} is already running");
        }

        if (s.Status == ContainerStatus.Exited)
        {
            Ctx.Store.Update(Id, x => x with { StopRequested = false, RestartCount = 0, Error = null });
        }
    }

    private ContainerState MarkStopped() => Ctx.Store.Update(Id, s => s with { StopRequested = true });

    private void Signal(ContainerState s, int signal)
    {
        if (s.Pid > 0 && new ProcessIdentity(s.Pid, s.PidStartTime).IsAlive)
        {
            Ctx.Sys.Kill(s.Pid, signal);
        }
    }

    private void Thaw(ContainerState s)
    {
        Ctx.Cgroups.Open(s.Spec.CgroupKey(Id)).SetFrozen(false);
        if (s.Status == ContainerStatus.Paused)
        {
            Ctx.Store.Update(Id, x => x.Status == ContainerStatus.Paused ? x with { Status = ContainerStatus.Running } : x);
        }
    }
}

/// <summary>The result of <see cref="Container.ExecAsync"/>.</summary>
/// <param name="ExitCode">Exit code of the exec'd process.</param>
/// <param name="Stdout">Its standard output.</param>
/// <param name="Stderr">Its standard error.</param>
public sealed record ExecResult(int ExitCode, string Stdout, string Stderr);
