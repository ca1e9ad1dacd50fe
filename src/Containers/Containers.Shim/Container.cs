using static Containers.Shim.Libc;
using static Tmds.Linux.LibC;

namespace Containers.Shim;

/// <summary>Init-mode setup: the container's filesystem view, hostname and namespaces left to the shim.</summary>
internal static class Container
{
    private static string? staged;

    /// <summary>
    /// What needs no configuration, done while the shim waits for it (a pooled shim does it ahead of the start): the
    /// mount table made private, and /proc, /dev (devices, devpts, shm, mqueue) and /sys mounted in a staging tmpfs
    /// with runc's masks, ready to be moved under the root filesystem. proc, mqueue and sysfs belong to the
    /// namespaces the shim already has.
    /// </summary>
    public static void Stage(string stage)
    {
        Program.Check(mount(null, "/", null, MS_REC | MS_PRIVATE, null), "make / rprivate");
        Program.Check(mount("tmpfs", stage, "tmpfs", MS_NOSUID, "mode=700,size=64k"), "mount staging tmpfs", stage);
        MountKernelFilesystems(stage, shm: true, writableSysfs: false);
        Protect(stage, ShimDefaults.MaskedPaths, ShimDefaults.ReadOnlyPaths);
        staged = stage;
    }

    public static void SetUp(ShimConfig c)
    {
        var root = c.RootfsMountPoint;
        if (staged is null)
        {
            Program.Check(mount(null, "/", null, MS_REC | MS_PRIVATE, null), "make / rprivate");
        }

        owners = c.HostRootUid is { } u && c.HostRootGid is { } g ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $",uid={u},gid={g}") : "";
        ttyGid = c.HostTtyGid ?? 5;
        var lowers = c.LowerDirs;
        if (c.IdMappedLowerDirs.Count > 0)
        {
            // each layer seen through an idmapped clone: root's files on disk are the container root's
            for (var i = 0; i < c.LowerDirs.Count; i++)
            {
                UserNamespace.BindIdMapped(c.LowerDirs[i], c.IdMappedLowerDirs[i], recursive: false);
            }

            lowers = c.IdMappedLowerDirs;
        }

        var data = $"lowerdir={string.Join(':', lowers)}";
        if (InUserNamespace)
        {
            data += ",userxattr"; // rootless: overlay's own attributes in user.overlay.*, which the namespace's root may set
        }

        if (c.UpperDir is not null)
        {
            data += $",upperdir={c.UpperDir},workdir={c.WorkDir}";
            if (c.Volatile)
            {
                data += ",volatile";
            }
        }

        Program.Check(mount("overlay", root, "overlay", 0, data), "mount rootfs overlay", root);

        if (staged is { } stage)
        {
            foreach (var dir in new[] { "/proc", "/dev", "/sys" })
            {
                var target = Paths.SecureJoin(root, dir);
                Paths.MkdirAll(target);
                Program.Check(mount(stage + dir, target, null, MS_MOVE, null), "move staged " + dir, target);
            }
        }
        else
        {
            MountKernelFilesystems(root, c.Shm is null, c.WritableSysfs);
        }

        if (c.Shm is { Length: > 0 } shm)
        {
            MountAt(root, shm, "/dev/shm", null, MS_BIND, null); // a shared /dev/shm: the host's, or a shareable container's
        }

        foreach (var d in c.Devices)
        {
            MakeDevice(root, d);
        }

        if (c.Terminal && c.TerminalPath is { } pty)
        {
            var console = Paths.SecureJoin(root, "/dev/console");
            Paths.CreateFile(console);
            Program.Check(mount(pty, console, null, MS_BIND, null), "bind /dev/console");
        }

        foreach (var m in c.Mounts)
        {
            var target = Paths.SecureJoin(root, m.Destination);
            if (m.IsFile)
            {
                Paths.CreateFile(target);
            }
            else
            {
                Paths.MkdirAll(target);
            }

            if (m.IdMap && UserNamespace.Active)
            {
                UserNamespace.BindIdMapped(m.Source, target, recursive: (m.Flags & MS_REC) != 0);
            }
            else
            {
                Program.Check(mount(m.Source, target, m.Type, m.Flags, m.Type == "tmpfs" ? m.Data + OwnerOptions(m.Data) : m.Data), "mount " + m.Destination, m.Source);
            }

            if (m.ReadOnly && (m.Flags & MS_BIND) != 0)
            {
                Program.Check(mount(null, target, null, MS_BIND | MS_REMOUNT | MS_RDONLY | (m.Flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)), null), "remount read-only " + m.Destination);
            }
        }

        if (c.Hostname is { Length: > 0 } h)
        {
            Program.Check(sethostname(h, h.Length), "sethostname", h);
        }

        Program.Check(chdir(root), "chdir rootfs", root);
        Program.Check(syscall(SYS_pivot_root, ".", "."), "pivot_root", root);
        Program.Check(mount(null, ".", null, MS_SLAVE | MS_REC, null), "make old root rslave");
        Program.Check(umount2(".", MNT_DETACH), "detach old root");
        Program.Check(chdir("/"), "chdir /");

        if (staged is null || !c.MaskedPaths.SequenceEqual(ShimDefaults.MaskedPaths) || !c.ReadOnlyPaths.SequenceEqual(ShimDefaults.ReadOnlyPaths))
        {
            Protect("", c.MaskedPaths, c.ReadOnlyPaths);
        }

        if (c.ReadOnlyRootfs)
        {
            Program.Check(mount(null, "/", null, MS_BIND | MS_REMOUNT | MS_RDONLY, null), "remount rootfs read-only");
        }

        if (!UserNamespace.Active)
        {
            Program.Check(unshare(CLONE_NEWCGROUP), "unshare cgroup namespace"); // in a user namespace, containers-userns makes it, owned by that
        }
    }

    // In a user namespace, the tmpfs mounts the shim makes belong to the container's root, and its terminals to its
    // tty group (host ids); outside one, to the host's root and group 5.
    private static string owners = "";
    private static uint ttyGid = 5;

    /// <summary>The owner options a tmpfs gets in a user namespace, unless its own options name an owner.</summary>
    private static string OwnerOptions(string? data) =>
        owners.Length == 0 || (data is not null && (data.Contains("uid=", StringComparison.Ordinal) || data.Contains("gid=", StringComparison.Ordinal))) ? ""
        : data is { Length: > 0 } ? owners : owners[1..];

    /// <summary>/proc, /dev (devices, devpts, <paramref name="shm"/> when asked, mqueue) and /sys (read-only unless <paramref name="writableSysfs"/>) under <paramref name="root"/>.</summary>
    private static void MountKernelFilesystems(string root, bool shm, bool writableSysfs)
    {
        MountAt(root, "proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, null);
        MountAt(root, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k" + owners);
        MakeDevices(root + "/dev");
        MountAt(root, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"newinstance,ptmxmode=0666,mode=0620,gid={ttyGid}"));
        symlink("pts/ptmx", root + "/dev/ptmx");
        if (shm)
        {
            MountAt(root, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777," + ShimDefaults.ShmSizeOption + owners);
        }

        MountAt(root, "mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, null);
        var sys = Paths.SecureJoin(root, "/sys");
        Paths.MkdirAll(sys);
        if (mount("sysfs", sys, "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | (writableSysfs ? 0 : MS_RDONLY), null) < 0)
        {
            // rootless with the host's network namespace (--network host): no sysfs of its own; the host's, read-only
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != 1 || !InUserNamespace)
            {
                throw new ShimException("mount /sys", errno, "");
            }

            Program.Check(mount("/sys", sys, null, MS_BIND | MS_REC, null), "bind the host's /sys");
            Program.Check(mount(null, sys, null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, null), "remount /sys read-only");
        }
    }

    /// <summary>Whether the shim runs in a user namespace other than the host's (a rootless engine's).</summary>
    private static readonly bool InUserNamespace = !File.ReadAllText("/proc/self/uid_map").Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).SequenceEqual(["0", "0", "4294967295"]);

    /// <summary>Masks and read-only binds of /proc and /sys paths under <paramref name="prefix"/> ("" once pivoted).</summary>
    private static void Protect(string prefix, IEnumerable<string> masked, IEnumerable<string> readOnly)
    {
        foreach (var p in masked)
        {
            Mask(prefix + p);
        }

        foreach (var path in readOnly)
        {
            var p = prefix + path;
            if (Exists(p))
            {
                Program.Check(mount(p, p, null, MS_BIND | MS_REC, null), "bind read-only path", path);
                Program.Check(mount(null, p, null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null), "remount read-only path", path);
            }
        }
    }

    private static bool Exists(string p) => Path.Exists(p) || new FileInfo(p).LinkTarget is not null;

    private static void Mask(string p)
    {
        if (Directory.Exists(p))
        {
            Program.Check(mount("tmpfs", p, "tmpfs", MS_RDONLY, null), "mask", p);
        }
        else if (File.Exists(p))
        {
            Program.Check(mount("/dev/null", p, null, MS_BIND, null), "mask", p);
        }
    }

    private static void MountAt(string root, string source, string dest, string? type, ulong flags, string? data)
    {
        var target = Paths.SecureJoin(root, dest);
        Paths.MkdirAll(target);
        Program.Check(mount(source, target, type, flags, data), "mount " + dest);
    }

    /// <summary>Makes one device node (replacing a default one at the same path), owned and moded as asked.</summary>
    private static void MakeDevice(string root, ShimDevice d)
    {
        var path = Paths.SecureJoin(root, d.Path);
        var parent = Path.GetDirectoryName(path);
        if (parent is not null)
        {
            Paths.MkdirAll(parent);
        }

        _ = umount2(path, MNT_DETACH); // a default node bind-mounted from the host (rootless) goes with its mount; elsewhere EINVAL
        unlink(path); // a default node (/dev/null...) or an image's file there: the host's device wins, as with runc
        if (!MakeNode(path, (Tmds.Linux.mode_t)(int)((d.Block ? 0x6000u : 0x2000u) | (d.Mode & 0xfff)), Makedev(d.Major, d.Minor), d.HostPath ?? d.Path))
        {
            return; // the host's node itself, with its owner and mode
        }

        Program.Check(chown(path, d.Uid, d.Gid), "chown device", d.Path);
        Program.Check(chmod(path, d.Mode & 0xfff), "chmod device", d.Path);
    }

    /// <summary>
    /// mknod, or where a user namespace forbids making device nodes (rootless), an empty file with the host's node
    /// <paramref name="host"/> bind-mounted on it (as runc and Podman do). True when the node was made.
    /// </summary>
    private static bool MakeNode(string path, Tmds.Linux.mode_t mode, ulong dev, string host)
    {
        if (mknod(path, mode, dev) == 0)
        {
            return true;
        }

        var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (errno != 1)
        {
            throw new ShimException("mknod", errno, path);
        }

        Paths.CreateFile(path);
        Program.Check(mount(host, path, null, MS_BIND, null), "bind the host's device", host);
        return false;
    }

    private static void MakeDevices(string dev)
    {
        (string Name, uint Major, uint Minor)[] devices = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];
        foreach (var (name, major, minor) in devices)
        {
            var path = dev + "/" + name;
            if (MakeNode(path, S_IFCHR | 0x1b6, Makedev(major, minor), "/dev/" + name))
            {
                chmod(path, 0x1b6); // the umask must not narrow 0666
            }
        }

        symlink("/proc/self/fd", dev + "/fd");
        symlink("/proc/self/fd/0", dev + "/stdin");
        symlink("/proc/self/fd/1", dev + "/stdout");
        symlink("/proc/self/fd/2", dev + "/stderr");
        symlink("/proc/kcore", dev + "/core");
    }
}
