using System.Runtime.InteropServices;
using Containers.Shim;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Containers.Linux;

/// <summary>
/// The real kernel, through libc: Tmds.LibC's bindings and constants where it has them; the few it lacks are bound
/// at the end of each part, each saying why.
/// </summary>
internal sealed unsafe partial class LinuxSyscalls : ISyscalls
{
    /// <summary>The process-wide instance; pass it down, do not reach for it from deep inside.</summary>
    public static readonly LinuxSyscalls Instance = new();

    private const int LOCK_SH = 1, LOCK_EX = 2; // <sys/file.h>: Tmds.LibC has neither flock nor its constants

    public void Unshare(int flags) => Check(unshare(flags), "unshare");

    public void Setns(int fd, int nstype) => Check(setns(fd, nstype), "setns");

    public int Open(string path, int flags, int mode = 0)
    {
        fixed (byte* p = CString.Of(path))
        {
            var fd = open(p, flags, (ushort)mode);
            Check(fd, "open", path);
            return fd;
        }
    }

    public void Close(int fd) => close(fd);

    public (int Read, int Write) Pipe(bool closeOnExec)
    {
        var fds = stackalloc int[2];
        Check(pipe2(fds, closeOnExec ? O_CLOEXEC : 0), "pipe2");
        return (fds[0], fds[1]);
    }

    public void SetCloseOnExec(int fd, bool value) => Check(fcntl(fd, F_SETFD, value ? FD_CLOEXEC : 0), "fcntl");

    public int Read(int fd, Span<byte> buffer)
    {
        while (true)
        {
            fixed (byte* p = buffer)
            {
                var n = (long)read(fd, p, buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != 4)
            {
                throw new SyscallException("read", errno);
            }
        }
    }

    public bool PollReadable(int fd, int timeoutMs)
    {
        // POLLHUP and POLLERR come unasked
        var pfd = new pollfd { fd = fd, events = (short)POLLIN };
        while (true)
        {
            var n = PollWithErrno(&pfd, 1, timeoutMs);
            if (n >= 0)
            {
                return n > 0;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != 4)
            {
                throw new SyscallException("poll", errno);
            }
        }
    }

    public void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            long n;
            fixed (byte* p = data)
            {
                n = write(fd, p, data.Length);
            }

            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == 4)
                {
                    continue;
                }

                throw new SyscallException("write", errno);
            }

            data = data[(int)n..];
        }
    }

    public bool Kill(int pid, int signal)
    {
        if (kill(pid, signal) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == ESRCH ? false : throw new SyscallException("kill", errno, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Flock(int fd, bool exclusive)
    {
        while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != 4)
            {
                throw new SyscallException("flock", errno);
            }
        }
    }

    public (int Master, int Slave) OpenPty()
    {
        var master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        Check(master, "posix_openpt");
        Check(grantpt(master), "grantpt");
        Check(unlockpt(master), "unlockpt");
        var name = stackalloc byte[128];
        Check(ptsname_r(master, name, 128), "ptsname_r");
        var slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
        Check(slave, "open pty slave");
        return (master, slave);
    }

    public void SetWindowSize(int fd, ushort rows, ushort cols)
    {
        var ws = stackalloc ushort[4] { rows, cols, 0, 0 };
        Check(ioctl(fd, TIOCSWINSZ, ws), "ioctl TIOCSWINSZ");
    }

    public int UnreadOutput(int fd)
    {
        int queued = 0;
        Check(ioctl(fd, TIOCOUTQ /* SIOCOUTQ is TIOCOUTQ */, &queued), "ioctl SIOCOUTQ");
        return queued;
    }

    public int Socket(int domain, int type, int protocol)
    {
        var fd = socket(domain, type, protocol);
        Check(fd, "socket");
        return fd;
    }

    public void BindNetlink(int fd)
    {
        var addr = stackalloc byte[12];
        new Span<byte>(addr, 12).Clear();
        *(ushort*)addr = (ushort)AF_NETLINK; // struct sockaddr_nl, pid 0 (the kernel picks) and no groups
        Check(bind(fd, (sockaddr*)addr, 12), "bind netlink");
    }

    public void Send(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            Check(send(fd, p, data.Length, 0), "send");
        }
    }

    public int Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            long n = recv(fd, p, buffer.Length, 0);
            Check(n, "recv");
            return (int)n;
        }
    }

    public int NameToIndex(string name)
    {
        var index = (int)if_nametoindex(name);
        return index == 0 ? throw new SyscallException("if_nametoindex", Marshal.GetLastPInvokeError(), name) : index;
    }

    public void Mount(string? source, string target, string? fsType, ulong flags, string? data)
    {
        fixed (byte* s = CString.Of(source), t = CString.Of(target), f = CString.Of(fsType), d = CString.Of(data))
        {
            Check(mount(s, t, f, (ulong_t)flags, d), "mount", target);
        }
    }

    public void Unmount(string target, int flags)
    {
        fixed (byte* t = CString.Of(target))
        {
            Check(umount2(t, flags), "umount", target);
        }
    }

    public void SetSid() => setsid();

    public string ReadLink(string path) => new FileInfo(path).LinkTarget ?? throw new SyscallException("readlink", 22, path);

    public void RedirectStdioToNull()
    {
        int fd;
        fixed (byte* p = CString.Of("/dev/null"))
        {
            fd = open(p, O_RDWR, 0);
        }

        Check(fd, "open", "/dev/null");
        for (var i = 0; i < 3; i++)
        {
            dup2(fd, i);
        }

        close(fd);
    }

    private static void Check(long rc, string call, string? target = null)
    {
        if (rc < 0)
        {
            throw new SyscallException(call, Marshal.GetLastPInvokeError(), target);
        }
    }

    // Tmds.LibC 0.5.0 binds poll(2) without SetLastError: its errno (EINTR above all) would be lost.
    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)] private static partial int PollWithErrno(pollfd* fds, nuint count, int timeoutMs);

    // Tmds.LibC lacks these: flock(2), the pseudo-terminal calls of <stdlib.h> and if_nametoindex(3).
    [LibraryImport("libc", SetLastError = true)] private static partial int flock(int fd, int op);
    [LibraryImport("libc", SetLastError = true)] private static partial int posix_openpt(int flags);
    [LibraryImport("libc", SetLastError = true)] private static partial int grantpt(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int unlockpt(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int ptsname_r(int fd, byte* buf, nint len);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial uint if_nametoindex(string name);
}
