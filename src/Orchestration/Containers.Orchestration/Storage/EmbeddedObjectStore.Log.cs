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
                }

                batch.ResetWrittenCount();
                spare = batch;
                throw;
            }

            batch.ResetWrittenCount();
            if (batch.Capacity > 1 << 24)
            {
                batch = new ArrayBufferWriter<byte>(1 << 16); // a burst does not pin a huge buffer (a few MiB are kept: regrowing them cost more)
            }

            spare = batch;
            Volatile.Write(ref flushed, end);
        }
    }

    /// <summary>One log line: <c>{"op":"put","rv":7,"r":"pods","ns":"default","n":"web","o":{...}}</c>; returns its length.</summary>
    private int Append(IBufferWriter<byte> to, string op, StoredObject o)
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
        lineWriter.WriteRawValue(o.Json.Span, skipInputValidation: true);
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
        if (File.Exists(logPath))
        {
            var bytes = File.ReadAllBytes(logPath);
            var start = 0;
            while (start < bytes.Length)
            {
                var end = Array.IndexOf(bytes, (byte)'\n', start);
                if (end < 0 || !TryApply(bytes.AsMemory(start, end - start)))
                {
                    break; // a torn or unreadable tail: everything before it stands
                }

                logLines++;
                start = end + 1;
                good = start;
            }
        }

        log = new FileStream(logPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        log.SetLength(good); // drop the torn tail
        log.Seek(0, SeekOrigin.End);
        index.OldestWindowRevision = Revision + 1;
    }

    /// <summary>Applies one log line (read with a forward-only reader: the object's bytes are sliced, not re-encoded).</summary>
    private bool TryApply(ReadOnlyMemory<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line.Span);
            string? op = null, resource = null, ns = null, name = null;
            long rv = 0;
            ReadOnlyMemory<byte> json = default;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var property = reader.GetString();
                if (!reader.Read())
                {
                    return false;
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
                        var start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        json = line[start..(int)reader.BytesConsumed]; // copied below, with its revision written in
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || op is null || resource is null || name is null || json.IsEmpty || rv <= 0)
            {
                return false;
            }

            var stored = new StoredObject(new ObjectKey(resource, ns, name), rv, ResourceVersion.Written(json.Span, rv)) { RevisionWritten = true }; // logs of older versions kept none
            index.Apply(op == "del" ? WatchEventType.Deleted : WatchEventType.Modified, stored, announce: false);
            Revision = Math.Max(Revision, rv);
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }

    /// <summary>Rewrites the log as the live objects (a temporary file renamed over it: a crash keeps one or the other).</summary>
    private void Compact()
    {
        var tmp = logPath + ".compact";
        using (var fresh = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            var lines = new ArrayBufferWriter<byte>(1 << 16);
            foreach (var o in index.Objects.OrderBy(o => o.Revision))
            {
                Append(lines, "put", o);
                if (lines.WrittenCount > 1 << 20)
                {
                    fresh.Write(lines.WrittenSpan);
                    lines.ResetWrittenCount();
                }
            }

            fresh.Write(lines.WrittenSpan);
            fresh.Flush(flushToDisk: true);
        }

        log.Dispose();
        File.Move(tmp, logPath, overwrite: true);
        log = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        logLines = index.Count;
    }
}
