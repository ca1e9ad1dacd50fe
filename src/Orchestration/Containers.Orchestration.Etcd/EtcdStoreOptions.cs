namespace Containers.Orchestration.Storage;

/// <summary>Where an <see cref="EtcdObjectStore"/> keeps the cluster's objects, and how.</summary>
public sealed record EtcdStoreOptions
{
    /// <summary>The etcd members' client URLs (<c>http://10.0.0.1:2379</c>); requests go to any that answers.</summary>
    public required IReadOnlyList<string> Endpoints { get; init; }

    /// <summary>The key prefix (kube-apiserver's <c>--etcd-prefix</c>, <c>/registry</c> by default).</summary>
    public string Prefix { get; init; } = "/registry";

    /// <summary>How many of the latest changes the watch cache keeps for watches to start from; older ones are read from etcd's history.</summary>
    public int WatchWindow { get; init; } = 10_000;

    /// <summary>Events (core and events.k8s.io) are written with an etcd lease of this TTL, so etcd deletes them when it runs out (kube-apiserver's <c>--event-ttl</c>); null: kept.</summary>
    public TimeSpan? EventTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How often the history older than the previous interval's revision is compacted away (kube-apiserver compacts every 5 minutes); null: never.</summary>
    public TimeSpan? CompactionInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Raises the thread pool's minimum to this many threads when the store opens (0: the pool is left alone). The
    /// store's writes are synchronous: each blocks a thread on its etcd round trip and then on the watch event that
    /// brings it into the cache, and both are carried by pool threads; with the pool at its default minimum (one
    /// thread per core) a burst of controller writes blocked every pool thread while the pool grew one thread a second
    /// (a 1,000-pod reconcile took 4.6-10.6 s instead of 2.7-2.9 s). A process whose job is the control plane (the CLI's
    /// <c>cluster up --etcd</c> and <c>cluster server</c>) sets 128; a process with other work decides for itself.
    /// </summary>
    public int MinimumThreadPoolThreads { get; init; }

    /// <summary>How long one request to etcd may take before it fails (a write then answers 504 Timeout-like errors).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
