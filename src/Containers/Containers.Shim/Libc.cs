using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Containers.Shim;

/// <summary>
/// The libc calls the shim makes beyond Tmds.LibC's (imported with it by <c>using static</c>). Kept apart from the
/// library's seam: the shim is its own tiny program.
/// </summary>
internal static unsafe partial class Libc
{
    // What Tmds.LibC lacks: the prctl(2) options for capabilities and privileges, and the x86_64 numbers of the
    // syscalls that libc does not wrap (pivot_root, capset) or that the shim calls raw (setgroups and setres[ug]id
    // through libc would signal every thread to change ids together; the shim has one thread doing this).
    public const int PR_SET_DUMPABLE = 4, PR_SET_KEEPCAPS = 8, PR_CAPBSET_DROP = 24, PR_SET_NO_NEW_PRIVS = 38, PR_CAP_AMBIENT = 47, PR_CAP_AMBIENT_CLEAR_ALL = 4;
    public const int SYS_pivot_root = 155, SYS_capset = 126, SYS_setgroups = 116, SYS_setresuid = 117, SYS_setresgid = 119, SYS_seccomp = 317; // x86_64
    public const int SYS_open_tree = 428, SYS_move_mount = 429, SYS_mount_setattr = 442, SYS_memfd_create = 319, SYS_execveat = 322; // x86_64
    public const int OPEN_TREE_CLONE = 1, AT_RECURSIVE = 0x8000, MOVE_MOUNT_F_EMPTY_PATH = 4;
    public const ulong MOUNT_ATTR_IDMAP = 0x00100000;

    // Tmds.LibC's path calls take byte*; these take strings, encoded by CString.
    public static int open(string path, int flags, int mode)
    {
        fixed (byte* p = CString.Of(path))
        {
            return LibC.open(p, flags, (ushort)mode);
        }
    }

    public static int mount(string? source, string target, string? fstype, ulong flags, string? data)
    {
        fixed (byte* s = CString.Of(source), t = CString.Of(target), f = CString.Of(fstype), d = CString.Of(data))
        {
            return LibC.mount(s, t, f, (ulong_t)flags, d);
        }
    }

    public static int umount2(string target, int flags)
    {
        fixed (byte* t = CString.Of(target))
        {
            return LibC.umount2(t, flags);
        }
    }

    public static int chdir(string path)
    {
        fixed (byte* p = CString.Of(path))
        {
            return LibC.chdir(p);
        }
    }

    public static int mkdir(string path, uint mode)
    {
        fixed (byte* p = CString.Of(path))
        {
            return LibC.mkdir(p, (ushort)mode);
        }
    }

    public static int mknod(string path, mode_t mode, ulong dev)
    {
        fixed (byte* p = CString.Of(path))
        {
            return LibC.mknod(p, mode, dev);
        }
    }

    public static int unlink(string path)
    {
        fixed (byte* p = CString.Of(path))
        {
            return LibC.unlink(p);
        }
    }

    public static int chown(string path, uint uid, uint gid)
    {
        fixed (byte* p = CString.Of(path))
        {
            return LibC.chown(p, uid, gid);
        }
    }

    public static int symlink(string target, string linkpath)
    {
        fixed (byte* t = CString.Of(target), l = CString.Of(linkpath))
        {
            return LibC.symlink(t, l);
        }
    }

    public static int chmod(string path, uint mode)
    {
        fixed (byte* p = CString.Of(path))
        {
            return LibC.chmod(p, (ushort)mode);
        }
    }

    public static int sethostname(string name, nint len)
    {
        fixed (byte* p = CString.Of(name))
        {
            return LibC.sethostname(p, (size_t)(ulong)len);
        }
    }

    // Tmds.LibC lacks prctl, setrlimit and sched_setscheduler; its syscall takes syscall_arg, and pivot_root's two
    // paths are marshalled here as strings.
    [LibraryImport("libc", SetLastError = true)] public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial nint syscall(nint number, string a1, string a2);
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)] public static partial nint syscall_ptr(nint number, void* a1, void* a2);
    [LibraryImport("libc", SetLastError = true)] public static partial int setrlimit(int resource, ulong* rlim);
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)] public static partial nint syscall3(nint number, nint a1, nint a2, nint a3);
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)] public static partial nint syscall5(nint number, nint a1, nint a2, nint a3, nint a4, nint a5);
    [LibraryImport("libc", SetLastError = true)] public static partial int sched_setscheduler(int pid, int policy, int* param);

    /// <summary>Sets this thread's scheduling policy (priority 0); false (errno set) when refused.</summary>
    public static bool SetPolicy(int policy)
    {
        int priority = 0;
        return sched_setscheduler(0, policy, &priority) == 0;
    }

    public static ulong Makedev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
}
