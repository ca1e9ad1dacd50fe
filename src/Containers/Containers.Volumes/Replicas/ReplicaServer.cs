using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Containers.Volumes.Replicas;

/// <summary>
/// Serves the replicas kept on this machine to volume engines over TCP (Longhorn's replica instance manager): each
/// replica is a directory <c>ROOT/VOLUME</c> holding its chain of sparse layer files. A connection opens one replica
/// (making it when asked) and its requests are served in order.
/// </summary>
public sealed class ReplicaServer : IAsyncDisposable
{
    private readonly string root;
    private readonly Socket listener;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly Dictionary<string, ReplicaStore> open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Fence> fences = new(StringComparer.Ordinal);

    /// <summary>The highest writer epoch a volume's replica has been opened with.</summary>
    internal sealed class Fence
    {
        public long Epoch;
    }
    private readonly Lock gate = new();
    private readonly List<Socket> connections = [];
    private readonly List<Task> tasks = [];
    private Task? accepting;

    private ReplicaServer(string root, Socket listener, ILogger logger)
    {
        this.root = root;
        this.listener = listener;
        this.logger = logger;
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
    }

    /// <summary>Where it listens.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The directory holding its replicas.</summary>
    public string Root => root;

    /// <summary>Starts serving the replicas under <paramref name="root"/> on <paramref name="endPoint"/> (port 0: any free port).</summary>
    public static ReplicaServer Start(string root, IPEndPoint endPoint, ILogger? logger = null)
    {
        Directory.CreateDirectory(root);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(64);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"replica server: cannot listen on {endPoint}: {e.Message}", e);
        }

        var server = new ReplicaServer(root, socket, logger ?? NullLogger.Instance);
        server.accepting = server.AcceptAsync();
        return server;
    }

    /// <summary>The names of the volumes this server holds a replica of.</summary>
    public IReadOnlyList<string> Volumes =>
        [.. Directory.EnumerateDirectories(root).Where(d => File.Exists(Path.Combine(d, "replica.json"))).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                logger.LogWarning("replica server: accept: {Error}", e.Message);
                continue;
            }

            client.NoDelay = true;
            lock (gate)
            {
                connections.Add(client);
                tasks.RemoveAll(t => t.IsCompleted);
                tasks.Add(Task.Run(() => ServeAsync(client)));
            }
        }
    }

    // Requests are read in batches and their answers sent in batches: a burst of pipelined writes costs one receive and
    // one send, not two system calls each.
    private async Task ServeAsync(Socket socket)
    {
        var input = new byte[256 * 1024];
        int start = 0, end = 0;
        var output = new byte[64 * 1024];
        var outLength = 0;
        var response = new byte[ReplicaFrames.ResponseHeader];
        var session = new Session();
        var ct = stopping.Token;

        async ValueTask FlushAsync()
        {
            if (outLength > 0)
            {
                await ReplicaFrames.SendAllAsync(socket, output.AsMemory(0, outLength), ct).ConfigureAwait(false);
                outLength = 0;
            }
        }

        void Append(ReadOnlySpan<byte> bytes)
        {
            if (outLength + bytes.Length > output.Length)
            {
                Array.Resize(ref output, Math.Max(output.Length * 2, outLength + bytes.Length));
            }

            bytes.CopyTo(output.AsSpan(outLength));
            outLength += bytes.Length;
        }

        // makes at least 'count' bytes available from 'start' (count <= input.Length); false at the end of the stream
        async ValueTask<bool> FillAsync(int count)
        {
            if (end - start >= count)
            {
                return true;
            }

            await FlushAsync().ConfigureAwait(false);
            if (start > 0)
            {
                Buffer.BlockCopy(input, start, input, 0, end - start);
                end -= start;
                start = 0;
            }

            while (end < count)
            {
                var n = await socket.ReceiveAsync(input.AsMemory(end), SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    return end == 0 ? false : throw new IOException("the connection closed mid-frame");
                }

                end += n;
            }

            return true;
        }

        try
        {
            while (await FillAsync(ReplicaFrames.RequestHeader).ConfigureAwait(false))
            {
                var header = input.AsSpan(start, ReplicaFrames.RequestHeader);
                var op = (ReplicaOp)header[0];
                var payloadLength = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
                var id = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
                var offset = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
                var length = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
                var layer = BinaryPrimitives.ReadInt32LittleEndian(header[32..]);
                if (payloadLength is < 0 or > 64 << 20 || length < 0 || (op is ReplicaOp.Read or ReplicaOp.ReadLayer && length > 64 << 20))
                {
                    throw new InvalidDataException($"a request of {payloadLength}/{length} bytes");
                }

                // the payload: in the input buffer when it fits, else read into a rented one
                byte[] payload;
                int payloadStart;
                byte[]? rented = null;
                if (ReplicaFrames.RequestHeader + payloadLength <= input.Length)
                {
                    if (!await FillAsync(ReplicaFrames.RequestHeader + payloadLength).ConfigureAwait(false))
                    {
                        break;
                    }

                    payload = input;
                    payloadStart = start + ReplicaFrames.RequestHeader;
                    start += ReplicaFrames.RequestHeader + payloadLength;
                }
                else
                {
                    rented = ArrayPool<byte>.Shared.Rent(payloadLength);
                    var have = Math.Min(end - start - ReplicaFrames.RequestHeader, payloadLength);
                    Buffer.BlockCopy(input, start + ReplicaFrames.RequestHeader, rented, 0, have);
                    start = end = 0;
                    await ReplicaFrames.ReadExactlyAsync(socket, rented.AsMemory(have, payloadLength - have), ct).ConfigureAwait(false);
                    payload = rented;
                    payloadStart = 0;
                }

                byte[]? result = null;
                var resultLength = 0;
                var status = 0;
                try
                {
                    try
                    {
                        (result, resultLength) = Execute(session, op, payload.AsSpan(payloadStart, payloadLength), offset, length, layer, default);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        if (result is not null && op is ReplicaOp.Read or ReplicaOp.ReadLayer)
                        {
                            ArrayPool<byte>.Shared.Return(result);
                        }

                        status = StatusOf(e);
                        result = Encoding.UTF8.GetBytes(Describe(session, e));
                        resultLength = result.Length;
                    }

                    ReplicaFrames.WriteResponse(response, id, status, resultLength);
                    Append(response);
                    if (resultLength > 0)
                    {
                        Append(result.AsSpan(0, resultLength));
                    }

                    if (outLength >= 64 * 1024)
                    {
                        await FlushAsync().ConfigureAwait(false);
                    }
                }
                finally
                {
                    if (rented is not null)
                    {
                        ArrayPool<byte>.Shared.Return(rented);
                    }

                    if (result is not null && op is ReplicaOp.Read or ReplicaOp.ReadLayer && status == 0)
                    {
                        ArrayPool<byte>.Shared.Return(result);
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or InvalidDataException or ObjectDisposedException)
        {
            if (!stopping.IsCancellationRequested)
            {
                logger.LogDebug("replica server: a connection ended: {Error}", e.Message);
            }
        }
        finally
        {
            lock (gate)
            {
                connections.Remove(socket);
            }

            socket.Dispose();
        }
    }

    private (ReplicaStore Store, bool Created) OpenReplica(OpenRequest request)
    {
        if (request.Volume.Length == 0 || request.Volume.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || request.Volume[0] == '.')
        {
            throw new ArgumentException($"invalid volume name '{request.Volume}'");
        }

        lock (gate)
        {
            if (open.TryGetValue(request.Volume, out var existing))
            {
                return (existing, false);
            }

            var dir = Path.Combine(root, request.Volume);
            var created = false;
            ReplicaStore store;
            if (File.Exists(Path.Combine(dir, "replica.json")))
            {
                store = ReplicaStore.Open(dir);
            }
            else if (request.Create)
            {
                // a directory a failed make left is made again
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir, recursive: true);
                }

                var frozen = request.Frozen?.Select((s, i) => new ReplicaLayer($"layer-{Guid.NewGuid():N}.img", s.Name, s.Created)).ToList();
                try
                {
                    store = ReplicaStore.Create(dir, request.Volume, request.Size, frozen);
                }
                catch
                {
                    if (Directory.Exists(dir))
                    {
                        Directory.Delete(dir, recursive: true);
                    }

                    throw;
                }

                created = true;
            }
            else
            {
                throw new KeyNotFoundException($"no replica of volume {request.Volume} here");
            }

            open[request.Volume] = store;
            return (store, created);
        }
    }

    /// <summary>What one connection (over TCP, or in process) has opened: its replica, the volume's fence and its writer epoch (negative: a reader).</summary>
    internal sealed class Session
    {
        public ReplicaStore? Store;
        public Fence? Fence;
        public long Epoch;
    }

    /// <summary>
    /// Opens a replica of this server for an engine in this process: its requests run on the caller's thread with the
    /// same opening, fencing and errors as over TCP, without the network.
    /// </summary>
    internal LocalReplicaConnection OpenLocal(string address, OpenRequest request)
    {
        var session = new Session();
        try
        {
            var info = Open(session, request);
            return new LocalReplicaConnection(this, session, address, info);
        }
        catch (Exception e)
        {
            throw new ReplicaException(Describe(session, e), StatusOf(e));
        }
    }

    private ReplicaInfoMessage Open(Session session, OpenRequest request)
    {
        var (store, created) = OpenReplica(request);
        session.Store = store;
        session.Epoch = request.Epoch;
        lock (gate)
        {
            if (!fences.TryGetValue(request.Volume, out var fence))
            {
                fences[request.Volume] = fence = new Fence();
            }

            session.Fence = fence;
            if (session.Epoch >= 0 && session.Epoch < fence.Epoch)
            {
                throw new FencedException($"volume {request.Volume} is held by a newer writer (epoch {fence.Epoch} > {session.Epoch})");
            }

            fence.Epoch = Math.Max(fence.Epoch, session.Epoch);
        }

        return new ReplicaInfoMessage(store.Volume, store.Size, store.Snapshots, created, store.Dirty);
    }

    /// <summary>
    /// Runs one request of a session; throws when it fails. A read goes into <paramref name="destination"/> when it is
    /// as long as the read (and returns no buffer), else into a buffer rented from the shared pool.
    /// </summary>
    internal (byte[]? Result, int Length) Execute(Session session, ReplicaOp op, ReadOnlySpan<byte> payload, long offset, long length, int layer, Span<byte> destination)
    {
        if (op == ReplicaOp.Open)
        {
            var request = JsonSerializer.Deserialize(payload, ProtocolJsonContext.Default.OpenRequest)!;
            var result = JsonSerializer.SerializeToUtf8Bytes(Open(session, request), ProtocolJsonContext.Default.ReplicaInfoMessage);
            return (result, result.Length);
        }

        var store = session.Store ?? throw new InvalidOperationException("open a replica first");
        if (session.Epoch < 0 && op is not (ReplicaOp.Read or ReplicaOp.ReadLayer or ReplicaOp.Extents or ReplicaOp.Checksum or ReplicaOp.Info))
        {
            throw new InvalidOperationException("a reader's connection may only read");
        }

        if (session.Epoch >= 0 && Volatile.Read(ref session.Fence!.Epoch) > session.Epoch)
        {
            throw new FencedException($"volume {store.Volume} is held by a newer writer (epoch {session.Fence.Epoch} > {session.Epoch})");
        }

        var answer = Handle(store, op, payload, offset, length, layer, destination);
        if (op == ReplicaOp.Delete)
        {
            session.Store = null;
        }

        return answer;
    }

    /// <summary>The errno a failed request answers with.</summary>
    internal static int StatusOf(Exception e) => e switch
    {
        FencedException => FencedException.ESTALE,
        IOException io when io.HResult is > 0 and < 4096 => io.HResult,
        KeyNotFoundException => Linux.VolumeSyscalls.ENOENT,
        ArgumentException or InvalidOperationException or InvalidDataException or JsonException => Linux.VolumeSyscalls.EINVAL,
        _ => Linux.VolumeSyscalls.EIO,
    };

    /// <summary>A failed request's message, naming the replica and this server.</summary>
    internal string Describe(Session session, Exception e) => $"replica {session.Store?.Volume ?? "?"} at {EndPoint}: {e.Message}";

    private (byte[]? Result, int Length) Handle(ReplicaStore store, ReplicaOp op, ReadOnlySpan<byte> payload, long offset, long length, int layer, Span<byte> destination)
    {
        switch (op)
        {
            case ReplicaOp.Read or ReplicaOp.ReadLayer when destination.Length == length:
                if (op == ReplicaOp.Read)
                {
                    store.ReadView(layer, offset, destination);
                }
                else
                {
                    store.ReadLayer(layer, offset, destination);
                }

                return (null, 0);
            case ReplicaOp.Read:
            case ReplicaOp.ReadLayer:
                var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(length, 1));
                try
                {
                    if (op == ReplicaOp.Read)
                    {
                        store.ReadView(layer, offset, buffer.AsSpan(0, (int)length));
                    }
                    else
                    {
                        store.ReadLayer(layer, offset, buffer.AsSpan(0, (int)length));
                    }
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }

                return (buffer, (int)length);
            case ReplicaOp.Write:
                store.Write(offset, payload);
                return (null, 0);
            case ReplicaOp.WriteLayer:
                store.WriteLayer(layer, offset, payload);
                return (null, 0);
            case ReplicaOp.Flush:
                store.Flush();
                return (null, 0);
            case ReplicaOp.Snapshot:
                store.Snapshot(Encoding.UTF8.GetString(payload), DateTimeOffset.FromUnixTimeMilliseconds(offset));
                return (null, 0);
            case ReplicaOp.DeleteSnapshot:
                store.DeleteSnapshot(Encoding.UTF8.GetString(payload));
                return (null, 0);
            case ReplicaOp.Revert:
                store.Revert(Encoding.UTF8.GetString(payload));
                return (null, 0);
            case ReplicaOp.Close:
                store.MarkClean();
                return (null, 0);
            case ReplicaOp.Expand:
                store.Expand(offset);
                return (null, 0);
            case ReplicaOp.Checksum:
                var sum = store.Checksum(layer, offset, length);
                return (sum, sum.Length);
            case ReplicaOp.Extents:
                var extents = store.Extents(layer < 0 ? store.HeadIndex : layer);
                var bytes = new byte[extents.Count * 16];
                for (var i = 0; i < extents.Count; i++)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 16), extents[i].Offset);
                    BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan((i * 16) + 8), extents[i].Length);
                }

                return (bytes, bytes.Length);
            case ReplicaOp.Info:
                var info = JsonSerializer.SerializeToUtf8Bytes(new ReplicaInfoMessage(store.Volume, store.Size, store.Snapshots, false, store.Dirty), ProtocolJsonContext.Default.ReplicaInfoMessage);
                return (info, info.Length);
            case ReplicaOp.Delete:
                lock (gate)
                {
                    open.Remove(store.Volume);
                    store.Dispose();
                    Directory.Delete(store.Directory, recursive: true);
                }

                return (null, 0);
            default:
                throw new InvalidOperationException($"unknown operation {(int)op}");
        }
    }

    /// <summary>Stops listening, ends every connection and closes the replicas.</summary>
    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        listener.Dispose();
        Task[] pending;
        lock (gate)
        {
            foreach (var c in connections)
            {
                c.Dispose();
            }

            pending = [.. tasks];
        }

        if (accepting is not null)
        {
            await accepting.ConfigureAwait(false);
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        lock (gate)
        {
            foreach (var s in open.Values)
            {
                s.Dispose();
            }

            open.Clear();
        }

        stopping.Dispose();
    }
}

/// <summary>A request from a writer another writer with a newer epoch has replaced.</summary>
internal sealed class FencedException(string message) : Exception(message)
{
    public const int ESTALE = 116;
}
