using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Containers.Volumes.Replicas;

/// <summary>
/// One connection to a replica: requests are pipelined (sent as they come, answered in order) and each completes when
/// its answer arrives. When the connection breaks, every pending and later request fails.
/// </summary>
internal sealed class ReplicaClient : IReplicaConnection
{
    private readonly Socket socket;
    private readonly Lock queueGate = new();
    private byte[] queue = new byte[64 * 1024];
    private byte[] spare = new byte[64 * 1024];
    private int queued;
    private bool draining;
    private readonly ConcurrentDictionary<ulong, Pending> pending = new();
    private readonly CancellationTokenSource closing = new();
    private readonly Task receiving;
    private ulong nextId;
    private Exception? broken;

    private sealed class Pending(Memory<byte> destination)
    {
        public readonly TaskCompletionSource<byte[]?> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Memory<byte> Destination = destination;
    }

    private ReplicaClient(Socket socket, string address)
    {
        this.socket = socket;
        Address = address;
        receiving = Task.Run(ReceiveAsync);
    }

    /// <summary>host:port.</summary>
    public string Address { get; }

    /// <summary>What the replica said when opened.</summary>
    public ReplicaInfoMessage Info { get; private set; } = null!;

    /// <summary>True once the connection has failed.</summary>
    public bool IsBroken => broken is not null;

    public static async Task<ReplicaClient> ConnectAsync(string host, int port, OpenRequest open, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var address = $"{host}:{port}";
        try
        {
            await socket.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            socket.Dispose();
            throw new ReplicaException($"replica {open.Volume} at {address}: cannot connect: {(e is SocketException s ? s.Message : $"no answer within {timeout.TotalSeconds:0.#} s")}", Linux.VolumeSyscalls.EIO);
        }

        var client = new ReplicaClient(socket, address);
        try
        {
            var answer = await client.SendAsync(ReplicaOp.Open, JsonSerializer.SerializeToUtf8Bytes(open, ProtocolJsonContext.Default.OpenRequest), 0, 0, 0, default).WaitAsync(timeout, ct).ConfigureAwait(false);
            client.Info = JsonSerializer.Deserialize(answer, ProtocolJsonContext.Default.ReplicaInfoMessage)!;
            return client;
        }
        catch (TimeoutException)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new ReplicaException($"replica {open.Volume} at {address}: no answer within {timeout.TotalSeconds:0.#} s", Linux.VolumeSyscalls.EIO);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task ReadAsync(long offset, Memory<byte> destination, int layer = -1) =>
        SendAsync(ReplicaOp.Read, default, offset, destination.Length, layer, destination);

    public Task ReadLayerAsync(int layer, long offset, Memory<byte> destination) =>
        SendAsync(ReplicaOp.ReadLayer, default, offset, destination.Length, layer, destination);

    public Task WriteAsync(long offset, ReadOnlyMemory<byte> data) => SendAsync(ReplicaOp.Write, data, offset, 0, 0, default);

    public Task WriteLayerAsync(int layer, long offset, ReadOnlyMemory<byte> data) => SendAsync(ReplicaOp.WriteLayer, data, offset, 0, layer, default);

    public Task FlushAsync() => SendAsync(ReplicaOp.Flush, default, 0, 0, 0, default);

    public Task SnapshotAsync(string name, DateTimeOffset created) => SendAsync(ReplicaOp.Snapshot, Encoding.UTF8.GetBytes(name), created.ToUnixTimeMilliseconds(), 0, 0, default);

    public Task DeleteSnapshotAsync(string name) => SendAsync(ReplicaOp.DeleteSnapshot, Encoding.UTF8.GetBytes(name), 0, 0, 0, default);

    public Task RevertAsync(string name) => SendAsync(ReplicaOp.Revert, Encoding.UTF8.GetBytes(name), 0, 0, 0, default);

    public Task ExpandAsync(long size) => SendAsync(ReplicaOp.Expand, default, size, 0, 0, default);

    public Task CloseAsync() => SendAsync(ReplicaOp.Close, default, 0, 0, 0, default);

    public Task DeleteAsync() => SendAsync(ReplicaOp.Delete, default, 0, 0, 0, default);

    public async Task<ReplicaInfoMessage> InfoAsync() =>
        JsonSerializer.Deserialize(await SendAsync(ReplicaOp.Info, default, 0, 0, 0, default).ConfigureAwait(false), ProtocolJsonContext.Default.ReplicaInfoMessage)!;

    public async Task<byte[]> ChecksumAsync(int layer, long offset, long length) =>
        (await SendAsync(ReplicaOp.Checksum, default, offset, length, layer, default).ConfigureAwait(false))!;

    public async Task<IReadOnlyList<(long Offset, long Length)>> ExtentsAsync(int layer)
    {
        var bytes = (await SendAsync(ReplicaOp.Extents, default, 0, 0, layer, default).ConfigureAwait(false))!;
        var list = new (long, long)[bytes.Length / 16];
        for (var i = 0; i < list.Length; i++)
        {
            list[i] = (BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(i * 16)), BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((i * 16) + 8)));
        }

        return list;
    }

    private async Task<byte[]?> SendAsync(ReplicaOp op, ReadOnlyMemory<byte> payload, long offset, long length, int layer, Memory<byte> destination)
    {
        if (broken is not null)
        {
            throw Broken();
        }

        var id = Interlocked.Increment(ref nextId);
        var p = new Pending(destination);
        pending[id] = p;
        if (broken is not null && pending.TryRemove(id, out _))
        {
            throw Broken();
        }

        // frames are queued; whoever finds no send under way sends everything queued, in batches, until the queue is empty
        bool sender;
        lock (queueGate)
        {
            var size = ReplicaFrames.RequestHeader + payload.Length;
            if (queued + size > queue.Length)
            {
                Array.Resize(ref queue, Math.Max(queue.Length * 2, queued + size));
            }

            ReplicaFrames.WriteRequest(queue.AsSpan(queued), op, payload.Length, id, offset, length, layer);
            payload.Span.CopyTo(queue.AsSpan(queued + ReplicaFrames.RequestHeader));
            queued += size;
            sender = !draining;
            draining = true;
        }

        if (sender)
        {
            try
            {
                while (true)
                {
                    int count;
                    lock (queueGate)
                    {
                        if (queued == 0)
                        {
                            draining = false;
                            break;
                        }

                        (queue, spare) = (spare, queue);
                        count = queued;
                        queued = 0;
                    }

                    await ReplicaFrames.SendAllAsync(socket, spare.AsMemory(0, count), closing.Token).ConfigureAwait(false);
                    if (spare.Length > 1 << 20)
                    {
                        spare = new byte[64 * 1024]; // a big write's buffer is not kept
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
            {
                lock (queueGate)
                {
                    draining = false;
                    queued = 0;
                }

                Break(e);
            }
        }

        return await p.Done.Task.ConfigureAwait(false);
    }

    // answers are read in batches: a burst of write acknowledgements costs one receive
    private async Task ReceiveAsync()
    {
        var input = new byte[256 * 1024];
        int start = 0, end = 0;

        async ValueTask<bool> FillAsync(int count)
        {
            if (end - start >= count)
            {
                return true;
            }

            if (start > 0)
            {
                Buffer.BlockCopy(input, start, input, 0, end - start);
                end -= start;
                start = 0;
            }

            while (end < count)
            {
                var n = await socket.ReceiveAsync(input.AsMemory(end), SocketFlags.None, closing.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return end == 0 ? false : throw new IOException("the connection closed mid-frame");
                }

                end += n;
            }

            return true;
        }

        // copies 'target.Length' bytes of the stream: what is buffered, then the rest straight from the socket
        async ValueTask TakeAsync(Memory<byte> target)
        {
            var have = Math.Min(end - start, target.Length);
            input.AsSpan(start, have).CopyTo(target.Span);
            start += have;
            if (have < target.Length)
            {
                await ReplicaFrames.ReadExactlyAsync(socket, target[have..], closing.Token).ConfigureAwait(false);
            }
        }

        try
        {
            while (await FillAsync(ReplicaFrames.ResponseHeader).ConfigureAwait(false))
            {
                var id = BinaryPrimitives.ReadUInt64LittleEndian(input.AsSpan(start));
                var status = BinaryPrimitives.ReadInt32LittleEndian(input.AsSpan(start + 8));
                var length = BinaryPrimitives.ReadInt32LittleEndian(input.AsSpan(start + 12));
                start += ReplicaFrames.ResponseHeader;
                if (!pending.TryRemove(id, out var p))
                {
                    throw new InvalidDataException($"an answer to request {id}, which is not pending");
                }

                if (status == 0 && length > 0 && p.Destination.Length == length)
                {
                    await TakeAsync(p.Destination).ConfigureAwait(false);
                    p.Done.TrySetResult(null);
                    continue;
                }

                var body = new byte[length];
                if (length > 0)
                {
                    await TakeAsync(body).ConfigureAwait(false);
                }

                if (status != 0)
                {
                    p.Done.TrySetException(new ReplicaException(Encoding.UTF8.GetString(body), status));
                }
                else
                {
                    p.Done.TrySetResult(body);
                }
            }

            Break(new IOException("the replica closed the connection"));
        }
        catch (Exception e)
        {
            Break(e);
        }
    }

    private void Break(Exception e)
    {
        lock (pending)
        {
            broken ??= e;
        }

        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // already gone
        }

        foreach (var id in pending.Keys)
        {
            if (pending.TryRemove(id, out var p))
            {
                p.Done.TrySetException(Broken());
            }
        }
    }

    private ReplicaException Broken() =>
        new($"replica {Info?.Volume ?? "?"} at {Address}: connection lost ({broken?.Message})", Linux.VolumeSyscalls.EIO);

    public async ValueTask DisposeAsync()
    {
        Break(new ObjectDisposedException(nameof(ReplicaClient)));
        await closing.CancelAsync().ConfigureAwait(false);
        socket.Dispose();
        await receiving.ConfigureAwait(false);
        closing.Dispose();
    }

    /// <summary>Parses host:port.</summary>
    public static (string Host, int Port) Split(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), out var port) || port is <= 0 or > 65535)
        {
            throw new ArgumentException($"replica address '{address}': expected HOST:PORT");
        }

        var host = address[..colon].Trim('[', ']');
        return (host, port);
    }
}
