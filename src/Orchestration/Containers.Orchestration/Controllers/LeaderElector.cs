using System.Globalization;
using Containers.Orchestration.Api.Kinds;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Controllers;

/// <summary>How a <see cref="LeaderElector"/> competes for its Lease (client-go's leaderelection settings).</summary>
public sealed record LeaderElectionOptions
{
    /// <summary>Who this candidate is (the Lease's spec.holderIdentity); the machine's name and a random suffix by default, as client-go's.</summary>
    public string Identity { get; init; } = $"{Environment.MachineName}_{Guid.NewGuid():N}";

    /// <summary>How long the others wait after the holder's last renewal before taking the lease (kube-controller-manager: 15 s).</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the holder keeps trying to renew before it gives up leading (10 s). Shorter than <see cref="LeaseDuration"/>.</summary>
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often candidates try to acquire and the holder renews (2 s).</summary>
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The settings the course's failover target is measured with: 5 s lease, 3 s renew deadline, 1 s retry.</summary>
    public static LeaderElectionOptions Fast(string identity) => new() { Identity = identity, LeaseDuration = TimeSpan.FromSeconds(5), RenewDeadline = TimeSpan.FromSeconds(3), RetryPeriod = TimeSpan.FromSeconds(1) };
}

/// <summary>
/// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does it: every candidate
/// tries every <see cref="LeaderElectionOptions.RetryPeriod"/> to create the Lease or, once the holder has not
/// renewed it for <see cref="LeaderElectionOptions.LeaseDuration"/> (measured on this candidate's clock, from when it
/// last saw the record change, so clocks need not agree), to take it over with a compare-and-swap on its
/// resourceVersion; the holder renews it (renewTime) every retry period. Candidates read the lease every tenth of the
/// retry period (from the store's cache, no request to etcd), so a dead holder's lease is taken within that of its
/// expiry: on average a failover takes the lease duration less half the retry period. The leader's work runs while it leads and is
/// cancelled when it cannot renew within <see cref="LeaderElectionOptions.RenewDeadline"/> (another candidate may
/// then hold it); it then competes again. Disposing releases the lease (holder cleared) so another candidate takes
/// over at once, as client-go's ReleaseOnCancel.
/// </summary>
public sealed class LeaderElector : IAsyncDisposable
{
    private readonly ObjectApi api;
    private readonly string ns;
    private readonly string name;
    private readonly LeaderElectionOptions options;
    private readonly Func<CancellationToken, Task> lead;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private string? observedRecord;
    private long observedAt;
    private volatile bool leading;

    private LeaderElector(ObjectApi api, string ns, string name, LeaderElectionOptions options, Func<CancellationToken, Task> lead, ILogger logger, TimeProvider time)
    {
        if (options.RenewDeadline >= options.LeaseDuration || options.RetryPeriod >= options.RenewDeadline)
        {
            throw new ArgumentException($"leader election needs retry period ({options.RetryPeriod}) < renew deadline ({options.RenewDeadline}) < lease duration ({options.LeaseDuration})", nameof(options));
        }

        this.api = api;
        this.ns = ns;
        this.name = name;
        this.options = options;
        this.lead = lead;
        this.logger = logger;
        this.time = time;
        loop = Task.Run(RunAsync);
    }

    /// <summary>This candidate's identity.</summary>
    public string Identity => options.Identity;

    /// <summary>Whether this candidate leads now.</summary>
    public bool IsLeader => leading;

    /// <summary>The lease's name.</summary>
    public string LeaseName => name;

    /// <summary>Raised (on the election's thread) when this candidate starts or stops leading.</summary>
    public event Action<bool>? LeadingChanged;

    /// <summary>
    /// Starts competing for the Lease <paramref name="ns"/>/<paramref name="name"/>; while this candidate leads,
    /// <paramref name="lead"/> runs with a token cancelled when it stops leading.
    /// </summary>
    public static LeaderElector Start(ObjectApi api, string ns, string name, LeaderElectionOptions options, Func<CancellationToken, Task> lead, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(lead);
        return new LeaderElector(api, ns, name, options, lead, logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, time ?? api.Time);
    }

    /// <summary>Stops competing: the work is cancelled and awaited, and a held lease is released.</summary>
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopped
        }

        stop.Dispose();
    }

    private async Task RunAsync()
    {
        var token = stop.Token;
        while (!token.IsCancellationRequested)
        {
            // candidate: look at the lease often (a read of the local cache, kept current by the store's watch), so a
            // renewal is observed when it is written and the lease is taken the moment it expires; write only then
            while (!TryAcquireOrRenew())
            {
                if (!await DelayAsync(ObservePeriod, token).ConfigureAwait(false))
                {
                    return;
                }
            }

            logger.LogInformation("{Identity} acquired lease {Namespace}/{Name}", options.Identity, ns, name);
            using var leadership = CancellationTokenSource.CreateLinkedTokenSource(token);
            leading = true;
            LeadingChanged?.Invoke(true);
            var work = Task.Run(() => lead(leadership.Token), CancellationToken.None);

            // leader: renew every retry period; give up when no renewal succeeded within the renew deadline
            long lastRenew = time.GetTimestamp();
            while (!token.IsCancellationRequested && !work.IsCompleted)
            {
                if (!await DelayAsync(options.RetryPeriod, token).ConfigureAwait(false))
                {
                    break;
                }

                if (await RenewWithinDeadlineAsync(lastRenew, token).ConfigureAwait(false))
                {
                    lastRenew = time.GetTimestamp();
                }
                else if (token.IsCancellationRequested)
                {
                    break; // stopping: the lease is released below
                }
                else if (time.GetElapsedTime(lastRenew) >= options.RenewDeadline || HeldByAnother())
                {
                    logger.LogWarning("{Identity} lost lease {Namespace}/{Name}", options.Identity, ns, name);
                    break;
                }
            }

            await leadership.CancelAsync().ConfigureAwait(false);
            try
            {
                await work.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // the work stopped with the leadership
            }
            catch (Exception e)
            {
                logger.LogError(e, "the work of lease {Namespace}/{Name} failed", ns, name);
            }

            leading = false;
            LeadingChanged?.Invoke(false);
            if (token.IsCancellationRequested)
            {
                Release();
            }
        }
    }

    /// <summary>
    /// One renewal, given no longer than what is left of the renew deadline (client-go bounds it the same way): a store
    /// that stalls (an etcd member that died, a leader election of etcd's own) must not keep this machine leading, and
    /// holding the virtual IP, after its lease may have passed to another. A renewal that completes later still counts
    /// when this candidate next looks at the lease.
    /// </summary>
    private async Task<bool> RenewWithinDeadlineAsync(long lastRenew, CancellationToken token)
    {
        var left = options.RenewDeadline - time.GetElapsedTime(lastRenew);
        if (left <= TimeSpan.Zero)
        {
            return false;
        }

        var renewal = Task.Run(TryAcquireOrRenew, CancellationToken.None);
        try
        {
            return await renewal.WaitAsync(left, time, token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("{Identity}: renewing lease {Namespace}/{Name} took longer than the {Deadline} s left of the renew deadline", options.Identity, ns, name, left.TotalSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture));
            return false;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // stopping while a renewal is on its way: let it land (within the deadline) so the release that follows
            // reads it; before, the cancellation left the loop without releasing and the next candidate waited a
            // whole lease duration
            try
            {
                await renewal.WaitAsync(options.RenewDeadline - time.GetElapsedTime(lastRenew) is { Ticks: > 0 } rest ? rest : TimeSpan.Zero, time, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // the release reads whatever the store has by then
            }

            return false;
        }
    }

    private bool HeldByAnother() => observedRecord is { } r && !r.StartsWith(options.Identity + "|", StringComparison.Ordinal);

    /// <summary>One attempt: create the lease, renew it when ours, take it over when its holder let it expire (on this clock). Conflicts and errors count as failure.</summary>
    private bool TryAcquireOrRenew()
    {
        string now = MicroTime(time.GetUtcNow());
        try
        {
            var current = api.TryGet(LeaseStrategy.Type, ns, name);
            if (current is null)
            {
                api.Create(LeaseStrategy.Type, ns, new JsonObject
                {
                    ["apiVersion"] = "coordination.k8s.io/v1",
                    ["kind"] = "Lease",
                    ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
                    ["spec"] = Spec(options.Identity, now, now, 0),
                });
                Observe($"{options.Identity}|{now}");
                return true;
            }

            string holder = Json.Str(current, "spec", "holderIdentity") ?? "";
            string record = $"{holder}|{Json.Str(current, "spec", "renewTime")}";
            Observe(record);
            bool ours = holder == options.Identity;
            long durationSeconds = Json.Int(current, "spec", "leaseDurationSeconds") ?? (long)options.LeaseDuration.TotalSeconds;
            if (!ours && holder.Length > 0 && time.GetElapsedTime(observedAt) < TimeSpan.FromSeconds(durationSeconds))
            {
                return false; // held, and renewed within its duration as far as this candidate has seen
            }

            long transitions = Json.Int(current, "spec", "leaseTransitions") ?? 0;
            string acquired = ours ? Json.Str(current, "spec", "acquireTime") ?? now : now;
            var updated = Json.Clone(current);
            updated["spec"] = Spec(options.Identity, acquired, now, ours ? transitions : transitions + 1);
            api.Update(LeaseStrategy.Type, ns, name, updated);
            Observe($"{options.Identity}|{now}");
            return true;
        }
        catch (ContainerException e)
        {
            logger.LogDebug("{Identity}: lease {Namespace}/{Name}: {Message}", options.Identity, ns, name, e.Message);
            return false;
        }
    }

    /// <summary>Gives the lease up (holder cleared, duration 1 s) so the next candidate need not wait for it to expire.</summary>
    /// <remarks>
    /// A conflict is tried again a few times: the read comes from a cache that may not have our last renewal yet (a
    /// store in etcd), and a release refused for it left the next candidate waiting a whole lease duration.
    /// </remarks>
    private void Release()
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var current = api.TryGet(LeaseStrategy.Type, ns, name);
                if (current is null || Json.Str(current, "spec", "holderIdentity") != options.Identity)
                {
                    return;
                }

                var released = Json.Clone(current);
                var spec = (JsonObject)released["spec"]!;
                spec.Remove("holderIdentity");
                spec["leaseDurationSeconds"] = 1;
                spec["renewTime"] = MicroTime(time.GetUtcNow());
                api.Update(LeaseStrategy.Type, ns, name, released);
                return;
            }
            catch (ApiException e) when (e.Code == 409 && attempt < 5)
            {
                Thread.Sleep(20 * attempt); // the cache catches up with our own write
            }
            catch (ContainerException e)
            {
                logger.LogDebug("releasing lease {Namespace}/{Name}: {Message}", ns, name, e.Message);
                return;
            }
        }
    }

    private void Observe(string record)
    {
        if (record != observedRecord)
        {
            observedRecord = record;
            observedAt = time.GetTimestamp();
        }
    }

    private JsonObject Spec(string holder, string acquired, string renewed, long transitions) => new()
    {
        ["holderIdentity"] = holder,
        ["leaseDurationSeconds"] = (long)Math.Ceiling(options.LeaseDuration.TotalSeconds),
        ["acquireTime"] = acquired,
        ["renewTime"] = renewed,
        ["leaseTransitions"] = transitions,
    };

    /// <summary>metav1.MicroTime: RFC 3339 with microseconds, UTC.</summary>
    private static string MicroTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>How often a candidate reads the lease: a tenth of the retry period, at most 100 ms (reads are local; writes happen only when the lease is free).</summary>
    private TimeSpan ObservePeriod => TimeSpan.FromTicks(Math.Min(options.RetryPeriod.Ticks / 10, TimeSpan.TicksPerMillisecond * 100));

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken token)
    {
        try
        {
            await Task.Delay(delay, time, token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
