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

    /// <summary>
    /// For a container in a user namespace: the helper that made it (ended once the shim is released or aborted), the
    /// namespace's path for the shim to open, and the helper's image (a shim exec'ing it has not exec'd its payload yet).
    /// </summary>
    public (Process Helper, string Path, string Image)? UserNamespace { get; set; }

    /// <summary>Whether the loopback of its network namespace is already up.</summary>
    public bool LoopbackUp { get; set; }

    /// <summary>For a pooled shim: the host's mount table its mount namespace was copied from (null when it changed during the spawn).</summary>
    public string? MountTable { get; set; }

    /// <summary>Sends the configuration and waits until the payload is exec'd (EOF on the status pipe) or the shim reports a failure.</summary>
    public async Task<(string Step, int Errno, string Detail)?> ReleaseAsync(ShimConfig config)
    {
        var json = ShimConfigWriter.Write(config);
        try
        {
            sys.WriteAll(syncWrite, json);
        }
        finally
        {
            CloseOnce(ref syncWrite);
        }

        byte[] status;
        try
        {
            status = await Task.Run(ReadStatus).ConfigureAwait(false);
        }
        finally
        {
            EndUserNamespaceHelper(); // the shim holds the namespace now (or failed)
        }

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

        return exe != shimImage && exe != UserNamespace?.Image;
    }

    private void EndUserNamespaceHelper()
    {
        if (UserNamespace is { } u)
        {
            UserNamespace = null;
            ShimSpawner.EndHelper(u.Helper);
        }
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

        EndUserNamespaceHelper();
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
    /// (<paramref name="unshareFlags"/>). <paramref name="unshared"/> runs on the spawning thread once it is in them.
    /// </summary>
    public Task<SpawnedShim> SpawnJoinedAsync(IReadOnlyList<(string Ns, int Flag, int Pid)> joins, int unshareFlags, StdioOptions stdio, bool stage = true, Action? unshared = null) =>
        SpawnAsync("init", () =>
        {
            foreach (var (ns, flag, pid) in joins)
            {
                Join($"/proc/{pid}/ns/{ns}", flag);
            }

            sys.Unshare(unshareFlags);
            unshared?.Invoke();
        }, stdio, stage: stage);

    /// <summary>Path of containers-userns (beside the shim, or CONTAINERS_USERNS).</summary>
    public string UsernsHelperPath => Beside(shimPath, "containers-userns", "CONTAINERS_USERNS");

    /// <summary>A helper built beside the shim (<paramref name="name"/>), or the path the variable <paramref name="variable"/> gives.</summary>
    public static string Beside(string shimPath, string name, string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } e ? e : Path.Combine(Path.GetDirectoryName(shimPath) ?? ".", name);

    /// <summary>
    /// Starts a shim for a container in a user namespace of its own. containers-userns makes the namespace and,
    /// owned by it, those of <paramref name="unshareFlags"/> (one process with one thread: the kernel refuses
    /// CLONE_NEWUSER to ours); the maps are written here; then the shim is started in them (it stays in the host's
    /// user namespace to set the container up, and enters the container's through the helper at the end) and joins
    /// <paramref name="joins"/> as well. The helper lives until the shim is released or aborted.
    /// </summary>
    /// <param name="joins">Namespaces of other processes joined as well.</param>
    /// <param name="unshareFlags">The namespaces made (CLONE_NEW*).</param>
    /// <param name="uidMap">The new user namespace's uid map.</param>
    /// <param name="gidMap">Its gid map.</param>
    /// <param name="stdio">How the shim's stdio is wired.</param>
    /// <param name="joinedUserNamespace">Another container's user namespace (/proc/PID/ns/user) to make the namespaces in, instead of a new one with these maps.</param>
    public async Task<SpawnedShim> SpawnInUserNamespaceAsync(IReadOnlyList<(string Ns, int Flag, int Pid)> joins, int unshareFlags, IReadOnlyList<IdMapping> uidMap, IReadOnlyList<IdMapping> gidMap, StdioOptions stdio, string? joinedUserNamespace = null)
    {
        EnsureSignalHandling();
        var helperPath = UsernsHelperPath;
        if (!File.Exists(helperPath))
        {
            throw new ContainerException($"user namespaces need containers-userns, which was not found at {helperPath} (it is built beside containers-shim; set CONTAINERS_USERNS to its path)");
        }

        var psi = new ProcessStartInfo(helperPath) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("create");
        // Not the pid namespace: one can be entered only once it has its init, which must be the shim (the engine's
        // child); the spawn thread makes it, owned by the host's user namespace. The shim, the host's root, mounts its
        // /proc; what a pid namespace's owner decides beyond that (reboot, ns_last_pid) stays the host's.
        psi.ArgumentList.Add((unshareFlags & ~CLONE_NEWPID).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (joinedUserNamespace is not null)
        {
            psi.ArgumentList.Add(joinedUserNamespace);
        }

        Process helper;
        lock (SpawnLock)
        {
            helper = Process.Start(psi) ?? throw new ContainerException("failed to start containers-userns");
        }

        try
        {
            var ready = new byte[1];
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                if (await helper.StandardOutput.BaseStream.ReadAsync(ready, timeout.Token).ConfigureAwait(false) != 1)
                {
                    var error = await helper.StandardError.ReadToEndAsync(timeout.Token).ConfigureAwait(false);
                    throw new ContainerException($"creating the user namespace failed: {error.Trim()}");
                }
            }

            // one write each, as the kernel wants; gid_map after uid_map is what newgidmap does too
            if (joinedUserNamespace is null)
            {
                WriteMap(helper.Id, "uid_map", uidMap);
                WriteMap(helper.Id, "gid_map", gidMap);
            }

            var names = new[] { ("mnt", CLONE_NEWNS), ("uts", CLONE_NEWUTS), ("ipc", CLONE_NEWIPC), ("net", CLONE_NEWNET) };
            var shim = await SpawnAsync("init", () =>
            {
                sys.Unshare(CLONE_FS); // a thread sharing its root and cwd with others cannot change its mount namespace
                foreach (var (ns, flag) in names.Where(n => (unshareFlags & n.Item2) != 0))
                {
                    Join($"/proc/{helper.Id}/ns/{ns}", flag);
                }

                foreach (var (ns, flag, pid) in joins)
                {
                    Join($"/proc/{pid}/ns/{ns}", flag);
                }

                sys.Unshare(unshareFlags & CLONE_NEWPID);
            }, stdio, stage: false).ConfigureAwait(false);
            shim.UserNamespace = (helper, $"/proc/{helper.Id}/ns/user", helperPath);
            return shim;
        }
        catch
        {
            EndHelper(helper);
            throw;
        }
    }

    private void WriteMap(int pid, string file, IReadOnlyList<IdMapping> map)
    {
        var path = $"/proc/{pid}/{file}";
        var fd = sys.Open(path, 0x1 | 0x80000); // O_WRONLY | O_CLOEXEC
        try
        {
            sys.WriteAll(fd, Encoding.ASCII.GetBytes(string.Concat(map.Select(m => m + "\n"))));
        }
        catch (SyscallException e)
        {
            throw new ContainerException($"writing {file} of the user namespace ({string.Join(", ", map)}) failed: {e.Message}", e);
        }
        finally
        {
            sys.Close(fd);
        }
    }

    /// <summary>Enters the namespace at <paramref name="path"/> (/proc/PID/ns/NAME) on this thread.</summary>
    private void Join(string path, int flag)
    {
        var fd = sys.Open(path, 0x80000);
        try
        {
            sys.Setns(fd, flag);
        }
        finally
        {
            sys.Close(fd);
        }
    }

    /// <summary>Ends a user namespace's helper: its stdin closed, it exits; killed if it does not at once.</summary>
    internal static void EndHelper(Process helper)
    {
        try
        {
            helper.StandardInput.Close();
            if (!helper.WaitForExit(2000))
            {
                helper.Kill();
                helper.WaitForExit();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
        }
        finally
        {
            helper.Dispose();
        }
    }

    /// <summary>Starts a shim in the ipc, uts, net, pid and cgroup namespaces of <paramref name="targetPid"/> (it joins the mount namespace itself).</summary>
    public Task<SpawnedShim> SpawnExecAsync(int targetPid, StdioOptions stdio) =>
        SpawnAsync("exec", () =>
        {
            foreach (var (ns, flag) in new[] { ("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET), ("pid", CLONE_NEWPID), ("cgroup", CLONE_NEWCGROUP) })
            {
                Join($"/proc/{targetPid}/ns/{ns}", flag);
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
