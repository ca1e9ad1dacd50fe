using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Containers.Volumes.Replicas;

namespace Containers.Volumes.Backups;

/// <summary>A backup of a volume's snapshot.</summary>
/// <param name="Name">Its name, unique for the volume.</param>
/// <param name="Volume">The volume it is of.</param>
/// <param name="Snapshot">The snapshot it holds.</param>
/// <param name="Size">The volume's size then.</param>
/// <param name="Created">When it was made.</param>
/// <param name="Chunks">The 2 MiB chunks with data it holds.</param>
/// <param name="NewChunks">How many of them this backup uploaded (the others were in the target already).</param>
/// <param name="UploadedBytes">The compressed bytes it uploaded.</param>
/// <param name="Seconds">How long it took.</param>
/// <param name="Base">The earlier backup whose unchanged chunks it reused without reading them, if any.</param>
public sealed record BackupInfo(string Name, string Volume, string Snapshot, long Size, DateTimeOffset Created, int Chunks, int NewChunks, long UploadedBytes, double Seconds, string? Base);

/// <summary>One chunk of a backup: where it goes and the SHA-256 (hex) of its bytes.</summary>
/// <param name="Offset">Its offset in the volume.</param>
/// <param name="Hash">The SHA-256 of its uncompressed bytes, which names its block in the target.</param>
internal sealed record BackupChunk(long Offset, string Hash);

/// <summary>A backup's manifest: <c>volumes/VOLUME/backups/NAME.json</c>.</summary>
/// <param name="Info">What it is.</param>
/// <param name="ChunkSize">The chunk size.</param>
/// <param name="Chunks">Its chunks with data, by offset.</param>
internal sealed record BackupManifest(BackupInfo Info, int ChunkSize, IReadOnlyList<BackupChunk> Chunks);

[JsonSerializable(typeof(BackupManifest))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class BackupJsonContext : JsonSerializerContext;

/// <summary>
/// Incremental, deduplicated backups of volumes' snapshots in a target (Longhorn's backupstore): a volume is cut into
/// 2 MiB chunks; a chunk with data is stored once, compressed when that makes it smaller, as <c>blocks/AB/SHA256.blk</c>, shared by every backup
/// and volume that has the same bytes; a backup is a manifest of (offset, hash). A backup after an earlier one of the
/// same volume reads only the chunks written since that backup's snapshot (the layers above it in the chain) and takes
/// the rest from the earlier manifest. Restore writes the chunks back and checks each one's hash.
/// </summary>
/// <param name="target">Where backups are kept.</param>
public sealed class BackupStore(IBackupTarget target)
{
    /// <summary>The chunk size (2 MiB, as Longhorn's).</summary>
    public const int ChunkSize = 2 << 20;
    private const int Parallel = 4;

    /// <summary>The target.</summary>
    public IBackupTarget Target => target;

    /// <summary>
    /// Backs up snapshot <paramref name="snapshot"/> of <paramref name="volume"/> as <paramref name="name"/>, reading
    /// it from one of its replicas. The volume stays in use; nothing in it changes.
    /// </summary>
    public async Task<BackupInfo> BackupAsync(ReplicatedVolume volume, string snapshot, string name, CancellationToken ct = default)
    {
        await using var reader = await volume.OpenReaderAsync(ct).ConfigureAwait(false);
        return await BackupAsync(reader, snapshot, name, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Backs up snapshot <paramref name="snapshot"/> of the volume <paramref name="reader"/> reads as
    /// <paramref name="name"/>. Throws <see cref="BackupException"/> naming the target when it cannot be reached; no
    /// manifest is written then (blocks already uploaded stay for the next attempt).
    /// </summary>
    public async Task<BackupInfo> BackupAsync(VolumeReader reader, string snapshot, string name, CancellationToken ct = default)
    {
        ReplicatedVolume.CheckName(name);
        var sw = Stopwatch.StartNew();
        var layer = await reader.LayerOfAsync(snapshot).ConfigureAwait(false);
        var snapshots = await reader.SnapshotsAsync().ConfigureAwait(false);
        var volumeName = reader.Volume;
        var size = reader.Size;

        // the latest earlier backup whose snapshot is still in the chain below this one is the base
        BackupManifest? baseline = null;
        var baseLayer = -1;
        foreach (var earlier in (await ListManifestsAsync(volumeName, ct).ConfigureAwait(false)).OrderByDescending(m => m.Info.Created))
        {
            var i = snapshots.ToList().FindIndex(s => s.Name == earlier.Info.Snapshot);
            if (i >= 0 && i < layer && earlier.Info.Size == size)
            {
                baseline = earlier;
                baseLayer = i;
                break;
            }
        }

        // the chunks to read: those any layer above the base (up to the snapshot) touches
        var touched = new SortedSet<long>();
        for (var l = baseLayer + 1; l <= layer; l++)
        {
            ReplicaStore.AddChunks(touched, await reader.ExtentsAsync(l).ConfigureAwait(false), ChunkSize);
        }

        var chunks = new Dictionary<long, string>();
        foreach (var c in baseline?.Chunks ?? [])
        {
            if (!touched.Contains(c.Offset))
            {
                chunks[c.Offset] = c.Hash;
            }
        }

        var uploaded = 0L;
        var fresh = 0;
        await System.Threading.Tasks.Parallel.ForEachAsync(touched, new ParallelOptions { MaxDegreeOfParallelism = Parallel, CancellationToken = ct }, async (offset, token) =>
        {
            var length = (int)Math.Min(ChunkSize, size - offset);
            var buffer = new byte[length];
            await reader.ReadAsync(layer, offset, buffer).WaitAsync(token).ConfigureAwait(false);
            if (!buffer.AsSpan().ContainsAnyExcept((byte)0))
            {
                return; // a chunk of zeros is a hole
            }

            var hash = Convert.ToHexStringLower(SHA256.HashData(buffer));
            var key = BlockKey(hash);
            if (!await target.ExistsAsync(key, token).ConfigureAwait(false))
            {
                var packed = Compress(buffer);
                await target.PutAsync(key, packed, token).ConfigureAwait(false);
                Interlocked.Add(ref uploaded, packed.Length);
                Interlocked.Increment(ref fresh);
            }

            lock (chunks)
            {
                chunks[offset] = hash;
            }
        }).ConfigureAwait(false);

        var result = new BackupInfo(name, volumeName, snapshot, size, DateTimeOffset.UtcNow, chunks.Count, fresh, uploaded, sw.Elapsed.TotalSeconds, baseline?.Info.Name);
        var manifest = new BackupManifest(result, ChunkSize, [.. chunks.OrderBy(c => c.Key).Select(c => new BackupChunk(c.Key, c.Value))]);
        await target.PutAsync(ManifestKey(volumeName, name), JsonSerializer.SerializeToUtf8Bytes(manifest, BackupJsonContext.Default.BackupManifest), ct).ConfigureAwait(false);
        return result;
    }

    /// <summary>The backups of <paramref name="volume"/> (of every volume when null), oldest first.</summary>
    public async Task<IReadOnlyList<BackupInfo>> ListAsync(string? volume = null, CancellationToken ct = default) =>
        [.. (await ListManifestsAsync(volume, ct).ConfigureAwait(false)).Select(m => m.Info).OrderBy(i => i.Created)];

    /// <summary>
    /// Restores backup <paramref name="name"/> of volume <paramref name="volumeName"/> into <paramref name="into"/> (at
    /// least as big, not in use): every chunk is written back after its hash is checked, and ranges the backup has no
    /// data in are zeroed where <paramref name="into"/> has data, so the result is byte-identical to the snapshot.
    /// </summary>
    public async Task RestoreAsync(string volumeName, string name, ReplicatedVolume into, CancellationToken ct = default)
    {
        var manifest = await GetManifestAsync(volumeName, name, ct).ConfigureAwait(false);
        if (into.Size < manifest.Info.Size)
        {
            throw new ArgumentException($"restore {volumeName}/{name}: volume {into.Name} has {into.Size} bytes, the backup {manifest.Info.Size}");
        }

        var have = manifest.Chunks.Select(c => c.Offset).ToHashSet();
        var zero = new byte[ChunkSize];
        foreach (var offset in await into.DataChunksAsync(ChunkSize, ct).ConfigureAwait(false))
        {
            if (!have.Contains(offset))
            {
                await into.WriteAsync(offset, zero.AsMemory(0, (int)Math.Min(ChunkSize, into.Size - offset)), ct).ConfigureAwait(false);
            }
        }

        await System.Threading.Tasks.Parallel.ForEachAsync(manifest.Chunks, new ParallelOptions { MaxDegreeOfParallelism = Parallel, CancellationToken = ct }, async (chunk, token) =>
        {
            var data = Decompress(await target.GetAsync(BlockKey(chunk.Hash), token).ConfigureAwait(false));
            if (Convert.ToHexStringLower(SHA256.HashData(data)) != chunk.Hash)
            {
                throw new BackupException($"backup target {target.Description}: block {chunk.Hash} is corrupt (its bytes hash otherwise)");
            }

            await into.WriteAsync(chunk.Offset, data, token).ConfigureAwait(false);
        }).ConfigureAwait(false);
        await into.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Deletes a backup, then every block no remaining backup uses.</summary>
    public async Task DeleteAsync(string volumeName, string name, CancellationToken ct = default)
    {
        await GetManifestAsync(volumeName, name, ct).ConfigureAwait(false);
        await target.DeleteAsync(ManifestKey(volumeName, name), ct).ConfigureAwait(false);
        var used = (await ListManifestsAsync(null, ct).ConfigureAwait(false)).SelectMany(m => m.Chunks).Select(c => BlockKey(c.Hash)).ToHashSet(StringComparer.Ordinal);
        foreach (var key in await target.ListAsync("blocks/", ct).ConfigureAwait(false))
        {
            if (!used.Contains(key))
            {
                await target.DeleteAsync(key, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<BackupManifest> GetManifestAsync(string volumeName, string name, CancellationToken ct)
    {
        try
        {
            return JsonSerializer.Deserialize(await target.GetAsync(ManifestKey(volumeName, name), ct).ConfigureAwait(false), BackupJsonContext.Default.BackupManifest)!;
        }
        catch (KeyNotFoundException)
        {
            throw new KeyNotFoundException($"backup target {target.Description}: volume {volumeName} has no backup {name}");
        }
    }

    private async Task<IReadOnlyList<BackupManifest>> ListManifestsAsync(string? volume, CancellationToken ct)
    {
        var list = new List<BackupManifest>();
        foreach (var key in await target.ListAsync(volume is null ? "volumes/" : $"volumes/{volume}/backups/", ct).ConfigureAwait(false))
        {
            if (key.EndsWith(".json", StringComparison.Ordinal) && key.Contains("/backups/", StringComparison.Ordinal))
            {
                list.Add(JsonSerializer.Deserialize(await target.GetAsync(key, ct).ConfigureAwait(false), BackupJsonContext.Default.BackupManifest)!);
            }
        }

        return list;
    }

    private static string ManifestKey(string volume, string name) => $"volumes/{volume}/backups/{name}.json";

    private static string BlockKey(string hash) => $"blocks/{hash[..2]}/{hash}.blk";

    // a block is one format byte, then zlib (1) or, where zlib would not make it smaller, the bytes themselves (0)
    private static byte[] Compress(byte[] data)
    {
        using var output = new MemoryStream();
        output.WriteByte(1);
        using (var z = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(data);
        }

        if (output.Length < data.Length + 1)
        {
            return output.ToArray();
        }

        var raw = new byte[data.Length + 1];
        data.CopyTo(raw, 1);
        return raw;
    }

    private static byte[] Decompress(byte[] data)
    {
        if (data.Length > 0 && data[0] == 0)
        {
            return data[1..];
        }

        if (data.Length == 0 || data[0] != 1)
        {
            throw new BackupException("a backup block of an unknown format");
        }

        using var input = new ZLibStream(new MemoryStream(data, 1, data.Length - 1), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }
}
