using System.Diagnostics;
using System.Runtime.InteropServices;
using Containers.Shim;

namespace Containers.Runtime;

/// <summary>A shim process that waits on its sync pipe for its configuration.</summary>
internal sealed class SpawnedShim(Process process, int syncWrite, int statusRead, ISyscalls sys, string shimImage)
{
    // Each fd is closed exactly once: a second close could hit a number another thread has been given since.
    private int syncWrite = syncWrite;
    private int statusRead = statusRead;

    public Process Process { get; } = process;

    public int Pid => Process.Id;

    /// <summary>
    /// A pooled shim's own cgroup, made and joined while it waited (at the top of our hierarchy, so only for starts
    /// without a cgroup parent): the start renames it to the container's instead of creating one and migrating into
    /// it. Null for a shim spawned on demand.
    /// </summary>
    public Cgroups.ICgroup? Cgroup { get; set; }

    /// <summary>Whether the loopback of its network namespace is already up.</summary>
    public bool LoopbackUp { get; set; }

    /// <summary>For a pooled shim: the host's mount table its mount namespace was copied from (null when it changed during the spawn).</summary>
    public string? MountTable { get; set; }

    /// <summary>Sends the configuration and waits until the payload is exec'd (EOF on the status pipe) or the shim reports a failure.</summary>
    public async Task<(string Step, int Errno, string Detail)?> ReleaseAsync(ShimConfig config)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(config, ShimJsonContext.Default.ShimConfig);
        try
        {
            sys.WriteAll(syncWrite, json);
        }
        finally
        {
            CloseOnce(ref syncWrite);
        }

        var status = await Task.Run(ReadStatus).ConfigureAwait(false);

        if (status.Length == 0)
        {
            return null;
        }

        var parts = Encoding.UTF8.GetString(status).Split('\0');
        return (parts[0], parts.Length > 1 && int.TryParse(parts[1], out var e) ? e : 0, parts.Length > 2 ? parts[2] : "");
    }

    /// <summary>
    /// What the shim reports on the status pipe, up to the exec of its payload. That shows as EOF, unless a process
    /// another thread of ours forked while this shim was being spawned (its fds were inheritable for that moment)
    /// holds a copy of the write end: then EOF comes only when that process ends, which may be never (a docker CLI
    /// whose own start is waiting for this one). So when the pipe stays quiet, the shim is looked at: its image
    /// replaced by the payload is the exec; its exit is the end of what it had to say.
    /// </summary>
    private byte[] ReadStatus()
    {
        var ms = new MemoryStream();
        var buf = new byte[4096];
        try
        {
            while (true)
            {
                if (sys.PollReadable(statusRead, QuietMilliseconds))
                {
                    var n = sys.Read(statusRead, buf);
                    if (n == 0)
                    {
                        break;
                    }

                    ms.Write(buf, 0, n);
                    continue;
                }

                if (ms.Length == 0 && Execd())
                {
                    break;
                }

                if (Process.HasExited)
                {
                    // it wrote all it had before it exited: take what is in the pipe
                    int n;
                    while (sys.PollReadable(statusRead, 0) && (n = sys.Read(statusRead, buf)) > 0)
                    {
                        ms.Write(buf, 0, n);
                    }

                    break;
                }
            }
        }
        finally
        {
            CloseOnce(ref statusRead);
        }

        return ms.ToArray();
    }

    /// <summary>How long the status pipe may stay quiet before the shim itself is looked at.</summary>
    internal const int QuietMilliseconds = 50;

    /// <summary>Whether the shim's process now runs another image than the shim's: its payload, exec'd.</summary>
    private bool Execd()
    {
        string exe;
        try
        {
            exe = sys.ReadLink($"/proc/{Pid}/exe");
        }
        catch (Exception e) when (e is SyscallException or IOException or UnauthorizedAccessException)
        {
            return false; // gone (HasExited decides) or not readable
        }

        const string deleted = " (deleted)";
        if (exe.EndsWith(deleted, StringComparison.Ordinal))
        {
            exe = exe[..^deleted.Length]; // the shim's file replaced on disk while it runs is still the shim
        }

        return exe != shimImage;
    }

    /// <summary>Abandons a shim that was never released: closes the pipes (the shim then exits) and kills it.</summary>
    public void Abort()
    {
        CloseOnce(ref syncWrite);
        CloseOnce(ref statusRead);
        try
        {
            Process.Kill();
        }
        catch (InvalidOperationException)
        {
        }
    }

    private void CloseOnce(ref int fd)
    {
        var f = Interlocked.Exchange(ref fd, -1);
        if (f >= 0)
        {
            sys.Close(f);
        }
    }
}

/// <summary>
/// Starts the NativeAOT shim in new (or joined) namespaces, per DESIGN.md: a fresh dedicated thread unshares or
/// setns-es, then starts the shim, and ends (a thread that made a pid namespace cannot make threads or another one).
/// </summary>
internal sealed class ShimSpawner(ISyscalls sys, string shimPath, string? stageDirectory = null)
{
    public string ShimPath => shimPath;

    /// <summary>
    /// For tests: runs on the spawn thread while the shim's pipe ends are inheritable, where another thread's fork
    /// would take copies of them (it must not make threads or touch the pool: see <see cref="SpawnAsync"/>).
    /// </summary>
    internal Action? InSpawnWindow { get; set; }

    // what /proc/PID/exe of a shim reads (symlinks resolved), to tell it from its payload
    private readonly string shimImage = File.ResolveLinkTarget(shimPath, returnFinalTarget: true)?.FullName ?? Path.GetFullPath(shimPath);

    public const int CLONE_NEWNS = 0x00020000, CLONE_NEWUTS = 0x04000000, CLONE_NEWIPC = 0x08000000, CLONE_NEWNET = 0x40000000, CLONE_NEWPID = 0x20000000, CLONE_NEWCGROUP = 0x02000000, CLONE_FS = 0x200;

    private static readonly Lock SpawnLock = new();
    private static PosixSignalRegistration? signalInit;

    /// <summary>Where the shim is looked for: next to this assembly, or CONTAINERS_SHIM.</summary>
    public static string DefaultShimPath()
    {
        var env = Environment.GetEnvironmentVariable("CONTAINERS_SHIM");
        if (!string.IsNullOrEmpty(env))
        {
            return env;
        }

        var dir = AppContext.BaseDirectory;
        foreach (var candidate in new[] { Path.Combine(dir, "containers-shim"), Path.Combine(dir, "runtimes", "linux-x64", "native", "containers-shim") })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new ContainerException($"containers-shim was not found next to {AppContext.BaseDirectory}; set CONTAINERS_SHIM to its path");
    }

    /// <summary>
    /// Starts a shim in new namespaces (<paramref name="unshareFlags"/>) with <paramref name="stdio"/>; a
    /// <paramref name="pooled"/> one warms up under SCHED_IDLE (its taker sets it back). <paramref name="unshared"/>
    /// runs on the spawning thread right after the namespaces are made. With <paramref name="stage"/> false the shim
    /// mounts /proc, /dev and /sys only once it has its configuration (a privileged start, or a /dev/shm of another kind).
    /// </summary>
    public Task<SpawnedShim> SpawnInitAsync(int unshareFlags, StdioOptions stdio, bool pooled = false, Action? unshared = null, bool stage = true) =>
        SpawnAsync("init", () => { sys.Unshare(unshareFlags); unshared?.Invoke(); }, stdio, pooled, stage);

    /// <summary>
    /// Starts a shim in the namespaces of other processes (<paramref name="joins"/>: a pod's second container joins
    /// the first's network, ipc and uts; <c>--pid container:X</c> joins X's pid namespace) and new ones of the rest
    /// (<paramref name="unshareFlags"/>).
    /// </summary>
    public Task<SpawnedShim> SpawnJoinedAsync(IReadOnlyList<(string Ns, int Flag, int Pid)> joins, int unshareFlags, StdioOptions stdio, bool stage = true) =>
        SpawnAsync("init", () =>
        {
            foreach (var (ns, flag, pid) in joins)
            {
                var fd = sys.Open($"/proc/{pid}/ns/{ns}", 0x80000);
                try
                {
                    sys.Setns(fd, flag);
                }
                finally
                {
                    sys.Close(fd);
                }
            }

            sys.Unshare(unshareFlags);
        }, stdio, stage: stage);

    /// <summary>Starts a shim in the ipc, uts, net, pid and cgroup namespaces of <paramref name="targetPid"/> (it joins the mount namespace itself).</summary>
    public Task<SpawnedShim> SpawnExecAsync(int targetPid, StdioOptions stdio) =>
        SpawnAsync("exec", () =>
        {
            foreach (var (ns, flag) in new[] { ("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET), ("pid", CLONE_NEWPID), ("cgroup", CLONE_NEWCGROUP) })
            {
                var fd = sys.Open($"/proc/{targetPid}/ns/{ns}", 0x80000);
                try
                {
                    sys.Setns(fd, flag);
                }
                finally
                {
                    sys.Close(fd);
                }
            }
        }, stdio);

    private Task<SpawnedShim> SpawnAsync(string mode, Action enterNamespaces, StdioOptions stdio, bool pooled = false, bool stage = true)
    {
        EnsureSignalHandling();
        SpawnedShim? result = null;
        Exception? error = null;

        // The spawn thread must not complete a task or touch the thread pool: once it has unshared its pid
        // namespace it cannot create threads, and a fresh process's pool would try to grow from it. So the
        // caller joins it (a few milliseconds).
        var thread = new Thread(() =>
        {
            try
            {
                result = SpawnOnThisThread(mode, enterNamespaces, stdio, pooled, stage);
            }
            catch (Exception e)
            {
                error = e;
            }
        }, 512 * 1024)
        { IsBackground = true, Name = "containers-spawn" };
        thread.Start();
        thread.Join();
        return error is null ? Task.FromResult(result!) : Task.FromException<SpawnedShim>(error);
    }

    private SpawnedShim SpawnOnThisThread(string mode, Action enterNamespaces, StdioOptions stdio, bool pooled, bool stage)
    {
        enterNamespaces();
        var sync = sys.Pipe(closeOnExec: true);
        var status = sys.Pipe(closeOnExec: true);
        var psi = new ProcessStartInfo(shimPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(mode);
        psi.ArgumentList.Add(sync.Read.ToString(System.Globalization.CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(status.Write.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (mode == "init" && stage && stageDirectory is not null)
        {
            psi.ArgumentList.Add(stageDirectory); // mounts that need no configuration are made while it waits for one
        }
        psi.Environment.Clear();
        psi.Environment["DOTNET_GCHeapHardLimit"] = "0x2000000"; // a 32 MiB heap reserves less and starts faster
        if (pooled)
        {
            psi.Environment["CONTAINERS_SHIM_POOLED"] = "1";
        }

        Process process;
        lock (SpawnLock)
        {
            // Only these fds may cross into the shim; every other fd of .NET is close-on-exec.
            sys.SetCloseOnExec(sync.Read, false);
            sys.SetCloseOnExec(status.Write, false);
            if (stdio.TerminalSlave >= 0)
            {
                sys.SetCloseOnExec(stdio.TerminalSlave, false);
            }

            try
            {
                InSpawnWindow?.Invoke();
                process = Process.Start(psi) ?? throw new ContainerException("failed to start containers-shim");
            }
            catch (Exception e) when (e is not ContainerException)
            {
                sys.Close(sync.Write);
                sys.Close(status.Read);
                throw new ContainerException($"failed to start {shimPath}: {e.Message}", e);
            }
            finally
            {
                sys.Close(sync.Read);
                sys.Close(status.Write);
                if (stdio.TerminalSlave >= 0)
                {
                    sys.SetCloseOnExec(stdio.TerminalSlave, true);
                }
            }
        }

        if (!stdio.KeepStdin)
        {
            process.StandardInput.Close();
        }

        return new SpawnedShim(process, sync.Write, status.Read, sys, shimImage);
    }

    private static void EnsureSignalHandling()
    {
        // The first Process.Start sets up SIGCHLD handling, which starts a thread: do that on a normal thread,
        // never on a spawn thread that has unshared its pid namespace (it could not create the thread).
        if (signalInit is null)
        {
            lock (SpawnLock)
            {
                signalInit ??= PosixSignalRegistration.Create(PosixSignal.SIGCONT, _ => { });
            }
        }
    }
}

/// <summary>How the shim's stdio is wired.</summary>
/// <param name="TerminalSlave">The pty slave to pass to the shim, or -1.</param>
/// <param name="KeepStdin">Keep the stdin pipe open for the caller to write to.</param>
internal readonly record struct StdioOptions(int TerminalSlave, bool KeepStdin)
{
    /// <summary>No terminal, stdin closed. (Not <c>default</c>: that would name fd 0 as the terminal.)</summary>
    public static StdioOptions Plain { get; } = new(-1, false);
}
