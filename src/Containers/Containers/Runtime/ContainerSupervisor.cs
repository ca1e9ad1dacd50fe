using System.Diagnostics;
using Containers.Runtime.Cgroups;
using Containers.Shim;

namespace Containers.Runtime;

/// <summary>
/// Owns one container's process: starts it through the shim, pumps its output to the json log, waits for it,
/// records how it ended, cleans its cgroup and address, and applies the restart policy. Runs in the engine's
/// process for attached containers and in a detached monitor process for <c>run -d</c>: one design for both.
/// </summary>
internal sealed partial class ContainerSupervisor
{
    private const ulong MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_BIND = 4096, MS_REC = 16384;

    private readonly RuntimeContext ctx;
    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<string, ReadOnlyMemory<byte>>? output;
    private readonly Func<string, CancellationToken, Task>? companion;
    private PortProxy? proxy;
    private Run? current;
    private (CancellationTokenSource Cancel, Task Task)? running;

    /// <param name="ctx">The runtime.</param>
    /// <param name="id">The container.</param>
    /// <param name="output">Live output, when attached.</param>
    /// <param name="companion">Work that runs beside each run of the container (its health checks), cancelled when the run ends.</param>
    public ContainerSupervisor(RuntimeContext ctx, string id, Action<string, ReadOnlyMemory<byte>>? output = null, Func<string, CancellationToken, Task>? companion = null)
    {
        this.ctx = ctx;
        Id = id;
        this.output = output;
        this.companion = companion;
    }

    public string Id { get; }

    /// <summary>Completes when the container has exited for good (no restart follows) and is cleaned up.</summary>
    public Task Completion => completion.Task;

    /// <summary>How the last run ended (kept here too because --rm removes the state with the container).</summary>
    public ContainerExit? LastExit { get; private set; }

    /// <summary>The stdin of the current run when the spec keeps stdin open (and has no terminal).</summary>
    public Stream? Stdin => current?.Stdin;

    /// <summary>The pty master of the current run when the spec asks for a terminal.</summary>
    public Stream? Terminal => current?.Terminal;

    /// <summary>Starts the container; throws (having cleaned everything up) when the first start fails.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        var self = ProcessIdentity.Self;
        var current0 = ctx.Store.Read(Id) ?? throw new ContainerNotFoundException($"no such container: {Id}");
        var fresh = current0.Status == ContainerStatus.Created;
        var state = current0.MonitorPid == self.Pid && current0.MonitorStartTime == self.StartTime
            ? current0 // created by this process: already ours
            : ctx.Store.Update(Id, s => s with { MonitorPid = self.Pid, MonitorStartTime = self.StartTime }); // claim it before making anything
        try
        {
            if ((state.Spec.EffectiveNetworks().Length > 0 || state.Spec.NetworkMode == ContainerSpec.Slirp4netns) && state.Spec.Ports.Length > 0)
            {
                proxy = PortProxy.Bind(state.Spec.Ports);
            }

            ct.ThrowIfCancellationRequested();
            current = await StartRunAsync(state).ConfigureAwait(false);
            StartCompanion();
        }
        catch (Exception e)
        {
            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }

            // A container that never started is not kept: the caller gets the error and nothing to clean up;
            // an exited one that fails to start again stays exited, with the error.
            if (fresh)
            {
                ctx.Store.Delete(Id, withAnonymousVolumes: true);
            }
            else
            {
                ctx.Store.Update(Id, s => s with { Error = e.Message });
            }

            completion.TrySetResult();
            throw;
        }

        _ = Task.Run(LoopAsync, CancellationToken.None);
    }

    private async Task LoopAsync()
    {
        try
        {
            var backoff = TimeSpan.FromMilliseconds(100);
            while (current is { } run)
            {
                var exitCode = await run.WaitAsync().ConfigureAwait(false);
                await StopCompanionAsync().ConfigureAwait(false);
                var oom = run.Cleanup(ctx);
                LastExit = new ContainerExit(exitCode, oom);
                var ranFor = ctx.Time.GetUtcNow() - run.Started;
                var state = ctx.Store.Update(Id, s => s with
                {
                    Status = ContainerStatus.Exited,
                    ExitCode = exitCode,
                    OomKilled = oom,
                    FinishedAt = ctx.Time.GetUtcNow(),
                    Pid = 0,
                    PidStartTime = 0,
                    Networks = [],
                });
                ctx.Logger.LogInformation("container {Name} exited with {ExitCode}{Oom}", state.Name, exitCode, oom ? " (OOM killed)" : "");
                current = null;
                if (!state.Spec.Restart.ShouldRestart(exitCode, state.RestartCount, state.StopRequested))
                {
                    break;
                }

                backoff = ranFor > TimeSpan.FromSeconds(10) ? TimeSpan.FromMilliseconds(100) : backoff;
                ctx.Store.Update(Id, s => s with { Status = ContainerStatus.Restarting });
                await Task.Delay(backoff, ctx.Time).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromMinutes(1).Ticks));
                state = ctx.Store.Read(Id)!;
                if (state.StopRequested)
                {
                    ctx.Store.Update(Id, s => s with { Status = ContainerStatus.Exited });
                    break;
                }

                try
                {
                    ctx.Store.Update(Id, s => s with { RestartCount = s.RestartCount + 1 });
                    current = await StartRunAsync(ctx.Store.Read(Id)!).ConfigureAwait(false);
                    StartCompanion();
                }
                catch (ContainerException e)
                {
                    ctx.Logger.LogError(e, "restart of container {Name} failed", state.Name);
                    ctx.Store.Update(Id, s => s with { Status = ContainerStatus.Exited, Error = e.Message });
                    break;
                }
            }

            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }

            var final = ctx.Store.Read(Id);
            if (final?.Spec.AutoRemove == true)
            {
                ctx.Store.Delete(Id);
            }

            completion.TrySetResult();
        }
        catch (Exception e)
        {
            ctx.Logger.LogError(e, "supervisor of container {Id} failed", Id);
            try
            {
                // whoever waits for it (docker wait, a --rm run) must see it end
                if (ctx.Store.Read(Id) is { } left)
                {
                    if (left.Spec.AutoRemove)
                    {
                        ctx.Store.Delete(Id);
                    }
                    else if (left.IsActive)
                    {
                        ctx.Store.Update(Id, x => x with { Status = ContainerStatus.Exited, Pid = 0, PidStartTime = 0, Error = e.Message, FinishedAt = ctx.Time.GetUtcNow() });
                    }
                }
            }
            catch (Exception inner) when (inner is ContainerException or IOException)
            {
                ctx.Logger.LogError(inner, "container {Id} could not be marked as exited", Id);
            }

            completion.TrySetException(e);
        }
    }

    private void StartCompanion()
    {
        if (companion is null)
        {
            return;
        }

        var cancel = new CancellationTokenSource();
        running = (cancel, Task.Run(() => companion(Id, cancel.Token), CancellationToken.None));
    }

    private async Task StopCompanionAsync()
    {
        if (running is not { } r)
        {
            return;
        }

        running = null;
        await r.Cancel.CancelAsync().ConfigureAwait(false);
        try
        {
            await r.Task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            ctx.Logger.LogWarning(e, "health checks of container {Id} failed", Id);
        }

        r.Cancel.Dispose();
    }


    private static List<string> BuildEnvironment(ContainerSpec spec, string hostname, ResolvedUser user)
    {
        var env = new List<string>();
        void Default(string key, string value)
        {
            if (!spec.Environment.Any(e => e.StartsWith(key + "=", StringComparison.Ordinal)))
            {
                env.Add($"{key}={value}");
            }
        }

        Default("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        Default("HOSTNAME", hostname);
        if (spec.Tty)
        {
            Default("TERM", "xterm");
        }

        Default("HOME", user.Home.Length > 0 ? user.Home : "/");
        env.AddRange(spec.Environment);
        return env;
    }

    private static List<ShimMount> BuildMounts(ContainerSpec spec, string dir, VolumeStore volumes, bool idMapped)
    {
        var mounts = new List<ShimMount>();
        foreach (var file in new[] { "hostname", "hosts", "resolv.conf" })
        {
            mounts.Add(new ShimMount { Source = Path.Combine(dir, file), Destination = "/etc/" + file, Flags = MS_BIND, IsFile = true });
        }

        foreach (var m in spec.Mounts)
        {
            if (m.Type == MountType.Bind)
            {
                var source = Path.GetFullPath(m.Source);
                if (!Path.Exists(source) && m.CreateHostPath)
                {
                    Directory.CreateDirectory(source);
                }

                if (!Path.Exists(source))
                {
                    throw new InvalidContainerSpecException($"invalid mount config for type \"bind\": bind source path does not exist: {source}");
                }

                mounts.Add(new ShimMount { Source = source, Destination = m.Target, Flags = MS_BIND | MS_REC, ReadOnly = m.ReadOnly, IsFile = File.Exists(source), IdMap = spec.HasUserNamespace && m.IdMap && idMapped });
            }
            else if (m.Type == MountType.Volume)
            {
                if (volumes.Get(m.Source) is null)
                {
                    throw new InvalidContainerSpecException($"volume '{m.Source}' for {m.Target} does not exist (create it, or let the engine create it on start)");
                }

                // in a user namespace, idmapped: the owners on disk are the ids inside, whichever map a container has
                mounts.Add(new ShimMount { Source = volumes.DataPath(m.Source), Destination = m.Target, Flags = MS_BIND | MS_REC, ReadOnly = m.ReadOnly, IdMap = spec.HasUserNamespace && idMapped });
            }
            else
            {
                mounts.Add(new ShimMount { Source = "tmpfs", Destination = m.Target, Type = "tmpfs", Flags = MS_NOSUID | MS_NODEV | MS_NOEXEC, Data = m.TmpfsOptions, ReadOnly = m.ReadOnly });
            }
        }

        return mounts;
    }

    private static void WriteEtcFiles(Linux.ISyscalls sys, string dir, string hostname, string[] ips, string networkMode, string? dnsServer)
    {
        void Write(string file, string text) => Linux.RawFile.Write(sys, Path.Combine(dir, file), System.Text.Encoding.UTF8.GetBytes(text), create: true);

        Write("hostname", hostname + "\n");
        var hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
        foreach (var ip in ips)
        {
            hosts += $"{ip}\t{hostname}\n";
        }

        Write("hosts", networkMode == "host" && File.Exists("/etc/hosts") ? File.ReadAllText("/etc/hosts") : hosts);
        var resolv = "";
        if (dnsServer is not null)
        {
            // the network's embedded DNS server (on its gateway) answers container names and forwards the rest
            var host = File.Exists("/etc/resolv.conf") ? File.ReadAllLines("/etc/resolv.conf") : [];
            resolv = string.Join('\n', [$"nameserver {dnsServer}", .. host.Where(l => l.StartsWith("search ", StringComparison.Ordinal) || l.StartsWith("options ", StringComparison.Ordinal))]) + "\n";
        }
        else if (networkMode != "none" && File.Exists("/etc/resolv.conf"))
        {
            // Loopback resolvers of the host are unreachable from a container's own namespace; docker drops them too,
            // and reads systemd-resolved's list of upstreams when the host's file names only its local stub.
            static bool Loopback(string l) => l.StartsWith("nameserver 127.", StringComparison.Ordinal) || l.StartsWith("nameserver ::1", StringComparison.Ordinal);
            var lines = File.ReadAllLines("/etc/resolv.conf");
            const string resolved = "/run/systemd/resolve/resolv.conf";
            if (networkMode != "host" && !lines.Any(l => l.StartsWith("nameserver ", StringComparison.Ordinal) && !Loopback(l)) && File.Exists(resolved))
            {
                lines = File.ReadAllLines(resolved);
            }

            resolv = string.Join('\n', lines.Where(l => networkMode == "host" || !Loopback(l))) + "\n";
        }

        Write("resolv.conf", resolv);
    }

    /// <summary>One run of the container process.</summary>
    private sealed class Run(Process process, ICgroup cgroup, string id, NetworkEndpoint[] endpoints, IReadOnlyList<string[]> natRules, int ptyMaster, DateTimeOffset started, bool keepStdin)
    {
        private readonly List<Task> pumps = [];
        private JsonLogWriter? log;

        public DateTimeOffset Started { get; } = started;

        /// <summary>The host directory of the run's shareable /dev/shm (<c>--ipc shareable</c>), unmounted when it ends.</summary>
        public string? SharedShm { get; init; }

        /// <summary>The run's slirp4netns (<c>--network slirp4netns</c>), ended with it.</summary>
        public Networking.Slirp4netns? Slirp { get; init; }

        public Stream? Stdin { get; } = keepStdin ? process.StandardInput.BaseStream : null;

        public Stream? Terminal { get; } = ptyMaster >= 0 ? new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(ptyMaster, ownsHandle: true), FileAccess.ReadWrite, 1) : null;

        public void StartPumps(JsonLogWriter writer, Action<string, ReadOnlyMemory<byte>>? live)
        {
            log = writer;
            if (Terminal is not null)
            {
                pumps.Add(Task.Run(() => writer.PumpAsync(Terminal, "stdout", live)));
            }

            pumps.Add(Task.Run(() => writer.PumpAsync(process.StandardOutput.BaseStream, "stdout", live)));
            pumps.Add(Task.Run(() => writer.PumpAsync(process.StandardError.BaseStream, "stderr", live)));
        }

        public async Task<int> WaitAsync()
        {
            await process.WaitForExitAsync().ConfigureAwait(false);
            var drained = Task.WhenAll(pumps);
            await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
            return process.ExitCode;
        }

        /// <summary>Releases what the run held; returns whether the kernel OOM-killed something in it.</summary>
        /// <summary>
        /// Releases what the run held; returns whether the kernel OOM-killed something in it. Each step runs whatever
        /// the others do: one that fails is logged (the crash sweep retries it) and never keeps the container from
        /// being recorded as exited (and removed, with --rm), which waiters depend on.
        /// </summary>
        public bool Cleanup(RuntimeContext ctx)
        {
            var oom = false;
            Step(ctx, "read the OOM count", () => oom = cgroup.ReadOomKills() > 0);
            Step(ctx, "remove the cgroup", cgroup.Delete);
            Step(ctx, "remove the port forwarding rules", () => ctx.PortForwarding.Remove(natRules));
            Step(ctx, "stop serving DNS", () => ctx.Dns.Untrack(id));
            // endpoints connected or disconnected while it ran are in the state; the start's are here
            foreach (var e in (ctx.Store.Read(id)?.Networks ?? []).Concat(endpoints).DistinctBy(e => e.HostInterface))
            {
                Step(ctx, $"release its address on {e.Network}", () => ctx.Release(id, e));
            }

            if (SharedShm is { } shm)
            {
                Step(ctx, "unmount its shareable /dev/shm", () => UnmountShareableShm(ctx.Sys, shm));
            }

            if (Slirp is { } slirp)
            {
                Step(ctx, "stop slirp4netns", () => slirp.DisposeAsync().AsTask().GetAwaiter().GetResult());
            }

            Terminal?.Dispose();
            log?.Dispose();
            process.Dispose();
            return oom;
        }

        private void Step(RuntimeContext ctx, string what, Action action)
        {
            try
            {
                action();
            }
            catch (Exception e) when (e is ContainerException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException)
            {
                ctx.Logger.LogWarning(e, "container {Id}: could not {What}", id, what);
            }
        }
    }
}
