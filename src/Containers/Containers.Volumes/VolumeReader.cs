using Containers.Volumes.Linux;
using Containers.Volumes.Replicas;

namespace Containers.Volumes;

/// <summary>
/// A read-only connection to one replica of a volume, for its snapshots (backups, copies into a new volume): it neither
/// fences the volume's writer nor is fenced by it, and may only read. Snapshot layers never change, so what it reads of
/// a snapshot is exact while the volume is in use elsewhere.
/// </summary>
public sealed class VolumeReader : IAsyncDisposable
{
    private readonly ReplicaClient client;

    private VolumeReader(ReplicaClient client) => this.client = client;

    /// <summary>The volume's name.</summary>
    public string Volume => client.Info.Volume;

    /// <summary>The volume's size.</summary>
    public long Size => client.Info.Size;

    /// <summary>The replica it reads (host:port).</summary>
    public string Address => client.Address;

    /// <summary>Connects to the first of <paramref name="addresses"/> that holds a replica of <paramref name="volume"/> and answers.</summary>
    public static async Task<VolumeReader> OpenAsync(string volume, IReadOnlyList<string> addresses, TimeSpan timeout, CancellationToken ct = default)
    {
        var errors = new List<string>();
        foreach (var a in addresses)
        {
            try
            {
                var (host, port) = ReplicaClient.Split(a);
                return new VolumeReader(await ReplicaClient.ConnectAsync(host, port, new OpenRequest(volume, 0, false, null, -1), timeout, ct).ConfigureAwait(false));
            }
            catch (ReplicaException e)
            {
                errors.Add(e.Message);
            }
        }

        throw new ReplicaException($"volume {volume}: no replica could be read ({string.Join("; ", errors)})", VolumeSyscalls.EIO);
    }

    /// <summary>The volume's snapshots, oldest first.</summary>
    public async Task<IReadOnlyList<SnapshotInfo>> SnapshotsAsync() => (await client.InfoAsync().ConfigureAwait(false)).Snapshots;

    /// <summary>The layer index of snapshot <paramref name="name"/>; throws <see cref="KeyNotFoundException"/>.</summary>
    public async Task<int> LayerOfAsync(string name)
    {
        var snaps = await SnapshotsAsync().ConfigureAwait(false);
        for (var i = 0; i < snaps.Count; i++)
        {
            if (snaps[i].Name == name)
            {
                return i;
            }
        }

        throw new KeyNotFoundException($"volume {Volume} has no snapshot {name}");
    }

    /// <summary>The data ranges of one layer.</summary>
    public Task<IReadOnlyList<(long Offset, long Length)>> ExtentsAsync(int layer) => client.ExtentsAsync(layer);

    /// <summary>Reads the volume as it was at layer <paramref name="layer"/>.</summary>
    public Task ReadAsync(int layer, long offset, Memory<byte> destination) => client.ReadAsync(offset, destination, layer);

    /// <summary>SHA-256 of the whole volume at snapshot <paramref name="snapshot"/>, or as it is now when null (exact only while no engine writes it).</summary>
    public async Task<byte[]> ChecksumAsync(string? snapshot) =>
        await client.ChecksumAsync(snapshot is null ? -1 : await LayerOfAsync(snapshot).ConfigureAwait(false), 0, Size).ConfigureAwait(false);

    /// <summary>
    /// Copies snapshot <paramref name="snapshot"/> into <paramref name="into"/> (new and at least as big): only ranges
    /// with data are read and written. Returns the bytes copied.
    /// </summary>
    public async Task<long> CopySnapshotAsync(string snapshot, ReplicatedVolume into, CancellationToken ct = default)
    {
        if (into.Size < Size)
        {
            throw new ArgumentException($"volume {into.Name} ({into.Size} bytes) is smaller than {Volume} ({Size} bytes)");
        }

        var layer = await LayerOfAsync(snapshot).ConfigureAwait(false);
        var ranges = new List<(long Offset, long Length)>();
        for (var l = 0; l <= layer; l++)
        {
            ranges.AddRange(await ExtentsAsync(l).ConfigureAwait(false));
        }

        // merged, so a range several layers touch is copied once
        var merged = new List<(long Offset, long End)>();
        foreach (var (offset, length) in ranges.OrderBy(r => r.Offset))
        {
            if (merged.Count > 0 && offset <= merged[^1].End)
            {
                merged[^1] = (merged[^1].Offset, Math.Max(merged[^1].End, offset + length));
            }
            else
            {
                merged.Add((offset, offset + length));
            }
        }

        var buffer = new byte[1 << 20];
        long copied = 0;
        foreach (var (offset, end) in merged)
        {
            for (var pos = offset; pos < end; pos += buffer.Length)
            {
                var n = (int)Math.Min(buffer.Length, end - pos);
                await ReadAsync(layer, pos, buffer.AsMemory(0, n)).WaitAsync(ct).ConfigureAwait(false);
                await into.WriteAsync(pos, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                copied += n;
            }
        }

        await into.FlushAsync(ct).ConfigureAwait(false);
        return copied;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => client.DisposeAsync();
}
