using System.Net.Sockets;
using System.Runtime.InteropServices;
using static Tmds.Linux.LibC;

namespace Containers.Networking;

/// <summary>
/// Zero-copy forwarding between two TCP sockets: splice(2) from one socket into a pipe and from the pipe into the
/// other, on a dedicated thread per direction, so payload bytes never enter user space (as docker-proxy's io.Copy).
/// </summary>
public static unsafe class Splice
{

    /// <summary>Copies <paramref name="from"/> to <paramref name="to"/> until end of stream or an error, then shuts down <paramref name="to"/>'s sending side.</summary>
    public static void Pump(Socket from, Socket to)
    {
        var fdIn = (int)from.SafeHandle.DangerousGetHandle();
        var fdOut = (int)to.SafeHandle.DangerousGetHandle();
        var pipe = stackalloc int[2];
        if (pipe2(pipe, O_CLOEXEC) != 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        try
        {
            _ = fcntl(pipe[1], F_SETPIPE_SZ, 1 << 20); // fewer round trips; the default 64 KiB still works
            while (true)
            {
                long n = splice(fdIn, null, pipe[1], null, 1 << 20, (uint)SPLICE_F_MOVE);
                if (n < 0 && Marshal.GetLastPInvokeError() == EINTR)
                {
                    continue;
                }

                if (n <= 0)
                {
                    break;
                }

                while (n > 0)
                {
                    long m = splice(pipe[0], null, fdOut, null, (Tmds.Linux.size_t)(ulong)n, (uint)SPLICE_F_MOVE);
                    if (m < 0 && Marshal.GetLastPInvokeError() == EINTR)
                    {
                        continue;
                    }

                    if (m <= 0)
                    {
                        _ = shutdown(fdIn, SHUT_RDWR); // the other side is gone: stop reading too
                        return;
                    }

                    n -= m;
                }
            }

            _ = shutdown(fdOut, SHUT_WR);
        }
        finally
        {
            _ = close(pipe[0]);
            _ = close(pipe[1]);
        }
    }

    /// <summary>Puts the socket's descriptor in blocking mode (the pump threads block in splice).</summary>
    public static void MakeBlocking(Socket s)
    {
        var fd = (int)s.SafeHandle.DangerousGetHandle();
        var flags = fcntl(fd, F_GETFL, 0);
        if (flags >= 0 && (flags & O_NONBLOCK) != 0)
        {
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        }
    }

    /// <summary>Wakes the pumps of a connection: both directions see end of stream.</summary>
    public static void Abort(Socket s) => _ = shutdown((int)s.SafeHandle.DangerousGetHandle(), SHUT_RDWR);
}
