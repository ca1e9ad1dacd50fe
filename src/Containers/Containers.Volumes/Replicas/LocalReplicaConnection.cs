using System.Text;
using System.Text.Json;

namespace Containers.Volumes.Replicas;

/// <summary>
/// A replica of a <see cref="ReplicaServer"/> in this process, opened by an engine in this process (the replica on
/// the engine's own node, as Longhorn keeps one beside its engine): each request runs on the caller's thread through
/// the server's own request path (opening, fencing, errors), without a socket, a frame or a thread switch. Reads and
/// writes complete before the call returns; checksums and extents, which read a whole layer, run on the thread pool.
/// </summary>
internal sealed class LocalReplicaConnection(ReplicaServer server, ReplicaServer.Session session, string address, ReplicaInfoMessage info) : IReplicaConnection
{
    private volatile bool closed;

    public string Address { get; } = address;

    public ReplicaInfoMessage Info { get; } = info;

    public bool IsBroken => closed;

    public Task ReadAsync(long offset, Memory<byte> destination, int layer = -1) => Run(ReplicaOp.Read, default, offset, destination.Length, layer, destination);

    public Task ReadLayerAsync(int layer, long offset, Memory<byte> destination) => Run(ReplicaOp.ReadLayer, default, offset, destination.Length, layer, destination);

    public Task WriteAsync(long offset, ReadOnlyMemory<byte> data) => Run(ReplicaOp.Write, data, offset, 0, 0, default);

    public Task WriteLayerAsync(int layer, long offset, ReadOnlyMemory<byte> data) => Run(ReplicaOp.WriteLayer, data, offset, 0, layer, default);

    public Task FlushAsync() => Run(ReplicaOp.Flush, default, 0, 0, 0, default);

    public Task SnapshotAsync(string name, DateTimeOffset created) => Run(ReplicaOp.Snapshot, Encoding.UTF8.GetBytes(name), created.ToUnixTimeMilliseconds(), 0, 0, default);

    public Task DeleteSnapshotAsync(string name) => Run(ReplicaOp.DeleteSnapshot, Encoding.UTF8.GetBytes(name), 0, 0, 0, default);

    public Task RevertAsync(string name) => Run(ReplicaOp.Revert, Encoding.UTF8.GetBytes(name), 0, 0, 0, default);

    public Task ExpandAsync(long size) => Run(ReplicaOp.Expand, default, size, 0, 0, default);

    public Task CloseAsync() => Run(ReplicaOp.Close, default, 0, 0, 0, default);

    public Task DeleteAsync() => Run(ReplicaOp.Delete, default, 0, 0, 0, default);

    public Task<ReplicaInfoMessage> InfoAsync()
    {
        try
        {
            // the server's answer as over TCP (fenced like any other request), not a second way of making it
            var (json, length) = Call(ReplicaOp.Info, 0, 0, 0);
            return Task.FromResult(JsonSerializer.Deserialize(json!.AsSpan(0, length), ProtocolJsonContext.Default.ReplicaInfoMessage)!);
        }
        catch (Exception e)
        {
            return Task.FromException<ReplicaInfoMessage>(e);
        }
    }

    public Task<byte[]> ChecksumAsync(int layer, long offset, long length) =>
        Task.Run(() => Call(ReplicaOp.Checksum, offset, length, layer).Result!);

    public Task<IReadOnlyList<(long Offset, long Length)>> ExtentsAsync(int layer) => Task.Run<IReadOnlyList<(long Offset, long Length)>>(() =>
    {
        var (bytes, length) = Call(ReplicaOp.Extents, 0, 0, layer);
        var list = new (long, long)[length / 16];
        for (var i = 0; i < list.Length; i++)
        {
            list[i] = (System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(i * 16)), System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((i * 16) + 8)));
        }

        return list;
    });

    public ValueTask DisposeAsync()
    {
        closed = true;
        return ValueTask.CompletedTask;
    }

    private Task Run(ReplicaOp op, ReadOnlyMemory<byte> payload, long offset, long length, int layer, Memory<byte> destination)
    {
        try
        {
            Check();
            server.Execute(session, op, payload.Span, offset, length, layer, destination.Span);
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(Failure(e));
        }
    }

    private (byte[]? Result, int Length) Call(ReplicaOp op, long offset, long length, int layer)
    {
        try
        {
            Check();
            return server.Execute(session, op, default, offset, length, layer, default);
        }
        catch (Exception e)
        {
            throw Failure(e);
        }
    }

    private void Check() => ObjectDisposedException.ThrowIf(closed, this);

    private Exception Failure(Exception e) => e is ReplicaException ? e
        : closed ? new ReplicaException($"replica {Info.Volume} at {Address}: connection lost (closed)", Linux.VolumeSyscalls.EIO)
        : new ReplicaException(server.Describe(session, e), ReplicaServer.StatusOf(e));
}
