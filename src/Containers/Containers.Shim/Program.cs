using Tmds.Linux;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Containers.Shim;

/// <summary>
/// The first process of a container (or of an exec). Started by the library with
/// <c>containers-shim init|exec SYNC_FD STATUS_FD</c>, it reads its configuration from the sync pipe,
/// sets the container up and execs the payload. Any failure is reported on the status pipe as
/// <c>step\0errno\0detail</c>; a successful exec shows as EOF (the status fd is close-on-exec).
/// </summary>
internal static unsafe class Program
{
    private static int statusFd = -1;

    /// <summary>The status pipe's write end, passed on to containers-userns.</summary>
    public static int StatusFd => statusFd;

    private static int Main(string[] args)
    {
        if (args.Length is not (3 or 4) || !int.TryParse(args[1], out var syncFd) || !int.TryParse(args[2], out statusFd))
        {
            Console.Error.WriteLine("containers-shim is started by the Containers library, not by hand.");
            return 125;
        }

        LibC.fcntl(statusFd, LibC.F_SETFD, LibC.FD_CLOEXEC);
        // Not dumpable until the payload's execve (which makes it dumpable again): a process in the container, even
        // root, cannot open /proc/PID/exe of a shim (the host's binary) to overwrite it later (CVE-2019-5736), nor
        // ptrace it or read its memory, while it sets up or joins the container.
        _ = Libc.prctl(Libc.PR_SET_DUMPABLE, 0, 0, 0, 0);
        ShimException? stageFailure = null;
        bool pooled = Environment.GetEnvironmentVariable("CONTAINERS_SHIM_POOLED") == "1";
        if (pooled)
        {
            // a pooled shim warms up while nobody waits for it: only on idle CPU time, never slowing the start it follows
            _ = Libc.SetPolicy(LibC.SCHED_IDLE); // if refused it warms up at normal priority
        }

        if (args[0] == "init" && args.Length == 4)
        {
            try
            {
                Container.Stage(args[3]);
                // the first read pages in the reader's code: pay it while waiting
                ShimConfigReader.Read("""{"Mode":"Init","LowerDirs":["/"],"Mounts":[{"Source":"s","Destination":"d"}],"Rlimits":[{"Resource":7}],"Args":["a"],"Env":["A=B"],"Capabilities":[0],"AdditionalGids":[0]}"""u8);
                Process.Warm();
            }
            catch (ShimException e)
            {
                stageFailure = e; // reported once the configuration has been read: the parent is listening then
            }
        }

        ShimConfig config;
        try
        {
            var bytes = ReadAll(syncFd);
            if (pooled && !Libc.SetPolicy(LibC.SCHED_OTHER))
            {
                // the payload must not inherit SCHED_IDLE (the taker has normally reset it already)
                throw new ShimException("restore the scheduling policy", Marshal.GetLastPInvokeError(), "sched_setscheduler(SCHED_OTHER)");
            }

            config = ShimConfigReader.Read(bytes); // not the serializer: its metadata is built through reflection, a millisecond in each shim
        }
        catch (ShimException e)
        {
            return Fail(e);
        }
        catch (JsonException e)
        {
            return Fail(new ShimException("read config", 0, e.Message));
        }

        if (stageFailure is not null)
        {
            return Fail(stageFailure);
        }

        try
        {
            UserNamespace.Open(config); // the host's /proc and files are in view until the next step
            if (config.Mode == ShimMode.Init)
            {
                Container.SetUp(config);
            }
            else
            {
                JoinMountNamespace(config.TargetPid);
            }

            Process.Prepare(config);
            Process.Exec(config);
            return 0; // not reached
        }
        catch (ShimException e)
        {
            return Fail(e);
        }
    }

    private static void JoinMountNamespace(int pid)
    {
        var fd = Libc.open($"/proc/{pid}/ns/mnt", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        Check(fd, "open mount namespace");
        Check(LibC.unshare(LibC.CLONE_FS), "unshare fs");
        Check(LibC.setns(fd, LibC.CLONE_NEWNS), "setns mount");
        LibC.close(fd);
        Check(Libc.chdir("/"), "chdir /");
    }

    private static byte[] ReadAll(int fd)
    {
        var ms = new MemoryStream();
        var buf = new byte[65536];
        while (true)
        {
            nint n;
            fixed (byte* p = buf)
            {
                n = (nint)LibC.read(fd, p, buf.Length);
            }

            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == 4)
                {
                    continue;
                }

                throw new ShimException("read config", errno, "");
            }

            if (n == 0)
            {
                break;
            }

            ms.Write(buf, 0, (int)n);
        }

        LibC.close(fd);
        return ms.ToArray();
    }

    /// <summary>Throws a <see cref="ShimException"/> with the current errno when <paramref name="rc"/> is negative.</summary>
    public static void Check(long rc, string step, string detail = "")
    {
        if (rc < 0)
        {
            throw new ShimException(step, Marshal.GetLastPInvokeError(), detail);
        }
    }

    private static int Fail(ShimException e)
    {
        var bytes = Encoding.UTF8.GetBytes($"{e.Step}\0{e.Errno}\0{e.Detail}");
        fixed (byte* p = bytes)
        {
            LibC.write(statusFd, p, bytes.Length);
        }

        return 125;
    }
}

/// <summary>A failed setup step: what, errno, and a detail (usually a path).</summary>
internal sealed class ShimException(string step, int errno, string detail) : Exception(step)
{
    public string Step { get; } = step;
    public int Errno { get; } = errno;
    public string Detail { get; } = detail;
}
