namespace Containers.Runtime;

/// <summary>
/// Keeps one shim spawned ahead, in fresh namespaces, with its runtime started and waiting on its sync pipe, so a
/// container start skips the spawn and the shim's start-up (about 5 ms here). Only the common shape is pooled
/// (own network namespace, no terminal, stdin closed); the pool fills after the first start, so an engine that never
/// runs two containers never pays for it. A pooled shim that is never used exits when its sync pipe closes.
/// </summary>
internal sealed partial class ShimPool(ShimSpawner spawner) : IAsyncDisposable
{
    private const short POLLPRI = 2, POLLERR = 8;

    // A pooled shim's mount namespace is a copy of the host's taken when it spawned (the host's mounts are private
    // here, nothing propagates): when the host's mount table changes (a volume mounted by a test fixture, say) the
    // pooled shim would not see it, so it is dropped. The kernel flags /proc/self/mountinfo for poll on any change.
    private readonly FileStream mounts = new("/proc/self/mountinfo", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);

    public const int PooledFlags = ShimSpawner.CLONE_NEWNS | ShimSpawner.CLONE_NEWUTS | ShimSpawner.CLONE_NEWIPC | ShimSpawner.CLONE_NEWPID | ShimSpawner.CLONE_NEWNET;

    private readonly Lock gate = new();
    private Task<SpawnedShim>? next;
    private bool disposed;

    /// <summary>A shim for <paramref name="flags"/> and <paramref name="stdio"/>: the pooled one when it fits, else a fresh one.</summary>
    public async Task<SpawnedShim> TakeAsync(int flags, StdioOptions stdio)
    {
        if (flags != PooledFlags || stdio != StdioOptions.Plain)
        {
            return await spawner.SpawnInitAsync(flags, stdio).ConfigureAwait(false);
        }

        Task<SpawnedShim>? ready;
        lock (gate)
        {
            ready = next;
            if (ready is not null && MountsChanged())
            {
                ready = null;
                next!.ContinueWith(t => { if (t.IsCompletedSuccessfully) { t.Result.Abort(); t.Result.Process.Dispose(); } }, TaskScheduler.Default);
            }

            next = disposed ? null : Task.Run(() => spawner.SpawnInitAsync(PooledFlags, StdioOptions.Plain));
        }

        if (ready is not null)
        {
            try
            {
                var shim = await ready.ConfigureAwait(false);
                if (!shim.Process.HasExited)
                {
                    return shim;
                }

                shim.Abort();
                shim.Process.Dispose();
            }
            catch (ContainerException)
            {
                // the pre-spawn failed; spawn now and report that error if it fails again
            }
        }

        return await spawner.SpawnInitAsync(flags, stdio).ConfigureAwait(false);
    }

    /// <summary>True (once per change) when the mount table changed since the last look.</summary>
    private bool MountsChanged()
    {
        var fds = new PollFd { Fd = (int)mounts.SafeFileHandle.DangerousGetHandle(), Events = POLLPRI | POLLERR };
        if (poll(ref fds, 1, 0) <= 0 || (fds.Revents & (POLLPRI | POLLERR)) == 0)
        {
            return false;
        }

        mounts.Position = 0; // reading re-arms the event
        var buffer = new byte[65536];
        while (mounts.Read(buffer) > 0)
        {
        }

        return true;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int poll(ref PollFd fds, nuint count, int timeout);

    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>Ends the pooled shim, if any.</summary>
    public async ValueTask DisposeAsync()
    {
        mounts.Dispose();
        Task<SpawnedShim>? pending;
        lock (gate)
        {
            disposed = true;
            pending = next;
            next = null;
        }

        if (pending is null)
        {
            return;
        }

        try
        {
            var shim = await pending.ConfigureAwait(false);
            shim.Abort();
            await shim.Process.WaitForExitAsync().ConfigureAwait(false);
            shim.Process.Dispose();
        }
        catch (ContainerException)
        {
        }
    }
}
