using Containers.Orchestration.Storage;

namespace Containers.Orchestration.Api;

/// <summary>
/// Writes Events about objects, as client-go's event broadcaster: in the background, in order, batched into one durable
/// write; repeats of the same reason and message about the same object bump count and lastTimestamp; events older
/// than the TTL expire.
/// </summary>
internal sealed class EventRecorder(IObjectStore store, ObjectApi api)
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<PendingEvent> pendingEvents = new();
    private readonly System.Buffers.ArrayBufferWriter<byte> eventBuffer = new(1024);
    private readonly Utf8JsonWriter eventWriter = new(Stream.Null);
    private int eventWriterRunning;

    /// <summary>
    /// Records an Event about <paramref name="involved"/> (repeats of the same reason and message bump count and
    /// lastTimestamp). As client-go's event broadcaster, the write happens in the background, in order: callers (the
    /// kubelet's sync, the scheduler) do not wait for it; <see cref="FlushAsync"/> waits for what is queued.
    /// </summary>
    public void Record(JsonObject involved, string type, string reason, string message, string component, string? host = null)
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
            Json.Time(api.Time.GetUtcNow())));
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
    public int Expire(TimeSpan ttl)
    {
        var cutoff = api.Time.GetUtcNow() - ttl;
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
    public async Task FlushAsync(CancellationToken cancellationToken = default)
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
                w.WriteString("uid", ObjectApi.NewUid());
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
                api.Mutate(ResourceType.Events, ns, name, e =>
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
}
