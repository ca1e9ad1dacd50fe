using System.Runtime.InteropServices;

namespace Containers.Linux;

/// <summary>File-system calls: statx (its layout is the same on every architecture), mknod, xattrs, times.</summary>
internal sealed unsafe partial class LinuxSyscalls
{
    private const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, STATX_BASIC_STATS = 0x7ff;
    private const int ENOENT = 2, ENOTDIR = 20, ENODATA = 61, ERANGE = 34;

    public FileStatus? LStat(string path)
    {
        var buf = stackalloc byte[256];
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buf) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENOENT or ENOTDIR ? null : throw new SyscallException("statx", errno, path);
        }

        // struct statx: mask@0 blksize@4 attributes@8 nlink@16 uid@20 gid@24 mode(u16)@28 ino@32 size@40 blocks@48
        // attributes_mask@56 atime@64 btime@80 ctime@96 mtime@112 (tv_sec i64, tv_nsec u32) rdev_major@128 rdev_minor@132
        var mtime = (*(long*)(buf + 112) * 1_000_000_000L) + *(uint*)(buf + 120);
        var device = MakeDev(*(uint*)(buf + 128), *(uint*)(buf + 132));
        return new FileStatus(*(ushort*)(buf + 28), *(int*)(buf + 20), *(int*)(buf + 24), *(long*)(buf + 40), device, mtime, *(ulong*)(buf + 32), *(int*)(buf + 16));
    }

    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public void MkDir(string path, int mode) => Check(mkdir(path, mode), "mkdir", path);

    public void Symlink(string target, string path) => Check(symlink(target, path), "symlink", path);

    public void Link(string existing, string path) => Check(link(existing, path), "link", path);

    public void MkNod(string path, int mode, ulong device) => Check(mknod(path, mode, device), "mknod", path);

    public void LChown(string path, int uid, int gid) => Check(lchown(path, uid, gid), "lchown", path);

    public void FChown(int fd, int uid, int gid) => Check(fchown(fd, uid, gid), "fchown");

    public void FChmod(int fd, int mode) => Check(fchmod(fd, mode), "fchmod");

    public void Chmod(string path, int mode) => Check(chmod(path, mode), "chmod", path);

    public void SetTimes(string path, long atimeNs, long mtimeNs)
    {
        var ts = stackalloc long[4] { atimeNs / 1_000_000_000, atimeNs % 1_000_000_000, mtimeNs / 1_000_000_000, mtimeNs % 1_000_000_000 };
        Check(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), "utimensat", path);
    }

    public void FSetTimes(int fd, long atimeNs, long mtimeNs)
    {
        var ts = stackalloc long[4] { atimeNs / 1_000_000_000, atimeNs % 1_000_000_000, mtimeNs / 1_000_000_000, mtimeNs % 1_000_000_000 };
        Check(futimens(fd, ts), "futimens");
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

            return errno is ENODATA or 95 ? null : throw new SyscallException("lgetxattr " + name, errno, path);
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

            return errno == 95 ? [] : throw new SyscallException("llistxattr", errno, path);
        }
    }

    public void Unlink(string path) => Check(unlink(path), "unlink", path);

    public void RmDir(string path) => Check(rmdir(path), "rmdir", path);

    public void FSync(int fd) => Check(fsync(fd), "fsync");

    public void SyncFs(int fd) => Check(syncfs(fd), "syncfs");

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int statx(int dirfd, string path, int flags, int mask, byte* buf);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int mkdir(string path, int mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int symlink(string target, string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int link(string existing, string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int mknod(string path, int mode, ulong dev);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int lchown(string path, int uid, int gid);
    [LibraryImport("libc", SetLastError = true)] private static partial int fchown(int fd, int uid, int gid);
    [LibraryImport("libc", SetLastError = true)] private static partial int fchmod(int fd, int mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int chmod(string path, int mode);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int utimensat(int dirfd, string path, long* times, int flags);
    [LibraryImport("libc", SetLastError = true)] private static partial int futimens(int fd, long* times);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int lsetxattr(string path, string name, byte* value, nint size, int flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial nint lgetxattr(string path, string name, byte* value, nint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial nint llistxattr(string path, byte* list, nint size);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int unlink(string path);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int rmdir(string path);
    [LibraryImport("libc", SetLastError = true)] private static partial int fsync(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int syncfs(int fd);
}
