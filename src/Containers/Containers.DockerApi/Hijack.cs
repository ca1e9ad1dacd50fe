using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Containers.DockerApi;

/// <summary>
/// A request whose connection is taken over by its endpoint ("hijacked", as Docker calls it): attach and exec start.
/// The docker CLI half-closes its side of such a connection as soon as it has no more stdin to send, and Kestrel ends
/// an upgraded request when its input ends, so these requests are read off the connection before Kestrel's HTTP layer
/// sees them, and answered on the raw connection, which stays writable after the client's FIN.
/// </summary>
internal sealed class HijackedRequest
{
    public required string Method { get; init; }

    /// <summary>The path without its <c>/v1.NN</c> prefix.</summary>
    public required string Path { get; init; }

    public required Dictionary<string, string> Query { get; init; }

    public required Dictionary<string, string> Headers { get; init; }

    public required byte[] Body { get; init; }

    public required PipeReader Input { get; init; }

    public required PipeWriter Output { get; init; }

    /// <summary>The connection's socket, when the transport tells it.</summary>
    public System.Net.Sockets.Socket? Socket { get; init; }

    public bool Flag(string name) => Query.TryGetValue(name, out var v) && DockerApiServer.Truthy(v);

    /// <summary>The request body as its DTO; null when empty or not what it should be (the start goes on with defaults).</summary>
    public T? JsonBody<T>(Func<Models.DockerJsonContext, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>> type)
        where T : class
    {
        try
        {
            return Models.DockerJsonContext.ReadBody(Body, type);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException)
        {
            return null;
        }
    }

    /// <summary>An ordinary answer (an error before the takeover); the connection closes after it.</summary>
    public async Task RespondAsync(int status, string reason, string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var head = $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nApi-Version: {DockerApiServer.ApiVersion}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await Output.WriteAsync(Encoding.ASCII.GetBytes(head)).ConfigureAwait(false);
        await Output.WriteAsync(body).ConfigureAwait(false);
    }

    /// <summary>Docker's error object with <paramref name="message"/>.</summary>
    public Task ErrorAsync(int status, string message) =>
        RespondAsync(status, status == 404 ? "Not Found" : status == 409 ? "Conflict" : status == 400 ? "Bad Request" : "Internal Server Error", new JsonObject { ["message"] = message }.ToJsonString());

    /// <summary>Takes the connection over: 101 UPGRADED when the client asked to upgrade, else 200 with the raw stream following.</summary>
    public async Task UpgradeAsync(bool tty)
    {
        var type = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        var head = Headers.TryGetValue("upgrade", out _)
            ? $"HTTP/1.1 101 UPGRADED\r\nContent-Type: {type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: {DockerApiServer.ApiVersion}\r\n\r\n"
            : $"HTTP/1.1 200 OK\r\nContent-Type: {type}\r\nApi-Version: {DockerApiServer.ApiVersion}\r\n\r\n";
        await Output.WriteAsync(Encoding.ASCII.GetBytes(head)).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="UpgradeAsync"/>, then waits (up to <paramref name="limit"/>) until the client has read the answer off
    /// the socket, so what is written next comes in a read of its own. For a stream whose first bytes follow at once
    /// (an exec's output): the Docker SDK for Python reads the head through a buffered reader and the stream from the
    /// raw socket, and loses whatever its first read took beyond the head. dockerd gets away with it because its
    /// process starts take tens of milliseconds; ours take one or two.
    /// </summary>
    public async Task UpgradeAndWaitReadAsync(bool tty, TimeSpan limit)
    {
        await UpgradeAsync(tty).ConfigureAwait(false);
        if (Socket is not { } socket)
        {
            return;
        }

        // the transport sends what was flushed on its own schedule: it is on the socket once the queue was seen
        // non-empty, or (read at once) after a short grace with nothing queued
        var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        var seenQueued = false;
        var emptyPolls = 0;
        while (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
        {
            int queued;
            try
            {
                queued = Containers.Networking.HostInterfaces.UnsentBytes(socket);
            }
            catch (Containers.Linux.SyscallException)
            {
                return; // not a socket that tells: write on
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            if (queued > 0)
            {
                seenQueued = true;
            }
            else if (seenQueued || ++emptyPolls >= 3)
            {
                return;
            }

            await Task.Delay(1).ConfigureAwait(false);
        }
    }
}

/// <summary>Kestrel connection middleware that peeks at a connection's first request and hands hijacking ones to their handler.</summary>
internal static class HijackMiddleware
{
    private const int MaxHead = 64 * 1024;

    public static Func<ConnectionDelegate, ConnectionDelegate> Create(Func<HijackedRequest, Task<bool>> handler) => next => async connection =>
    {
        var input = connection.Transport.Input;
        ReadResult read;
        ReadOnlySequence<byte> buffer;
        long headEnd;
        while (true)
        {
            read = await input.ReadAsync(connection.ConnectionClosed).ConfigureAwait(false);
            buffer = read.Buffer;
            headEnd = HeadEnd(buffer);
            if (headEnd >= 0 || read.IsCompleted || buffer.Length > MaxHead)
            {
                break;
            }

            input.AdvanceTo(buffer.Start, buffer.End); // nothing consumed; wait for more
        }

        if (headEnd < 0 || Parse(buffer.Slice(0, headEnd)) is not { } head || !IsHijack(head.Method, head.Path))
        {
            input.AdvanceTo(buffer.Start); // unread: Kestrel parses the request as usual
            await next(connection).ConfigureAwait(false);
            return;
        }

        var chunked = head.Headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase);
        var length = head.Headers.TryGetValue("content-length", out var cl) && int.TryParse(cl, out var n) ? n : 0;
        (byte[] Body, long Used)? decoded;
        while ((decoded = chunked ? Dechunk(buffer.Slice(headEnd)) : buffer.Length >= headEnd + length ? (buffer.Slice(headEnd, length).ToArray(), length) : null) is null && !read.IsCompleted)
        {
            input.AdvanceTo(buffer.Start, buffer.End);
            read = await input.ReadAsync(connection.ConnectionClosed).ConfigureAwait(false);
            buffer = read.Buffer;
        }

        var (body, used) = decoded ?? ([], buffer.Length - headEnd);
        input.AdvanceTo(buffer.GetPosition(headEnd + used));
        var request = new HijackedRequest
        {
            Method = head.Method,
            Path = head.Path,
            Query = head.Query,
            Headers = head.Headers,
            Body = body,
            Input = input,
            Output = connection.Transport.Output,
            Socket = connection.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket,
        };
        try
        {
            await handler(request).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionResetException)
        {
            // the client went away
        }
        finally
        {
            await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
        }
    };

    private static bool IsHijack(string method, string path) =>
        method == "POST" && (path.EndsWith("/attach", StringComparison.Ordinal) && path.StartsWith("/containers/", StringComparison.Ordinal)
            || path.EndsWith("/start", StringComparison.Ordinal) && path.StartsWith("/exec/", StringComparison.Ordinal));

    /// <summary>A chunked body when all of it (up to the last, empty chunk) is in <paramref name="data"/>.</summary>
    private static (byte[] Body, long Used)? Dechunk(ReadOnlySequence<byte> data)
    {
        var reader = new SequenceReader<byte>(data);
        var body = new List<byte>();
        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> sizeLine, "\r\n"u8))
            {
                return null;
            }

            var text = Encoding.ASCII.GetString(sizeLine).Split(';')[0].Trim();
            if (!int.TryParse(text, System.Globalization.NumberStyles.HexNumber, null, out var size))
            {
                return ([], data.Length); // not a chunked body after all: nothing to read
            }

            if (reader.Remaining < size + 2)
            {
                return null;
            }

            body.AddRange(data.Slice(reader.Position, size).ToArray());
            reader.Advance(size + 2);
            if (size == 0)
            {
                return ([.. body], reader.Consumed);
            }
        }
    }

    private static long HeadEnd(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8, advancePastDelimiter: true) ? reader.Consumed : -1;
    }

    private static (string Method, string Path, Dictionary<string, string> Query, Dictionary<string, string> Headers)? Parse(ReadOnlySequence<byte> head)
    {
        var lines = Encoding.ASCII.GetString(head).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var first = lines[0].Split(' ');
        if (first.Length < 3)
        {
            return null;
        }

        var target = first[1];
        var q = target.IndexOf('?', StringComparison.Ordinal);
        var path = Uri.UnescapeDataString(q < 0 ? target : target[..q]);
        var m = DockerApiServer.VersionPrefix().Match(path);
        if (m.Success)
        {
            path = m.Groups[2].Value;
        }

        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        if (q >= 0)
        {
            foreach (var kv in target[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = kv.IndexOf('=', StringComparison.Ordinal);
                query[Uri.UnescapeDataString(eq < 0 ? kv : kv[..eq])] = eq < 0 ? "" : Uri.UnescapeDataString(kv[(eq + 1)..].Replace('+', ' '));
            }
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        return (first[0], path, query, headers);
    }
}
