namespace Containers.Volumes.Replicas;

/// <summary>
/// An engine's hold on one opened replica: over TCP to a replica server (<see cref="ReplicaClient"/>), or in process
/// to a <see cref="ReplicaServer"/> of this process (<see cref="LocalReplicaConnection"/>). Requests complete in the
/// order they were made; a failed one throws <see cref="ReplicaException"/>.
/// </summary>
internal interface IReplicaConnection : IAsyncDisposable
{
    /// <summary>host:port of the replica's server, as the volume's replica list names it.</summary>
    string Address { get; }

    /// <summary>What the replica said when opened.</summary>
    ReplicaInfoMessage Info { get; }

    /// <summary>True once the connection has failed or was closed.</summary>
    bool IsBroken { get; }

    Task ReadAsync(long offset, Memory<byte> destination, int layer = -1);

    Task ReadLayerAsync(int layer, long offset, Memory<byte> destination);

    Task WriteAsync(long offset, ReadOnlyMemory<byte> data);

    Task WriteLayerAsync(int layer, long offset, ReadOnlyMemory<byte> data);

    Task FlushAsync();

    Task SnapshotAsync(string name, DateTimeOffset created);

    Task DeleteSnapshotAsync(string name);

    Task RevertAsync(string name);

    Task ExpandAsync(long size);

    Task CloseAsync();

    Task DeleteAsync();

    Task<ReplicaInfoMessage> InfoAsync();

    Task<byte[]> ChecksumAsync(int layer, long offset, long length);

    Task<IReadOnlyList<(long Offset, long Length)>> ExtentsAsync(int layer);
}
