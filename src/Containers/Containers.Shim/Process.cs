using System.Runtime.InteropServices;
using System.Text;
using static Containers.Shim.Libc;
using static Tmds.Linux.LibC;

namespace Containers.Shim;

/// <summary>The process side: terminal, limits, identity, capabilities, working directory and execve.</summary>
internal static unsafe class Process
{
    private static int lastCap = -1;

    /// <summary>What Prepare reads from the host, read ahead while a staged shim waits for its configuration.</summary>
    public static void Warm() => LastCap();

    private static int LastCap()
    {
        if (lastCap < 0)
        {
            lastCap = int.TryParse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), out var lc) ? lc : 40;
        }

        return lastCap;
    }

    public static void Prepare(ShimConfig c)
    {
        // A session (and process group) of its own, always: the shim starts in its parent's process group on the
        // host, and a container process left in it could signal every host process in that group with kill(0, ...).
        Program.Check(setsid(), "setsid");
        if (c.Terminal && c.TerminalFd >= 0)
        {
            Program.Check(ioctl(c.TerminalFd, TIOCSCTTY, 0), "set controlling terminal");
            for (var fd = 0; fd < 3; fd++)
            {
                Program.Check(dup2(c.TerminalFd, fd), "dup2 terminal");
            }

            close(c.TerminalFd);
        }
        else if (!c.OpenStdin)
        {
            var fd = open("/dev/null", O_RDONLY, 0);
            Program.Check(fd, "open /dev/null");
            Program.Check(dup2(fd, 0), "dup2 stdin");
            close(fd);
        }

        var lim = stackalloc ulong[2];
        foreach (var r in c.Rlimits)
        {
            lim[0] = r.Soft;
            lim[1] = r.Hard;
            Program.Check(setrlimit(r.Resource, lim), "setrlimit", r.Resource.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (c.Cwd is { Length: > 0 } cwd && cwd != "/")
        {
            if (!Directory.Exists(cwd))
            {
                Paths.MkdirAll(Paths.SecureJoin("/", cwd), "chdir to working directory");
            }
        }

        if (UserNamespace.Active)
        {
            // identity, capabilities and the filter are containers-userns's, once it is in the namespace
            if (c.Cwd is { Length: > 0 } inside)
            {
                Program.Check(chdir(inside), "chdir to working directory", inside);
                EnsureCwdInside(inside);
            }

            return;
        }

        // The seccomp filter goes in last, just before execve, so the shim's own work is not filtered: after the
        // capabilities when the process may still load one then (no_new_privs, or root keeping CAP_SYS_ADMIN), else
        // here, while it still holds every capability (as runc does); what follows is allowed by Docker's profile.
        bool filterLate = c.NoNewPrivileges || (c.Uid == 0 && c.Capabilities.Contains(21));
        if (c.SeccompFilter is { Length: > 0 } early && !filterLate)
        {
            LoadSeccomp(early);
        }

        // Identity and capabilities: drop the bounding set, keep the capabilities across setuid, then set them.
        var lastCap = LastCap();

        var keep = new HashSet<int>(c.Capabilities);
        for (var cap = 0; cap <= lastCap; cap++)
        {
            if (!keep.Contains(cap))
            {
                Program.Check(prctl(PR_CAPBSET_DROP, (nuint)cap, 0, 0, 0), "drop bounding capability", cap.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        Program.Check(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "keep capabilities");
        // Raw system calls, not glibc's wrappers: those broadcast the change to every thread of the process with a
        // signal (setxid), and the NativeAOT runtime's threads made that cost milliseconds. Credentials are per
        // thread in the kernel and this thread execs next, which ends the others.
        var groups = c.AdditionalGids.ToArray();
        fixed (uint* g = groups)
        {
            // a rootless engine without subordinate ids maps one group and denies setgroups: no groups is all it can be
            if ((int)syscall3(SYS_setgroups, groups.Length, (nint)g, 0) < 0 && !(groups.Length == 0 && Marshal.GetLastPInvokeError() == 1))
            {
                Program.Check(-1, "setgroups");
            }
        }

        Program.Check((int)syscall3(SYS_setresgid, (nint)c.Gid, (nint)c.Gid, (nint)c.Gid), "setgid", c.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Program.Check((int)syscall3(SYS_setresuid, (nint)c.Uid, (nint)c.Uid, (nint)c.Uid), "setuid", c.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Program.Check(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "clear keep capabilities");

        // Root gets the set in effective, permitted and inheritable; other users keep only the bounding set, as in Docker.
        uint lo = 0, hi = 0;
        if (c.Uid == 0)
        {
            foreach (var cap in c.Capabilities)
            {
                if (cap < 32)
                {
                    lo |= 1u << cap;
                }
                else
                {
                    hi |= 1u << (cap - 32);
                }
            }
        }

        var header = stackalloc uint[2] { 0x20080522, 0 };
        var data = stackalloc uint[6] { lo, lo, lo, hi, hi, hi };
        Program.Check(syscall_ptr(SYS_capset, header, data), "capset");

        if (c.NoNewPrivileges)
        {
            Program.Check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs");
        }

        if (c.Cwd is { Length: > 0 })
        {
            Program.Check(chdir(c.Cwd), "chdir to working directory", c.Cwd);
            EnsureCwdInside(c.Cwd);
        }

        if (c.SeccompFilter is { Length: > 0 } late && filterLate)
        {
            LoadSeccomp(late);
        }
    }

    /// <summary>
    /// Refuses a working directory outside the container's root: one reached through an fd the shim holds
    /// (<c>/proc/self/fd/N</c>, CVE-2024-21626) is a directory the root does not contain, which getcwd reports as
    /// unreachable.
    /// </summary>
    private static void EnsureCwdInside(string cwd)
    {
        var buf = stackalloc byte[4096];
        if (getcwd(buf, 4096) == null)
        {
            throw new ShimException("chdir to working directory", Marshal.GetLastPInvokeError(), cwd);
        }

        if (buf[0] != (byte)'/')
        {
            throw new ShimException("chdir to working directory", 2, cwd + " is outside the container");
        }
    }

    /// <summary>seccomp(SECCOMP_SET_MODE_FILTER, 0, &amp;sock_fprog): the filter applies to this thread and what it execs.</summary>
    private static void LoadSeccomp(byte[] filter)
    {
        var prog = stackalloc byte[16];
        fixed (byte* instructions = filter)
        {
            *(ushort*)prog = (ushort)(filter.Length / 8);
            *(byte**)(prog + 8) = instructions;
            Program.Check((int)syscall3(SYS_seccomp, 1, 0, (nint)prog), "seccomp", (filter.Length / 8).ToString(System.Globalization.CultureInfo.InvariantCulture) + " instructions");
        }
    }

    public static void Exec(ShimConfig c)
    {
        if (c.Args.Count == 0)
        {
            throw new ShimException("exec", 22, "no command specified");
        }

        var path = Resolve(c.Args[0], c.Env);
        var pathBytes = Z(path);
        var argv = (UserNamespace.Active ? UserNamespace.EnterArgs(c, path, Program.StatusFd) : [.. c.Args]).Select(Z).ToArray();
        var envp = c.Env.Select(Z).ToArray();
        var handles = new List<GCHandle>();
        try
        {
            var argvp = stackalloc byte*[argv.Length + 1];
            var envpp = stackalloc byte*[envp.Length + 1];
            Pin(argv, argvp, handles);
            Pin(envp, envpp, handles);
            if (UserNamespace.Active)
            {
                UserNamespace.ExecHelper(argvp, envpp);
            }

            fixed (byte* p = pathBytes)
            {
                execve(p, argvp, envpp);
            }

            throw new ShimException("exec", Marshal.GetLastPInvokeError(), path);
        }
        finally
        {
            foreach (var h in handles)
            {
                h.Free();
            }
        }
    }

    /// <summary>Pins each string, writes its address into <paramref name="into"/>, then the closing null.</summary>
    private static void Pin(byte[][] strings, byte** into, List<GCHandle> handles)
    {
        for (var i = 0; i < strings.Length; i++)
        {
            var h = GCHandle.Alloc(strings[i], GCHandleType.Pinned);
            handles.Add(h);
            into[i] = (byte*)h.AddrOfPinnedObject();
        }

        into[strings.Length] = null;
    }

    private static string Resolve(string file, List<string> env)
    {
        if (file.Contains('/'))
        {
            return file;
        }

        var pathVar = env.FirstOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..]
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (var dir in pathVar.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = dir.TrimEnd('/') + "/" + file;
            var b = Z(candidate);
            fixed (byte* p = b)
            {
                if (access(p, 1) == 0 && !Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new ShimException("exec", 2, file + ": executable file not found in $PATH");
    }

    private static byte[] Z(string s) => CString.Of(s)!;
}
