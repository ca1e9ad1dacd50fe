using System.Diagnostics;
using Containers.Runtime.Cgroups;
using Containers.Shim;

namespace Containers.Runtime;

/// <content>A run's start, as named steps with their undo.</content>
internal sealed partial class ContainerSupervisor
{
    /// <summary>
    /// Starts one run of the container as named steps (<see cref="StartSteps"/>): each step that makes something
    /// pushes its undo, and a failure unwinds them in reverse, so a failed start leaves no address, terminal, shim,
    /// cgroup or DNS entry behind.
    /// </summary>
    private async Task<Run> StartRunAsync(ContainerState state)
    {
        var spec = state.Spec;
        var dir = ctx.Store.Dir(Id);
        var prepared = Prepare(spec, dir);
        // the seccomp filter (read from the root's cache, or compiled) on another core, beside the steps up to the hand-over
        var seccomp = Task.Run(() => Security.SeccompFilters.For(spec, prepared.Capabilities, ctx.Store.SeccompCache));
        var steps = new StartSteps(ctx.Logger, Id);
        var endpoints = new List<NetworkEndpoint>();
        var plan = new List<(BridgeNetwork Bridge, IPAddress Ip)>();
        var terminal = new TerminalFds();
        try
        {
            var joined = steps.Do("find the joined container", () => Joined(spec));
            var namespaces = steps.Do("find the namespaces to join", () => Namespaces(spec, joined));
            var shm = steps.Do("find /dev/shm", () => ShmFor(spec));
            var devices = steps.Do("find the devices", () => Devices(spec));
            foreach (var attachment in spec.EffectiveNetworks())
            {
                var (endpoint, bridge, address) = steps.Do($"allocate an address on {attachment.Network}", () => Allocate(attachment, endpoints.Count), a => ctx.Release(Id, a.Endpoint));
                endpoints.Add(endpoint);
                plan.Add((bridge, address));
            }

            var slirpMode = spec.NetworkMode == ContainerSpec.Slirp4netns;
            var ip = plan.Count > 0 ? plan[0].Ip : joined?.IPAddress is { } joinedIp ? IPAddress.Parse(joinedIp) : slirpMode ? IPAddress.Parse(Networking.Slirp4netns.Address) : null;
            var dnsServer = endpoints.Count > 0 && endpoints[0].Network != NetworkInfo.DefaultName ? endpoints[0].Gateway : slirpMode ? Networking.Slirp4netns.Dns : null;
            steps.Do("write /etc/hosts, /etc/resolv.conf and /etc/hostname", () =>
            {
                WriteEtc(spec, dir, prepared.Hostname, joined, endpoints, dnsServer);
                foreach (var file in new[] { "hostname", "hosts", "resolv.conf" })
                {
                    ChownToContainerRoot(spec, Path.Combine(dir, file));
                }
            });
            if (spec.Tty)
            {
                steps.Do("open the terminal", () => terminal.Open(ctx.Sys), t => t.Close(ctx.Sys));
            }

            if (IpcMode(spec) == "shareable")
            {
                // on the host before the shim copies the mount table, so containers that join this one can bind it too
                steps.Do("mount the shareable /dev/shm", MountShareableShm, dir => UnmountShareableShm(ctx.Sys, dir));
            }

            // Without a shim pool to serve it (a one-shot engine's pool once its primed shim is taken) the container's
            // cgroup is made first and the thread that spawns the shim joins it, so the shim is born in it: under v1
            // moving one's own thread skips the RCU grace period that moving the shim afterwards waits for (4-11 ms of
            // every start here). The group's limits are written only after that thread has ended: a thread of the
            // engine in a group at its memory limit could make the whole engine the OOM killer's victim (which is also
            // why exec, into a group that may be full, does not do this).
            // A container joining another's namespaces (a pod's containers join its sandbox's) is made the same way.
            var early = ctx.Pool is not { MayServe: true } && !spec.HasUserNamespace
                ? steps.Do("create the cgroup", () => new EarlyCgroup(ctx.Cgroups.Create(spec.CgroupKey(Id))), e => e.Group.Delete())
                : null;
            var shim = await steps.DoAsync("spawn the shim", () => SpawnAsync(spec, namespaces, terminal, early), async s =>
            {
                await StopShimAsync(s).ConfigureAwait(false);
                s.Process.Dispose();
            }).ConfigureAwait(false);
            var cgroup = await steps.DoAsync("create the cgroup and attach the network", () => CgroupAndNetworkAsync(spec, shim, endpoints, plan, devices.Rules, early), async c =>
            {
                await StopShimAsync(shim).ConfigureAwait(false); // a cgroup with a process in it cannot be removed
                c.Delete();
            }).ConfigureAwait(false);
            Networking.Slirp4netns? slirp = null;
            if (slirpMode)
            {
                slirp = await steps.DoAsync("start slirp4netns", () => Networking.Slirp4netns.StartAsync(shim.Pid), s => s.DisposeAsync()).ConfigureAwait(false);
            }

            if ((dnsServer is not null && !slirpMode) || endpoints.Count > 1)
            {
                // bound before the payload runs: its first lookup must find the server
                steps.Do("serve DNS", () => ctx.Dns.Track(Id, endpoints), () => ctx.Dns.Untrack(Id));
            }

            await steps.DoAsync("hand over the configuration", () => HandOverAsync(spec, prepared, joined, terminal, shim, shm, devices.Nodes, seccomp)).ConfigureAwait(false);
            var started = ctx.Time.GetUtcNow();
            steps.Do("record the container as running", () => RecordRunning(shim, started, ip, endpoints));
            IReadOnlyList<string[]> natRules = [];
            if (slirpMode && proxy is not null)
            {
                steps.Do("publish the ports", () => proxy.StartInNamespace(ctx.Sys, shim.Pid));
            }
            else if (ip is not null && proxy is not null)
            {
                natRules = steps.Do("publish the ports", () =>
                {
                    proxy.Start(ip);
                    return ctx.PortForwarding.Add(Id, plan[0].Bridge.BridgeName, ip, proxy.Bound);
                });
            }

            var run = new Run(shim.Process, cgroup, Id, [.. endpoints], natRules, terminal.TakeMaster(), started, spec.OpenStdin && !spec.Tty)
            {
                SharedShm = IpcMode(spec) == "shareable" ? shm : null,
                Slirp = slirp,
            };
            run.StartPumps(new JsonLogWriter(ctx.Store.LogPath(Id), ctx.Time), output);
            steps.Commit();
            return run;
        }
        catch (Exception e) when (e is SyscallException or IOException or UnauthorizedAccessException)
        {
            // the machine failed it (a full disk, a refused call): the error names the step, its cause stays inner
            await steps.UndoAsync().ConfigureAwait(false);
            throw new ContainerException($"starting container {Id[..12]} failed at \"{steps.Current}\": {e.Message}", e);
        }
        catch
        {
            await steps.UndoAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>What a run is made from, worked out before anything is made: the layers, user, capabilities, limits, mounts, environment, and the overlay's directories (made empty, in the container's own directory).</summary>
    private Prepared Prepare(ContainerSpec spec, string dir)
    {
        if (!Directory.Exists(spec.Rootfs))
        {
            throw new InvalidContainerSpecException($"rootfs '{spec.Rootfs}' does not exist or is not a directory");
        }

        string[] layers = [spec.Rootfs, .. spec.LowerLayers];
        if (spec.HasUserNamespace && !ctx.IdMappedMounts)
        {
            layers = ShiftedLayers.For(ctx.Sys, ctx.Store.Root, layers, spec.UidMap, spec.GidMap); // copies owned as the map says
        }

        var user = UserResolver.Resolve(spec.User, spec.GroupAdd, layers);
        var hostname = spec.Hostname ?? Id[..12];
        var prepared = new Prepared(
            layers,
            user,
            Capabilities.Of(spec),
            [.. spec.Ulimits.Select(u => new ShimRlimit { Resource = u.Resource, Soft = u.Soft, Hard = u.Hard })],
            BuildMounts(spec, dir, ctx.Volumes, ctx.IdMappedMounts),
            hostname,
            BuildEnvironment(spec, hostname, user),
            Path.Combine(dir, "upper"),
            Path.Combine(dir, "work"),
            Path.Combine(dir, "rootfs"));
        Directory.CreateDirectory(prepared.Upper);
        if (Directory.Exists(prepared.Work))
        {
            Directory.Delete(prepared.Work, recursive: true); // a volatile overlay refuses a work dir used before
        }

        Directory.CreateDirectory(prepared.Work);
        Directory.CreateDirectory(prepared.Rootfs);
        if (spec.HasUserNamespace)
        {
            // where the shim attaches each layer idmapped; and the root directory (the upper's) is the container root's
            for (var i = 0; i < layers.Length && ctx.IdMappedMounts; i++)
            {
                Directory.CreateDirectory(IdMappedLayer(dir, i));
            }

            ChownToContainerRoot(spec, prepared.Upper);
            foreach (var m in spec.Mounts.Where(m => m.Type == MountType.Volume && !ctx.IdMappedMounts))
            {
                // not idmapped: a volume root's still is the container root's, as under Docker's userns-remap
                var data = ctx.Volumes.DataPath(m.Source);
                if (ctx.Sys.LStat(data) is { Uid: 0, Gid: 0 })
                {
                    ChownToContainerRoot(spec, data);
                }
            }
        }

        return prepared;
    }

    /// <summary>Where the shim attaches layer <paramref name="index"/> idmapped, for a container in a user namespace.</summary>
    private static string IdMappedLayer(string dir, int index) => Path.Combine(dir, "idmap", index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>In a user namespace: gives <paramref name="path"/> to the host ids of the container's root (Docker's remapped root), so root inside owns it.</summary>
    private void ChownToContainerRoot(ContainerSpec spec, string path)
    {
        if (spec.HasUserNamespace && IdMapping.ToHost(spec.UidMap, 0) is { } uid && IdMapping.ToHost(spec.GidMap, 0) is { } gid)
        {
            ctx.Sys.LChown(path, (int)uid, (int)gid);
        }
    }

    /// <summary>The running container whose namespaces a <c>container:</c> network mode joins, or null.</summary>
    private ContainerState? Joined(ContainerSpec spec)
    {
        return spec.JoinedContainer is null ? null : ctx.Store.RunningFor("network", spec.NetworkMode);
    }

    /// <summary>The address and endpoint of the container on one network (its fixed address, or the next free one).</summary>
    private (NetworkEndpoint Endpoint, BridgeNetwork Bridge, IPAddress Address) Allocate(NetworkAttachment attachment, int index)
    {
        var network = ctx.Networks.Find(attachment.Network) ?? throw new InvalidContainerSpecException($"network {attachment.Network} not found"); // by name, full ID or unique ID prefix
        var bridge = ctx.Networks.Bridge(network);
        var address = attachment.IPv4Address is { } fixedIp
            ? bridge.Ipam.Allocate(Id, IPAddress.TryParse(fixedIp, out var parsed) ? parsed : throw new InvalidContainerSpecException($"invalid IPv4 address '{fixedIp}' for network {network.Name}"))
            : bridge.Ipam.Allocate(Id);
        var hostVeth = network.IsDefault ? BridgeNetwork.HostVeth(Id) : BridgeNetwork.HostVeth(Id, network.Id);
        return (new NetworkEndpoint(network.Name, network.Id, address.ToString(), bridge.Ipam.PrefixLength, network.Gateway, "eth" + index, hostVeth, [.. attachment.Aliases]), bridge, address);
    }

    private void WriteEtc(ContainerSpec spec, string dir, string hostname, ContainerState? joined, List<NetworkEndpoint> endpoints, string? dnsServer)
    {
        if (joined is null)
        {
            string[] ips = spec.NetworkMode == ContainerSpec.Slirp4netns ? [Networking.Slirp4netns.Address] : [.. endpoints.Select(e => e.IPAddress)];
            WriteEtcFiles(ctx.Sys, dir, hostname, ips, spec.NetworkMode, dnsServer);
            return;
        }

        // the joined container's network, so its hosts and resolv.conf
        var joinedDir = ctx.Store.Dir(joined.Id);
        foreach (var file in new[] { "hosts", "resolv.conf" })
        {
            var from = Path.Combine(joinedDir, file);
            Linux.RawFile.Write(ctx.Sys, Path.Combine(dir, file), File.Exists(from) ? File.ReadAllBytes(from) : [], create: true);
        }

        Linux.RawFile.Write(ctx.Sys, Path.Combine(dir, "hostname"), System.Text.Encoding.UTF8.GetBytes(hostname + "\n"), create: true);
    }

    private async Task<SpawnedShim> SpawnAsync(ContainerSpec spec, NamespacePlan namespaces, TerminalFds terminal, EarlyCgroup? early)
    {
        var stdio = new StdioOptions(terminal.Slave, spec.OpenStdin && !spec.Tty);
        var staged = UsesStagedMounts(spec);
        if (early is not null)
        {
            // on the spawn thread, once it has unshared: it joins the group, and the shim it forks is born there; it
            // is in the new network namespace too, where it brings the loopback up for --network none (no setns from
            // another thread, as for a shim spawned elsewhere)
            bool loopback = spec.NetworkMode == "none" && (namespaces.Unshare & ShimSpawner.CLONE_NEWNET) != 0;
            void Unshared()
            {
                early.Joined = early.Group.TryAddCurrentThread();
                if (loopback)
                {
                    using var nl = new Linux.Netlink(ctx.Sys);
                    nl.SetUp(1);
                }
            }

            var shim = namespaces.Joins.Count > 0
                ? await ctx.Spawner.SpawnJoinedAsync(namespaces.Joins, namespaces.Unshare, stdio, staged, Unshared).ConfigureAwait(false)
                : await ctx.Spawner.SpawnInitAsync(namespaces.Unshare, stdio, unshared: Unshared, stage: staged).ConfigureAwait(false);
            shim.LoopbackUp = loopback;
            return shim;
        }

        return spec.HasUserNamespace
            ? await ctx.Spawner.SpawnInUserNamespaceAsync(namespaces.Joins, namespaces.Unshare, spec.UidMap, spec.GidMap, stdio,
                spec.UsernsMode.StartsWith("container:", StringComparison.Ordinal) ? $"/proc/{ctx.Store.RunningFor("user namespace", spec.UsernsMode).Pid}/ns/user" : null).ConfigureAwait(false)
            : namespaces.Joins.Count > 0
            ? await ctx.Spawner.SpawnJoinedAsync(namespaces.Joins, namespaces.Unshare, stdio, staged).ConfigureAwait(false)
            : ctx.Pool is { } pool
            ? await pool.TakeAsync(namespaces.Unshare, stdio, spec.CgroupParent, staged).ConfigureAwait(false)
            : await ctx.Spawner.SpawnInitAsync(namespaces.Unshare, stdio, stage: staged).ConfigureAwait(false);
    }

    /// <summary>Stops a start's shim (waiting for its configuration, or running a payload whose start is being undone) and removes a pooled shim's cgroup; safe to call twice.</summary>
    private static async ValueTask StopShimAsync(SpawnedShim shim)
    {
        shim.Abort();
        await shim.Process.WaitForExitAsync().ConfigureAwait(false);
        shim.Cgroup?.Delete();
        shim.Cgroup = null;
    }

    /// <summary>
    /// Puts the shim in the container's cgroup (the one it was born in, a pooled shim's own, renamed, or a new one) with
    /// its limits, and wires its network meanwhile: moving another process into a v1 cgroup waits for an RCU grace
    /// period (about 10 ms here), overlapped with the veths; the shim waits for its configuration until both are done.
    /// </summary>
    private async Task<ICgroup> CgroupAndNetworkAsync(ContainerSpec spec, SpawnedShim shim, List<NetworkEndpoint> endpoints, List<(BridgeNetwork Bridge, IPAddress Ip)> plan, List<string> deviceRules, EarlyCgroup? early)
    {
        var pid = shim.Pid;
        ICgroup cgroup;
        Task attach;
        if (early is not null)
        {
            cgroup = early.Group; // made before the spawn (its undo is on the stack); the shim is in it unless v2
            attach = early.Joined ? Task.CompletedTask : Task.Run(() => cgroup.AddProcess(pid));
        }
        else if (shim.Cgroup is { } pooled && string.IsNullOrEmpty(spec.CgroupParent))
        {
            // a pooled shim already sits in a cgroup of its own (made only for starts without a cgroup parent): it becomes the container's
            cgroup = pooled.Rename(spec.CgroupKey(Id));
            shim.Cgroup = null;
            attach = Task.CompletedTask;
        }
        else
        {
            cgroup = ctx.Cgroups.Create(spec.CgroupKey(Id));
            attach = Task.Run(() => cgroup.AddProcess(pid));
        }

        try
        {
            cgroup.Apply(spec.Resources);
            if (deviceRules.Count > 0)
            {
                cgroup.AllowDevices(deviceRules);
            }
            for (var i = 0; i < plan.Count; i++)
            {
                plan[i].Bridge.Attach(pid, endpoints[i].HostInterface, endpoints[i].Interface, plan[i].Ip);
            }

            if (spec.NetworkMode == "none" && !shim.LoopbackUp)
            {
                BridgeNetwork.LoopbackUp(ctx.Sys, pid);
            }
        }
        catch
        {
            await attach.ConfigureAwait(false);
            await StopShimAsync(shim).ConfigureAwait(false);
            if (early is null)
            {
                cgroup.Delete(); // made by this step: its undo is not on the stack yet
            }

            throw;
        }
        finally
        {
            await attach.ConfigureAwait(false);
            if (shim.Cgroup is { } left)
            {
                left.Delete(); // the pooled group it was moved out of (empty now)
                shim.Cgroup = null;
            }
        }

        return cgroup;
    }

    /// <summary>Hands the shim its configuration: it mounts, pivots and execs the payload, or reports the step that failed.</summary>
    private async Task HandOverAsync(ContainerSpec spec, Prepared prepared, ContainerState? joined, TerminalFds terminal, SpawnedShim shim, string? shm, List<ShimDevice> devices, Task<byte[]?> seccomp)
    {
        var filter = await seccomp.ConfigureAwait(false);
        var config = new ShimConfig
        {
            Mode = ShimMode.Init,
            RootfsMountPoint = prepared.Rootfs,
            LowerDirs = [.. prepared.Layers],
            UpperDir = prepared.Upper,
            WorkDir = prepared.Work,
            Volatile = spec.AutoRemove,
            ReadOnlyRootfs = spec.ReadOnlyRootfs,
            Hostname = joined is null ? prepared.Hostname : null, // the joined uts namespace keeps its name
            Mounts = spec.Init ? [.. prepared.Mounts, InitMount()] : prepared.Mounts,
            MaskedPaths = spec.Privileged ? [] : [.. ShimDefaults.MaskedPaths],
            ReadOnlyPaths = spec.Privileged ? [] : [.. ShimDefaults.ReadOnlyPaths],
            Devices = devices,
            WritableSysfs = spec.Privileged,
            Shm = shm,
            Args = spec.Init ? [InitPath, "--", .. spec.ProcessArgv()] : [.. spec.ProcessArgv()],
            Env = prepared.Environment,
            Cwd = spec.WorkingDirectory ?? "/",
            Uid = prepared.User.Uid,
            Gid = prepared.User.Gid,
            AdditionalGids = [.. prepared.User.AdditionalGids],
            Capabilities = [.. prepared.Capabilities],
            NoNewPrivileges = spec.NoNewPrivileges,
            SeccompFilter = filter,
            Rlimits = prepared.Rlimits,
            Terminal = spec.Tty,
            TerminalFd = terminal.Slave,
            TerminalPath = terminal.Path,
            OpenStdin = spec.OpenStdin,
        };
        if (shim.UserNamespace is { } userns)
        {
            var dir = ctx.Store.Dir(Id);
            config.UserNamespace = userns.Path;
            config.UsernsHelper = userns.Image;
            config.IdMappedLowerDirs = ctx.IdMappedMounts ? [.. prepared.Layers.Select((_, i) => IdMappedLayer(dir, i))] : [];
            config.HostRootUid = (uint?)IdMapping.ToHost(spec.UidMap, 0);
            config.HostRootGid = (uint?)IdMapping.ToHost(spec.GidMap, 0);
            config.HostTtyGid = (uint?)IdMapping.ToHost(spec.GidMap, 5);
        }

        var failure = await shim.ReleaseAsync(config).ConfigureAwait(false);
        ctx.Pool?.Replenish(spec.CgroupParent);
        if (failure is { } f)
        {
            throw StartFailure(f.Step, f.Errno, f.Detail, spec);
        }

        terminal.CloseSlave(ctx.Sys); // the payload holds it now
    }

    private void RecordRunning(SpawnedShim shim, DateTimeOffset started, IPAddress? ip, List<NetworkEndpoint> endpoints)
    {
        var identity = ProcessIdentity.Of(shim.Pid);
        var self = ProcessIdentity.Self;
        ctx.Store.Update(Id, s => s with
        {
            Status = ContainerStatus.Running,
            Pid = shim.Pid,
            PidStartTime = identity.StartTime,
            MonitorPid = self.Pid,
            MonitorStartTime = self.StartTime,
            StartedAt = started,
            Health = s.Spec.HealthCheck is { IsDisabled: false } ? new HealthState() : null, // "starting" on every (re)start
            StopRequested = s.StopRequested && s.Status == ContainerStatus.Restarting,
            Error = null,
            IPAddress = ip?.ToString(),
            Gateway = endpoints.FirstOrDefault()?.Gateway,
            Networks = [.. endpoints],
            Ports = proxy is null ? [] : [.. proxy.Bound],
        });
    }

    /// <summary>What <see cref="Prepare"/> works out.</summary>
    private sealed record Prepared(string[] Layers, ResolvedUser User, IReadOnlyList<int> Capabilities, List<ShimRlimit> Rlimits, List<ShimMount> Mounts, string Hostname, List<string> Environment, string Upper, string Work, string Rootfs);

    /// <summary>A start's terminal: its master (handed to the run) and slave (the payload's, closed here once it runs).</summary>
    private sealed class TerminalFds
    {
        public int Master { get; private set; } = -1;

        public int Slave { get; private set; } = -1;

        public string? Path { get; private set; }

        public TerminalFds Open(Linux.ISyscalls sys)
        {
            (Master, Slave) = sys.OpenPty();
            Path = sys.ReadLink($"/proc/self/fd/{Slave}");
            sys.SetWindowSize(Master, 24, 80);
            return this;
        }

        public void CloseSlave(Linux.ISyscalls sys)
        {
            if (Slave >= 0)
            {
                sys.Close(Slave);
                Slave = -1;
            }
        }

        public void Close(Linux.ISyscalls sys)
        {
            CloseSlave(sys);
            if (Master >= 0)
            {
                sys.Close(Master);
                Master = -1;
            }
        }

        public int TakeMaster()
        {
            int master = Master;
            Master = -1;
            return master;
        }
    }

    private static ContainerStartException StartFailure(string step, int errno, string detail, ContainerSpec spec)
    {
        var reason = errno == 0 ? detail : $"{detail}{(detail.Length > 0 ? ": " : "")}{System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}";
        if (step == "exec")
        {
            var cmd = spec.ProcessArgv().FirstOrDefault() ?? "";
            return errno switch
            {
                2 => new ContainerStartException($"exec: \"{cmd}\": executable file not found in $PATH", step, errno, 127),
                13 => new ContainerStartException($"exec: \"{cmd}\": permission denied", step, errno, 126),
                _ => new ContainerStartException($"exec: \"{cmd}\": {reason}", step, errno, 126),
            };
        }

        if (step == "chdir to working directory")
        {
            return new ContainerStartException($"the working directory '{detail}' is invalid: {reason}", step, errno, 125);
        }

        return new ContainerStartException($"container setup failed at '{step}': {reason}", step, errno, 125);
    }

    /// <summary>A container's cgroup made before its shim, and whether the spawning thread joined it (v1).</summary>
    private sealed class EarlyCgroup(ICgroup group)
    {
        public ICgroup Group { get; } = group;

        public bool Joined { get; set; }
    }
}
