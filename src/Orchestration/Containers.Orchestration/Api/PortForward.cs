using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Containers.Orchestration.Api;

/// <summary>
/// pods/portforward as kubectl 1.31 and later speak it: SPDY/3.1 tunnelled in a WebSocket (subprotocol
/// <c>SPDY/3.1+portforward.k8s.io</c>). For each local connection kubectl opens an error stream and a data stream
/// (headers <c>streamType</c>, <c>port</c>, <c>requestID</c>); the data stream is joined to a TCP connection to the
/// port on the pod's own localhost (made in its network namespace, as the kubelet does), and a failure to connect is written to the error stream. Header blocks are zlib with SPDY/3's
/// dictionary (read by priming a raw inflater with the dictionary as a stored block); replies carry empty header
/// blocks. Flow control is not enforced (kubectl does not send window updates it waits for).
/// </summary>
internal sealed class PortForward(WebSocket socket, string podName, Func<int, CancellationToken, Task<Socket>> connect, CancellationToken cancellationToken)
{
    /// <summary>The WebSocket subprotocol of the tunnel.</summary>
    public const string Protocol = "SPDY/3.1+portforward.k8s.io";

    private const int SynStream = 1, SynReply = 2, RstStream = 3, Ping = 6, GoAway = 7;
    private const byte FlagFin = 1;
    private static readonly byte[] Dictionary = BuildDictionary();

    private readonly Stream tunnel = WebSocketStream.Create(socket, WebSocketMessageType.Binary, ownsWebSocket: false);
    private readonly SemaphoreSlim writing = new(1, 1);
    private readonly HeaderReader headers = new();
    private readonly MemoryStream replyBlocks = new();
    private readonly Dictionary<uint, Connection> byStream = [];
    private readonly Dictionary<string, (uint Error, uint Data, int Port)> byRequest = new(StringComparer.Ordinal);
    private ZLibStream? replyCompressor;

    /// <summary>Serves the tunnel until kubectl closes it.</summary>
    public async Task RunAsync()
    {
        var header = new byte[8];
        try
        {
            while (await ReadFullyAsync(header).ConfigureAwait(false))
            {
                int length = (header[5] << 16) | (header[6] << 8) | header[7];
                byte flags = header[4];
                var body = new byte[length];
                if (!await ReadFullyAsync(body).ConfigureAwait(false))
                {
                    break;
                }

                if ((header[0] & 0x80) == 0)
                {
                    await OnDataAsync(BinaryPrimitives.ReadUInt32BigEndian(header) & 0x7fffffff, flags, body).ConfigureAwait(false);
                    continue;
                }

                switch (BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2)))
                {
                    case SynStream:
                        await OnSynStreamAsync(body).ConfigureAwait(false);
                        break;
                    case RstStream:
                        Close(BinaryPrimitives.ReadUInt32BigEndian(body) & 0x7fffffff);
                        break;
                    case Ping:
                        await WriteAsync(Frame(Ping, 0, body)).ConfigureAwait(false);
                        break;
                    case GoAway:
                        return;
                }
            }
        }
        catch (Exception e) when (e is IOException or WebSocketException or OperationCanceledException or InvalidDataException)
        {
        }
        finally
        {
            foreach (var c in byStream.Values.Distinct())
            {
                c.Socket?.Dispose();
            }
        }
    }

    private async Task OnSynStreamAsync(byte[] body)
    {
        uint id = BinaryPrimitives.ReadUInt32BigEndian(body) & 0x7fffffff;
        var values = headers.Read(body.AsSpan(10).ToArray());
        string type = values.GetValueOrDefault("streamtype") ?? "";
        string request = values.GetValueOrDefault("requestid") ?? "";
        int.TryParse(values.GetValueOrDefault("port"), System.Globalization.CultureInfo.InvariantCulture, out int port);
        await WriteAsync(Reply(id)).ConfigureAwait(false);
        var pair = byRequest.GetValueOrDefault(request);
        pair = type == "error" ? pair with { Error = id, Port = port } : pair with { Data = id, Port = port };
        byRequest[request] = pair;
        if (pair.Error == 0 || pair.Data == 0)
        {
            return;
        }

        byRequest.Remove(request);
        var connection = new Connection(pair.Error, pair.Data);
        byStream[pair.Error] = connection;
        byStream[pair.Data] = connection;
        try
        {
            connection.Socket = await connect(pair.Port, cancellationToken).ConfigureAwait(false);
            _ = Task.Run(() => PumpAsync(connection), CancellationToken.None);
        }
        catch (Exception e) when (e is SocketException or ContainerException or ApiException)
        {
            string message = $"error forwarding port {pair.Port} to pod {podName}: {e.Message}";
            await WriteAsync(Data(pair.Error, FlagFin, Encoding.UTF8.GetBytes(message))).ConfigureAwait(false);
            await WriteAsync(Data(pair.Data, FlagFin, [])).ConfigureAwait(false);
        }
    }

    private async Task OnDataAsync(uint id, byte flags, byte[] payload)
    {
        if (!byStream.TryGetValue(id, out var c) || id != c.DataStream || c.Socket is null)
        {
            return; // the error stream carries nothing from kubectl but its end
        }

        try
        {
            if (payload.Length > 0)
            {
                await c.Socket.SendAsync(payload, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }

            if ((flags & FlagFin) != 0)
            {
                c.Socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (SocketException)
        {
            Close(id);
        }
    }

    /// <summary>The pod's side to kubectl, then both streams' ends.</summary>
    private async Task PumpAsync(Connection c)
    {
        var buffer = new byte[32 * 1024];
        try
        {
            int n;
            while ((n = await c.Socket!.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await WriteAsync(Data(c.DataStream, 0, buffer.AsSpan(0, n).ToArray())).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }

        try
        {
            await WriteAsync(Data(c.DataStream, FlagFin, [])).ConfigureAwait(false);
            await WriteAsync(Data(c.ErrorStream, FlagFin, [])).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private void Close(uint id)
    {
        if (byStream.TryGetValue(id, out var c))
        {
            c.Socket?.Dispose();
        }
    }

    private async Task<bool> ReadFullyAsync(byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await tunnel.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    private async Task WriteAsync(byte[] frame)
    {
        await writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(frame, WebSocketMessageType.Binary, true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            writing.Release();
        }
    }

    /// <summary>SYN_REPLY with an empty header block (the reply compressor is one zlib stream, sync-flushed per block).</summary>
    private byte[] Reply(uint id)
    {
        replyCompressor ??= new ZLibStream(replyBlocks, CompressionLevel.Fastest, leaveOpen: true);
        long start = replyBlocks.Length;
        replyCompressor.Write([0, 0, 0, 0]);
        replyCompressor.Flush();
        var block = replyBlocks.ToArray()[(int)start..];
        var body = new byte[4 + block.Length];
        BinaryPrimitives.WriteUInt32BigEndian(body, id);
        block.CopyTo(body, 4);
        return Frame(SynReply, 0, body);
    }

    /// <summary>A control frame: version 3, <paramref name="type"/>.</summary>
    private static byte[] Frame(int type, byte flags, byte[] body) => Pack(0x80030000u | (uint)type, flags, body);

    /// <summary>A data frame of stream <paramref name="id"/>.</summary>
    private static byte[] Data(uint id, byte flags, byte[] payload) => Pack(id & 0x7fffffff, flags, payload);

    /// <summary>SPDY's 8-byte frame header (a first word, flags, a 24-bit length) and the payload.</summary>
    private static byte[] Pack(uint first, byte flags, byte[] payload)
    {
        var frame = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, first);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), ((uint)flags << 24) | (uint)payload.Length);
        payload.CopyTo(frame, 8);
        return frame;
    }

    /// <summary>SPDY/3's header compression dictionary (the spec's words, each behind its 32-bit length, then its fixed tail).</summary>
    private static byte[] BuildDictionary()
    {
        string[] words =
        [
            "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language",
            "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base", "content-encoding",
            "content-language", "content-length", "content-location", "content-md5", "content-range", "content-type", "date", "etag",
            "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
            "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
            "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
            "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive",
            "origin",
        ];
        const string Tail = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            + "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden"
            + "404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
            + "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
            + "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
            + "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
        var result = new List<byte>();
        foreach (var w in words)
        {
            result.AddRange([0, 0, 0, (byte)w.Length]);
            result.AddRange(Encoding.ASCII.GetBytes(w));
        }

        result.AddRange(Encoding.ASCII.GetBytes(Tail));
        return [.. result];
    }

    private sealed class Connection(uint errorStream, uint dataStream)
    {
        public uint ErrorStream { get; } = errorStream;

        public uint DataStream { get; } = dataStream;

        public Socket? Socket { get; set; }
    }

    /// <summary>
    /// The inflater of kubectl's header blocks: one zlib stream across all of them, compressed against the dictionary.
    /// .NET's inflater takes no preset dictionary, so the raw deflate data is preceded by a stored block holding the
    /// dictionary (it becomes the window's history) and that much output is skipped.
    /// </summary>
    private sealed class HeaderReader
    {
        private readonly FeedStream feed = new();
        private DeflateStream? inflater;

        public Dictionary<string, string> Read(byte[] block)
        {
            if (inflater is null)
            {
                if (block.Length < 6 || (block[1] & 0x20) == 0)
                {
                    throw new InvalidDataException("the first SPDY header block is not zlib with a preset dictionary");
                }

                var stored = new byte[5 + Dictionary.Length];
                stored[0] = 0; // not final, stored
                BinaryPrimitives.WriteUInt16LittleEndian(stored.AsSpan(1), (ushort)Dictionary.Length);
                BinaryPrimitives.WriteUInt16LittleEndian(stored.AsSpan(3), (ushort)~Dictionary.Length);
                Dictionary.CopyTo(stored, 5);
                feed.Add(stored);
                feed.Add(block[6..]); // past the zlib header and the dictionary's id
                inflater = new DeflateStream(feed, CompressionMode.Decompress);
                ReadExactly(Dictionary.Length);
            }
            else
            {
                feed.Add(block);
            }

            int count = BinaryPrimitives.ReadInt32BigEndian(ReadExactly(4));
            var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < count; i++)
            {
                string name = Encoding.UTF8.GetString(ReadExactly(BinaryPrimitives.ReadInt32BigEndian(ReadExactly(4))));
                string value = Encoding.UTF8.GetString(ReadExactly(BinaryPrimitives.ReadInt32BigEndian(ReadExactly(4))));
                values[name] = value;
            }

            return values;
        }

        private byte[] ReadExactly(int length)
        {
            if (length is < 0 or > 1 << 20)
            {
                throw new InvalidDataException("a SPDY header length is out of range");
            }

            var buffer = new byte[length];
            int read = 0;
            while (read < length)
            {
                int n = inflater!.Read(buffer, read, length - read);
                if (n == 0)
                {
                    throw new InvalidDataException("a SPDY header block ended early");
                }

                read += n;
            }

            return buffer;
        }
    }

    /// <summary>A stream of the bytes added so far; a read with nothing left returns 0 without ending it.</summary>
    private sealed class FeedStream : Stream
    {
        private readonly Queue<byte[]> chunks = new();
        private int offset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Add(byte[] chunk)
        {
            if (chunk.Length > 0)
            {
                chunks.Enqueue(chunk);
            }
        }

        public override int Read(byte[] buffer, int index, int count)
        {
            if (!chunks.TryPeek(out var chunk))
            {
                return 0;
            }

            int n = Math.Min(count, chunk.Length - offset);
            Array.Copy(chunk, offset, buffer, index, n);
            offset += n;
            if (offset == chunk.Length)
            {
                chunks.Dequeue();
                offset = 0;
            }

            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
