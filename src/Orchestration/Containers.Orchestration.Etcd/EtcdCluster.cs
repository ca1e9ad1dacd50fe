namespace Containers.Orchestration.Storage;

/// <summary>A cluster on etcd: <c>new ClusterBuilder().WithEtcd(["http://10.0.0.1:2379"]).StartAsync()</c>, and the embedded store's move to etcd.</summary>
public static class EtcdCluster
{
    /// <summary>
    /// Keeps the cluster's objects in etcd at <paramref name="endpoints"/> (events with a lease of the cluster's event
    /// TTL); <paramref name="minimumThreadPoolThreads"/> as <see cref="EtcdStoreOptions.MinimumThreadPoolThreads"/>.
    /// </summary>
    public static ClusterBuilder WithEtcd(this ClusterBuilder builder, IReadOnlyList<string> endpoints, string prefix = "/registry", int minimumThreadPoolThreads = 0)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var ttl = builder.ToOptions().EventTtl;
        return builder.WithStore(async ct => await EtcdObjectStore.OpenAsync(new EtcdStoreOptions { Endpoints = endpoints, Prefix = prefix, EventTtl = ttl, MinimumThreadPoolThreads = minimumThreadPoolThreads }, ct).ConfigureAwait(false));
    }

    /// <summary>The options of a cluster on etcd (as <see cref="WithEtcd"/>), from plain options.</summary>
    public static ClusterOptions OnEtcd(this ClusterOptions options, IReadOnlyList<string> endpoints, string prefix = "/registry", int minimumThreadPoolThreads = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with { OpenStore = async ct => await EtcdObjectStore.OpenAsync(new EtcdStoreOptions { Endpoints = endpoints, Prefix = prefix, EventTtl = options.EventTtl, MinimumThreadPoolThreads = minimumThreadPoolThreads }, ct).ConfigureAwait(false) };
    }

    /// <summary>
    /// Copies every object of <paramref name="from"/> (the embedded store of a stopped cluster, say) into
    /// <paramref name="to"/>, which must hold none under its prefix (a second run would otherwise mix two clusters),
    /// then reads each back and compares it (the resourceVersion aside: etcd gives each its own revision). Returns the
    /// number of objects per resource. Nothing is removed from <paramref name="from"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, int> Migrate(IObjectStore from, IObjectStore to)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        if (to.Resources.Count > 0)
        {
            throw new ContainerException($"the target store already holds objects ({string.Join(", ", to.Resources)}): migrate into an empty prefix");
        }

        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var resource in from.Resources)
        {
            foreach (var stored in from.List(resource).Items)
            {
                to.Create(stored.Key, stored.Json);
                counts[resource] = counts.GetValueOrDefault(resource) + 1;
            }
        }

        foreach (var resource in from.Resources)
        {
            foreach (var stored in from.List(resource).Items)
            {
                var copy = to.Get(stored.Key) ?? throw new ContainerException($"{stored.Key} did not reach the target store");
                if (!ResourceVersion.Written(copy.Json.Span, stored.Revision).AsSpan().SequenceEqual(stored.Json.Span))
                {
                    throw new ContainerException($"{stored.Key} reads back different from what was copied");
                }
            }
        }

        return counts;
    }

    /// <summary>Removes every key under <paramref name="prefix"/> in etcd at <paramref name="endpoints"/> (as <c>cluster delete</c> removes a cluster's state); returns how many went.</summary>
    public static async Task<int> DeleteAllAsync(IReadOnlyList<string> endpoints, string prefix = "/registry", CancellationToken cancellationToken = default)
    {
        var keys = new EtcdKeys(prefix);
        using var client = new dotnet_etcd.EtcdClient(string.Join(',', endpoints));
        var from = Google.Protobuf.ByteString.CopyFromUtf8(keys.RangeOf());
        try
        {
            var deleted = await client.GetConnection().KVClient.DeleteRangeAsync(
                new Etcdserverpb.DeleteRangeRequest { Key = from, RangeEnd = Google.Protobuf.ByteString.CopyFrom(EtcdKeys.RangeEnd(from.Span)) },
                deadline: DateTime.UtcNow.AddSeconds(30),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            return (int)deleted.Deleted;
        }
        catch (Grpc.Core.RpcException e)
        {
            throw new ContainerException($"etcd ({string.Join(',', endpoints)}): {e.Status.StatusCode}: {e.Status.Detail}");
        }
    }
}
