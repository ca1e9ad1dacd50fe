using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Containers.Orchestration.Storage;

/// <content>The write-ahead log: appending lines, flushing them (fsync when durable), replaying them on open, compacting.</content>
public sealed partial class EmbeddedObjectStore
{
    /// <summary>
    /// Makes sure the log holds every line up to byte <paramref name="upTo"/> (see the class remarks): the first writer
    /// in takes the whole buffer and writes it with one system call; the others find their line written. Compacts the
    /// log when a write asked for it.
    /// </summary>
    private void FlushLog(long upTo)
    {
        if (Volatile.Read(ref flushed) >= upTo)
        {
            return;
        }

        lock (flushGate)
        {
            if (flushed >= upTo)
            {
                return;
            }

            ArrayBufferWriter<byte> batch;
            long end;
            lock (gate)
            {
                if (compactDue)
                {
                    compactDue = false;
                    pending.ResetWrittenCount(); // the snapshot holds everything appended so far
                    Compact();
                    Volatile.Write(ref flushed, appended);
                    return;
                }

                batch = pending;
                pending = spare;
                end = appended;
                (spilling, pendingSpill) = (pendingSpill, spilling);
            }

            try
            {
                log.Write(batch.WrittenSpan);
                log.Flush(flushToDisk: options.Durable);
            }
            catch (IOException)
            {
                // the lines go back in front of what was appended since: the next writer's flush tries them again
                lock (gate)
                {
                    var retry = new ArrayBufferWriter<byte>(batch.WrittenCount + pending.WrittenCount + 1);
                    retry.Write(batch.WrittenSpan);
                    retry.Write(pending.WrittenSpan);
                    pending = retry;
                    spilling.AddRange(pendingSpill); // still in memory, in the order appended
                    (spilling, pendingSpill) = (pendingSpill, spilling);
                    spilling.Clear();
                }

                batch.ResetWrittenCount();
                spare = batch;
                throw;
            }

            // a burst does not pin a huge buffer: over 16 MiB is let go at once; a few MiB are kept while batches are
            // large (regrowing them cost more) and let go by the first small batch after the burst (each of the two
            // buffers alternating here held up to 16 MiB once a 10,000-pod burst was over)
            if (batch.Capacity > 1 << 24 || (batch.Capacity > 1 << 20 && batch.WrittenCount < batch.Capacity / 16))
            {
                batch = new ArrayBufferWriter<byte>(1 << 16);
            }
            else
            {
                batch.ResetWrittenCount();
            }

            spare = batch;
            Spill(spilling, fileBase);
            Volatile.Write(ref flushed, end);
        }
    }

    /// <summary>
    /// Lets go of the in-memory bytes of objects kept on disk only (<see cref="EmbeddedStoreOptions.OnDiskResources"/>)
    /// whose log lines are now in the file: each is read back from its line when used (under the flush gate). A line
    /// ending at <c>LineEnd</c> ends at byte <paramref name="lineBase"/> + <c>LineEnd</c> of the file.
    /// </summary>
    private void Spill(List<(StoredObject Object, long LineEnd, int Length)> written, long lineBase)
    {
        if (written.Count == 0)
        {
            return;
        }

        spillFile ??= new SpillFile(logPath);
        foreach (var (o, lineEnd, length) in written)
        {
            // the line ends with the object's bytes, as written raw, then "}\n"
            o.SpillTo(spillFile, lineBase + lineEnd - 2 - length, length);
        }

        written.Clear();
    }

    /// <summary>
    /// One log line: <c>{"op":"put","rv":7,"r":"pods","ns":"default","n":"web","o":{...}}</c>, with <paramref name="json"/>
    /// (the object's bytes, read once by the caller) written raw as "o"; returns its length.
    /// </summary>
    private int Append(IBufferWriter<byte> to, string op, StoredObject o, ReadOnlyMemory<byte> json)
    {
        // under the gate: one buffer and writer for every line (a writer per line cost a fifth of the control plane's allocations)
        lineBuffer.ResetWrittenCount();
        lineWriter.Reset(lineBuffer);
        lineWriter.WriteStartObject();
        lineWriter.WriteString("op", op);
        lineWriter.WriteNumber("rv", o.Revision);
        lineWriter.WriteString("r", o.Key.Resource);
        if (o.Key.Namespace is { } ns)
        {
            lineWriter.WriteString("ns", ns);
        }

        lineWriter.WriteString("n", o.Key.Name);
        lineWriter.WritePropertyName("o");
        lineWriter.WriteRawValue(json.Span, skipInputValidation: true);
        lineWriter.WriteEndObject();
        lineWriter.Flush();
        lineBuffer.Write("\n"u8);
        int length = lineBuffer.WrittenCount;
        to.Write(lineBuffer.WrittenSpan);
        if (lineBuffer.Capacity > 1 << 20)
        {
            lineBuffer = new ArrayBufferWriter<byte>(4096); // one huge object does not pin a huge buffer
        }

        return length;
    }

    private void Replay()
    {
        long good = 0;
        var replayed = new List<(StoredObject Stored, long Offset)>();
        if (File.Exists(logPath))
        {
            var bytes = File.ReadAllBytes(logPath);
            var start = 0;
            while (start < bytes.Length)
            {
                var end = Array.IndexOf(bytes, (byte)'\n', start);
                if (end < 0 || TryApply(bytes.AsMemory(start, end - start)) is not { } applied)
                {
                    break; // a torn or unreadable tail: everything before it stands
                }

                if (options.OnDiskResources.Contains(applied.Stored.Key.Resource) && applied.Carried)
                {
                    replayed.Add((applied.Stored, start + applied.JsonStart));
                }

                logLines++;
                start = end + 1;
                good = start;
            }
        }

        log = new FileStream(logPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        log.SetLength(good); // drop the torn tail
        log.Seek(0, SeekOrigin.End);
        fileBase = good;
        index.OldestWindowRevision = Revision + 1;
        if (replayed.Count > 0)
        {
            spillFile = new SpillFile(logPath);
            foreach (var (o, offset) in replayed)
            {
                o.SpillTo(spillFile, offset, o.Json.Length);
            }
        }
    }

    /// <summary>Applies one log line (read with a forward-only reader: the object's bytes are sliced, not re-encoded).</summary>
    private (StoredObject Stored, int JsonStart, bool Carried)? TryApply(ReadOnlyMemory<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line.Span);
            string? op = null, resource = null, ns = null, name = null;
            long rv = 0;
            ReadOnlyMemory<byte> json = default;
            int jsonStart = 0;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var property = reader.GetString();
                if (!reader.Read())
                {
                    return null;
                }

                switch (property)
                {
                    case "op":
                        op = reader.GetString();
                        break;
                    case "rv":
                        rv = reader.GetInt64();
                        break;
                    case "r":
                        resource = reader.GetString();
                        break;
                    case "ns":
                        ns = reader.GetString();
                        break;
                    case "n":
                        name = reader.GetString();
                        break;
                    case "o":
                        jsonStart = (int)reader.TokenStartIndex;
                        reader.Skip();
                        json = line[jsonStart..(int)reader.BytesConsumed]; // copied below, with its revision written in
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || op is null || resource is null || name is null || json.IsEmpty || rv <= 0)
            {
                return null;
            }

            var stored = new StoredObject(new ObjectKey(resource, ns, name), rv, ResourceVersion.Written(json.Span, rv)) { RevisionWritten = true }; // logs of older versions kept none
            index.Apply(op == "del" ? WatchEventType.Deleted : WatchEventType.Modified, stored, announce: false);
            Revision = Math.Max(Revision, rv);
            return (stored, jsonStart, ResourceVersion.Carries(json.Span, rv)); // the line's bytes are the object's as kept
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Rewrites the log as the live objects (a temporary file renamed over it: a crash keeps one or the other).</summary>
    private void Compact()
    {
        var tmp = logPath + ".compact";
        var onDisk = new List<(StoredObject Object, long LineEnd, int Length)>();
        long snapshotLength;
        using (var fresh = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            var lines = new ArrayBufferWriter<byte>(1 << 16);
            foreach (var o in index.Objects.OrderBy(o => o.Revision))
            {
                var json = o.Json;
                Append(lines, "put", o, json);
                if (options.OnDiskResources.Contains(o.Key.Resource))
                {
                    onDisk.Add((o, fresh.Position + lines.WrittenCount, json.Length));
                }

                if (lines.WrittenCount > 1 << 20)
                {
                    fresh.Write(lines.WrittenSpan);
                    lines.ResetWrittenCount();
                }
            }

            fresh.Write(lines.WrittenSpan);
            fresh.Flush(flushToDisk: true);
            snapshotLength = fresh.Position;
        }

        log.Dispose();
        File.Move(tmp, logPath, overwrite: true);
        log = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        logLines = index.Count;

        // what was appended until now is in the snapshot; the objects kept on disk are read from it from now on
        // (objects already spilled to the old file keep reading it through their open handle until they are let go)
        pendingSpill.Clear();
        fileBase = snapshotLength - appended;
        spillFile = null;
        Spill(onDisk, 0); // their line ends are offsets in the snapshot
    }
}
