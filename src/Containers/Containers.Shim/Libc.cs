using System.Runtime.InteropServices;

namespace Containers.Shim;

/// <summary>The libc calls the shim makes. Kept apart from the library's seam: the shim is its own tiny program.</summary>
internal static unsafe partial class Libc
{
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CLOEXEC = 0x80000, O_NOFOLLOW = 0x20000, O_DIRECTORY = 0x10000, O_PATH = 0x200000, O_CREAT = 0x40;
    public const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32, MS_BIND = 4096, MS_MOVE = 8192, MS_REC = 16384, MS_PRIVATE = 1 << 18, MS_SLAVE = 1 << 19, MS_STRICTATIME = 1 << 24, MS_RELATIME = 1 << 21;
    public const int MNT_DETACH = 2;
    public const int CLONE_NEWNS = 0x00020000, CLONE_NEWCGROUP = 0x02000000, CLONE_FS = 0x00000200;
    public const int PR_SET_KEEPCAPS = 8, PR_CAPBSET_DROP = 24, PR_SET_NO_NEW_PRIVS = 38, PR_CAP_AMBIENT = 47, PR_CAP_AMBIENT_CLEAR_ALL = 4;
    public const uint S_IFCHR = 0x2000;
    public const ulong TIOCSCTTY = 0x540E;
    public const int SYS_pivot_root = 155, SYS_capset = 126, SYS_setgroups = 116, SYS_setresuid = 117, SYS_setresgid = 119; // x86_64

    [LibraryImport("libc", SetLastError = true)] public static partial nint read(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true)] public static partial nint write(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true)] public static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)] public static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int open(string path, int flags, int mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int mount(string? source, string target, string? fstype, ulong flags, string? data);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int umount2(string target, int flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int chdir(string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int mkdir(string path, uint mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int mknod(string path, uint mode, ulong dev);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int symlink(string target, string linkpath);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int chmod(string path, uint mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int sethostname(string name, nint len);
    [LibraryImport("libc", SetLastError = true)] public static partial int unshare(int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial int setns(int fd, int nstype);
    [LibraryImport("libc", SetLastError = true)] public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial nint syscall(nint number, string a1, string a2);
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)] public static partial nint syscall_ptr(nint number, void* a1, void* a2);
    [LibraryImport("libc", SetLastError = true)] public static partial int setrlimit(int resource, ulong* rlim);
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)] public static partial nint syscall3(nint number, nint a1, nint a2, nint a3);
    [LibraryImport("libc", SetLastError = true)] public static partial int setsid();
    [LibraryImport("libc", SetLastError = true)] public static partial int ioctl(int fd, ulong request, nint arg);
    [LibraryImport("libc", SetLastError = true)] public static partial int dup2(int oldfd, int newfd);
    [LibraryImport("libc", SetLastError = true)] public static partial int execve(byte* path, byte** argv, byte** envp);
    [LibraryImport("libc", SetLastError = true)] public static partial int access(byte* path, int mode);
    [LibraryImport("libc", SetLastError = true)] public static partial int sched_setscheduler(int pid, int policy, int* param);

    public const int SCHED_OTHER = 0, SCHED_IDLE = 5;

    /// <summary>Sets this thread's scheduling policy (priority 0); false (errno set) when refused.</summary>
    public static bool SetPolicy(int policy)
    {
        int priority = 0;
        return sched_setscheduler(0, policy, &priority) == 0;
    }

    public static ulong Makedev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
}
