using System.Runtime.InteropServices;
using static Containers.Shim.Libc;
using static Tmds.Linux.LibC;

namespace Containers.Shim;

/// <summary>
/// A container in a user namespace. The shim sets it up as the host's root (idmapped mounts and device nodes need
/// that), then execs containers-userns, which joins the namespace and execs the payload: the kernel refuses
/// setns(CLONE_NEWUSER) to a process with threads, and the runtime's finalizer thread makes the shim one.
/// </summary>
internal static unsafe class UserNamespace
{
    private const int AT_FDCWD = -100;
    private static int nsFd = -1;
    private static int helperFd = -1;

    /// <summary>Whether the payload enters a user namespace.</summary>
    public static bool Active => nsFd >= 0;

    /// <summary>Opens the namespace and the helper while the host's /proc and files are in view (before pivot_root or joining the container's mounts).</summary>
    public static void Open(ShimConfig c)
    {
        if (c.UserNamespace is not { } path)
        {
            return;
        }

        nsFd = Libc.open(path, O_RDONLY | O_CLOEXEC, 0);
        Program.Check(nsFd, "open user namespace", path);
        var helper = c.UsernsHelper ?? throw new ShimException("open containers-userns", 2, "no path given");
        helperFd = Libc.open(helper, O_PATH | O_CLOEXEC, 0);
        Program.Check(helperFd, "open containers-userns", helper);
    }

    /// <summary>
    /// Attaches a clone of <paramref name="source"/> at <paramref name="target"/>, idmapped to the namespace: a file
    /// owned by host id N on disk shows as the host id container id N maps to, and is written back as N.
    /// </summary>
    public static void BindIdMapped(string source, string target, bool recursive)
    {
        var empty = stackalloc byte[1] { 0 };
        int tree;
        fixed (byte* s = CString.Of(source))
        {
            tree = (int)syscall3(SYS_open_tree, AT_FDCWD, (nint)s, OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
        }

        Program.Check(tree, "open_tree for an idmapped mount", source);
        try
        {
            // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
            var attr = stackalloc ulong[4] { MOUNT_ATTR_IDMAP, 0, 0, (ulong)nsFd };
            Program.Check((int)syscall5(SYS_mount_setattr, tree, (nint)empty, AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), (nint)attr, 32), "idmap mount", source);
            fixed (byte* t = CString.Of(target))
            {
                Program.Check((int)syscall5(SYS_move_mount, tree, (nint)empty, AT_FDCWD, (nint)t, MOVE_MOUNT_F_EMPTY_PATH), "attach idmapped mount", target);
            }
        }
        finally
        {
            close(tree);
        }
    }

    /// <summary>
    /// The arguments of <c>containers-userns enter</c> for <paramref name="path"/> (resolved in the container) with
    /// the configuration's identity, capabilities and filter; the fds it needs are made inheritable.
    /// </summary>
    public static string[] EnterArgs(ShimConfig c, string path, int statusFd)
    {
        var filterFd = -1;
        if (c.SeccompFilter is { Length: > 0 } filter)
        {
            var name = stackalloc byte[8] { (byte)'s', (byte)'e', (byte)'c', (byte)'c', (byte)'o', (byte)'m', (byte)'p', 0 };
            filterFd = (int)syscall3(SYS_memfd_create, (nint)name, 0, 0); // inherited by the helper, which closes it
            Program.Check(filterFd, "memfd_create for the seccomp filter");
            fixed (byte* f = filter)
            {
                Program.Check(write(filterFd, f, filter.Length) == filter.Length ? 0 : -1, "write the seccomp filter");
            }

            Program.Check((int)lseek(filterFd, 0, SEEK_SET), "rewind the seccomp filter");
        }

        Program.Check(fcntl(statusFd, F_SETFD, 0), "pass the status pipe");
        Program.Check(fcntl(nsFd, F_SETFD, 0), "pass the user namespace");
        uint lo = 0, hi = 0;
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

        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return
        [
            "containers-userns", "enter", statusFd.ToString(inv), nsFd.ToString(inv), c.Uid.ToString(inv), c.Gid.ToString(inv),
            c.AdditionalGids.Count > 0 ? string.Join(',', c.AdditionalGids) : "-", lo.ToString(inv), hi.ToString(inv),
            c.NoNewPrivileges ? "1" : "0", filterFd.ToString(inv), c.Mode == ShimMode.Init ? "1" : "0", path, .. c.Args,
        ];
    }

    /// <summary>execveat(helper, "", argv, envp, AT_EMPTY_PATH): the helper file opened before the root changed.</summary>
    public static void ExecHelper(byte** argv, byte** envp)
    {
        var empty = stackalloc byte[1] { 0 };
        syscall5(SYS_execveat, helperFd, (nint)empty, (nint)argv, (nint)envp, AT_EMPTY_PATH);
        throw new ShimException("exec containers-userns", Marshal.GetLastPInvokeError(), "");
    }
}
