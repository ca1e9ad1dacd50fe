using System.Runtime.InteropServices;

namespace Containers.Volumes.Linux;

/// <summary>A syscall that failed, with its errno.</summary>
/// <param name="call">The call and what it was given.</param>
/// <param name="errno">The error number.</param>
public sealed class VolumeIOException(string call, int errno) : IOException($"{call}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno)
{
    /// <summary>The error number.</summary>
    public int Errno { get; } = errno;
}

/// <summary>
/// The only code of this package that calls the kernel: the FUSE device, loop devices, mounts and holes of sparse
/// files. The core package's syscall seam is internal to it, so this package binds the few calls it needs itself.
/// </summary>
internal static unsafe partial class VolumeSyscalls
{
    public const int O_RDWR = 2, O_CLOEXEC = 0x80000, O_DIRECT = 0x4000;
    public const int EINTR = 4, EIO = 5, EAGAIN = 11, ENOENT = 2, ENOSPC = 28, ENODEV = 19, ENOSYS = 38, EBUSY = 16, EINVAL = 22, ENXIO = 6, EOPNOTSUPP = 95, EROFS = 30;
    public const int SEEK_DATA = 3, SEEK_HOLE = 4;
    public const int MNT_DETACH = 2;
    public const ulong MS_NOSUID = 2, MS_NODEV = 4;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open_(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int close_(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint read_(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint write_(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long lseek_(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl_(int fd, nuint request, nint arg);

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount_(string? source, string target, string? fsType, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2_(string target, int flags);

    public static int Open(string path, int flags)
    {
        var fd = open_(path, flags | O_CLOEXEC, 0);
        return fd >= 0 ? fd : throw new VolumeIOException($"open {path}", Marshal.GetLastPInvokeError());
    }

    public static void Close(int fd) => close_(fd);

    /// <summary>read(2); returns the count or the negated errno.</summary>
    public static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            var n = read_(fd, p, buffer.Length);
            return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>write(2); returns the count or the negated errno.</summary>
    public static int Write(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            var n = write_(fd, p, buffer.Length);
            return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>lseek(2) with SEEK_DATA or SEEK_HOLE: the offset, or -1 past the last data (ENXIO).</summary>
    public static long Seek(SafeHandle file, long offset, int whence)
    {
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            var r = lseek_((int)file.DangerousGetHandle(), offset, whence);
            if (r >= 0)
            {
                return r;
            }

            var errno = Marshal.GetLastPInvokeError();
            return errno == ENXIO ? -1 : throw new VolumeIOException("lseek", errno);
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    public static int Ioctl(int fd, nuint request, nint arg) => ioctl_(fd, request, arg) is var r && r >= 0 ? r : -Marshal.GetLastPInvokeError();

    public static void Mount(string? source, string target, string? fsType, ulong flags, string? data)
    {
        if (mount_(source, target, fsType, flags, data) != 0)
        {
            throw new VolumeIOException($"mount {source} on {target} ({fsType})", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>umount2(2); returns 0 or the errno (EINVAL: not a mount point).</summary>
    public static int Unmount(string target, int flags) => umount2_(target, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
