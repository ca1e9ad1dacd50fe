using System.Collections.Concurrent;
using Containers.Orchestration.Storage;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// A cache of one kind kept current by list + watch (relisting when the watch falls out of the store's window), with
/// change notifications and an index by owner uid. The cache keeps each object as stored (its bytes and their shared
/// parse) and hands out a fresh view on every read (<see cref="ObjectApi.View"/>): nodes are built where a reader looks
/// and are garbage once it is done, instead of every cached object growing into a full tree that lives as long as the
/// object. Views are not the store's: copy one before building a write from it.
/// </summary>
public sealed class Informer
{
    private readonly ObjectApi api;
    private readonly ConcurrentDictionary<(string? Ns, string Name), StoredObject> cache = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<(string? Ns, string Name), StoredObject>> byOwner = new(StringComparer.Ordinal); // owner uid: the objects it owns, as cached
    private readonly Lock registering = new();
    private Action<JsonObject?, JsonObject?>[] handlers = []; // replaced, never changed, on registration: dispatch reads it without a copy
    private readonly ConcurrentDictionary<string, Index> indexes = new(StringComparer.Ordinal);
    private readonly Lock applying = new();
    private readonly TaskCompletionSource synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal Informer(ObjectApi api, ResourceType type)
    {
        this.api = api;
        Type = type;
    }

    /// <summary>The kind cached.</summary>
    public ResourceType Type { get; }

    /// <summary>Completes when the first list is in the cache.</summary>
    public Task Synced => synced.Task;

    /// <summary>Registers a handler called with (old, new) on every change: (null, obj) added, (obj, null) deleted.</summary>
    public void OnChange(Action<JsonObject?, JsonObject?> handler)
    {
        lock (registering)
        {
            Volatile.Write(ref handlers, [.. handlers, handler]);
        }
    }

    /// <summary>The cached object, or null.</summary>
    public JsonObject? Get(string? ns, string name) => cache.GetValueOrDefault((Type.Namespaced ? ns : null, name)) is { } stored ? ObjectApi.View(stored) : null;

    /// <summary>The cached objects (of one namespace when given).</summary>
    public IEnumerable<JsonObject> List(string? ns = null) =>
        ListStored(ns).Select(ObjectApi.View);

    /// <summary>The cached objects whose ownerReferences name <paramref name="ownerUid"/>.</summary>
    public IEnumerable<JsonObject> OwnedBy(string ownerUid) =>
        OwnedByStored(ownerUid).Select(ObjectApi.View);

    /// <summary>Like <see cref="List"/>, as stored.</summary>
    internal IEnumerable<StoredObject> ListStored(string? ns = null) =>
        ns is null || !Type.Namespaced ? cache.Values : cache.Where(kv => kv.Key.Ns == ns).Select(kv => kv.Value);

    /// <summary>Like <see cref="OwnedBy"/>, as stored (for facts kept with each revision, see <see cref="PodState.Of(StoredObject)"/>).</summary>
    internal IEnumerable<StoredObject> OwnedByStored(string ownerUid) =>
        byOwner.TryGetValue(ownerUid, out var owned) ? owned.Select(kv => kv.Value) : []; // enumerated as it is (Keys and Values copy under every lock)

    /// <summary>Like <see cref="ByIndex"/>, as stored.</summary>
    internal IEnumerable<StoredObject> ByIndexStored(string name, string value) =>
        indexes[name].Items.TryGetValue(value, out var keys) ? keys.Select(kv => cache.GetValueOrDefault(kv.Key)).OfType<StoredObject>() : [];

    /// <summary>
    /// Adds an index: <paramref name="keyOf"/> gives an object's index value (null: not indexed). Objects already
    /// cached are indexed at once. Adding an index by a name that exists keeps the existing one.
    /// </summary>
    public void AddIndex(string name, Func<JsonObject, string?> keyOf)
    {
        lock (applying)
        {
            if (indexes.ContainsKey(name))
            {
                return;
            }

            var index = new Index(keyOf);
            foreach (var (key, stored) in cache)
            {
                index.Add(key, ObjectApi.View(stored));
            }

            indexes[name] = index;
        }
    }

    /// <summary>The cached objects whose value in index <paramref name="name"/> is <paramref name="value"/>.</summary>
    public IEnumerable<JsonObject> ByIndex(string name, string value) =>
        ByIndexStored(name, value).Select(ObjectApi.View);

    /// <summary>
    /// Registers a handler called with (old, new) on changes of objects whose value in index <paramref name="name"/>
    /// is <paramref name="value"/> before or after the change (so a node's agent hears about its pods only).
    /// </summary>
    public void OnChange(string name, string value, Action<JsonObject?, JsonObject?> handler)
    {
        lock (applying)
        {
            indexes[name].Handlers.AddOrUpdate(value, _ => [handler], (_, list) => [.. list, handler]);
        }
    }

    /// <summary>The cached object's metadata.uid (read off its shared parse: no view built), or null when it is not cached.</summary>
    public string? Uid(string? ns, string name) =>
        cache.GetValueOrDefault((Type.Namespaced ? ns : null, name)) is { } stored ? ParsedJson.Uid(stored) : null;

    /// <summary>
    /// The stored object behind a view handed to change handlers, while they run on this thread (so what handlers
    /// derive from it can be kept with its revision, see <see cref="PodState.Of(StoredObject)"/>); null for any other object.
    /// </summary>
    internal static StoredObject? StoredOf(JsonObject view) =>
        ReferenceEquals(view, dispatching.New) ? dispatching.NewStored : ReferenceEquals(view, dispatching.Old) ? dispatching.OldStored : null;

    [ThreadStatic]
    private static (JsonObject? Old, StoredObject? OldStored, JsonObject? New, StoredObject? NewStored) dispatching;

    /// <summary>How many objects are cached.</summary>
    public int Count => cache.Count;

    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var (items, revision) = api.ListStored(Type);
            var seen = new HashSet<(string?, string)>();
            foreach (var item in items)
            {
                var key = (item.Key.Namespace, item.Key.Name);
                seen.Add(key);
                Apply(key, item);
            }

            foreach (var gone in cache.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                Apply(gone, null);
            }

            synced.TrySetResult();
            try
            {
                await foreach (var e in api.WatchStoredAsync(Type, revision, cancellationToken).ConfigureAwait(false))
                {
                    Apply((e.Object.Key.Namespace, e.Object.Key.Name), e.Type == WatchEventType.Deleted ? null : e.Object);
                }
            }
            catch (ApiException e) when (e.Code == 410)
            {
                // fell out of the window: list again
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Apply((string? Ns, string Name) key, StoredObject? obj)
    {
        lock (applying)
        {
            ApplyLocked(key, obj);
        }
    }

    private void ApplyLocked((string? Ns, string Name) key, StoredObject? stored)
    {
        cache.TryGetValue(key, out var oldStored);
        if (oldStored is not null && stored is not null && oldStored.Revision == stored.Revision)
        {
            return;
        }

        // one view of each for every handler and index: what one handler reads, the next finds built
        var old = oldStored is null ? null : ObjectApi.View(oldStored);
        var obj = stored is null ? null : ObjectApi.View(stored);

        // readers on other threads must never see an object missing from an index it stays in (a ReplicaSet counting
        // its pods would create one too many): add to the new entries first, then drop the stale ones
        var owners = stored is null ? [] : PodState.Of(stored).Owners;
        if (obj is null)
        {
            cache.TryRemove(key, out _);
        }
        else
        {
            cache[key] = stored!;
            foreach (var (uid, _, _) in owners)
            {
                byOwner.GetOrAdd(uid, _ => new())[key] = stored!;
            }
        }

        if (old is not null)
        {
            foreach (var (uid, _, _) in PodState.Of(oldStored!).Owners)
            {
                if (!Owns(owners, uid) && byOwner.TryGetValue(uid, out var set))
                {
                    set.TryRemove(key, out _);
                }
            }
        }

        var snapshot = Volatile.Read(ref handlers);

        var outer = dispatching;
        dispatching = (old, oldStored, obj, stored);
        try
        {
            Dispatch(key, old, obj, snapshot);
        }
        finally
        {
            dispatching = outer;
        }
    }

    /// <summary>Whether <paramref name="owners"/> (an object's few owner references) hold <paramref name="uid"/>.</summary>
    private static bool Owns((string Uid, string? Kind, string? Name)[] owners, string uid)
    {
        foreach (var owner in owners)
        {
            if (owner.Uid == uid)
            {
                return true;
            }
        }

        return false;
    }

    private void Dispatch((string? Ns, string Name) key, JsonObject? old, JsonObject? obj, Action<JsonObject?, JsonObject?>[] snapshot)
    {

        foreach (var h in snapshot)
        {
            h(old, obj);
        }

        foreach (var index in indexes.Values)
        {
            string? before = old is null ? null : index.KeyOf(old);
            string? after = obj is null ? null : index.KeyOf(obj);
            if (after is not null)
            {
                index.Add(key, after);
            }

            if (before is not null && before != after)
            {
                index.Remove(key, before);
            }

            if (!index.Handlers.IsEmpty)
            {
                string?[] values = before == after || before is null ? [after] : [before, after];
                foreach (var value in values)
                {
                    if (value is not null && index.Handlers.TryGetValue(value, out var list))
                    {
                        foreach (var h in list)
                        {
                            h(old, obj);
                        }
                    }
                }
            }
        }
    }

    private sealed class Index(Func<JsonObject, string?> keyOf)
    {
        public Func<JsonObject, string?> KeyOf { get; } = keyOf;

        public ConcurrentDictionary<string, ConcurrentDictionary<(string? Ns, string Name), byte>> Items { get; } = new(StringComparer.Ordinal);

        public ConcurrentDictionary<string, Action<JsonObject?, JsonObject?>[]> Handlers { get; } = new(StringComparer.Ordinal);

        public void Add((string? Ns, string Name) key, JsonObject obj)
        {
            if (KeyOf(obj) is { } value)
            {
                Add(key, value);
            }
        }

        public void Add((string? Ns, string Name) key, string value) => Items.GetOrAdd(value, _ => new())[key] = 0;

        public void Remove((string? Ns, string Name) key, string value)
        {
            if (Items.TryGetValue(value, out var set))
            {
                set.TryRemove(key, out _);
            }
        }
    }
}

/// <summary>The informers of a control plane, one per kind, shared by every controller.</summary>
public sealed class InformerSet
{
    private readonly ObjectApi api;
    private readonly ConcurrentDictionary<ResourceType, Informer> informers = new();
    private readonly List<Task> runs = [];
    private CancellationToken? started;

    /// <summary>Creates the set over <paramref name="api"/>.</summary>
    public InformerSet(ObjectApi api) => this.api = api;

    /// <summary>The informer of <paramref name="type"/> (created on first use; started at once when the set already runs).</summary>
    public Informer For(ResourceType type)
    {
        lock (runs)
        {
            if (informers.TryGetValue(type, out var existing))
            {
                return existing;
            }

            var informer = new Informer(api, type);
            informers[type] = informer;
            if (started is { } token)
            {
                runs.Add(Task.Run(() => informer.RunAsync(token), CancellationToken.None));
            }

            return informer;
        }
    }

    /// <summary>Starts every informer asked for so far (later ones start when asked for) and waits until their caches are filled; returns the task of their runs.</summary>
    public async Task<Task> StartAsync(CancellationToken cancellationToken)
    {
        lock (runs)
        {
            started = cancellationToken;
            runs.AddRange(informers.Values.Select(i => Task.Run(() => i.RunAsync(cancellationToken), CancellationToken.None)));
        }

        await Task.WhenAll(informers.Values.Select(i => i.Synced)).WaitAsync(cancellationToken).ConfigureAwait(false);
        return Task.Run(async () =>
        {
            while (true)
            {
                Task[] current;
                lock (runs)
                {
                    current = [.. runs];
                }

                await Task.WhenAll(current).ConfigureAwait(false);
                lock (runs)
                {
                    if (runs.Count == current.Length)
                    {
                        return;
                    }
                }
            }
        }, CancellationToken.None);
    }
}
