using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Containers.Orchestration.Storage;

namespace Containers.Orchestration.Api;

/// <summary>Options of a delete (Kubernetes' DeleteOptions).</summary>
/// <param name="GracePeriodSeconds">Overrides the pod's terminationGracePeriodSeconds (0 = now).</param>
/// <param name="PropagationPolicy">Background (default), Foreground or Orphan.</param>
/// <param name="ExpectedUid">Preconditions.uid.</param>
/// <param name="DryRun">Validate only.</param>
public sealed record DeleteOptions(long? GracePeriodSeconds = null, string? PropagationPolicy = null, string? ExpectedUid = null, bool DryRun = false);

/// <summary>
/// The API server's semantics over an <see cref="IObjectStore"/>, for the HTTP front and for the controllers in
/// process alike: uid, creationTimestamp, generation, resourceVersion with optimistic concurrency (409), defaults and
/// validation (422 naming the field), status and scale subresources, patches, finalizers and graceful deletion,
/// ownerReference-based orphaning, cluster IP and node port allocation, events.
/// </summary>
public sealed class ObjectApi
{
    private readonly IObjectStore store;
    private readonly Lock allocation = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<PendingEvent> pendingEvents = new();
    private int eventWriterRunning;
    private readonly System.Buffers.ArrayBufferWriter<byte> eventBuffer = new(1024);
    private readonly System.Text.Json.Utf8JsonWriter eventWriter = new(Stream.Null);

    /// <summary>Creates the API over <paramref name="store"/>; creates the built-in namespaces when missing.</summary>
    public ObjectApi(IObjectStore store, TimeProvider? time = null, string serviceCidr = "10.96.0.0/16", long defaultTolerationSeconds = 300)
    {
        this.store = store;
        Time = time ?? TimeProvider.System;
        DefaultTolerationSeconds = defaultTolerationSeconds;
        var parts = serviceCidr.Split('/');
        ServiceNetwork = (IPAddress.Parse(parts[0]), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        foreach (string ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            if (TryGet(ResourceType.Namespaces, null, ns) is null)
            {
                Create(ResourceType.Namespaces, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } });
            }
        }
    }

    /// <summary>How long pods tolerate a not-ready or unreachable node before eviction (kube-apiserver's --default-unreachable-toleration-seconds).</summary>
    public long DefaultTolerationSeconds { get; }

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; }

    /// <summary>The range cluster IPs come from.</summary>
    public (IPAddress Network, int PrefixLength) ServiceNetwork { get; }

    /// <summary>The store's current revision.</summary>
    public long Revision => store.Revision;

    /// <summary>The first address of the service range (the kubernetes Service's address in Kubernetes; here the cluster DNS).</summary>
    public IPAddress DnsAddress => Offset(ServiceNetwork.Network, 10);

    /// <summary>Creates an object (name from generateName when empty).</summary>
    public JsonObject Create(ResourceType type, string? ns, JsonObject obj, bool dryRun = false) => CreateOwned(type, ns, Json.Clone(obj), dryRun);

    /// <summary>Creates an object the caller made for this call and hands over (it is changed and returned, not copied).</summary>
    internal JsonObject CreateOwned(ResourceType type, string? ns, JsonObject obj, bool dryRun = false)
    {
        obj["apiVersion"] = type.ApiVersion;
        obj["kind"] = type.Kind;
        var meta = Json.Obj(obj, "metadata");
        ns = Scope(type, ns, meta);
        string? generated = null;
        if (string.IsNullOrEmpty(Json.Str(meta, "name")) && Json.Str(meta, "generateName") is { Length: > 0 } prefix)
        {
            generated = prefix;
            meta["name"] = prefix + RandomSuffix();
        }

        meta["uid"] = NewUid();
        meta["creationTimestamp"] = Json.Time(Time.GetUtcNow());
        meta.Remove("resourceVersion");
        meta.Remove("deletionTimestamp");
        meta.Remove("deletionGracePeriodSeconds");
        meta.Remove("managedFields");
        if (type.HasGeneration || type.Kind == "Pod")
        {
            meta["generation"] = 1;
        }

        if (type.HasStatus && type.Kind != "Node")
        {
            obj.Remove("status");
        }

        Admission.Default(type, obj, DefaultTolerationSeconds);
        InitialStatus(type, obj);
        Admission.Validate(type, obj, null);
        if (ns is not null && type.Kind != "Event" && Peek(ResourceType.Namespaces, null, ns) is { } nsObj)
        {
            if (Json.Has(nsObj, "metadata", "deletionTimestamp"))
            {
                throw new ApiException(403, "Forbidden", $"{type.Plural} \"{Json.Name(obj)}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated");
            }
        }
        else if (ns is not null && type.Kind != "Event")
        {
            throw new ApiException(404, "NotFound", $"namespaces \"{ns}\" not found", details: new JsonObject { ["name"] = ns, ["kind"] = "namespaces" });
        }

        if (type.Kind == "Service")
        {
            lock (allocation)
            {
                AllocateServiceAddresses(obj, null);
                return dryRun ? obj : Insert(type, ns, obj, generated);
            }
        }

        return dryRun ? obj : Insert(type, ns, obj, generated);
    }

    /// <summary>Stores a new object; a name made from generateName that is taken is made again (up to 8 tries, as kube-apiserver).</summary>
    private JsonObject Insert(ResourceType type, string? ns, JsonObject obj, string? generateName)
    {
        for (int attempt = 1; ; attempt++)
        {
            var key = new ObjectKey(type.StoreName, ns, Json.Name(obj));
            try
            {
                return WithRevision(obj, store.Create(key, Json.Serialized(obj)));
            }
            catch (StoreConflictException)
            {
                if (generateName is null || attempt == 8)
                {
                    throw ApiException.AlreadyExists(type, key.Name);
                }

                Json.Obj(obj, "metadata")["name"] = generateName + RandomSuffix();
            }
        }
    }

    /// <summary>The object, or 404.</summary>
    public JsonObject Get(ResourceType type, string? ns, string name) =>
        TryGet(type, ns, name) ?? throw ApiException.NotFound(type, name);

    /// <summary>The object, or null.</summary>
    public JsonObject? TryGet(ResourceType type, string? ns, string name) =>
        store.Get(new ObjectKey(type.StoreName, type.Namespaced ? ns ?? "default" : null, name)) is { } stored ? View(stored) : null;

    /// <summary>The object as stored (a view: see <see cref="View"/>), or null when absent.</summary>
    internal JsonObject? Peek(ResourceType type, string? ns, string name) =>
        store.Get(new ObjectKey(type.StoreName, type.Namespaced ? ns ?? "default" : null, name)) is { } stored ? View(stored) : null;

    /// <summary>The objects of a kind (in <paramref name="ns"/>, or everywhere when null) that match the selectors, and the revision of the list.</summary>
    public (List<JsonObject> Items, long Revision) List(ResourceType type, string? ns = null, LabelSelector? labels = null, FieldSelector? fields = null)
    {
        var (items, revision) = store.List(type.StoreName, type.Namespaced ? ns : null);
        var result = new List<JsonObject>(items.Count);
        foreach (var item in items)
        {
            var obj = View(item);
            if ((labels is null || labels.Matches(obj)) && (fields is null || fields.IsEmpty || fields.Matches(obj)))
            {
                result.Add(obj);
            }
        }

        return (result, revision);
    }

    /// <summary>
    /// Replaces an object (PUT). Through the main resource the status is kept; through <c>status</c> only the status
    /// changes. A resourceVersion in the body must be current (409 otherwise).
    /// </summary>
    public JsonObject Update(ResourceType type, string? ns, string name, JsonObject obj, string? subresource = null, bool dryRun = false)
    {
        var current = Get(type, ns, name);
        if (Json.Name(obj) is { Length: > 0 } bodyName && bodyName != name)
        {
            throw ApiException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        }

        long? expected = long.TryParse(Json.Str(obj, "metadata", "resourceVersion"), out long rv) ? rv : null;
        if (expected is { } e && e != Rev(current))
        {
            throw ApiException.Conflict(type, name);
        }

        return Store(type, current, Merge(type, current, Json.Clone(obj), subresource), expected ?? Rev(current), dryRun);
    }

    /// <summary>Applies a patch (JSON merge, strategic merge or JSON patch) to the current object, retrying when it changed meanwhile.</summary>
    /// <param name="type">The kind.</param>
    /// <param name="ns">The namespace (null for cluster-scoped kinds).</param>
    /// <param name="name">The object's name.</param>
    /// <param name="contentType">The patch's media type (merge, strategic merge or JSON patch).</param>
    /// <param name="patch">The patch.</param>
    /// <param name="subresource">"status" or "scale" for those subresources.</param>
    /// <param name="dryRun">Write nothing.</param>
    /// <param name="fields">How fields the kind does not have in the patched object are treated (null: not checked).</param>
    /// <param name="warnings">Receives the unknown fields dropped under <see cref="FieldValidation.Warn"/>.</param>
    public JsonObject Patch(ResourceType type, string? ns, string name, string contentType, byte[] patch, string? subresource = null, bool dryRun = false, FieldValidation? fields = null, ICollection<string>? warnings = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            var current = Get(type, ns, name);
            var patched = Patches.Apply(current, contentType, patch);
            if (fields is { } mode && subresource != "scale")
            {
                foreach (var unknown in FieldSchema.Enforce(type, patched, mode))
                {
                    if (warnings?.Contains(unknown) == false)
                    {
                        warnings.Add(unknown);
                    }
                }
            }

            if (Json.Str(patched, "metadata", "resourceVersion") is { } prv && prv != Json.Str(current, "metadata", "resourceVersion"))
            {
                throw ApiException.Conflict(type, name);
            }

            if (subresource == "scale")
            {
                patched = ScaleToObject(current, patched);
                subresource = null;
            }

            try
            {
                return Store(type, current, Merge(type, current, patched, subresource), Rev(current), dryRun);
            }
            catch (ApiException e) when (e.Reason == "Conflict" && attempt < 10)
            {
            }
        }
    }

    /// <summary>Reads, changes and writes an object until the write wins (controllers' read-modify-write). <paramref name="change"/> returns false to write nothing.</summary>
    public JsonObject? Mutate(ResourceType type, string? ns, string name, Func<JsonObject, bool> change, string? subresource = null)
    {
        var key = new ObjectKey(type.StoreName, type.Namespaced ? ns ?? "default" : null, name);
        for (int attempt = 0; ; attempt++)
        {
            if (store.Get(key) is not { } stored)
            {
                return null;
            }

            // the caller's own copy: a view, so only what the change touches is built as nodes
            var copy = View(stored);
            if (!change(copy))
            {
                return View(stored);
            }

            try
            {
                var current = View(stored);
                if (subresource == "status" || (subresource == "binding" && type.Kind == "Pod"))
                {
                    return Store(type, current, KeepAllBut(type, stored, copy, subresource), stored.Revision, false, changed: subresource, currentStored: stored);
                }

                return Store(type, current, Merge(type, current, copy, subresource), stored.Revision, false);
            }
            catch (ApiException e) when (e.Reason == "Conflict" && attempt < 20)
            {
            }
        }
    }

    /// <summary>
    /// A status or binding write made from the stored revision: a fresh view of it (so nothing else the change did
    /// survives) with the changed copy's status and, for a binding, its spec.nodeName (generation bumped when
    /// that changes). Nothing else is compared or rebuilt, so a pod's status write costs its status, not the whole tree.
    /// </summary>
    private static JsonObject KeepAllBut(ResourceType type, StoredObject stored, JsonObject changed, string subresource)
    {
        var result = View(stored);
        if (changed["status"] is { } status)
        {
            changed.Remove("status");
            result["status"] = status;
        }
        else if (type.HasStatus)
        {
            result.Remove("status");
        }

        if (subresource == "binding" && Json.Str(changed, "spec", "nodeName") is { } node && Json.Str(result, "spec", "nodeName") != node)
        {
            Json.Obj(result, "spec")["nodeName"] = node;
            var meta = Json.Obj(result, "metadata");
            meta["generation"] = (Json.Int(meta, "generation") ?? 1) + 1;
        }

        return result;
    }

    /// <summary>The scale subresource of a Deployment or ReplicaSet.</summary>
    public JsonObject GetScale(ResourceType type, string? ns, string name)
    {
        var obj = Get(type, ns, name);
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["uid"] = Json.Uid(obj),
                ["resourceVersion"] = Json.Str(obj, "metadata", "resourceVersion"),
                ["creationTimestamp"] = Json.Str(obj, "metadata", "creationTimestamp"),
            },
            ["spec"] = new JsonObject { ["replicas"] = Json.Int(obj, "spec", "replicas") ?? 0 },
            ["status"] = new JsonObject
            {
                ["replicas"] = Json.Int(obj, "status", "replicas") ?? 0,
                ["selector"] = Json.At(obj, "spec", "selector") is { } sel ? LabelSelector.FromObject(sel).ToString() : "",
            },
        };
    }

    /// <summary>Writes a Scale (PUT on the scale subresource).</summary>
    public JsonObject UpdateScale(ResourceType type, string? ns, string name, JsonObject scale)
    {
        long replicas = Json.Int(scale, "spec", "replicas") ?? throw ApiException.Invalid(type, name, [("spec.replicas", "Required value")]);
        string? rv = Json.Str(scale, "metadata", "resourceVersion");
        var current = Get(type, ns, name);
        if (rv is { Length: > 0 } && rv != Json.Str(current, "metadata", "resourceVersion"))
        {
            throw ApiException.Conflict(type, name);
        }

        var copy = Json.Clone(current);
        Json.Obj(copy, "spec")["replicas"] = replicas;
        Store(type, current, Merge(type, current, copy, null), Rev(current), false);
        return GetScale(type, ns, name);
    }

    /// <summary>
    /// Deletes an object. With finalizers (or a pod still running on a node) it is only marked (deletionTimestamp) and
    /// goes when they are done; Orphan takes the owner reference off its dependents first. Returns the object's last
    /// state, and whether it is gone.
    /// </summary>
    public (JsonObject Object, bool Gone) Delete(ResourceType type, string? ns, string name, DeleteOptions? options = null)
    {
        options ??= new();
        for (int attempt = 0; ; attempt++)
        {
            var current = Get(type, ns, name);
            if (options.ExpectedUid is { } uid && uid != Json.Uid(current))
            {
                throw ApiException.Conflict(type, name);
            }

            if (options.DryRun)
            {
                return (current, false);
            }

            var copy = Json.Clone(current);
            var meta = Json.Obj(copy, "metadata");
            bool marked = meta["deletionTimestamp"] is not null;
            var finalizers = (meta["finalizers"] as JsonArray)?.Select(f => f?.GetValue<string>()).ToList() ?? [];
            bool graceful = false;
            if (type.Kind == "Pod" && Json.Str(copy, "spec", "nodeName") is not null && Json.Str(copy, "status", "phase") is not ("Succeeded" or "Failed"))
            {
                long grace = options.GracePeriodSeconds ?? Json.Int(copy, "spec", "terminationGracePeriodSeconds") ?? 30;
                long? markedGrace = Json.Int(meta, "deletionGracePeriodSeconds");
                graceful = grace > 0 && (markedGrace is null || grace < markedGrace);
                if (graceful || (grace > 0 && markedGrace is not null))
                {
                    if (graceful)
                    {
                        meta["deletionTimestamp"] = Json.Time(Time.GetUtcNow().AddSeconds(grace));
                        meta["deletionGracePeriodSeconds"] = grace;
                    }
                    else
                    {
                        return (current, false); // already terminating with a shorter grace period
                    }
                }
            }

            if (type.Kind == "Namespace")
            {
                if (marked)
                {
                    return (current, false);
                }

                meta["deletionTimestamp"] = Json.Time(Time.GetUtcNow());
                Json.Obj(copy, "status")["phase"] = "Terminating";
                graceful = true;
            }

            if (options.PropagationPolicy == "Orphan")
            {
                Orphan(type, ns, Json.Uid(current));
            }
            else if (options.PropagationPolicy == "Foreground" && !finalizers.Contains("foregroundDeletion"))
            {
                finalizers.Add("foregroundDeletion");
                meta["finalizers"] = new JsonArray([.. finalizers.Select(f => (JsonNode?)f)]);
            }

            if (finalizers.Count > 0 || graceful)
            {
                if (!marked || graceful)
                {
                    meta["deletionTimestamp"] ??= Json.Time(Time.GetUtcNow());
                    meta["deletionGracePeriodSeconds"] ??= 0;
                    try
                    {
                        return (View(store.Update(Key(type, current), Json.Serialized(copy), Rev(current))), false);
                    }
                    catch (StoreConflictException) when (attempt < 10)
                    {
                        continue;
                    }
                }

                return (current, false);
            }

            try
            {
                var last = store.Delete(Key(type, current), Rev(current));
                return (View(last), true);
            }
            catch (StoreConflictException) when (attempt < 10)
            {
            }
            catch (StoreNotFoundException)
            {
                throw ApiException.NotFound(type, name);
            }
        }
    }

    /// <summary>Removes a namespace whose contents are gone (the namespace controller's last step).</summary>
    internal void FinalizeNamespace(string name)
    {
        if (store.Get(new ObjectKey(ResourceType.Namespaces.StoreName, null, name)) is { } stored)
        {
            store.Delete(stored.Key, stored.Revision);
        }
    }

    /// <summary>
    /// The changes to a kind after <paramref name="fromRevision"/>, then live ones (410 Gone when that revision is no
    /// longer kept). The objects are shared with every other watcher (parsed once per write): copy one before changing it.
    /// </summary>
    public async IAsyncEnumerable<(WatchEventType Type, JsonObject Object)> WatchAsync(ResourceType type, string? ns, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IAsyncEnumerable<WatchEvent> events;
        try
        {
            events = store.WatchAsync(type.StoreName, type.Namespaced ? ns : null, fromRevision, cancellationToken);
        }
        catch (StoreGoneException e)
        {
            throw new ApiException(410, "Expired", e.Message);
        }

        await foreach (var e in events.ConfigureAwait(false))
        {
            yield return (e.Type, View(e.Object));
        }
    }

    /// <summary>Like <see cref="WatchAsync"/>, but the changes as stored (for caches that keep them and hand out <see cref="View"/>s).</summary>
    internal async IAsyncEnumerable<WatchEvent> WatchStoredAsync(ResourceType type, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var events = store.WatchAsync(type.StoreName, null, fromRevision, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (events.ConfigureAwait(false))
        {
            while (true)
            {
                try
                {
                    if (!await events.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }
                }
                catch (StoreGoneException e)
                {
                    throw new ApiException(410, "Expired", e.Message);
                }

                yield return events.Current;
            }
        }
    }

    /// <summary>Every object of a kind as stored, and the revision of the list.</summary>
    internal (IReadOnlyList<StoredObject> Items, long Revision) ListStored(ResourceType type) => store.List(type.StoreName);

    /// <summary>
    /// Records an Event about <paramref name="involved"/> (repeats of the same reason and message bump count and
    /// lastTimestamp). As client-go's event broadcaster, the write happens in the background, in order: callers (the
    /// kubelet's sync, the scheduler) do not wait for it; <see cref="FlushEventsAsync"/> waits for what is queued.
    /// </summary>
    public void RecordEvent(JsonObject involved, string type, string reason, string message, string component, string? host = null)
    {
        pendingEvents.Enqueue(new PendingEvent(
            Json.Str(involved, "kind"),
            Json.Namespace(involved) ?? "default",
            Json.Name(involved),
            Json.Uid(involved),
            Json.Str(involved, "apiVersion"),
            Json.Str(involved, "metadata", "resourceVersion"),
            type,
            reason,
            message,
            component,
            host,
            Json.Time(Time.GetUtcNow())));
        if (Interlocked.CompareExchange(ref eventWriterRunning, 1, 0) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_ => DrainEvents(), null);
        }
    }

    /// <summary>
    /// Deletes the events last written (recorded or repeated) more than <paramref name="ttl"/> ago, as kube-apiserver's
    /// --event-ttl (1 h by default) has etcd expire them; returns how many went. Each event's time is read off its stored
    /// bytes (lastTimestamp, else eventTime, else creationTimestamp) without parsing it for the readers' cache.
    /// </summary>
    public int ExpireEvents(TimeSpan ttl)
    {
        var cutoff = Time.GetUtcNow() - ttl;
        int expired = 0;
        foreach (var e in store.List(ResourceType.Events.StoreName).Items)
        {
            if (EventLastSeen(e.Json.Span) is { } seen && seen < cutoff)
            {
                try
                {
                    store.Delete(e.Key, e.Revision);
                    expired++;
                }
                catch (Exception ex) when (ex is StoreConflictException or StoreNotFoundException)
                {
                    // repeated (so fresh again) or deleted meanwhile
                }
            }
        }

        return expired;
    }

    /// <summary>When an event was last written: its lastTimestamp, else eventTime, else metadata.creationTimestamp.</summary>
    private static DateTimeOffset? EventLastSeen(ReadOnlySpan<byte> json)
    {
        string? last = null, eventTime = null, created = null;
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isLast = reader.ValueTextEquals("lastTimestamp"u8), isEventTime = reader.ValueTextEquals("eventTime"u8), isMeta = reader.ValueTextEquals("metadata"u8);
            reader.Read();
            if ((isLast || isEventTime) && reader.TokenType == JsonTokenType.String)
            {
                (isLast ? ref last : ref eventTime) = reader.GetString();
            }
            else if (isMeta && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isCreated = reader.ValueTextEquals("creationTimestamp"u8);
                    reader.Read();
                    if (isCreated && reader.TokenType == JsonTokenType.String)
                    {
                        created = reader.GetString();
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return Json.ParseTime(last) ?? Json.ParseTime(eventTime) ?? Json.ParseTime(created);
    }

    /// <summary>Waits until every event recorded so far is written.</summary>
    public async Task FlushEventsAsync(CancellationToken cancellationToken = default)
    {
        while (!pendingEvents.IsEmpty || Volatile.Read(ref eventWriterRunning) != 0)
        {
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    private void DrainEvents()
    {
        while (true)
        {
            using (store.DeferDurability())
            {
                while (pendingEvents.TryDequeue(out var e))
                {
                    WriteEvent(e); // events are best effort: the batch reaches the log in one write
                }
            }

            Volatile.Write(ref eventWriterRunning, 0);
            if (pendingEvents.IsEmpty || Interlocked.CompareExchange(ref eventWriterRunning, 1, 0) != 0)
            {
                return; // nothing left, or another drain took over
            }
        }
    }

    private void WriteEvent(PendingEvent e)
    {
        var (kind, ns, involvedName, uid, apiVersion, resourceVersion, type, reason, message, component, host, now) = e;
        string name = $"{involvedName}.{EventHash(uid, reason, message):x16}";
        try
        {
            // the common case (a new event) is written straight to bytes: events are many and nothing here reads them back
            // one buffer and writer for every event: the drain that calls this runs alone (eventWriterRunning)
            var bytes = eventBuffer;
            var w = eventWriter;
            bytes.ResetWrittenCount();
            w.Reset(bytes);
            {
                w.WriteStartObject();
                w.WriteString("apiVersion", ResourceType.Events.ApiVersion);
                w.WriteString("kind", ResourceType.Events.Kind);
                w.WriteStartObject("metadata");
                w.WriteString("name", name);
                w.WriteString("namespace", ns);
                w.WriteString("uid", NewUid());
                w.WriteString("creationTimestamp", now);
                w.WriteEndObject();
                w.WriteStartObject("involvedObject");
                w.WriteString("kind", kind);
                w.WriteString("namespace", ns);
                w.WriteString("name", involvedName);
                w.WriteString("uid", uid);
                w.WriteString("apiVersion", apiVersion);
                w.WriteString("resourceVersion", resourceVersion);
                w.WriteEndObject();
                w.WriteString("reason", reason);
                w.WriteString("message", message);
                w.WriteStartObject("source");
                w.WriteString("component", component);
                if (host is not null)
                {
                    w.WriteString("host", host);
                }

                w.WriteEndObject();
                w.WriteString("firstTimestamp", now);
                w.WriteString("lastTimestamp", now);
                w.WriteNumber("count", 1);
                w.WriteString("type", type);
                w.WriteString("reportingComponent", component);
                w.WriteString("reportingInstance", host ?? "");
                w.WriteEndObject();
                w.Flush();
            }

            try
            {
                store.Create(new ObjectKey(ResourceType.Events.StoreName, ns, name), bytes.WrittenMemory);
            }
            catch (StoreConflictException)
            {
                // a repeat: count it
                Mutate(ResourceType.Events, ns, name, e =>
                {
                    e["count"] = (Json.Int(e, "count") ?? 1) + 1;
                    e["lastTimestamp"] = now;
                    return true;
                });
            }
        }
#pragma warning disable CA1031 // events are best effort (a racing duplicate, a namespace going away, a store closed meanwhile)
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>
    /// A random (version 4) UUID, as Kubernetes gives every object, from this thread's buffer of cryptographically
    /// random bytes refilled 256 at a time (Guid.NewGuid asks the kernel for every one: a system call per object).
    /// </summary>
    internal static string NewUid()
    {
        var pool = uidBytes ??= new byte[256];
        if (uidOffset is 0 or >= 256)
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(pool);
            uidOffset = 0;
        }

        Span<byte> b = stackalloc byte[16];
        pool.AsSpan(uidOffset, 16).CopyTo(b);
        uidOffset += 16;
        b[6] = (byte)((b[6] & 0x0F) | 0x40); // version 4
        b[8] = (byte)((b[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(b, bigEndian: true).ToString();
    }

    [ThreadStatic]
    private static byte[]? uidBytes;

    [ThreadStatic]
    private static int uidOffset;

    /// <summary>
    /// 64-bit FNV-1a of the event's identity (the same object, reason and message give the same name, so a repeat
    /// finds its event, across restarts too); a cryptographic hash per event cost more than writing it.
    /// </summary>
    private static ulong EventHash(string uid, string reason, string message)
    {
        ulong hash = 14695981039346656037;
        foreach (string part in (ReadOnlySpan<string>)[uid, reason, message])
        {
            foreach (char c in part)
            {
                hash = (hash ^ c) * 1099511628211;
            }

            hash = (hash ^ 0xffff) * 1099511628211; // a separator: ("ab", "c") and ("a", "bc") differ
        }

        return hash;
    }

    private sealed record PendingEvent(string? Kind, string Namespace, string Name, string Uid, string? ApiVersion, string? ResourceVersion, string Type, string Reason, string Message, string Component, string? Host, string Time);

    private static string RandomSuffix()
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Create(5, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
            }
        });
    }

    private static string? Scope(ResourceType type, string? ns, JsonObject meta)
    {
        if (!type.Namespaced)
        {
            meta.Remove("namespace");
            return null;
        }

        string? bodyNs = Json.Str(meta, "namespace");
        ns ??= bodyNs ?? "default";
        if (bodyNs is not null && bodyNs != ns)
        {
            throw ApiException.BadRequest($"the namespace of the provided object ({bodyNs}) does not match the namespace sent on the request ({ns})");
        }

        meta["namespace"] = ns;
        return ns;
    }

    private static long Rev(JsonObject obj) => long.Parse(Json.Str(obj, "metadata", "resourceVersion") ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    private static ObjectKey Key(ResourceType type, JsonObject obj) => new(type.StoreName, type.Namespaced ? Json.Namespace(obj) : null, Json.Name(obj));

    /// <summary>
    /// A view of the stored object for readers that do not change it: a fresh <see cref="JsonObject"/> over the parse
    /// every reader of this revision shares (made once, see <see cref="StoredObject.Parsed"/>). Nodes are built only
    /// where the reader looks, and belong to this view, so the cost of what one reader looks at is garbage as soon as it
    /// is done: a cache of 10,000 pods holds their parsed JSON, not 10,000 trees of nodes. A view is also a private,
    /// copy-on-write copy: changing it changes nothing stored or shared, so the API hands views out as the callers'
    /// own copies (<see cref="Get"/>, <see cref="Mutate"/>) at the cost of what they touch, not a parse or a clone.
    /// </summary>
    internal static JsonObject View(StoredObject stored) => JsonObject.Create(stored.Parsed(ParsedJson.Of).Root)!;

    /// <summary>Sets the stored revision as resourceVersion on the object just written (the caller's own copy: no parse).</summary>
    private static JsonObject WithRevision(JsonObject written, StoredObject stored)
    {
        Json.Obj(written, "metadata")["resourceVersion"] = stored.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return written;
    }

    private static void InitialStatus(ResourceType type, JsonObject obj)
    {
        switch (type.Kind)
        {
            case "Pod":
                obj["status"] = new JsonObject { ["phase"] = "Pending", ["qosClass"] = QosClass(obj) };
                break;
            case "Namespace":
                obj["status"] = new JsonObject { ["phase"] = "Active" };
                break;
            case "PersistentVolumeClaim":
                obj["status"] = new JsonObject { ["phase"] = "Pending" };
                break;
            case "PersistentVolume":
                obj["status"] = new JsonObject { ["phase"] = "Available" };
                break;
            case "Service":
                obj["status"] = new JsonObject { ["loadBalancer"] = new JsonObject() };
                break;
        }
    }

    private static string QosClass(JsonObject pod)
    {
        var containers = Json.Items(pod, "spec", "containers").ToList();
        bool any = containers.Any(c => Json.At(c, "resources", "requests") is JsonObject { Count: > 0 } || Json.At(c, "resources", "limits") is JsonObject { Count: > 0 });
        if (!any)
        {
            return "BestEffort";
        }

        bool guaranteed = containers.All(c =>
            Json.At(c, "resources", "limits") is JsonObject limits && limits["cpu"] is not null && limits["memory"] is not null &&
            (Json.At(c, "resources", "requests") is not JsonObject req || ((req["cpu"] is null || Quantity.Of(req["cpu"]) == Quantity.Of(limits["cpu"])) && (req["memory"] is null || Quantity.Of(req["memory"]) == Quantity.Of(limits["memory"])))));
        return guaranteed ? "Guaranteed" : "Burstable";
    }

    private static JsonObject ScaleToObject(JsonObject current, JsonObject patchedScale)
    {
        // a patch against the scale subresource was applied to the object itself: carry spec.replicas only
        var copy = Json.Clone(current);
        if (Json.Int(patchedScale, "spec", "replicas") is { } replicas)
        {
            Json.Obj(copy, "spec")["replicas"] = replicas;
        }

        return copy;
    }

    private JsonObject Merge(ResourceType type, JsonObject current, JsonObject incoming, string? subresource)
    {
        JsonObject result;
        if (subresource == "status")
        {
            // everything but the status stays as stored: take the incoming copy (the caller's own) and put back what differs
            foreach (var name in incoming.Select(p => p.Key).Where(k => k != "status" && !current.ContainsKey(k)).ToList())
            {
                incoming.Remove(name);
            }

            foreach (var (name, value) in current)
            {
                if (name != "status" && !JsonNode.DeepEquals(incoming[name], value))
                {
                    incoming[name] = value?.DeepClone();
                }
            }

            if (!incoming.ContainsKey("status") && current["status"] is { } status)
            {
                incoming["status"] = status.DeepClone();
            }

            return incoming;
        }

        if (subresource == "binding" && type.Kind == "Pod")
        {
            // the scheduler's one write: spec.nodeName and the PodScheduled condition together (pods/binding)
            var status = incoming["status"];
            incoming.Remove("status");
            result = Merge(type, current, incoming, null);
            result["status"] = status;
            return result;
        }

        if (subresource is not null)
        {
            throw new ApiException(404, "NotFound", $"the server could not find the requested resource ({subresource})");
        }

        result = incoming;
        result["apiVersion"] = type.ApiVersion;
        result["kind"] = type.Kind;
        var meta = Json.Obj(result, "metadata");
        var oldMeta = (JsonObject)current["metadata"]!;
        foreach (string keep in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name", "generation" })
        {
            if (oldMeta[keep] is { } v)
            {
                meta[keep] = v.DeepClone();
            }
            else
            {
                meta.Remove(keep);
            }
        }

        if (type.HasStatus && type.Kind != "Namespace")
        {
            if (current["status"] is { } status)
            {
                result["status"] = status.DeepClone();
            }
            else
            {
                result.Remove("status");
            }
        }

        Admission.Default(type, result, DefaultTolerationSeconds);
        if (type.HasGeneration || type.Kind == "Pod")
        {
            if (!JsonNode.DeepEquals(result["spec"], current["spec"]))
            {
                meta["generation"] = (Json.Int(oldMeta, "generation") ?? 1) + 1;
            }
        }

        if (type.Kind == "Service")
        {
            lock (allocation)
            {
                AllocateServiceAddresses(result, current);
            }
        }

        Admission.Validate(type, result, current);
        return result;
    }

    /// <summary>
    /// Writes <paramref name="updated"/> over <paramref name="current"/> (expected at revision <paramref name="expected"/>);
    /// a no-op write is not stored. <paramref name="changed"/>: when the write changes only the status (<c>status</c>) or
    /// the status and spec.nodeName (<c>binding</c>), the no-op check compares only those, first as bytes against
    /// <paramref name="currentStored"/> (the stored form of <paramref name="current"/>) when given.
    /// </summary>
    private JsonObject Store(ResourceType type, JsonObject current, JsonObject updated, long expected, bool dryRun, string? changed = null, StoredObject? currentStored = null)
    {
        // a resourceVersion in updated stays: the store writes the new revision over it (and a status write's bytes
        // stay those of the stored object, whose metadata need not be built to drop one)
        var meta = (JsonObject)updated["metadata"]!;
        if (dryRun)
        {
            return updated;
        }

        if (Json.Has(meta, "deletionTimestamp") && meta["finalizers"] is not JsonArray { Count: > 0 } && type.Kind != "Namespace"
            && !(type.Kind == "Pod" && Json.Int(meta, "deletionGracePeriodSeconds") is > 0))
        {
            // the last finalizer went: the object goes
            try
            {
                return View(store.Delete(Key(type, current), expected));
            }
            catch (StoreConflictException)
            {
                throw ApiException.Conflict(type, Json.Name(current));
            }
        }

        // no-op writes do not bump the resourceVersion (as kube-apiserver): compared without either's resourceVersion.
        // A status or binding write is made from the stored bytes, so its bytes match them when nothing changed (the
        // same length with other bytes can still be equal as JSON: another order of the same properties)
        ReadOnlyMemory<byte>? bytes = null; // this thread's serialization buffer (see Json.Serialized): the store copies it
        bool same;
        if (changed is null || currentStored is null)
        {
            same = changed is null ? SameIgnoringVersion(updated, current) : SameStatus();
        }
        else
        {
            bytes = Json.Serialized(updated);
            same = bytes.Value.Span.SequenceEqual(currentStored.Json.Span) || (bytes.Value.Length == currentStored.Json.Length && SameStatus());
        }

        bool SameStatus() => JsonNode.DeepEquals(updated["status"], current["status"])
            && (changed != "binding" || Json.Str(updated, "spec", "nodeName") == Json.Str(current, "spec", "nodeName"));

        if (same)
        {
            meta["resourceVersion"] = Json.Str(current, "metadata", "resourceVersion"); // the caller's copy, equal to what is stored
            return updated;
        }

        try
        {
            return WithRevision(updated, store.Update(Key(type, current), bytes ?? Json.Serialized(updated), expected));
        }
        catch (StoreConflictException)
        {
            throw ApiException.Conflict(type, Json.Name(current));
        }
        catch (StoreNotFoundException)
        {
            throw ApiException.NotFound(type, Json.Name(current));
        }
    }

    /// <summary>Deep equality of two objects, ignoring metadata.resourceVersion (neither is changed).</summary>
    private static bool SameIgnoringVersion(JsonObject a, JsonObject b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var (name, value) in a)
        {
            if (!b.TryGetPropertyValue(name, out var other))
            {
                return false;
            }

            if (name == "metadata" && value is JsonObject ma && other is JsonObject mb)
            {
                int count = 0;
                foreach (var (k, v) in ma)
                {
                    if (k == "resourceVersion")
                    {
                        continue;
                    }

                    count++;
                    if (!mb.TryGetPropertyValue(k, out var w) || !JsonNode.DeepEquals(v, w))
                    {
                        return false;
                    }
                }

                if (count != mb.Count(p => p.Key != "resourceVersion"))
                {
                    return false;
                }
            }
            else if (!JsonNode.DeepEquals(value, other))
            {
                return false;
            }
        }

        return true;
    }

    private void Orphan(ResourceType owner, string? ns, string uid)
    {
        foreach (var type in ResourceType.All.Where(t => t.Namespaced == owner.Namespaced || t.Namespaced))
        {
            foreach (var dependent in List(type, ns).Items.Where(o => Json.Items(o, "metadata", "ownerReferences").Any(r => Json.Str(r, "uid") == uid)))
            {
                Mutate(type, Json.Namespace(dependent), Json.Name(dependent), o =>
                {
                    var refs = (JsonArray)o["metadata"]!["ownerReferences"]!;
                    foreach (var r in refs.Where(r => Json.Str(r, "uid") == uid).ToList())
                    {
                        refs.Remove(r);
                    }

                    return true;
                });
            }
        }
    }

    private void AllocateServiceAddresses(JsonObject service, JsonObject? current)
    {
        var spec = Json.Obj(service, "spec");
        string type = Json.Str(spec, "type") ?? "ClusterIP";
        var others = List(ResourceType.Services).Items.Where(s => current is null || Json.Uid(s) != Json.Uid(current)).ToList();
        if (type == "ExternalName")
        {
            spec.Remove("clusterIP");
            spec.Remove("clusterIPs");
        }
        else
        {
            string? ip = Json.Str(spec, "clusterIP") is { Length: > 0 } given ? given : current is null ? null : Json.Str(current, "spec", "clusterIP");
            if (current is not null && Json.Str(current, "spec", "clusterIP") is { } old && ip != old)
            {
                throw ApiException.Invalid(ResourceType.Services, Json.Name(service), [("spec.clusterIPs[0]", $"Invalid value: \"{ip}\": field is immutable")]);
            }

            var used = others.Select(s => Json.Str(s, "spec", "clusterIP")).Where(s => s is not null).ToHashSet(StringComparer.Ordinal);
            if (ip is null)
            {
                uint size = 1u << (32 - ServiceNetwork.PrefixLength);
                for (uint i = 11; i < size - 1 && ip is null; i++)
                {
                    string candidate = Offset(ServiceNetwork.Network, i).ToString();
                    if (!used.Contains(candidate))
                    {
                        ip = candidate;
                    }
                }

                if (ip is null)
                {
                    throw new ApiException(500, "InternalError", "the service IP range is full");
                }
            }
            else if (ip != "None")
            {
                if (!IPAddress.TryParse(ip, out var parsed) || !InRange(parsed))
                {
                    throw ApiException.Invalid(ResourceType.Services, Json.Name(service), [("spec.clusterIPs", $"Invalid value: \"{ip}\": failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {ServiceNetwork.Network}/{ServiceNetwork.PrefixLength}")]);
                }

                if (used.Contains(ip))
                {
                    throw ApiException.Invalid(ResourceType.Services, Json.Name(service), [("spec.clusterIPs", $"Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is already allocated")]);
                }
            }

            spec["clusterIP"] = ip;
            spec["clusterIPs"] = new JsonArray(ip);
        }

        var usedPorts = others.SelectMany(s => Json.Items(s, "spec", "ports")).Select(p => Json.Int(p, "nodePort")).Where(p => p is not null).ToHashSet();
        int index = 0;
        foreach (var port in Json.Items(spec, "ports"))
        {
            if (type is "NodePort" or "LoadBalancer")
            {
                long? nodePort = Json.Int(port, "nodePort");
                if (nodePort is null && current is not null)
                {
                    nodePort = Json.Items(current, "spec", "ports").FirstOrDefault(p => Json.Int(p, "port") == Json.Int(port, "port")) is { } prev ? Json.Int(prev, "nodePort") : null;
                }

                if (nodePort is null)
                {
                    for (int candidate = 30000 + RandomNumberGenerator.GetInt32(2768), n = 0; n < 2768; n++, candidate = candidate == 32767 ? 30000 : candidate + 1)
                    {
                        if (!usedPorts.Contains(candidate))
                        {
                            nodePort = candidate;
                            break;
                        }
                    }
                }
                else if (usedPorts.Contains(nodePort))
                {
                    throw ApiException.Invalid(ResourceType.Services, Json.Name(service), [($"spec.ports[{index}].nodePort", $"Invalid value: {nodePort}: provided port is already allocated")]);
                }

                port["nodePort"] = nodePort;
                usedPorts.Add(nodePort);
            }
            else
            {
                port.Remove("nodePort");
            }

            index++;
        }
    }

    private bool InRange(IPAddress ip)
    {
        uint mask = ServiceNetwork.PrefixLength == 0 ? 0 : uint.MaxValue << (32 - ServiceNetwork.PrefixLength);
        return (ToUInt(ip) & mask) == (ToUInt(ServiceNetwork.Network) & mask);
    }

    private static uint ToUInt(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    private static IPAddress Offset(IPAddress network, uint offset)
    {
        uint v = ToUInt(network) + offset;
        return new IPAddress(new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v });
    }
}

/// <summary>
/// The parse of a stored object that every reader of its revision shares: its JSON with metadata.resourceVersion
/// written in (the store writes its revision into what it keeps), parsed once into a JsonDocument-backed element.
/// </summary>
internal sealed class ParsedJson
{
    private ParsedJson(JsonElement root) => Root = root;

    /// <summary>The object.</summary>
    public JsonElement Root { get; }

    /// <summary>What controllers derived from it, kept with the parse (set once; a race makes it twice, equal).</summary>
    public object? Facts { get; set; }

    /// <summary>metadata.uid of a stored object, read off its shared parse.</summary>
    public static string? Uid(StoredObject stored) =>
        stored.Parsed(Of).Root is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty("metadata", out var meta)
        && meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("uid", out var uid) && uid.ValueKind == JsonValueKind.String ? Json.StringOf(uid) : null;

    /// <summary>
    /// Parses <paramref name="stored"/> with its revision as metadata.resourceVersion: over the stored bytes themselves
    /// when they carry it (as the store keeps them: nothing is copied), else over a copy with it written in.
    /// </summary>
    public static ParsedJson Of(StoredObject stored)
    {
        var json = stored.RevisionWritten || Storage.ResourceVersion.Carries(stored.Json.Span, stored.Revision)
            ? stored.Json
            : Storage.ResourceVersion.Written(stored.Json.Span, stored.Revision);

        // one pass; the document is never disposed (its index is garbage with it, and the bytes are the store's)
        return new ParsedJson(JsonDocument.Parse(json).RootElement);
    }
}
