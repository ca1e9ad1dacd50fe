// Shared between the library (which writes it) and the shim (which reads it): the wire format of the
// configuration the parent sends over the sync pipe. Compiled into both assemblies.
using System.Text.Json.Serialization;

namespace Containers.Shim;

/// <summary>runc's default masked and read-only paths: the library sends them, and a staged shim applies them ahead.</summary>
internal static class ShimDefaults
{
    public static readonly string[] MaskedPaths =
        ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"];

    public static readonly string[] ReadOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>The size of /dev/shm, as docker's default (64 MiB): the tmpfs option, and in bytes (inspect's ShmSize).</summary>
    public const string ShmSizeOption = "size=65536k";

    /// <inheritdoc cref="ShmSizeOption"/>
    public const long ShmSizeBytes = 65536L * 1024;
}

/// <summary>What the shim does with the process it becomes.</summary>
internal enum ShimMode
{
    /// <summary>Become PID 1 of a new container: mount the rootfs, pivot_root, exec the payload.</summary>
    Init,

    /// <summary>Join a running container's mount namespace (the others are joined by the parent) and exec.</summary>
    Exec,
}

/// <summary>One mount made inside the container before pivot_root. Destination is relative to the container root.</summary>
internal sealed class ShimMount
{
    public string Source { get; set; } = "";
    public string Destination { get; set; } = "";
    public string? Type { get; set; }
    public ulong Flags { get; set; }
    public string? Data { get; set; }
    /// <summary>True when the mount point is a file (bind mount of a file), false for a directory.</summary>
    public bool IsFile { get; set; }
    /// <summary>Remount read-only after a bind mount (bind mounts ignore MS_RDONLY on the first call).</summary>
    public bool ReadOnly { get; set; }
    /// <summary>A bind mount idmapped to the container's user namespace: the files' owners on disk are the ids inside (a named volume).</summary>
    public bool IdMap { get; set; }
}

/// <summary>A device node made in the container (<c>--device</c>, or every host device with <c>--privileged</c>).</summary>
internal sealed class ShimDevice
{
    /// <summary>The absolute path in the container.</summary>
    public string Path { get; set; } = "";
    /// <summary>The host's node, bind-mounted instead where a node cannot be made (rootless).</summary>
    public string? HostPath { get; set; }
    /// <summary>True for a block device, false for a character device.</summary>
    public bool Block { get; set; }
    public uint Major { get; set; }
    public uint Minor { get; set; }
    /// <summary>The permission bits (0666, say).</summary>
    public uint Mode { get; set; }
    public uint Uid { get; set; }
    public uint Gid { get; set; }
}

/// <summary>A resource limit for setrlimit.</summary>
internal sealed class ShimRlimit
{
    public int Resource { get; set; }
    public ulong Soft { get; set; }
    public ulong Hard { get; set; }
}

/// <summary>The whole configuration of one shim run.</summary>
internal sealed class ShimConfig
{
    public ShimMode Mode { get; set; }

    // Init mode: the root filesystem.
    public string RootfsMountPoint { get; set; } = "";
    public List<string> LowerDirs { get; set; } = [];
    public string? UpperDir { get; set; }
    public string? WorkDir { get; set; }
    public bool Volatile { get; set; }
    public bool ReadOnlyRootfs { get; set; }
    public string? Hostname { get; set; }
    public List<ShimMount> Mounts { get; set; } = [];
    public List<string> MaskedPaths { get; set; } = [];
    public List<string> ReadOnlyPaths { get; set; } = [];
    /// <summary>Device nodes made after /dev is mounted.</summary>
    public List<ShimDevice> Devices { get; set; } = [];
    /// <summary>Mount /sys read-write (<c>--privileged</c>); read-only otherwise.</summary>
    public bool WritableSysfs { get; set; }
    /// <summary>/dev/shm: null for a tmpfs of its own, "" for none (<c>--ipc none</c>), else a host directory bind-mounted there (a shared one).</summary>
    public string? Shm { get; set; }

    // A user namespace: the payload runs in it (through containers-userns, which a process with threads cannot be).
    /// <summary>The user namespace the payload enters (/proc/PID/ns/user); null for the host's.</summary>
    public string? UserNamespace { get; set; }
    /// <summary>Path of containers-userns, exec'd as the last step to enter <see cref="UserNamespace"/>.</summary>
    public string? UsernsHelper { get; set; }
    /// <summary>Where each of <see cref="LowerDirs"/> is attached idmapped to the user namespace (empty: not idmapped).</summary>
    public List<string> IdMappedLowerDirs { get; set; } = [];
    /// <summary>The host uid and gid of the container's root, owners of the tmpfs mounts the shim makes; null outside a user namespace.</summary>
    public uint? HostRootUid { get; set; }
    /// <inheritdoc cref="HostRootUid"/>
    public uint? HostRootGid { get; set; }
    /// <summary>The host gid of the container's tty group (5), the group of devpts' terminals.</summary>
    public uint? HostTtyGid { get; set; }

    // Exec mode: the container's init pid (host view) whose mount namespace is joined.
    public int TargetPid { get; set; }

    // The process.
    public List<string> Args { get; set; } = [];
    public List<string> Env { get; set; } = [];
    public string Cwd { get; set; } = "/";
    public uint Uid { get; set; }
    public uint Gid { get; set; }
    public List<uint> AdditionalGids { get; set; } = [];
    public List<int> Capabilities { get; set; } = [];
    public bool NoNewPrivileges { get; set; }

    /// <summary>The seccomp filter (sock_filter instructions) installed just before execve; null for none.</summary>
    public byte[]? SeccompFilter { get; set; }
    public List<ShimRlimit> Rlimits { get; set; } = [];
    public bool Terminal { get; set; }
    /// <summary>An inherited fd (the pty slave) that becomes stdin/stdout/stderr and the controlling terminal; -1 when none.</summary>
    public int TerminalFd { get; set; } = -1;
    /// <summary>The pty slave's path (/dev/pts/N of the host's devpts), bind-mounted to /dev/console.</summary>
    public string? TerminalPath { get; set; }
    /// <summary>When false, stdin is /dev/null.</summary>
    public bool OpenStdin { get; set; }
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(ShimConfig))]
internal sealed partial class ShimJsonContext : JsonSerializerContext;
