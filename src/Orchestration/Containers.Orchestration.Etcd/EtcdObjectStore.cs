using System.Runtime.CompilerServices;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Mvccpb;

namespace Containers.Orchestration.Storage;

/// <summary>
/// The control plane's objects in etcd, as kube-apiserver keeps them: one key per object in kube-apiserver's layout
/// (<see cref="EtcdKeys"/>), the object's resourceVersion is its key's mod_revision, a create is a transaction on
/// create_revision = 0, an update or delete with a resourceVersion a transaction on mod_revision, and events carry a
/// lease of the event TTL. Several API servers can share one etcd: every write goes through etcd's transactions.
/// <para>
/// Reads are served from a watch cache, as kube-apiserver's cacher serves them: at open the store lists the prefix at
/// one revision, then follows one etcd watch from the next revision and applies every change in order. A write
/// returns once the cache has seen it (so a read after a write sees it, on this server). Watches start from the cache's
/// window of recent changes; one from an older revision is read from etcd's own history, and gets
/// <see cref="StoreGoneException"/> (410) when etcd has compacted it away. The cache follows etcd across member
/// failures (the watch resumes from the next revision on another member); when it falls behind a compaction it
/// re-lists and ends the watches it served (their clients list again, as after any 410).
/// </para>
/// </summary>
public sealed class EtcdObjectStore : IObjectStore
{
    private readonly object gate = new();
    private readonly ObjectIndex index;
    private readonly EtcdStoreOptions options;
    private readonly dotnet_etcd.EtcdClient client;
    private readonly KV.KVClient kv;
    private readonly Watch.WatchClient watch;
    private readonly Lease.LeaseClient leases;
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock leaseGate = new();
    private long eventLease;
    private long eventLeaseReusableUntil;
    private long revision;
    private long loadedAt;
    private long compactedThrough;
    private Task following = Task.CompletedTask;

    private Task compacting = Task.CompletedTask;

    private EtcdObjectStore(EtcdStoreOptions options)
    {
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("no etcd endpoints given", nameof(options));
        }

        foreach (var endpoint in options.Endpoints)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"etcd endpoint '{endpoint}' is not an http:// or https:// URL", nameof(options));
            }
        }

        this.options = options;
        index = new ObjectIndex(options.WatchWindow);
        Keys = new EtcdKeys(options.Prefix);
        client = new dotnet_etcd.EtcdClient(string.Join(',', options.Endpoints));
        var connection = client.GetConnection();
        kv = connection.KVClient;
        watch = connection.WatchClient;
        leases = connection.LeaseClient;
    }

    /// <summary>The key layout in use.</summary>
    public EtcdKeys Keys { get; }

    /// <summary>The etcd endpoints, as given.</summary>
    public IReadOnlyList<string> Endpoints => options.Endpoints;

    /// <inheritdoc/>
    public long Revision => Volatile.Read(ref revision);

    /// <inheritdoc/>
    public long ResourceRevision(string resource) => index.ResourceRevision(resource) ?? Volatile.Read(ref loadedAt);

    /// <summary>
    /// Connects to etcd, loads every object under the prefix into the watch cache and starts following changes.
    /// Throws <see cref="ContainerException"/> naming the endpoints when none answers.
    /// </summary>
    public static async Task<EtcdObjectStore> OpenAsync(EtcdStoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);

        if (options.MinimumThreadPoolThreads > 0)
        {
            ThreadPool.GetMinThreads(out int workers, out int completions);
            if (workers < options.MinimumThreadPoolThreads)
            {
                ThreadPool.SetMinThreads(options.MinimumThreadPoolThreads, completions);
            }
        }

        var store = new EtcdObjectStore(options);
        try
        {
            await store.LoadAsync(cancellationToken).ConfigureAwait(false);
            store.following = Task.Run(store.FollowAsync, CancellationToken.None);
            if (options.CompactionInterval is { } every)
            {
                store.compacting = Task.Run(() => store.CompactEveryAsync(every), CancellationToken.None);
            }

            return store;
        }
        catch
        {
            try
            {
                await store.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // the caller hears why the open failed (no member reachable), not how closing the half-open client went
            }

            throw;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> Resources
    {
        get
        {
            lock (gate)
            {
                return index.Resources;
            }
        }
    }

    /// <inheritdoc/>
    public StoredObject? Get(ObjectKey key) => index.Get(key);

    /// <inheritdoc/>
    public (IReadOnlyList<StoredObject> Items, long Revision) List(string resource, string? ns = null)
    {
        lock (gate)
        {
            return (index.List(resource, ns), revision);
        }
    }

    /// <inheritdoc/>
    public StoredObject Create(ObjectKey key, ReadOnlyMemory<byte> json)
    {
        var k = ByteString.CopyFromUtf8(Keys.Of(key));
        var request = new TxnRequest
        {
            Compare = { new Compare { Key = k, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = k, Value = ByteString.CopyFrom(json.Span), Lease = LeaseFor(key) } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = k, KeysOnly = true } } },
        };
        var response = Call(key, () => kv.Txn(request, deadline: Deadline()));
        if (!response.Succeeded)
        {
            SeeCurrent(key, response); // what made it fail is then readable here too
            throw new StoreConflictException($"{key} already exists");
        }

        return Written(key, response.Header.Revision, json.Span);
    }

    /// <inheritdoc/>
    public StoredObject Update(ObjectKey key, ReadOnlyMemory<byte> json, long? expectedRevision = null)
    {
        var k = ByteString.CopyFromUtf8(Keys.Of(key));
        var request = new TxnRequest
        {
            Compare = { Expected(k, expectedRevision) },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = k, Value = ByteString.CopyFrom(json.Span), Lease = LeaseFor(key) } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = k, KeysOnly = true } } },
        };
        var response = Call(key, () => kv.Txn(request, deadline: Deadline()));
        if (!response.Succeeded)
        {
            SeeCurrent(key, response);
            throw Refusal(key, expectedRevision, response);
        }

        return Written(key, response.Header.Revision, json.Span);
    }

    /// <inheritdoc/>
    public StoredObject Delete(ObjectKey key, long? expectedRevision = null)
    {
        var k = ByteString.CopyFromUtf8(Keys.Of(key));
        var request = new TxnRequest
        {
            Compare = { Expected(k, expectedRevision) },
            Success = { new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = k, PrevKv = true } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = k, KeysOnly = true } } },
        };
        var response = Call(key, () => kv.Txn(request, deadline: Deadline()));
        if (!response.Succeeded)
        {
            SeeCurrent(key, response);
            throw Refusal(key, expectedRevision, response);
        }

        var deleted = response.Responses[0].ResponseDeleteRange;
        if (deleted.PrevKvs.Count == 0)
        {
            throw new StoreNotFoundException($"{key} not found"); // deleted between the compare and the delete: cannot happen in one transaction, kept for safety
        }

        return Written(key, response.Header.Revision, deleted.PrevKvs[0].Value.Span, deletion: true);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(string resource, string? ns, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectIndex.Watcher? watcher = null;
        lock (gate)
        {
            if (fromRevision < compactedThrough && fromRevision < revision)
            {
                throw new StoreGoneException($"too old resource version: {fromRevision} ({compactedThrough})");
            }

            if (fromRevision + 1 >= index.OldestWindowRevision || fromRevision >= revision)
            {
                watcher = index.Subscribe(resource, ns, fromRevision);
            }
        }

        if (watcher is null)
        {
            // older than the cache's window: etcd's own history (410 when compacted)
            await foreach (var e in FromHistoryAsync(resource, ns, fromRevision, cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }

            yield break;
        }

        try
        {
            await foreach (var e in watcher.Channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
        finally
        {
            lock (gate)
            {
                index.Unsubscribe(watcher);
            }
        }
    }

    /// <inheritdoc/>
    public void Compact(long revision)
    {
        try
        {
            kv.Compact(new CompactionRequest { Revision = revision }, deadline: Deadline());
        }
        catch (RpcException e) when (e.Status.Detail.Contains("required revision has been compacted", StringComparison.Ordinal))
        {
            // compacted already (by another API server): the window is trimmed below all the same
        }
        catch (RpcException e) when (e.Status.Detail.Contains("future revision", StringComparison.Ordinal))
        {
            throw new ArgumentOutOfRangeException(nameof(revision), revision, $"etcd's revision is older than {revision}");
        }
        catch (RpcException e)
        {
            throw Unavailable(e);
        }

        lock (gate)
        {
            index.Trim(revision);
            compactedThrough = Math.Max(compactedThrough, revision);
        }
    }

    /// <summary>Stops following etcd, ends every watch and closes the connection (the data stays in etcd).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!stopping.IsCancellationRequested)
        {
            await stopping.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(following, compacting).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopped
        }

        lock (gate)
        {
            index.EndWatches();
            Monitor.PulseAll(gate);
        }

        client.Dispose();
        stopping.Dispose();
    }

    private DateTime Deadline() => DateTime.UtcNow + options.RequestTimeout;

    private static Compare Expected(ByteString key, long? expectedRevision) => expectedRevision is { } rv
        ? new Compare { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = rv }
        : new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Greater, CreateRevision = 0 };

    private static ContainerException Refusal(ObjectKey key, long? expectedRevision, TxnResponse response)
    {
        var current = response.Responses.Count > 0 ? response.Responses[0].ResponseRange?.Kvs : null;
        if (current is null || current.Count == 0)
        {
            return new StoreNotFoundException($"{key} not found");
        }

        return new StoreConflictException($"{key} has been modified (revision {current[0].ModRevision}, not {expectedRevision}); read it again and retry");
    }

    private T Call<T>(ObjectKey key, Func<T> call)
    {
        try
        {
            return call();
        }
        catch (RpcException e)
        {
            throw Unavailable(e, key);
        }
    }

    private ContainerException Unavailable(RpcException e, ObjectKey? key = null) =>
        new($"etcd ({string.Join(',', options.Endpoints)}){(key is { } k ? $" writing {k}" : "")}: "
            + (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && revision == 0
                ? $"no member could be reached ({e.Status.StatusCode}: {e.Status.Detail}): check the URLs and that etcd runs and listens there"
                : $"{e.Status.StatusCode}: {e.Status.Detail}"));

    /// <summary>The lease an event is written with (one lease for a minute of writes, as kube-apiserver reuses them), or 0.</summary>
    private long LeaseFor(ObjectKey key)
    {
        if (options.EventTtl is not { } ttl || key.Resource is not ("events" or "events.events.k8s.io"))
        {
            return 0;
        }

        const long reuseMs = 60_000;
        lock (leaseGate)
        {
            long now = Environment.TickCount64;
            if (eventLease != 0 && now < eventLeaseReusableUntil)
            {
                return eventLease;
            }

            var granted = Call(key, () => leases.LeaseGrant(new LeaseGrantRequest { TTL = (long)Math.Ceiling(ttl.TotalSeconds) + (reuseMs / 1000) }, deadline: Deadline()));
            eventLease = granted.ID;
            eventLeaseReusableUntil = now + reuseMs;
            return eventLease;
        }
    }

    /// <summary>Waits until the cache has applied <paramref name="at"/> (the write's own change, seen through the watch), then answers the object as kept.</summary>
    private StoredObject Written(ObjectKey key, long at, ReadOnlySpan<byte> json, bool deletion = false)
    {
        WaitFor(at, key);
        if (!deletion && index.Get(key) is { } kept && kept.Revision == at)
        {
            return kept;
        }

        return new StoredObject(key, at, ResourceVersion.Written(json, at)) { RevisionWritten = true };
    }

    /// <summary>
    /// Waits until the cache has applied the change at revision <paramref name="at"/> of this store's prefix (the watch
    /// brings every one, in order). Only revisions of changes under the prefix are waited for: etcd 3.4's progress
    /// notifications can run ahead of events still to be sent (etcd-io/etcd#15220, fixed in 3.4.26 and 3.5.8), so the
    /// cache takes its revision from events alone.
    /// </summary>
    private void WaitFor(long at, ObjectKey key)
    {
        long until = Environment.TickCount64 + (long)options.RequestTimeout.TotalMilliseconds;
        lock (gate)
        {
            while (revision < at)
            {
                long left = until - Environment.TickCount64;
                if (stopping.IsCancellationRequested || left <= 0)
                {
                    throw new ContainerException($"etcd ({string.Join(',', options.Endpoints)}): the watch cache has not reached revision {at} (for {key}) within {options.RequestTimeout.TotalSeconds:0.#} s (it is at {revision})");
                }

                Monitor.Wait(gate, TimeSpan.FromMilliseconds(Math.Min(left, 100)));
            }
        }
    }

    /// <summary>After a refused transaction: waits until the cache has the key's current state (written by another API server, maybe not seen here yet).</summary>
    private void SeeCurrent(ObjectKey key, TxnResponse response)
    {
        if (response.Responses.Count > 0 && response.Responses[0].ResponseRange?.Kvs is { Count: > 0 } current)
        {
            WaitFor(current[0].ModRevision, key);
        }
    }

    private static StoredObject Kept(ObjectKey key, long at, ByteString value) =>
        new(key, at, ResourceVersion.Written(value.Span, at)) { RevisionWritten = true };

    /// <summary>Lists every object under the prefix at one revision (a page at a time) into an empty cache.</summary>
    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var loaded = new List<(ObjectKey Key, KeyValue Kv)>();
        long at = 0;
        var from = ByteString.CopyFromUtf8(Keys.RangeOf());
        var end = ByteString.CopyFrom(EtcdKeys.RangeEnd(from.Span));
        while (true)
        {
            RangeResponse page;
            try
            {
                page = await kv.RangeAsync(new RangeRequest { Key = from, RangeEnd = end, Limit = 1000, Revision = at }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                throw Unavailable(e);
            }

            if (at == 0)
            {
                at = page.Header.Revision;
            }

            foreach (var item in page.Kvs)
            {
                if (Keys.Parse(item.Key.ToStringUtf8()) is { } key)
                {
                    loaded.Add((key, item));
                }
            }

            if (!page.More || page.Kvs.Count == 0)
            {
                break;
            }

            from = ByteString.CopyFrom([.. page.Kvs[^1].Key.Span, 0]);
        }

        lock (gate)
        {
            foreach (var (key, item) in loaded)
            {
                index.Apply(WatchEventType.Added, Kept(key, item.ModRevision, item.Value), announce: false);
            }

            revision = at;
            loadedAt = at;
            index.OldestWindowRevision = at + 1;
            Monitor.PulseAll(gate);
        }
    }

    /// <summary>Follows the prefix from the cache's revision, across member failures, until disposed.</summary>
    private async Task FollowAsync()
    {
        var prefix = ByteString.CopyFromUtf8(Keys.RangeOf());
        var end = ByteString.CopyFrom(EtcdKeys.RangeEnd(prefix.Span));
        var pause = TimeSpan.FromMilliseconds(50);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                using var call = watch.Watch(cancellationToken: stopping.Token);
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest { Key = prefix, RangeEnd = end, StartRevision = Revision + 1, PrevKv = true },
                }, stopping.Token).ConfigureAwait(false);

                while (await call.ResponseStream.MoveNext(stopping.Token).ConfigureAwait(false))
                {
                    var response = call.ResponseStream.Current;
                    pause = TimeSpan.FromMilliseconds(50);
                    if (response.CompactRevision > 0)
                    {
                        await RelistAsync(response.CompactRevision).ConfigureAwait(false);
                        break;
                    }

                    if (response.Canceled)
                    {
                        break; // cancelled by the server (a member leaving): watch again from where the cache is
                    }

                    Apply(response);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException) when (!stopping.IsCancellationRequested)
            {
                // the member went away: another one answers the next watch
            }
            catch (RpcException)
            {
                return; // disposed while the call was open (Cancelled, or Unavailable when the connection went first)
            }
            catch (ObjectDisposedException) when (stopping.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(pause, stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
        }
    }

    /// <summary>The cache fell behind a compaction: every watch it served ends with 410, and it lists again.</summary>
    private async Task RelistAsync(long compactedAt)
    {
        lock (gate)
        {
            index.EndWatches(new StoreGoneException($"too old resource version: the watch cache fell behind etcd's compaction at {compactedAt}"));
            index.Clear();
        }

        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await LoadAsync(stopping.Token).ConfigureAwait(false);
                return;
            }
            catch (ContainerException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), stopping.Token).ConfigureAwait(false);
            }
        }
    }

    private void Apply(WatchResponse response)
    {
        lock (gate)
        {
            foreach (var change in response.Events)
            {
                var item = change.Kv;
                long at = item.ModRevision;
                if (at < revision)
                {
                    continue; // seen before a reconnection (one revision can delete several keys: a lease's)
                }

                if (Keys.Parse(item.Key.ToStringUtf8()) is not { } key)
                {
                    revision = at;
                    continue;
                }

                WatchEventType type;
                StoredObject stored;
                if (change.Type == Event.Types.EventType.Put)
                {
                    type = item.CreateRevision == item.ModRevision ? WatchEventType.Added : WatchEventType.Modified;
                    stored = Kept(key, at, item.Value);
                }
                else if (change.PrevKv is { } previous)
                {
                    type = WatchEventType.Deleted;
                    stored = Kept(key, at, previous.Value);
                }
                else if (index.Get(key) is { } last)
                {
                    type = WatchEventType.Deleted;
                    stored = new StoredObject(key, at, ResourceVersion.Written(last.Json.Span, at)) { RevisionWritten = true };
                }
                else
                {
                    revision = at;
                    continue;
                }

                revision = at;
                index.Apply(type, stored, announce: true);
            }

            Monitor.PulseAll(gate);
        }
    }

    /// <summary>The changes after <paramref name="fromRevision"/> from etcd's history, then live ones (a watch of its own).</summary>
    private async IAsyncEnumerable<WatchEvent> FromHistoryAsync(string resource, string? ns, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping.Token);
        var prefix = ByteString.CopyFromUtf8(Keys.RangeOf(resource, ns));
        using var call = watch.Watch(cancellationToken: linked.Token);
        await call.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest { Key = prefix, RangeEnd = ByteString.CopyFrom(EtcdKeys.RangeEnd(prefix.Span)), StartRevision = fromRevision + 1, PrevKv = true },
        }, linked.Token).ConfigureAwait(false);
        while (true)
        {
            bool more;
            try
            {
                more = await call.ResponseStream.MoveNext(linked.Token).ConfigureAwait(false);
            }
            catch (RpcException) when (linked.IsCancellationRequested)
            {
                yield break;
            }
            catch (RpcException e)
            {
                throw Unavailable(e);
            }

            if (!more)
            {
                yield break;
            }

            var response = call.ResponseStream.Current;
            if (response.CompactRevision > 0)
            {
                throw new StoreGoneException($"too old resource version: {fromRevision} ({response.CompactRevision})");
            }

            if (response.Canceled)
            {
                throw new ContainerException($"etcd ended the watch of {resource}: {response.CancelReason}");
            }

            foreach (var change in response.Events)
            {
                if (Keys.Parse(change.Kv.Key.ToStringUtf8()) is not { } key || key.Resource != resource)
                {
                    continue;
                }

                if (change.Type == Event.Types.EventType.Put)
                {
                    yield return new WatchEvent(change.Kv.CreateRevision == change.Kv.ModRevision ? WatchEventType.Added : WatchEventType.Modified, Kept(key, change.Kv.ModRevision, change.Kv.Value));
                }
                else if (change.PrevKv is { } previous)
                {
                    yield return new WatchEvent(WatchEventType.Deleted, Kept(key, change.Kv.ModRevision, previous.Value));
                }
            }
        }
    }

    /// <summary>Every interval, compacts etcd's history up to the revision of the interval before (kube-apiserver's compactor).</summary>
    private async Task CompactEveryAsync(TimeSpan every)
    {
        using var timer = new PeriodicTimer(every);
        long previous = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token).ConfigureAwait(false))
            {
                if (previous > 0)
                {
                    try
                    {
                        Compact(previous);
                    }
                    catch (ContainerException)
                    {
                        // etcd unreachable: the next tick tries again
                    }
                }

                previous = Revision;
            }
        }
        catch (OperationCanceledException)
        {
            // stopped
        }
    }

}
