using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Containers.Orchestration.Storage;

/// <summary>
/// The default <see cref="IObjectStore"/>: every object in memory (as its JSON bytes), every write appended to one log
/// file (<c>objects.log</c>, a JSON line per write) that is replayed at open, so a restarted control plane has every
/// object back at its revision. The log is rewritten as a snapshot of the live objects when it holds more than twice
/// their number of lines (compaction); a torn last line (a crash mid-write) is dropped at open. Watches replay from a
/// window of the last <see cref="EmbeddedStoreOptions.WatchWindow"/> changes. One process owns a store directory at a
/// time (an exclusive lock file).
/// <para>
/// Log writes are group-committed: a write appends its line to a buffer under the store's lock, and after leaving
/// the lock the writer makes sure the buffer up to its line has reached the file (one writer writes what every
/// concurrent writer appended, in one system call). A write returns only once its line is in the file (in the OS,
/// and on disk with <see cref="EmbeddedStoreOptions.Durable"/>); watchers inside the process may hear of it just before.
/// </para>
/// </summary>
public sealed partial class EmbeddedObjectStore : IObjectStore
{
    private readonly Lock gate = new();
    // written under the gate, read without it for Get (a Get sees the object before or after a write, never half of one)
    private readonly ObjectIndex index;
    private readonly EmbeddedStoreOptions options;
    private readonly string logPath;
    private readonly FileStream lockFile;
    private FileStream log;
    private readonly Utf8JsonWriter lineWriter = new(Stream.Null);
    private ArrayBufferWriter<byte> lineBuffer = new(4096);
    private readonly Lock flushGate = new();
    private ArrayBufferWriter<byte> pending = new(1 << 16); // lines appended, not yet in the file (under the gate)
    private ArrayBufferWriter<byte> spare = new(1 << 16); // the other buffer (under the flush gate)
    private long appended; // bytes appended to the log since open (under the gate)
    private long flushed; // of which in the file (written under the flush gate)
    private bool compactDue;
    private long logLines;
    private long fileBase; // the file offset of the first byte appended since open (moved by a compaction)
    private SpillFile? spillFile; // the log, read back for the objects kept on disk only (under the flush gate)
    private List<(StoredObject Object, long LineEnd, int Length)> pendingSpill = []; // on-disk objects appended, not yet in the file (under the gate)
    private List<(StoredObject Object, long LineEnd, int Length)> spilling = []; // the other list (under the flush gate)

    private EmbeddedObjectStore(string directory, EmbeddedStoreOptions options)
    {
        this.options = options;
        index = new ObjectIndex(options.WatchWindow);
        Directory.CreateDirectory(directory);
        lockFile = new FileStream(Path.Combine(directory, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        logPath = Path.Combine(directory, "objects.log");
        log = null!;
    }

    /// <inheritdoc/>
    public long Revision { get; private set; }

    /// <inheritdoc/>
    public long ResourceRevision(string resource) => index.ResourceRevision(resource) ?? 0;

    /// <summary>
    /// Opens (or creates) the store in <paramref name="directory"/>, replaying its log. Throws <see cref="IOException"/>
    /// when another process has it open.
    /// </summary>
    public static EmbeddedObjectStore Open(string directory, EmbeddedStoreOptions? options = null)
    {
        var store = new EmbeddedObjectStore(directory, options ?? new EmbeddedStoreOptions());
        store.Replay();
        return store;
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
            return (index.List(resource, ns), Revision);
        }
    }

    /// <inheritdoc/>
    public StoredObject Create(ObjectKey key, ReadOnlyMemory<byte> json)
    {
        StoredObject stored;
        long upTo;
        lock (gate)
        {
            if (index.Get(key) is not null)
            {
                throw new StoreConflictException($"{key} already exists");
            }

            stored = Write(WatchEventType.Added, key, json);
            upTo = appended;
        }

        return Durable(stored, upTo);
    }

    /// <inheritdoc/>
    public StoredObject Update(ObjectKey key, ReadOnlyMemory<byte> json, long? expectedRevision = null)
    {
        StoredObject stored;
        long upTo;
        lock (gate)
        {
            Check(key, expectedRevision);
            stored = Write(WatchEventType.Modified, key, json);
            upTo = appended;
        }

        return Durable(stored, upTo);
    }

    /// <inheritdoc/>
    public StoredObject Delete(ObjectKey key, long? expectedRevision = null)
    {
        StoredObject stored;
        long upTo;
        lock (gate)
        {
            var current = Check(key, expectedRevision);
            stored = Write(WatchEventType.Deleted, key, current.Json);
            upTo = appended;
        }

        return Durable(stored, upTo);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(string resource, string? ns, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectIndex.Watcher watcher;
        lock (gate)
        {
            if (fromRevision + 1 < index.OldestWindowRevision && fromRevision < Revision)
            {
                throw new StoreGoneException($"too old resource version: {fromRevision} ({index.OldestWindowRevision - 1})");
            }

            watcher = index.Subscribe(resource, ns, fromRevision);
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
        lock (gate)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(revision, Revision);
            index.Trim(revision);
        }
    }

    /// <summary>Closes the log and ends every watch.</summary>
    public ValueTask DisposeAsync()
    {
        lock (flushGate)
        lock (gate)
        {
            if (pending.WrittenCount > 0)
            {
                log.Write(pending.WrittenSpan);
                log.Flush(flushToDisk: options.Durable);
                pending.ResetWrittenCount();
            }

            index.EndWatches();
            log.Dispose();
            lineWriter.Dispose();
            lockFile.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private StoredObject Check(ObjectKey key, long? expectedRevision)
    {
        if (index.Get(key) is not { } current)
        {
            throw new StoreNotFoundException($"{key} not found");
        }

        if (expectedRevision is { } rv && rv != current.Revision)
        {
            throw new StoreConflictException($"{key} has been modified (revision {current.Revision}, not {rv}); read it again and retry");
        }

        return current;
    }

    /// <summary>Logs, applies and announces one write (under the lock).</summary>
    private StoredObject Write(WatchEventType type, ObjectKey key, ReadOnlyMemory<byte> json)
    {
        var kept = Kept(json, Revision + 1);
        var stored = new StoredObject(key, Revision + 1, kept) { RevisionWritten = true };
        appended += Append(pending, type == WatchEventType.Deleted ? "del" : "put", stored, kept);
        if (options.OnDiskResources.Contains(key.Resource))
        {
            pendingSpill.Add((stored, appended, kept.Length));
        }
        logLines++;
        Revision = stored.Revision;
        index.Apply(type, stored, announce: true);
        if (logLines > 1000 && logLines > 2 * index.Count)
        {
            compactDue = true; // by the writer that flushes next (the file is the flush gate's)
        }

        return stored;
    }

    /// <summary>Returns <paramref name="stored"/> once its log line (ending at byte <paramref name="upTo"/>) is in the file, or at once inside a <see cref="DeferDurability"/> scope.</summary>
    private StoredObject Durable(StoredObject stored, long upTo)
    {
        if (deferred is { } scope && scope.Store == this)
        {
            scope.UpTo = upTo;
        }
        else
        {
            FlushLog(upTo);
        }

        return stored;
    }

    /// <inheritdoc/>
    public IDisposable DeferDurability()
    {
        if (deferred is not null)
        {
            return new Deferred(this, nested: true); // the outer scope flushes (or, for another store, writes flush as usual)
        }

        deferred = new Deferred(this, nested: false);
        return deferred;
    }

    [ThreadStatic]
    private static Deferred? deferred;

    /// <summary>A thread's writes whose log flush waits for the scope's end (see <see cref="DeferDurability"/>).</summary>
    private sealed class Deferred(EmbeddedObjectStore store, bool nested) : IDisposable
    {
        public EmbeddedObjectStore Store => store;

        public long UpTo { get; set; }

        public void Dispose()
        {
            if (nested || deferred != this)
            {
                return;
            }

            deferred = null;
            store.FlushLog(UpTo);
        }
    }

    /// <summary>
    /// The object's bytes to keep: a copy with the write's revision as metadata.resourceVersion (readers parse what is
    /// kept as it is), on one line (the log is a line per write, and JSON written by hand or passed through as parsed can
    /// hold line breaks between its tokens; inside strings they are always escaped).
    /// </summary>
    private static byte[] Kept(ReadOnlyMemory<byte> json, long revision)
    {
        if (json.Span.IndexOfAny((byte)'\n', (byte)'\r') < 0)
        {
            return ResourceVersion.Written(json.Span, revision);
        }

        using var document = JsonDocument.Parse(json);
        var compact = new ArrayBufferWriter<byte>(json.Length);
        using (var writer = new Utf8JsonWriter(compact))
        {
            document.WriteTo(writer);
        }

        return ResourceVersion.Written(compact.WrittenSpan, revision);
    }
}

/// <summary>How an <see cref="EmbeddedObjectStore"/> keeps its data.</summary>
public sealed record EmbeddedStoreOptions
{
    /// <summary>fsync the log after every write (power-loss safe, slower); by default writes reach the OS at once, which survives a crash of the process.</summary>
    public bool Durable { get; init; }

    /// <summary>How many of the latest changes a watch can start from (older revisions get 410 Gone).</summary>
    public int WatchWindow { get; init; } = 10_000;

    /// <summary>
    /// The resources whose objects are kept on disk only, once their log line is written: in memory each is its key
    /// and revision, and its bytes are read back from the log when used. By default <c>events</c>, as kube-apiserver
    /// keeps none in its watch cache (they live in etcd only): four or more per pod, written once, rarely read.
    /// </summary>
    public IReadOnlySet<string> OnDiskResources { get; init; } = new HashSet<string>(StringComparer.Ordinal) { "events" };
}
