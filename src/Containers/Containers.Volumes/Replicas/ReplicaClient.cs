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
internal sealed class ReplicaClient : IAsyncDisposable
{
    private readonly Socket socket;
    private readonly SemaphoreSlim sending = new(1, 1);
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

        var frame = ArrayPool<byte>.Shared.Rent(ReplicaFrames.RequestHeader + payload.Length);
        try
        {
            ReplicaFrames.WriteRequest(frame, op, payload.Length, id, offset, length, layer);
            payload.Span.CopyTo(frame.AsSpan(ReplicaFrames.RequestHeader));
            await sending.WaitAsync(closing.Token).ConfigureAwait(false);
            try
            {
                await ReplicaFrames.SendAllAsync(socket, frame.AsMemory(0, ReplicaFrames.RequestHeader + payload.Length), closing.Token).ConfigureAwait(false);
            }
            finally
            {
                sending.Release();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            Break(e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }

        return await p.Done.Task.ConfigureAwait(false);
    }

    private async Task ReceiveAsync()
    {
        var header = new byte[ReplicaFrames.ResponseHeader];
        try
        {
            while (await ReplicaFrames.ReadExactlyAsync(socket, header, closing.Token).ConfigureAwait(false))
            {
                var id = BinaryPrimitives.ReadUInt64LittleEndian(header);
                var status = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
                var length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12));
                if (!pending.TryRemove(id, out var p))
                {
                    throw new InvalidDataException($"an answer to request {id}, which is not pending");
                }

                if (status == 0 && length > 0 && p.Destination.Length == length)
                {
                    await ReplicaFrames.ReadExactlyAsync(socket, p.Destination, closing.Token).ConfigureAwait(false);
                    p.Done.TrySetResult(null);
                    continue;
                }

                var body = new byte[length];
                if (length > 0)
                {
                    await ReplicaFrames.ReadExactlyAsync(socket, body, closing.Token).ConfigureAwait(false);
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
        sending.Dispose();
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

    /// <summary>An IP end point of host:port.</summary>
    public static IPEndPoint Parse(string address)
    {
        var (host, port) = Split(address);
        return new IPEndPoint(IPAddress.Parse(host), port);
    }
}
