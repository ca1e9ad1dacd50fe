using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Containers.Orchestration.Storage;

/// <summary>
/// A store's objects in memory, indexed by resource, namespace and name for lists, with the window of recent changes
/// that watches start from and the watches following live ones: what the embedded store keeps, and what etcd's watch
/// cache keeps in front of etcd. <see cref="Get"/> needs no lock; every other member runs under the owner's lock.
/// </summary>
internal sealed class ObjectIndex(int windowSize)
{
    private readonly ConcurrentDictionary<ObjectKey, StoredObject> objects = new();
    private readonly ConcurrentDictionary<string, long> resourceRevisions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, Dictionary<string, StoredObject>>> byResource = new(StringComparer.Ordinal);
    private readonly Queue<WatchEvent> window = new();
    private readonly List<Watcher> watchers = [];

    /// <summary>How many objects it holds (kept here: the dictionary's count takes every one of its locks).</summary>
    public int Count { get; private set; }

    /// <summary>The oldest revision a watch can start after without 410 (the window's first change).</summary>
    public long OldestWindowRevision { get; set; } = 1;

    /// <summary>The live objects, unordered.</summary>
    public ICollection<StoredObject> Objects => objects.Values;

    /// <summary>The object at <paramref name="key"/>, or null (no lock needed: a reader sees it before or after a write).</summary>
    public StoredObject? Get(ObjectKey key) => objects.TryGetValue(key, out var stored) ? stored : null;

    /// <summary>The revision of the last change to an object of <paramref name="resource"/>, or null when none was seen.</summary>
    public long? ResourceRevision(string resource) => resourceRevisions.TryGetValue(resource, out long at) ? at : null;

    /// <summary>The resources that have objects, ordered.</summary>
    public IReadOnlyList<string> Resources => [.. byResource.Where(r => r.Value.Values.Any(names => names.Count > 0)).Select(r => r.Key).Order(StringComparer.Ordinal)];

    /// <summary>The objects of <paramref name="resource"/> (in <paramref name="ns"/> when given), ordered by namespace then name, as etcd's key order gives them to kube-apiserver.</summary>
    public List<StoredObject> List(string resource, string? ns)
    {
        var items = new List<StoredObject>();
        if (!byResource.TryGetValue(resource, out var namespaces))
        {
            return items;
        }

        foreach (var (name, objs) in namespaces)
        {
            if (ns is null || name == ns)
            {
                items.AddRange(objs.Values);
            }
        }

        items.Sort(static (x, y) =>
        {
            var c = string.CompareOrdinal(x.Key.Namespace ?? "", y.Key.Namespace ?? "");
            return c != 0 ? c : string.CompareOrdinal(x.Key.Name, y.Key.Name);
        });
        return items;
    }

    /// <summary>
    /// Applies one change; with <paramref name="announce"/> it also enters the window and reaches the watches (a load
    /// or a log replay does not announce).
    /// </summary>
    public void Apply(WatchEventType type, StoredObject stored, bool announce)
    {
        var key = stored.Key;
        resourceRevisions[key.Resource] = Math.Max(stored.Revision, resourceRevisions.GetValueOrDefault(key.Resource));
        if (type == WatchEventType.Deleted)
        {
            if (objects.TryRemove(key, out _))
            {
                Count--;
            }

            if (byResource.TryGetValue(key.Resource, out var inResource) && inResource.TryGetValue(key.Namespace ?? "", out var inNamespace))
            {
                inNamespace.Remove(key.Name);
            }
        }
        else
        {
            if (objects.TryAdd(key, stored))
            {
                Count++;
            }
            else
            {
                objects[key] = stored;
            }

            if (!byResource.TryGetValue(key.Resource, out var namespaces))
            {
                byResource[key.Resource] = namespaces = new(StringComparer.Ordinal);
            }

            if (!namespaces.TryGetValue(key.Namespace ?? "", out var names))
            {
                namespaces[key.Namespace ?? ""] = names = new(StringComparer.Ordinal);
            }

            names[key.Name] = stored;
        }

        if (!announce)
        {
            return;
        }

        var e = new WatchEvent(type, stored);
        window.Enqueue(new WatchEvent(type, stored with { })); // its own instance: the window does not keep what live readers parse
        while (window.Count > windowSize)
        {
            OldestWindowRevision = window.Dequeue().Object.Revision + 1;
        }

        foreach (var w in watchers)
        {
            if (w.Wants(key))
            {
                w.Channel.Writer.TryWrite(e);
            }
        }
    }

    /// <summary>A watch of <paramref name="resource"/> (in <paramref name="ns"/> when given): the window's changes after <paramref name="fromRevision"/>, then live ones.</summary>
    public Watcher Subscribe(string resource, string? ns, long fromRevision)
    {
        var watcher = new Watcher(resource, ns, Channel.CreateUnbounded<WatchEvent>(new UnboundedChannelOptions { SingleReader = true }));
        foreach (var e in window)
        {
            if (e.Object.Revision > fromRevision && watcher.Wants(e.Object.Key))
            {
                watcher.Channel.Writer.TryWrite(e);
            }
        }

        watchers.Add(watcher);
        return watcher;
    }

    /// <summary>Ends a watch's subscription.</summary>
    public void Unsubscribe(Watcher watcher) => watchers.Remove(watcher);

    /// <summary>Forgets the window's changes up to and including <paramref name="revision"/> (compaction).</summary>
    public void Trim(long revision)
    {
        while (window.TryPeek(out var oldest) && oldest.Object.Revision <= revision)
        {
            window.Dequeue();
        }

        OldestWindowRevision = Math.Max(OldestWindowRevision, revision + 1);
    }

    /// <summary>Ends every watch (with <paramref name="error"/> when given, which its reader then throws).</summary>
    public void EndWatches(Exception? error = null)
    {
        foreach (var w in watchers)
        {
            w.Channel.Writer.TryComplete(error);
        }

        watchers.Clear();
    }

    /// <summary>Drops everything (a re-list follows).</summary>
    public void Clear()
    {
        window.Clear();
        objects.Clear();
        byResource.Clear();
        resourceRevisions.Clear();
        Count = 0;
    }

    /// <summary>One watch's subscription.</summary>
    internal sealed record Watcher(string Resource, string? Namespace, Channel<WatchEvent> Channel)
    {
        public bool Wants(ObjectKey key) => key.Resource == Resource && (Namespace is null || key.Namespace == Namespace);
    }
}
