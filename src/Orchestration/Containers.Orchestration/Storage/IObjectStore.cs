namespace Containers.Orchestration.Storage;

/// <summary>Where an object lives: its resource (<c>pods</c>, <c>deployments.apps</c>), namespace (null for cluster-scoped ones) and name.</summary>
/// <param name="Resource">The plural resource name, with its API group when it has one (<c>deployments.apps</c>).</param>
/// <param name="Namespace">The namespace; null for cluster-scoped resources (nodes, namespaces).</param>
/// <param name="Name">The object's name.</param>
public readonly record struct ObjectKey(string Resource, string? Namespace, string Name)
{
    /// <inheritdoc/>
    public override string ToString() => Namespace is null ? $"{Resource}/{Name}" : $"{Resource}/{Namespace}/{Name}";
}

/// <summary>An object as stored: its key, the revision of its last write (Kubernetes' resourceVersion) and its JSON.</summary>
/// <param name="Key">Where it lives.</param>
/// <param name="Revision">The store revision of its last write.</param>
/// <param name="Json">Its serialized form (UTF-8 JSON), as the API layer handed it over with the revision written in as metadata.resourceVersion (when it has a metadata object).</param>
public sealed record StoredObject(ObjectKey Key, long Revision, ReadOnlyMemory<byte> Json)
{
    private object? parsed;

    /// <summary>Whether <see cref="Json"/> is known to carry <see cref="Revision"/> as metadata.resourceVersion (the store wrote it in), so readers need not look.</summary>
    internal bool RevisionWritten { get; init; }

    /// <summary>
    /// The reader's parsed form of <see cref="Json"/>, made by <paramref name="parse"/> on first use and then shared by
    /// every reader of this revision (so a write seen by many watchers is parsed once). Readers must not change it.
    /// </summary>
    public T Parsed<T>(Func<StoredObject, T> parse)
        where T : class
    {
        if (Volatile.Read(ref parsed) is T done)
        {
            return done;
        }

        var made = parse(this);
        return Interlocked.CompareExchange(ref parsed, made, null) as T ?? made;
    }
}

/// <summary>What a watch reports.</summary>
public enum WatchEventType
{
    /// <summary>Created.</summary>
    Added,

    /// <summary>Updated.</summary>
    Modified,

    /// <summary>Deleted (the object is its last state, at the revision of the deletion).</summary>
    Deleted,
}

/// <summary>One change seen by a watch.</summary>
/// <param name="Type">What happened.</param>
/// <param name="Object">The object after the change (for a deletion: its last state, at the deletion's revision).</param>
public sealed record WatchEvent(WatchEventType Type, StoredObject Object);

/// <summary>
/// The control plane's storage, with etcd's contract: one revision counter for the whole store that every write
/// increments, compare-and-swap on an object's revision (Kubernetes' optimistic concurrency, 409), and watches that
/// replay every change after a given revision before following live ones (410 when that revision is compacted away).
/// The store keeps bytes; the API layer owns the schema. The one field the store writes is metadata.resourceVersion:
/// what it keeps carries the revision of its last write there (so readers parse it as it is).
/// </summary>
public interface IObjectStore : IAsyncDisposable
{
    /// <summary>The revision of the last write.</summary>
    long Revision { get; }

    /// <summary>
    /// A revision at or after the last write to an object of <paramref name="resource"/> (its creation, change or
    /// deletion): unchanged means nothing of that resource changed. A store that does not track it answers <see cref="Revision"/>.
    /// </summary>
    long ResourceRevision(string resource) => Revision;

    /// <summary>The resources that have objects now (what a copy of the store lists, one at a time).</summary>
    IReadOnlyList<string> Resources { get; }

    /// <summary>The object at <paramref name="key"/>, or null.</summary>
    StoredObject? Get(ObjectKey key);

    /// <summary>The objects of <paramref name="resource"/> (in <paramref name="ns"/>, or all namespaces when null), by key, with the revision they were read at.</summary>
    (IReadOnlyList<StoredObject> Items, long Revision) List(string resource, string? ns = null);

    /// <summary>
    /// Stores a new object. Throws <see cref="StoreConflictException"/> (already exists). The store keeps its own copy of
    /// <paramref name="json"/>: the caller may reuse that memory once this returns.
    /// </summary>
    StoredObject Create(ObjectKey key, ReadOnlyMemory<byte> json);

    /// <summary>
    /// Replaces an object. When <paramref name="expectedRevision"/> is given it must be the object's current revision.
    /// Throws <see cref="StoreNotFoundException"/> or <see cref="StoreConflictException"/> (the object changed since).
    /// As <see cref="Create"/>, the store keeps its own copy of <paramref name="json"/>.
    /// </summary>
    StoredObject Update(ObjectKey key, ReadOnlyMemory<byte> json, long? expectedRevision = null);

    /// <summary>
    /// As <see cref="Update(ObjectKey, ReadOnlyMemory{byte}, long?)"/>, told which subresource of the API the write is
    /// (<c>status</c>, <c>binding</c>, or null for the object): a store that is another API server writes through it.
    /// </summary>
    StoredObject Update(ObjectKey key, ReadOnlyMemory<byte> json, long? expectedRevision, string? subresource) => Update(key, json, expectedRevision);

    /// <summary>
    /// Whether writes go to another API server (<see cref="RemoteObjectStore"/>), which may change what it stores (a
    /// uid, defaults): the API layer then reads back what the store answered instead of what it handed over.
    /// </summary>
    bool Forwards => false;

    /// <summary>Removes an object (checked against <paramref name="expectedRevision"/> when given); returns its last state at the deletion's revision.</summary>
    StoredObject Delete(ObjectKey key, long? expectedRevision = null);

    /// <summary>
    /// The changes of <paramref name="resource"/> (in <paramref name="ns"/> when given) after <paramref name="fromRevision"/>,
    /// then live ones until <paramref name="cancellationToken"/> fires. Throws <see cref="StoreGoneException"/> when
    /// changes after that revision are no longer kept.
    /// </summary>
    IAsyncEnumerable<WatchEvent> WatchAsync(string resource, string? ns, long fromRevision, CancellationToken cancellationToken = default);

    /// <summary>
    /// Forgets the history up to and including <paramref name="revision"/>, as etcd's compaction does: a watch from an
    /// older revision then gets <see cref="StoreGoneException"/> (410). The objects themselves are untouched.
    /// </summary>
    void Compact(long revision);

    /// <summary>
    /// Lets the writes this thread makes until the returned scope is disposed return before they are durable; disposing
    /// it makes them all durable at once. For best-effort writes made in bulk (events): one log write for the batch.
    /// By default (a store without the notion) every write is durable when it returns and the scope does nothing.
    /// </summary>
    IDisposable DeferDurability() => NoScope.Instance;

    /// <summary>An <see cref="IDisposable"/> that does nothing.</summary>
    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose()
        {
        }
    }
}

/// <summary>A write lost a race or found its name taken (HTTP 409).</summary>
public sealed class StoreConflictException(string message) : ContainerException(message);

/// <summary>No object at that key (HTTP 404).</summary>
public sealed class StoreNotFoundException(string message) : ContainerException(message);

/// <summary>The requested revision is older than what the store keeps (HTTP 410: list again, then watch from there).</summary>
public sealed class StoreGoneException(string message) : ContainerException(message);
