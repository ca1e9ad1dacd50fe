using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text.Json.Serialization;

namespace Containers.Volumes.Replicas;

/// <summary>The operations a replica serves over TCP.</summary>
internal enum ReplicaOp : byte
{
    Open = 1,
    Read = 2,
    Write = 3,
    Flush = 4,
    Snapshot = 5,
    DeleteSnapshot = 6,
    Revert = 7,
    Extents = 8,
    Checksum = 9,
    ReadLayer = 10,
    WriteLayer = 11,
    Expand = 12,
    Info = 13,
    Delete = 14,
    Close = 15,
}

/// <summary>The first request of a connection: which replica, and whether to make it.</summary>
/// <param name="Volume">The volume's name.</param>
/// <param name="Size">Its size in bytes (for a new replica).</param>
/// <param name="Create">Make it when the server has none.</param>
/// <param name="Frozen">For a replica made to be rebuilt: the snapshot layers to make empty, oldest first.</param>
/// <param name="Epoch">
/// The writer's attach generation: once a replica is opened with an epoch, connections opened with a lower one are
/// fenced (every request fails), so an engine left on a lost machine cannot write after another took the volume over.
/// -1 opens a reader (snapshots, backups), which neither fences nor is fenced and may only read.
/// </param>
internal sealed record OpenRequest(string Volume, long Size, bool Create, IReadOnlyList<SnapshotInfo>? Frozen, long Epoch = 0);

/// <summary>What a replica says about itself.</summary>
/// <param name="Volume">The volume's name.</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="Snapshots">Its snapshots, oldest first.</param>
/// <param name="Created">True when this open made it.</param>
/// <param name="Dirty">True when it was written since its engine last closed it cleanly.</param>
internal sealed record ReplicaInfoMessage(string Volume, long Size, IReadOnlyList<SnapshotInfo> Snapshots, bool Created, bool Dirty = false);

[JsonSerializable(typeof(OpenRequest))]
[JsonSerializable(typeof(ReplicaInfoMessage))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ProtocolJsonContext : JsonSerializerContext;

/// <summary>
/// Frames on the wire, little-endian. A request: op (1 byte), 3 spare, payload length (4), id (8), offset (8), length
/// (8), layer (4), 4 spare, then the payload. A response: id (8), status (4: 0, or an errno with the message as the
/// payload), payload length (4), then the payload. A connection's requests are served in order.
/// </summary>
internal static class ReplicaFrames
{
    public const int RequestHeader = 40, ResponseHeader = 16;

    public static void WriteRequest(Span<byte> h, ReplicaOp op, int payload, ulong id, long offset, long length, int layer)
    {
        h[..RequestHeader].Clear();
        h[0] = (byte)op;
        BinaryPrimitives.WriteInt32LittleEndian(h[4..], payload);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], id);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], offset);
        BinaryPrimitives.WriteInt64LittleEndian(h[24..], length);
        BinaryPrimitives.WriteInt32LittleEndian(h[32..], layer);
    }

    public static void WriteResponse(Span<byte> h, ulong id, int status, int payload)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(h, id);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], status);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], payload);
    }

    /// <summary>Reads exactly <paramref name="buffer"/>'s length; false at a clean end of stream before the first byte.</summary>
    public static async ValueTask<bool> ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
            {
                return read == 0 ? false : throw new IOException("the connection closed mid-frame");
            }

            read += n;
        }

        return true;
    }

    public static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        while (buffer.Length > 0)
        {
            var n = await socket.SendAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }
}

/// <summary>A replica refused or failed a request.</summary>
/// <param name="message">What it said.</param>
/// <param name="errno">The error number it gave (28: its disk is full).</param>
public sealed class ReplicaException(string message, int errno) : IOException(message)
{
    /// <summary>The error number the replica gave.</summary>
    public int Errno { get; } = errno;
}
