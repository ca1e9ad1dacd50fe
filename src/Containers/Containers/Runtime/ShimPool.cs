using Tmds.Linux;

namespace Containers.Runtime;

/// <summary>
/// Keeps one shim spawned ahead, in fresh namespaces, with its runtime started and waiting on its sync pipe, so a
/// container start skips the spawn and the shim's start-up (about 5 ms here). Only the common shape is pooled
/// (own network namespace, no terminal, stdin closed); the pool fills after the first start, so an engine that never
/// runs two containers never pays for it. A pooled shim that is never used exits when its sync pipe closes.
/// With <paramref name="refill"/> false the pool holds only the shim <see cref="Prime"/> spawns (a one-shot process).
/// </summary>
internal sealed partial class ShimPool(ShimSpawner spawner, Cgroups.ICgroupManager? cgroups = null, ISyscalls? sys = null, bool refill = true) : IAsyncDisposable
{
    private static long counter;

    // A pooled shim's mount namespace is a copy of the host's taken when it spawned (the host's mounts are private
    // here, nothing propagates): when the host's mount table differs from that copy (a volume mounted by a test
    // fixture since, say) the pooled shim would not see it, so it is dropped. The kernel flags /proc/self/mountinfo
    // for poll on any change; the table is compared only then.
    private readonly FileStream mounts = new("/proc/self/mountinfo", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);

    public const int PooledFlags = ShimSpawner.CLONE_NEWNS | ShimSpawner.CLONE_NEWUTS | ShimSpawner.CLONE_NEWIPC | ShimSpawner.CLONE_NEWPID | ShimSpawner.CLONE_NEWNET;

    private readonly Lock gate = new();
    private Task<SpawnedShim>? next;
    private TaskCompletionSource? wanted;
    private long lastTake;
    private bool refillOnExec;
    private string? mountTable;
    private bool mountsClosed;
    private bool disposed;

    /// <summary>
    /// A shim for <paramref name="flags"/> and <paramref name="stdio"/>: the pooled one when it fits, else a fresh one
    /// (always when not <paramref name="staged"/>: the pooled one has the default /proc, /dev and /sys mounted).
    /// </summary>
    public async Task<SpawnedShim> TakeAsync(int flags, StdioOptions stdio, string? cgroupParent = null, bool staged = true)
    {
        if (flags != PooledFlags || stdio != StdioOptions.Plain || !staged)
        {
            return await spawner.SpawnInitAsync(flags, stdio, stage: staged).ConfigureAwait(false);
        }

        Task<SpawnedShim>? ready;
        lock (gate)
        {
            ready = next;
            wanted?.TrySetResult(); // a refill still waiting for quiet: this start needs it now

            // the next one for the same cgroup parent as this start: when starts come in quick succession, at once
            // (overlapping this start costs it less than the next start waiting); after a lone start, once its
            // payload is exec'd (Replenish), or after RefillDelay if that never comes
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            bool busy = System.Diagnostics.Stopwatch.GetElapsedTime(lastTake, now) < RefillDelay;
            lastTake = now;
            if (refill)
            {
                StartNext(cgroupParent, busy ? TimeSpan.Zero : RefillDelay);
                refillOnExec = !busy;
            }
            else
            {
                next = null; // taken (a one-shot pool spawns no other)
            }
        }

        if (ready is not null)
        {
            try
            {
                var shim = await ready.ConfigureAwait(false);
                if (!shim.Process.HasExited && shim.MountTable is { } table && table == CurrentMountTable())
                {
                    NormalPriority(shim.Pid); // it warmed up under SCHED_IDLE; its container runs as everything else
                    return shim;
                }

                await DiscardAsync(shim).ConfigureAwait(false);
            }
            catch (ContainerException)
            {
                // the pre-spawn failed; spawn now and report that error if it fails again
            }
        }

        return await spawner.SpawnInitAsync(flags, stdio).ConfigureAwait(false);
    }

    /// <summary>
    /// Spawns the next pooled shim in the background unless one is pooled or on its way (after a start that found the
    /// pool empty, or whose pooled shim did not fit).
    /// </summary>
    public void Replenish(string? cgroupParent)
    {
        lock (gate)
        {
            if (!refill)
            {
                return;
            }

            if (next is null)
            {
                StartNext(cgroupParent, RefillDelay);
            }
            else if (refillOnExec && wanted is { } want)
            {
                // the start it follows has exec'd its payload; a short-lived one (a test's /bin/true) is torn down
                // within a few milliseconds, which also takes the kernel's mount and network locks: let it
                _ = Task.Delay(ExecSettle).ContinueWith(_ => want.TrySetResult(), TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// How long a refill after a lone start waits at most before spawning. Spawning makes a mount and a network
    /// namespace, which takes the kernel locks the start it follows needs for its own mounts, netlink and cgroups (a
    /// refill at once made a lone start 2-3 ms slower here): it waits until that start has exec'd its payload
    /// (<see cref="Replenish"/>) and <see cref="ExecSettle"/> more. Waiting this long instead left starts 20-30 ms
    /// apart (say, each after a crun run) waiting for a whole spawn: 13-14 ms against 7-8 ms. Starts closer together
    /// than this refill at once.
    /// </summary>
    private static readonly TimeSpan RefillDelay = TimeSpan.FromMilliseconds(25);

    /// <summary>How long after a lone start's exec its refill spawns (see <see cref="RefillDelay"/>).</summary>
    private static readonly TimeSpan ExecSettle = TimeSpan.FromMilliseconds(5);

    /// <summary>Whether a start may get a shim from this pool: one is pooled or on its way, or the pool refills.</summary>
    public bool MayServe
    {
        get
        {
            lock (gate)
            {
                return !disposed && (refill || next is not null);
            }
        }
    }

    /// <summary>
    /// Spawns a shim now, at normal priority, for a start that is about to come (the CLI's <c>run</c>): its spawn and its
    /// runtime's start-up overlap the engine's set-up and the start's first steps instead of following them. Its
    /// cgroup is made first and the spawning thread joins it, so the shim is born there (no RCU grace period to wait
    /// for, as a start without a pool does). Nothing when a shim is pooled or on its way.
    /// </summary>
    public void Prime()
    {
        lock (gate)
        {
            if (next is null && !disposed)
            {
                next = Task.Run(() => SpawnPooledAsync(cgroupParent: null, primed: true));
            }
        }
    }

    /// <summary>Starts the next pooled spawn, after <paramref name="delay"/> or when a start wants it (under the gate).</summary>
    private void StartNext(string? cgroupParent, TimeSpan delay)
    {
        if (disposed)
        {
            next = null;
            return;
        }

        var want = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        wanted = want;
        next = Task.Run(async () =>
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.WhenAny(want.Task, Task.Delay(delay)).ConfigureAwait(false);
            }

            lock (gate)
            {
                if (disposed)
                {
                    throw new ContainerException("the shim pool is disposed");
                }
            }

            return await SpawnPooledAsync(cgroupParent).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// Spawns a shim and, while nobody waits for it, does what every start would: puts it in a cgroup of its own under
    /// <paramref name="cgroupParent"/> (joining a v1 cgroup waits for an RCU grace period) and brings its loopback up.
    /// A <paramref name="primed"/> one is awaited soon: it runs at normal priority, its cgroup is made before the spawn
    /// and joined by the spawning thread, and its loopback is brought up there.
    /// </summary>
    private async Task<SpawnedShim> SpawnPooledAsync(string? cgroupParent, bool primed = false)
    {
        // only at the top of our hierarchy: a group under a --cgroup-parent would keep that subtree alive after its
        // last container (and a crash would leave it where the sweep does not look)
        Cgroups.ICgroup? group = null;
        using var traced = primed ? ContainerDiagnostics.StartSteps.StartActivity("prime a shim") : null;
        if (cgroups is not null && string.IsNullOrEmpty(cgroupParent))
        {
            var self = ProcessIdentity.Self;
            try
            {
                group = cgroups.Create($"{PoolPrefix}{self.Pid}-{self.StartTime}-{Interlocked.Increment(ref counter)}");
            }
            catch (Exception e) when (e is ContainerException or IOException or UnauthorizedAccessException)
            {
                // the start makes the container's cgroup itself
            }
        }

        // the table its mount namespace copies: the one read just before, unless a change came before the copy was made
        var before = CurrentMountTable();
        bool changed = false, joined = false, loopback = false;
        SpawnedShim shim;
        try
        {
            shim = await spawner.SpawnInitAsync(PooledFlags, StdioOptions.Plain, pooled: !primed, unshared: () =>
            {
                changed = MountEventPending();
                if (primed && sys is not null)
                {
                    joined = group?.TryAddCurrentThread() ?? false;
                    loopback = TryLoopbackUp(sys);
                }
            }).ConfigureAwait(false);
        }
        catch
        {
            group?.Delete();
            throw;
        }

        shim.MountTable = changed ? null : before;
        if (sys is not null && !loopback)
        {
            try
            {
                Networking.BridgeNetwork.LoopbackUp(sys, shim.Pid);
                loopback = true;
            }
            catch (ContainerException)
            {
                // the start brings it up
            }
        }

        shim.LoopbackUp = loopback;
        if (group is not null)
        {
            try
            {
                if (!joined)
                {
                    group.AddProcess(shim.Pid);
                }

                shim.Cgroup = group;
            }
            catch (Exception e) when (e is ContainerException or IOException or UnauthorizedAccessException)
            {
                group.Delete(); // the start makes the container's cgroup itself
            }
        }

        return shim;
    }

    // on the spawning thread, in the new network namespace
    private static bool TryLoopbackUp(ISyscalls sys)
    {
        try
        {
            using var nl = new Linux.Netlink(sys);
            nl.SetUp(1);
            return true;
        }
        catch (ContainerException)
        {
            return false;
        }
    }

    /// <summary>The name prefix of pooled shims' cgroups: <c>pool-PID-STARTTIME-N</c> (the sweep removes those of dead processes).</summary>
    public const string PoolPrefix = "pool-";

    /// <summary>Ends a pooled shim that will not be used, and its cgroup once it has exited.</summary>
    private static async Task DiscardAsync(SpawnedShim shim)
    {
        shim.Abort();
        await shim.Process.WaitForExitAsync().ConfigureAwait(false);
        shim.Cgroup?.Delete();
        shim.Process.Dispose();
    }

    /// <summary>
    /// The host's mount table now (<c>/proc/self/mountinfo</c>), read again only when the kernel flagged a change since
    /// the last read. A pooled shim fits a start only when the table is what it was when the shim copied it: a
    /// change that was undone since (another runtime's transient mount: each <c>crun run</c> makes one) keeps it.
    /// </summary>
    private string CurrentMountTable()
    {
        lock (mounts)
        {
            if (mountsClosed)
            {
                return ""; // disposed: no pooled shim fits
            }

            if (mountTable is not null && !MountEventPending())
            {
                return mountTable;
            }

            mounts.Position = 0; // reading re-arms the event
            using var text = new MemoryStream();
            mounts.CopyTo(text);
            return mountTable = System.Text.Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
        }
    }

    /// <summary>Whether the mount table changed since it was last read (the kernel's flag; nothing is read).</summary>
    private unsafe bool MountEventPending()
    {
        lock (mounts)
        {
            if (mountsClosed)
            {
                return true;
            }

            var fds = new Tmds.Linux.pollfd { fd = (int)mounts.SafeFileHandle.DangerousGetHandle(), events = (short)(LibC.POLLPRI | LibC.POLLERR) };
            return LibC.poll(&fds, 1, 0) > 0 && (fds.revents & (LibC.POLLPRI | LibC.POLLERR)) != 0;
        }
    }

    // Tmds.LibC lacks sched_setscheduler(2).
    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setscheduler(int pid, int policy, ref int priority);

    /// <summary>Back to SCHED_OTHER (the shim does it too once it has its configuration; this one does not wait for it to be scheduled).</summary>
    private static void NormalPriority(int pid)
    {
        int priority = 0;
        _ = sched_setscheduler(pid, 0, ref priority);
    }

    /// <summary>Ends the pooled shim, if any.</summary>
    public async ValueTask DisposeAsync()
    {
        Task<SpawnedShim>? pending;
        lock (gate)
        {
            disposed = true;
            pending = next;
            next = null;
            wanted?.TrySetResult(); // a refill still waiting ends now, without spawning
        }

        try
        {
            if (pending is not null)
            {
                await DiscardAsync(await pending.ConfigureAwait(false)).ConfigureAwait(false);
            }
        }
        catch (ContainerException)
        {
        }
        finally
        {
            lock (mounts)
            {
                mountsClosed = true;
                mounts.Dispose();
            }
        }
    }
}
