using System.Threading.Channels;

namespace Containers.Orchestration.Controllers;

/// <summary>What a reconcile asks for next.</summary>
/// <param name="RequeueAfter">Look at the key again after this long (even if nothing changes).</param>
public readonly record struct ReconcileResult(TimeSpan? RequeueAfter = null);

/// <summary>A level-triggered reconciler: given a key, read the world and act.</summary>
/// <typeparam name="TKey">The key type.</typeparam>
public interface IReconciler<TKey>
    where TKey : notnull
{
    /// <summary>Brings the object named by <paramref name="key"/> toward its desired state.</summary>
    Task<ReconcileResult> ReconcileAsync(TKey key, CancellationToken cancellationToken);
}

/// <summary>
/// A work queue as controller-runtime's: a key waits at most once, is never processed by two workers at once (a key
/// added while it is processed runs again after), failures back off per key (5 ms doubling to 60 s), and delayed adds
/// come from the <see cref="TimeProvider"/>.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
public sealed class WorkQueue<TKey>
    where TKey : notnull
{
    private readonly Channel<TKey> ready = Channel.CreateUnbounded<TKey>();
    private readonly HashSet<TKey> queued = [];
    private readonly HashSet<TKey> processing = [];
    private readonly HashSet<TKey> dirty = [];
    private readonly Dictionary<TKey, int> failures = [];
    private readonly Lock gate = new();
    private readonly TimeProvider time;

    /// <summary>Creates a queue on <paramref name="time"/>.</summary>
    public WorkQueue(TimeProvider time) => this.time = time;

    /// <summary>Adds a key (no-op when already waiting).</summary>
    public void Add(TKey key)
    {
        lock (gate)
        {
            if (processing.Contains(key))
            {
                dirty.Add(key);
                return;
            }

            if (queued.Add(key))
            {
                ready.Writer.TryWrite(key);
            }
        }
    }

    /// <summary>Adds a key after <paramref name="delay"/>.</summary>
    public void AddAfter(TKey key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }

        ITimer? timer = null;
        timer = time.CreateTimer(
            _ =>
            {
                Add(key);
                timer?.Dispose();
            },
            null,
            delay,
            Timeout.InfiniteTimeSpan);
    }

    /// <summary>Adds a key after its per-key backoff (after a failure).</summary>
    public void AddRateLimited(TKey key)
    {
        int n;
        lock (gate)
        {
            n = failures[key] = failures.GetValueOrDefault(key) + 1;
        }

        AddAfter(key, TimeSpan.FromMilliseconds(Math.Min(60_000, 5 * Math.Pow(2, Math.Min(n, 20)))));
    }

    /// <summary>Resets a key's backoff (after a success).</summary>
    public void Forget(TKey key)
    {
        lock (gate)
        {
            failures.Remove(key);
        }
    }

    /// <summary>Runs <paramref name="workers"/> workers calling <paramref name="reconciler"/> until cancelled.</summary>
    public Task RunAsync(IReconciler<TKey> reconciler, int workers, Microsoft.Extensions.Logging.ILogger logger, CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkAsync(reconciler, logger, cancellationToken), CancellationToken.None)));

    private async Task WorkAsync(IReconciler<TKey> reconciler, Microsoft.Extensions.Logging.ILogger logger, CancellationToken cancellationToken)
    {
        while (true)
        {
            TKey key;
            try
            {
                key = await ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            lock (gate)
            {
                queued.Remove(key);
                processing.Add(key);
            }

            try
            {
                var result = await reconciler.ReconcileAsync(key, cancellationToken).ConfigureAwait(false);
                Forget(key);
                if (result.RequeueAfter is { } after)
                {
                    AddAfter(key, after);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // a failing key backs off; the worker goes on
            catch (Exception e)
#pragma warning restore CA1031
            {
                Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(logger, e, "reconcile {Key} failed", key);
                AddRateLimited(key);
            }
            finally
            {
                bool again;
                lock (gate)
                {
                    processing.Remove(key);
                    again = dirty.Remove(key);
                }

                if (again)
                {
                    Add(key);
                }
            }
        }
    }
}
