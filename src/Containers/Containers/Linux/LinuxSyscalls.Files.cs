using System.Runtime.InteropServices;
using Containers.Shim;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Containers.Linux;

/// <summary>File-system calls: statx (its layout is the same on every architecture), mknod, xattrs, times.</summary>
internal sealed unsafe partial class LinuxSyscalls
{

    public FileStatus? LStat(string path)
    {
        statx st;
        fixed (byte* p = CString.Of(path))
        {
            if (statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, (uint)STATX_BASIC_STATS, &st) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                return errno == ENOENT || errno == ENOTDIR ? null : throw new SyscallException("statx", errno, path);
            }
        }

        var mtime = (st.stx_mtime.tv_sec * 1_000_000_000L) + st.stx_mtime.tv_nsec;
        var device = MakeDev(st.stx_rdev_major, st.stx_rdev_minor);
        return new FileStatus(st.stx_mode, (int)st.stx_uid, (int)st.stx_gid, (long)st.stx_size, device, mtime, st.stx_ino, (int)st.stx_nlink);
    }

    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    /// <summary>The major and minor numbers of a device number (glibc's gnu_dev_major and gnu_dev_minor).</summary>
    public static (uint Major, uint Minor) SplitDev(ulong dev) =>
        ((uint)(((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000)), (uint)((dev & 0xff) | ((dev >> 12) & 0xffffff00)));

    public void MkDir(string path, int mode)
    {
        fixed (byte* p = CString.Of(path))
        {
            Check(mkdir(p, (ushort)mode), "mkdir", path);
        }
    }

    public void Symlink(string target, string path)
    {
        fixed (byte* t = CString.Of(target), p = CString.Of(path))
        {
            Check(symlink(t, p), "symlink", path);
        }
    }

    public void Link(string existing, string path)
    {
        fixed (byte* e = CString.Of(existing), p = CString.Of(path))
        {
            Check(link(e, p), "link", path);
        }
    }

    public void MkNod(string path, int mode, ulong device)
    {
        fixed (byte* p = CString.Of(path))
        {
            Check(mknod(p, (ushort)mode, device), "mknod", path);
        }
    }

    public void LChown(string path, int uid, int gid)
    {
        fixed (byte* p = CString.Of(path))
        {
            Check(lchown(p, (uint)uid, (uint)gid), "lchown", path);
        }
    }

    public void FChown(int fd, int uid, int gid) => Check(fchown(fd, (uint)uid, (uint)gid), "fchown");

    public void FChmod(int fd, int mode) => Check(fchmod(fd, (ushort)mode), "fchmod");

    public void Chmod(string path, int mode)
    {
        fixed (byte* p = CString.Of(path))
        {
            Check(chmod(p, (ushort)mode), "chmod", path);
        }
    }

    public void SetTimes(string path, long atimeNs, long mtimeNs)
    {
        var ts = Times(atimeNs, mtimeNs);
        fixed (byte* p = CString.Of(path))
        {
            Check(utimensat(AT_FDCWD, p, &ts.Access, AT_SYMLINK_NOFOLLOW), "utimensat", path);
        }
    }

    public void FSetTimes(int fd, long atimeNs, long mtimeNs)
    {
        var ts = Times(atimeNs, mtimeNs);
        Check(futimens(fd, &ts.Access), "futimens");
    }

    private static TimePair Times(long atimeNs, long mtimeNs)
    {
        var ts = default(TimePair);
        ts.Access = new timespec { tv_sec = atimeNs / 1_000_000_000, tv_nsec = (long_t)(atimeNs % 1_000_000_000) };
        ts.Modify = new timespec { tv_sec = mtimeNs / 1_000_000_000, tv_nsec = (long_t)(mtimeNs % 1_000_000_000) };
        return ts;
    }

    public void LSetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            Check(lsetxattr(path, name, p, value.Length, 0), "lsetxattr " + name, path);
        }
    }

    public byte[]? LGetXattr(string path, string name)
    {
        var size = 256;
        while (true)
        {
            var buf = new byte[size];
            nint n;
            fixed (byte* p = buf)
            {
                n = lgetxattr(path, name, p, buf.Length);
            }

            if (n >= 0)
            {
                return buf[..(int)n];
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == ERANGE && size < 1 << 20)
            {
                size *= 4;
                continue;
            }

            return errno == ENODATA || errno == ENOTSUP ? null : throw new SyscallException("lgetxattr " + name, errno, path);
        }
    }

    public IReadOnlyList<string> LListXattr(string path)
    {
        var size = 1024;
        while (true)
        {
            var buf = new byte[size];
            nint n;
            fixed (byte* p = buf)
            {
                n = llistxattr(path, p, buf.Length);
            }

            if (n >= 0)
            {
                return n == 0 ? [] : Encoding.UTF8.GetString(buf, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == ERANGE && size < 1 << 20)
            {
                size *= 4;
                continue;
            }

            return errno == ENOTSUP ? [] : throw new SyscallException("llistxattr", errno, path);
        }
    }

    public void Unlink(string path)
    {
        fixed (byte* p = CString.Of(path))
        {
            Check(unlink(p), "unlink", path);
        }
    }

    public void RmDir(string path)
    {
        fixed (byte* p = CString.Of(path))
        {
            Check(rmdir(p), "rmdir", path);
        }
    }

    public void FSync(int fd) => Check(fsync(fd), "fsync");

    public void SyncFs(int fd) => Check(syncfs(fd), "syncfs");

    // Tmds.LibC lacks the extended-attribute calls of <sys/xattr.h>.
    public int OpenAt2(int dirFd, string path, int flags, int mode, ulong resolve)
    {
        var how = stackalloc ulong[3] { (ulong)(uint)flags, (ulong)(uint)mode, resolve };
        fixed (byte* p = CString.Of(path))
        {
            var fd = openat2_syscall(437, dirFd, p, how, 24);
            Check(fd, "openat2", path);
            return (int)fd;
        }
    }

    public FileStatus? StatAt(int dirFd, string name)
    {
        statx st;
        fixed (byte* p = CString.Of(name))
        {
            if (statx(dirFd, p, AT_SYMLINK_NOFOLLOW | (name.Length == 0 ? AtEmptyPath : 0), (uint)STATX_BASIC_STATS, &st) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                return errno == ENOENT || errno == ENOTDIR ? null : throw new SyscallException("statx", errno, name);
            }
        }

        var mtime = (st.stx_mtime.tv_sec * 1_000_000_000L) + st.stx_mtime.tv_nsec;
        return new FileStatus(st.stx_mode, (int)st.stx_uid, (int)st.stx_gid, (long)st.stx_size, MakeDev(st.stx_rdev_major, st.stx_rdev_minor), mtime, st.stx_ino, (int)st.stx_nlink);
    }

    public void MkDirAt(int dirFd, string name, int mode) => Check(mkdirat_(dirFd, name, mode), "mkdirat", name);

    public void UnlinkAt(int dirFd, string name, bool directory) => Check(unlinkat_(dirFd, name, directory ? 0x200 : 0), "unlinkat", name);

    public void SymlinkAt(string target, int dirFd, string name) => Check(symlinkat_(target, dirFd, name), "symlinkat", name);

    public void LinkAt(int oldDirFd, string oldName, int newDirFd, string newName) => Check(linkat_(oldDirFd, oldName, newDirFd, newName, 0), "linkat", newName);

    public void ChownAt(int dirFd, string name, int uid, int gid) => Check(fchownat_(dirFd, name, (uint)uid, (uint)gid, AT_SYMLINK_NOFOLLOW | (name.Length == 0 ? AtEmptyPath : 0)), "fchownat", name);

    public void SetTimesAt(int dirFd, string name, long atimeNs, long mtimeNs)
    {
        var times = stackalloc long[4] { atimeNs / 1_000_000_000, atimeNs % 1_000_000_000, mtimeNs / 1_000_000_000, mtimeNs % 1_000_000_000 };
        Check(utimensat_(dirFd, name, times, AT_SYMLINK_NOFOLLOW), "utimensat", name);
    }

    public string ReadLinkAt(int dirFd, string name)
    {
        var buf = stackalloc byte[4096];
        var n = readlinkat_(dirFd, name, buf, 4096);
        Check(n, "readlinkat", name);
        return System.Text.Encoding.UTF8.GetString(buf, (int)n);
    }

    public int Bpf(int cmd, Span<byte> attr)
    {
        fixed (byte* a = attr)
        {
            var rc = bpf_syscall(321, cmd, a, attr.Length);
            Check(rc, "bpf", cmd.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return (int)rc;
        }
    }

    private const int AtEmptyPath = 0x1000;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)] private static partial long bpf_syscall(long number, int cmd, byte* attr, nint size);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)] private static partial long openat2_syscall(long number, int dirfd, byte* path, ulong* how, nint size);
    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int mkdirat_(int dirfd, string name, int mode);
    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int unlinkat_(int dirfd, string name, int flags);
    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int symlinkat_(string target, int dirfd, string name);
    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int linkat_(int olddirfd, string oldname, int newdirfd, string newname, int flags);
    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int fchownat_(int dirfd, string name, uint uid, uint gid, int flags);
    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int utimensat_(int dirfd, string name, long* times, int flags);
    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial nint readlinkat_(int dirfd, string name, byte* buf, nint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int lsetxattr(string path, string name, byte* value, nint size, int flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial nint lgetxattr(string path, string name, byte* value, nint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial nint llistxattr(string path, byte* list, nint size);

    /// <summary>The two timespecs (access, modification) that utimensat and futimens take.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct TimePair
    {
        public timespec Access;
        public timespec Modify;
    }
}
