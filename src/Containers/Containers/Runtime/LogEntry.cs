using System.Runtime.CompilerServices;

namespace Containers.Runtime;

/// <summary>One line of container output.</summary>
/// <param name="Stream"><c>stdout</c> or <c>stderr</c>.</param>
/// <param name="Text">The text, with its trailing newline when it had one.</param>
/// <param name="Time">When it was read.</param>
public sealed record LogEntry(string Stream, string Text, DateTimeOffset Time);

/// <summary>Docker's json-file log format: one <c>{"log":..,"stream":..,"time":..}</c> object per line.</summary>
internal sealed class JsonLogWriter(string path, TimeProvider time) : IDisposable
{
    private const int MaxLine = 16 * 1024;
    private readonly FileStream file = new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    private readonly Lock gate = new();

    /// <summary>Copies <paramref name="source"/> to the log, a line at a time (lines over 16 KiB are split, as docker does).</summary>
    public async Task PumpAsync(Stream source, string stream, Action<string, ReadOnlyMemory<byte>>? live)
    {
        var buf = new byte[MaxLine];
        var pending = new MemoryStream();
        while (true)
        {
            int n;
            try
            {
                n = await source.ReadAsync(buf).ConfigureAwait(false);
            }
            catch (IOException)
            {
                n = 0; // a pty master reads EIO once the last slave closes
            }

            if (n == 0)
            {
                break;
            }

            live?.Invoke(stream, buf.AsMemory(0, n));
            var start = 0;
            for (var i = 0; i < n; i++)
            {
                if (buf[i] == '\n' || pending.Length + (i - start) >= MaxLine)
                {
                    pending.Write(buf, start, i - start + (buf[i] == '\n' ? 1 : 0));
                    Write(stream, pending.ToArray());
                    pending.SetLength(0);
                    start = buf[i] == '\n' ? i + 1 : i;
                }
            }

            pending.Write(buf, start, n - start);
        }

        if (pending.Length > 0)
        {
            Write(stream, pending.ToArray());
        }
    }

    public void Dispose() => file.Dispose();

    private void Write(string stream, byte[] line)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("log", Encoding.UTF8.GetString(line));
            w.WriteString("stream", stream);
            w.WriteString("time", time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }

        ms.WriteByte((byte)'\n');
        lock (gate)
        {
            file.Write(ms.GetBuffer(), 0, (int)ms.Length);
            file.Flush();
        }
    }
}

/// <summary>Reads a json-file log, optionally following it while the container runs.</summary>
internal static class JsonLogReader
{
    /// <summary>
    /// Opens the log now and reads it when enumerated: a caller that answers first and reads later (an HTTP handler
    /// that sends its headers, a client that removes the container before reading the body, as docker-py's
    /// <c>containers.run</c> does) still gets every line, as dockerd's open log reader does.
    /// </summary>
    public static IAsyncEnumerable<LogEntry> Open(string path, bool follow, int? tail, Func<bool> stillRunning, CancellationToken ct)
    {
        FileStream? file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            file = null;
        }

        return ReadAsync(file, follow, tail, stillRunning, ct);
    }

    private static async IAsyncEnumerable<LogEntry> ReadAsync(FileStream? opened, bool follow, int? tail, Func<bool> stillRunning, [EnumeratorCancellation] CancellationToken ct)
    {
        if (opened is null)
        {
            yield break;
        }

        using var file = opened;
        var pending = new MemoryStream();
        var buf = new byte[65536];
        var first = true;
        while (true)
        {
            var lines = new List<string>();
            int n;
            while ((n = await file.ReadAsync(buf, ct).ConfigureAwait(false)) > 0)
            {
                var start = 0;
                for (var i = 0; i < n; i++)
                {
                    if (buf[i] == '\n')
                    {
                        pending.Write(buf, start, i - start);
                        lines.Add(Encoding.UTF8.GetString(pending.GetBuffer(), 0, (int)pending.Length));
                        pending.SetLength(0);
                        start = i + 1;
                    }
                }

                pending.Write(buf, start, n - start);
            }

            var skip = first && tail is { } t ? Math.Max(0, lines.Count - t) : 0;
            first = false;
            foreach (var line in lines.Skip(skip).Where(l => l.Length > 0))
            {
                yield return Parse(line);
            }

            if (!follow)
            {
                yield break;
            }

            var running = stillRunning();
            if (!running)
            {
                // one more pass picks up what was written before the state changed
                if (file.Position == file.Length)
                {
                    yield break;
                }

                continue;
            }

            await Task.Delay(50, ct).ConfigureAwait(false);
        }
    }

    private static LogEntry Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        return new LogEntry(r.GetProperty("stream").GetString() ?? "stdout", r.GetProperty("log").GetString() ?? "", r.GetProperty("time").GetDateTimeOffset());
    }
}
