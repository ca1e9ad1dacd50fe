namespace Containers.Runtime;

/// <summary>
/// Keeps one shim spawned ahead, in fresh namespaces, with its runtime started and waiting on its sync pipe, so a
/// container start skips the spawn and the shim's start-up (about 5 ms here). Only the common shape is pooled
/// (own network namespace, no terminal, stdin closed); the pool fills after the first start, so an engine that never
/// runs two containers never pays for it. A pooled shim that is never used exits when its sync pipe closes.
/// </summary>
internal sealed class ShimPool(ShimSpawner spawner) : IAsyncDisposable
{
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

    /// <summary>Ends the pooled shim, if any.</summary>
    public async ValueTask DisposeAsync()
    {
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
