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

    // the bytes: a byte[] (the whole array), a Memory (a slice), or a Spilled (on disk: read back on each use); one
    // reference, swapped atomically when a store moves the bytes out of memory
    private object body = Body(Json);

    /// <summary>
    /// Its serialized form (UTF-8 JSON), as the API layer handed it over with the revision written in as
    /// metadata.resourceVersion (when it has a metadata object). For an object a store keeps on disk only (see
    /// <see cref="EmbeddedStoreOptions.OnDiskResources"/>), read back from there on each use.
    /// </summary>
    public ReadOnlyMemory<byte> Json
    {
        get => Volatile.Read(ref body) switch
        {
            byte[] array => array,
            Spilled spilled => spilled.Read(),
            var other => ((Memory)other).Bytes,
        };
        init => body = Body(value);
    }

    /// <summary>Whether the bytes are in memory (false once a store moved them to disk).</summary>
    internal bool InMemory => Volatile.Read(ref body) is not Spilled;

    /// <summary>Lets go of the bytes in memory: from now on they are read from <paramref name="file"/> at <paramref name="offset"/> (the caller has written them there).</summary>
    internal void SpillTo(SpillFile file, long offset, int length) => Volatile.Write(ref body, new Spilled(file, offset, length));

    private static object Body(ReadOnlyMemory<byte> json) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(json, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : new Memory(json);

    private sealed record Memory(ReadOnlyMemory<byte> Bytes);

    private sealed record Spilled(SpillFile File, long Offset, int Length)
    {
        public byte[] Read() => File.Read(Offset, Length);
    }

    /// <summary>
    /// What controllers derived from this revision (small facts read off its parse), kept with it for as long as the
    /// object is, unlike the parse itself (set once; a race makes it twice, equal).
    /// </summary>
    internal object? Derived { get; set; }

    /// <summary>Whether <see cref="Json"/> is known to carry <see cref="Revision"/> as metadata.resourceVersion (the store wrote it in), so readers need not look.</summary>
    internal bool RevisionWritten { get; init; }

    /// <summary>
    /// The reader's parsed form of <see cref="Json"/>, made by <paramref name="parse"/> on first use and then shared by
    /// every reader of this revision (so a write seen by many watchers is parsed once). Readers must not change it.
    /// A parse not used for a second or two is let go (see <see cref="RecentParses"/>): the next reader parses again.
    /// </summary>
    public T Parsed<T>(Func<StoredObject, T> parse)
        where T : class
    {
        if (Volatile.Read(ref parsed) is T done)
        {
            RecentParses.Touch(this);
            return done;
        }

        var made = parse(this);
        if (Interlocked.CompareExchange(ref parsed, made, null) is T won)
        {
            made = won;
        }

        RecentParses.Touch(this);
        return made;
    }

    private int usedIn = -1; // the generation of RecentParses this object's parse was last used in

    private void Forget() => Volatile.Write(ref parsed, null);

    /// <summary>
    /// Which parses are kept: those used in the last one or two periods of <see cref="Period"/>. Objects whose parse is
    /// used are listed once per period; at the end of a period, those listed in the one before and not used since
    /// lose their parse. So a burst of writes seen by many watchers (the controllers' and node agents' informers) and
    /// read over and over while they reconcile is parsed once per revision, and a cluster at rest keeps each object's
    /// JSON only, not its parse as well (its index costs more than the JSON: kube-apiserver's watch cache keeps every
    /// object decoded; this keeps the bytes, and the parses of what is in use).
    /// </summary>
    internal static class RecentParses
    {
        /// <summary>How long a parse is kept at least after its last use (and at most twice that).</summary>
        public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

        private static readonly Lock Gate = new();
        private static readonly Timer Ticker = new(_ => EndPeriod(), null, Timeout.Infinite, Timeout.Infinite);
        private static List<StoredObject> current = [];
        private static List<StoredObject> previous = [];
        private static int generation;
        private static bool ticking;

        /// <summary>How many objects have a parse listed (those of this period and the one before).</summary>
        public static int Listed
        {
            get
            {
                lock (Gate)
                {
                    return current.Count + previous.Count;
                }
            }
        }

        public static void Touch(StoredObject stored)
        {
            if (Volatile.Read(ref stored.usedIn) == Volatile.Read(ref generation))
            {
                return;
            }

            lock (Gate)
            {
                if (stored.usedIn == generation)
                {
                    return;
                }

                stored.usedIn = generation;
                current.Add(stored);
                if (!ticking)
                {
                    ticking = true;
                    Ticker.Change(Period, Period);
                }
            }
        }

        /// <summary>Ends a period: the parses listed two periods ago and not used since are let go.</summary>
        internal static void EndPeriod()
        {
            List<StoredObject> old;
            int kept;
            lock (Gate)
            {
                old = previous;
                previous = current;
                current = new List<StoredObject>(Math.Min(previous.Count, 1 << 16));
                kept = generation;
                generation++;
                if (old.Count == 0 && previous.Count == 0)
                {
                    ticking = false;
                    Ticker.Change(Timeout.Infinite, Timeout.Infinite);
                }
            }

            foreach (var o in old)
            {
                if (Volatile.Read(ref o.usedIn) != kept && Volatile.Read(ref o.usedIn) != kept + 1)
                {
                    o.Forget();
                }
            }
        }
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

/// <summary>A file that holds the bytes of objects a store keeps on disk only, read with pread; kept open while any object refers to it.</summary>
internal sealed class SpillFile(string path)
{
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>Reads <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    public byte[] Read(long offset, int length)
    {
        var bytes = new byte[length];
        int done = 0;
        while (done < length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(done), offset + done);
            if (n <= 0)
            {
                throw new IOException($"the store's log ends before the object kept at byte {offset} ({length} bytes)");
            }

            done += n;
        }

        return bytes;
    }
}
