using Containers.Shim;

namespace Containers.Runtime;

/// <content>
/// Docker's modes beyond the defaults, as a run needs them: the namespaces a start makes or joins (<c>--pid</c>,
/// <c>--ipc</c>, <c>--network container:</c>), a shared /dev/shm, host devices, <c>--privileged</c> and <c>--init</c>.
/// </content>
internal sealed partial class ContainerSupervisor
{
    /// <summary>Where <c>--init</c>'s reaper appears in the container (docker-init's place).</summary>
    internal const string InitPath = "/sbin/docker-init";

    /// <summary>The namespaces a start makes (<see cref="Unshare"/>) and those it joins (name, CLONE_ flag, a pid in it).</summary>
    internal sealed record NamespacePlan(int Unshare, IReadOnlyList<(string Ns, int Flag, int Pid)> Joins);

    /// <summary>
    /// The namespaces of a start. A <c>container:</c> network mode joins that container's network, uts and ipc
    /// namespaces (a pod's containers share them); <c>--ipc</c> and <c>--pid</c> decide theirs; the mount
    /// namespace is always new.
    /// </summary>
    private NamespacePlan Namespaces(ContainerSpec spec, ContainerState? joined)
    {
        var unshare = ShimSpawner.CLONE_NEWNS;
        var joins = new List<(string, int, int)>();
        if (joined is not null)
        {
            joins.Add(("net", ShimSpawner.CLONE_NEWNET, joined.Pid));
            joins.Add(("uts", ShimSpawner.CLONE_NEWUTS, joined.Pid));
        }
        else
        {
            unshare |= ShimSpawner.CLONE_NEWUTS | (spec.NetworkMode == "host" ? 0 : ShimSpawner.CLONE_NEWNET);
        }

        switch (IpcMode(spec))
        {
            case "host":
                break;
            case var m when m.StartsWith("container:", StringComparison.Ordinal):
                joins.Add(("ipc", ShimSpawner.CLONE_NEWIPC, ctx.Store.RunningFor("ipc", m).Pid));
                break;
            case "" when joined is not null:
                joins.Add(("ipc", ShimSpawner.CLONE_NEWIPC, joined.Pid));
                break;
            default:
                unshare |= ShimSpawner.CLONE_NEWIPC;
                break;
        }

        switch (spec.PidMode)
        {
            case "host":
                break;
            case var m when m.StartsWith("container:", StringComparison.Ordinal):
                joins.Add(("pid", ShimSpawner.CLONE_NEWPID, ctx.Store.RunningFor("pid", m).Pid));
                break;
            default:
                unshare |= ShimSpawner.CLONE_NEWPID;
                break;
        }

        return new NamespacePlan(unshare, joins);
    }

    /// <summary>The spec's IPC mode, with <c>private</c> written as empty.</summary>
    private static string IpcMode(ContainerSpec spec) => spec.IpcMode == "private" ? "" : spec.IpcMode;

    /// <summary>
    /// What /dev/shm is for the shim: null for a tmpfs of its own, "" for none, or a host directory bind-mounted
    /// there (the host's for <c>--ipc host</c>, a shareable container's for <c>container:X</c>, and for
    /// <c>shareable</c> its own, mounted on the host by <see cref="MountShareableShm"/> so others can join it).
    /// </summary>
    private string? ShmFor(ContainerSpec spec)
    {
        switch (IpcMode(spec))
        {
            case "none":
                return "";
            case "host":
                return "/dev/shm";
            case "shareable":
                return ctx.Store.ShmDir(Id);
            case var m when m.StartsWith("container:", StringComparison.Ordinal):
                var donor = ctx.Store.RunningFor("ipc", m);
                return IpcMode(donor.Spec) switch
                {
                    "host" => "/dev/shm",
                    "shareable" => ctx.Store.ShmDir(donor.Id),
                    _ => throw new ContainerConflictException($"ipc mode {m}: the container has a non-shareable IPC namespace (start it with --ipc shareable)"),
                };
            default:
                return null;
        }
    }

    /// <summary>For <c>--ipc shareable</c>: the container's /dev/shm as a tmpfs on the host (docker's too), before the shim copies the mount table.</summary>
    private string MountShareableShm()
    {
        var dir = ctx.Store.ShmDir(Id);
        Directory.CreateDirectory(dir);
        ctx.Sys.Mount("shm", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777," + ShimDefaults.ShmSizeOption);
        return dir;
    }

    /// <summary>Unmounts a shareable /dev/shm (lazily: a joined container may still hold it).</summary>
    internal static void UnmountShareableShm(ISyscalls sys, string dir)
    {
        try
        {
            sys.Unmount(dir, 2); // MNT_DETACH
        }
        catch (SyscallException e) when (e.Errno is 22 or 2)
        {
            // EINVAL: not mounted (any more); ENOENT: never made
        }
    }

    /// <summary>Whether a start can use a shim whose /dev, /proc and /sys were mounted ahead (the default ones).</summary>
    private static bool UsesStagedMounts(ContainerSpec spec) => !spec.Privileged && IpcMode(spec) is "" or "private";

    /// <summary>
    /// Whether a start of <paramref name="spec"/> can take a pooled shim (<see cref="ShimPool"/>): new mount, uts, ipc,
    /// pid and network namespaces, no terminal and no stdin, staged mounts, no user namespace and no cgroup parent.
    /// </summary>
    internal static bool CanUsePooledShim(ContainerSpec spec) =>
        !spec.Tty && !spec.OpenStdin && spec.JoinedContainer is null && spec.NetworkMode != "host" && UsesStagedMounts(spec)
        && spec.PidMode is not "host" && !spec.PidMode.StartsWith("container:", StringComparison.Ordinal)
        && !spec.HasUserNamespace && string.IsNullOrEmpty(spec.UsernsMode) && string.IsNullOrEmpty(spec.CgroupParent);

    /// <summary>
    /// The device nodes of a start and the device cgroup rules that open them: every host device for
    /// <c>--privileged</c> (and every access), or those <c>--device</c> names; plus <c>--device-cgroup-rule</c>.
    /// </summary>
    private (List<ShimDevice> Nodes, List<string> Rules) Devices(ContainerSpec spec)
    {
        var nodes = new List<ShimDevice>();
        var rules = new List<string>();
        if (spec.Privileged)
        {
            rules.Add("a *:* rwm");
            foreach (var path in HostDevicePaths("/dev"))
            {
                if (Node(path, path) is { } node)
                {
                    nodes.Add(node);
                }
            }
        }

        foreach (var d in spec.Devices)
        {
            d.Validate();
            var st = ctx.Sys.LStat(d.HostPath) is { Type: Linux.FileStatus.Symlink } ? Stat(d.HostPath) : ctx.Sys.LStat(d.HostPath);
            if (st is null)
            {
                throw new InvalidContainerSpecException($"error gathering device information while adding custom device \"{d.HostPath}\": no such file or directory");
            }

            var found = new List<ShimDevice>();
            if (st.Value.IsDirectory)
            {
                // a directory of devices: each keeps its place under the container path
                foreach (var path in HostDevicePaths(d.HostPath))
                {
                    if (Node(path, d.Target + path[d.HostPath.TrimEnd('/').Length..]) is { } node)
                    {
                        found.Add(node);
                    }
                }
            }
            else if (Node(d.HostPath, d.Target) is { } node)
            {
                found.Add(node);
            }
            else
            {
                throw new InvalidContainerSpecException($"error gathering device information while adding custom device \"{d.HostPath}\": not a device node");
            }

            foreach (var node in found)
            {
                nodes.Add(node);
                rules.Add($"{(node.Block ? 'b' : 'c')} {node.Major}:{node.Minor} {d.Permissions}");
            }
        }

        foreach (var rule in spec.DeviceCgroupRules)
        {
            rules.Add(DeviceRule(rule));
        }

        return (nodes, rules);
    }

    /// <summary>Checks a device cgroup rule (<c>TYPE MAJOR:MINOR ACCESS</c>, as devices.allow takes it).</summary>
    internal static string DeviceRule(string rule)
    {
        var parts = rule.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var numbers = parts.Length == 3 ? parts[1].Split(':') : [];
        bool Number(string s) => s == "*" || (s.Length > 0 && s.All(char.IsAsciiDigit));
        return parts.Length == 3 && parts[0] is "a" or "b" or "c" && numbers.Length == 2 && numbers.All(Number)
            && parts[2].Length is > 0 and <= 3 && parts[2].All(c => c is 'r' or 'w' or 'm')
            ? string.Join(' ', parts)
            : throw new InvalidContainerSpecException($"invalid device cgroup rule '{rule}': expected 'TYPE MAJOR:MINOR ACCESS' (c 42:* rmw, say)");
    }

    /// <summary>The device nodes under a host directory, as runc lists the host's: not pts, shm, fd, mqueue, console or ptmx (the container has its own).</summary>
    private static IEnumerable<string> HostDevicePaths(string dir)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = false, AttributesToSkip = 0, IgnoreInaccessible = true };
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir, "*", options))
        {
            var name = Path.GetFileName(entry);
            var info = new FileInfo(entry);
            if (info.LinkTarget is not null)
            {
                continue;
            }

            if ((info.Attributes & FileAttributes.Directory) != 0)
            {
                if (dir == "/dev" && name is "pts" or "shm" or "fd" or "mqueue" or ".lxc" or ".udev")
                {
                    continue;
                }

                foreach (var nested in HostDevicePaths(entry))
                {
                    yield return nested;
                }
            }
            else if (!(dir == "/dev" && name is "console" or "ptmx"))
            {
                yield return entry;
            }
        }
    }

    /// <summary>The node a host device makes at <paramref name="target"/>, or null when the path is no device.</summary>
    private ShimDevice? Node(string hostPath, string target)
    {
        var st = ctx.Sys.LStat(hostPath);
        if (st is not { } s || (s.Type != Linux.FileStatus.CharDevice && s.Type != Linux.FileStatus.BlockDevice))
        {
            return null;
        }

        var (major, minor) = Linux.LinuxSyscalls.SplitDev(s.Device);
        return new ShimDevice { Path = target, HostPath = hostPath, Block = s.Type == Linux.FileStatus.BlockDevice, Major = major, Minor = minor, Mode = (uint)s.Permissions, Uid = (uint)s.Uid, Gid = (uint)s.Gid };
    }

    /// <summary>The status of what a symlink points at (a device given as /dev/disk/by-id/..., say).</summary>
    private Linux.FileStatus? Stat(string path)
    {
        var target = File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName;
        return target is null ? null : ctx.Sys.LStat(target);
    }

    /// <summary>
    /// <c>--init</c>: the reaper (containers-init, beside the shim) bind-mounted read-only at <see cref="InitPath"/>,
    /// so a process in the container cannot write to it through /proc/1/exe.
    /// </summary>
    private ShimMount InitMount()
    {
        var init = ShimSpawner.Beside(ctx.Spawner.ShimPath, "containers-init", "CONTAINERS_INIT");
        return File.Exists(init)
            ? new ShimMount { Source = init, Destination = InitPath, Flags = MS_BIND, ReadOnly = true, IsFile = true }
            : throw new ContainerException($"--init: containers-init was not found at {init} (it is built beside containers-shim; set CONTAINERS_INIT to its path)");
    }
}
