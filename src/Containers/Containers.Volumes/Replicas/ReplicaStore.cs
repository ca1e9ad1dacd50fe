using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Containers.Volumes.Linux;
using Microsoft.Win32.SafeHandles;

namespace Containers.Volumes.Replicas;

/// <summary>A snapshot of a volume: a frozen layer of each replica's chain.</summary>
/// <param name="Name">Its name, unique in the volume.</param>
/// <param name="Created">When it was taken.</param>
/// <param name="Bytes">The data its own layer holds (what it adds over the snapshot before it).</param>
public sealed record SnapshotInfo(string Name, DateTimeOffset Created, long Bytes);

/// <summary>One layer of a replica's chain: a sparse file of the volume's size; a block is in the layer when the file has data there.</summary>
/// <param name="File">The file's name in the replica's directory.</param>
/// <param name="Snapshot">The snapshot it is, or null for the head (the layer that takes writes).</param>
/// <param name="Created">When it was frozen (snapshots) or made (the head).</param>
internal sealed record ReplicaLayer(string File, string? Snapshot, DateTimeOffset Created);

/// <summary>What a replica's directory holds: <c>replica.json</c>.</summary>
/// <param name="Volume">The volume it is a replica of.</param>
/// <param name="Size">The volume's size in bytes.</param>
/// <param name="Layers">Oldest first; the last is the head.</param>
internal sealed record ReplicaMeta(string Volume, long Size, IReadOnlyList<ReplicaLayer> Layers);

[JsonSerializable(typeof(ReplicaMeta))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ReplicaJsonContext : JsonSerializerContext;

/// <summary>
/// One replica of a volume on local disk, as Longhorn keeps one: a chain of sparse files (the snapshots, oldest first,
/// then the head that takes writes), each as big as the volume, a 4 KiB block being in a layer when that layer's file
/// has data there (SEEK_DATA). A snapshot freezes the head and starts an empty one (no data is copied); a read takes
/// each block from the newest layer that has it (an index of the owner of every block, 2 bytes each, is rebuilt from
/// the files' extents at open); a partial write of a block the head lacks copies the block up first. Deleting a
/// snapshot merges its blocks into the next layer. Thread-safe (one lock: the calls are page-cache copies).
/// </summary>
internal sealed class ReplicaStore : IDisposable
{
    public const int BlockSize = 4096;
    private const string MetaFile = "replica.json";

    private readonly string dir;
    private readonly Lock gate = new();
    private readonly List<SafeFileHandle> files = [];
    private readonly Dictionary<int, ulong[]> presence = []; // frozen layers' block bitmaps, made when first asked
    private ReplicaMeta meta;
    private ushort[] owner; // per block: newest layer holding it, plus one (0: no layer, reads as zeros)
    private bool disposed;
    private bool dirty;

    private ReplicaStore(string dir, ReplicaMeta meta)
    {
        this.dir = dir;
        this.meta = meta;
        owner = [];
    }

    /// <summary>The replica's directory.</summary>
    public string Directory => dir;

    /// <summary>
    /// True when the replica was written since its engine last closed it cleanly (a file <c>dirty</c> marks it, made
    /// before the first write): after an engine's crash, replicas may differ where writes were never acknowledged.
    /// </summary>
    public bool Dirty => dirty || File.Exists(Path.Combine(dir, "dirty"));

    /// <summary>The engine closed the volume cleanly: flushed, and the dirty mark goes.</summary>
    public void MarkClean()
    {
        lock (gate)
        {
            RandomAccess.FlushToDisk(files[HeadIndex]);
            File.Delete(Path.Combine(dir, "dirty"));
            dirty = false;
        }
    }

    private void MarkDirty()
    {
        if (!dirty)
        {
            using (File.Create(Path.Combine(dir, "dirty")))
            {
            }

            dirty = true;
        }
    }

    public string Volume => meta.Volume;

    public long Size => meta.Size;

    public int HeadIndex => meta.Layers.Count - 1;

    /// <summary>Creates an empty replica (one empty head) in <paramref name="dir"/>, which must not hold one.</summary>
    public static ReplicaStore Create(string dir, string volume, long size, IReadOnlyList<ReplicaLayer>? frozen = null)
    {
        if (size <= 0 || size % BlockSize != 0)
        {
            throw new ArgumentException($"size {size}: must be a positive multiple of {BlockSize}", nameof(size));
        }

        System.IO.Directory.CreateDirectory(dir);
        if (File.Exists(Path.Combine(dir, MetaFile)))
        {
            throw new IOException($"{dir}: already holds a replica");
        }

        List<ReplicaLayer> layers = [.. frozen ?? []];
        foreach (var l in layers)
        {
            MakeSparse(Path.Combine(dir, l.File), size);
        }

        var head = new ReplicaLayer(NewLayerFile(), null, DateTimeOffset.UtcNow);
        MakeSparse(Path.Combine(dir, head.File), size);
        layers.Add(head);
        var m = new ReplicaMeta(volume, size, layers);
        WriteMeta(dir, m);
        return Open(dir);
    }

    /// <summary>Opens the replica in <paramref name="dir"/>, rebuilding the block index from the layers' extents.</summary>
    public static ReplicaStore Open(string dir)
    {
        var path = Path.Combine(dir, MetaFile);
        var m = JsonSerializer.Deserialize(File.ReadAllBytes(path), ReplicaJsonContext.Default.ReplicaMeta)
            ?? throw new InvalidDataException($"{path}: empty");
        var store = new ReplicaStore(dir, m);
        try
        {
            foreach (var l in m.Layers)
            {
                store.files.Add(File.OpenHandle(Path.Combine(dir, l.File), FileMode.Open, FileAccess.ReadWrite));
            }

            // layer files a crash left outside the chain (a snapshot or revert cut short) go
            foreach (var stray in System.IO.Directory.EnumerateFiles(dir, "layer-*.img").Where(f => m.Layers.All(l => l.File != Path.GetFileName(f))))
            {
                File.Delete(stray);
            }

            store.RebuildOwners();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>The snapshots, oldest first.</summary>
    public IReadOnlyList<SnapshotInfo> Snapshots
    {
        get
        {
            lock (gate)
            {
                return [.. meta.Layers.Take(HeadIndex).Select((l, i) => new SnapshotInfo(l.Snapshot!, l.Created, Extents(i).Sum(e => e.Length)))];
            }
        }
    }

    /// <summary>The chain's layers (snapshot names, null for the head), oldest first.</summary>
    public IReadOnlyList<ReplicaLayer> Layers
    {
        get
        {
            lock (gate)
            {
                return meta.Layers;
            }
        }
    }

    /// <summary>Writes at <paramref name="offset"/> into the head.</summary>
    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        lock (gate)
        {
            MarkDirty();
            var head = HeadIndex;
            var file = files[head];
            var pos = offset;
            var rest = data;
            Span<byte> buffer = stackalloc byte[BlockSize];

            // a partial first or last block the head lacks is completed from the layer below first
            while (rest.Length > 0)
            {
                var block = pos / BlockSize;
                var inBlock = (int)(pos % BlockSize);
                if (inBlock == 0 && rest.Length >= BlockSize)
                {
                    var whole = (int)Math.Min(rest.Length / BlockSize * BlockSize, int.MaxValue);
                    RandomAccess.Write(file, rest[..whole], pos);
                    Array.Fill(owner, (ushort)(head + 1), (int)block, whole / BlockSize);
                    pos += whole;
                    rest = rest[whole..];
                    continue;
                }

                var n = Math.Min(rest.Length, BlockSize - inBlock);
                if (owner[block] != head + 1)
                {
                    ReadBlock(block, owner[block], buffer);
                    rest[..n].CopyTo(buffer[inBlock..]);
                    RandomAccess.Write(file, buffer, block * BlockSize);
                    owner[block] = (ushort)(head + 1);
                }
                else
                {
                    RandomAccess.Write(file, rest[..n], pos);
                }

                pos += n;
                rest = rest[n..];
            }
        }
    }

    /// <summary>Reads the volume as it is now (the head's view).</summary>
    public void Read(long offset, Span<byte> destination) => ReadView(-1, offset, destination);

    /// <summary>Reads the volume as it was at layer <paramref name="layer"/> (-1: now).</summary>
    public void ReadView(int layer, long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        lock (gate)
        {
            var top = layer < 0 ? HeadIndex : CheckLayer(layer);
            var pos = offset;
            var rest = destination;
            while (rest.Length > 0)
            {
                var block = pos / BlockSize;
                var inBlock = (int)(pos % BlockSize);
                var source = SourceOf(block, top);

                // a run of blocks from the same layer is one read
                var run = BlockSize - inBlock;
                while (run < rest.Length && SourceOf(block + ((inBlock + run) / BlockSize), top) == source)
                {
                    run += BlockSize;
                }

                var n = Math.Min(rest.Length, run);
                if (source == 0)
                {
                    rest[..n].Clear();
                }
                else
                {
                    ReadFully(files[source - 1], rest[..n], pos);
                }

                pos += n;
                rest = rest[n..];
            }
        }
    }

    /// <summary>Writes into one layer's file directly: a rebuild filling a frozen layer of a new replica.</summary>
    public void WriteLayer(int layer, long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        if (offset % BlockSize != 0 || data.Length % BlockSize != 0)
        {
            throw new ArgumentException("a layer is written in whole blocks");
        }

        lock (gate)
        {
            CheckLayer(layer);
            MarkDirty();
            RandomAccess.Write(files[layer], data, offset);
            presence.Remove(layer);
            var first = (int)(offset / BlockSize);
            for (var b = first; b < first + (data.Length / BlockSize); b++)
            {
                if (owner[b] < layer + 1)
                {
                    owner[b] = (ushort)(layer + 1);
                }
            }
        }
    }

    /// <summary>Reads one layer's own data (holes read as zeros).</summary>
    public void ReadLayer(int layer, long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        lock (gate)
        {
            ReadFully(files[CheckLayer(layer)], destination, offset);
        }
    }

    /// <summary>The data ranges of one layer's file, in order.</summary>
    public IReadOnlyList<(long Offset, long Length)> Extents(int layer)
    {
        lock (gate)
        {
            var file = files[CheckLayer(layer)];
            var list = new List<(long, long)>();
            var pos = 0L;
            while (pos < Size)
            {
                var data = VolumeSyscalls.Seek(file, pos, VolumeSyscalls.SEEK_DATA);
                if (data < 0 || data >= Size)
                {
                    break;
                }

                var hole = VolumeSyscalls.Seek(file, data, VolumeSyscalls.SEEK_HOLE);
                hole = hole < 0 ? Size : Math.Min(hole, Size);
                var start = data / BlockSize * BlockSize;
                var end = (hole + BlockSize - 1) / BlockSize * BlockSize;
                list.Add((start, Math.Min(end, Size) - start));
                pos = end;
            }

            return list;
        }
    }

    /// <summary>Adds to <paramref name="chunks"/> the offsets of the <paramref name="chunk"/>-sized chunks that <paramref name="extents"/> touch.</summary>
    public static void AddChunks(ISet<long> chunks, IEnumerable<(long Offset, long Length)> extents, long chunk)
    {
        foreach (var (offset, length) in extents)
        {
            for (var c = offset / chunk; c <= (offset + length - 1) / chunk; c++)
            {
                chunks.Add(c * chunk);
            }
        }
    }

    /// <summary>SHA-256 of the view at <paramref name="layer"/> (-1: now) over a range.</summary>
    public byte[] Checksum(int layer, long offset, long length)
    {
        CheckRange(offset, length);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        for (var pos = offset; pos < offset + length; pos += buffer.Length)
        {
            var n = (int)Math.Min(buffer.Length, offset + length - pos);
            ReadView(layer, pos, buffer.AsSpan(0, n));
            hash.AppendData(buffer, 0, n);
        }

        return hash.GetHashAndReset();
    }

    /// <summary>Makes the head's data durable.</summary>
    public void Flush()
    {
        lock (gate)
        {
            RandomAccess.FlushToDisk(files[HeadIndex]);
        }
    }

    /// <summary>Freezes the head as snapshot <paramref name="name"/> and starts an empty head.</summary>
    public void Snapshot(string name, DateTimeOffset created)
    {
        lock (gate)
        {
            if (meta.Layers.Any(l => l.Snapshot == name))
            {
                throw new InvalidOperationException($"snapshot {name} exists");
            }

            if (HeadIndex + 2 >= ushort.MaxValue)
            {
                throw new InvalidOperationException($"snapshot {name}: a volume holds at most {ushort.MaxValue - 2} snapshots");
            }

            RandomAccess.FlushToDisk(files[HeadIndex]);
            var head = new ReplicaLayer(NewLayerFile(), null, created);
            var path = Path.Combine(dir, head.File);
            MakeSparse(path, Size);
            var layers = meta.Layers.ToList();
            layers[^1] = layers[^1] with { Snapshot = name, Created = created };
            layers.Add(head);
            var next = meta with { Layers = layers };
            WriteMeta(dir, next);
            meta = next;
            files.Add(File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite));
        }
    }

    /// <summary>Deletes snapshot <paramref name="name"/>: its blocks that the next layer lacks move into that layer, so every other view stays the same.</summary>
    public void DeleteSnapshot(string name)
    {
        lock (gate)
        {
            var i = IndexOf(name);
            var child = files[i + 1];
            var buffer = new byte[1 << 20];
            var childHas = Presence(i + 1);
            foreach (var (offset, length) in Extents(i))
            {
                for (var b = offset / BlockSize; b < (offset + length) / BlockSize; b++)
                {
                    if (!Has(childHas, b))
                    {
                        ReadFully(files[i], buffer.AsSpan(0, BlockSize), b * BlockSize);
                        RandomAccess.Write(child, buffer.AsSpan(0, BlockSize), b * BlockSize);
                    }
                }
            }

            RandomAccess.FlushToDisk(child);
            var layers = meta.Layers.ToList();
            var doomed = layers[i];
            layers.RemoveAt(i);
            var next = meta with { Layers = layers };
            WriteMeta(dir, next);
            meta = next;
            files[i].Dispose();
            files.RemoveAt(i);
            File.Delete(Path.Combine(dir, doomed.File));
            for (var b = 0; b < owner.Length; b++)
            {
                if (owner[b] >= i + 2)
                {
                    owner[b]--;
                }
            }

            presence.Clear();
        }
    }

    /// <summary>Puts the volume back to snapshot <paramref name="name"/>: every later layer goes, and an empty head starts on it.</summary>
    public void Revert(string name)
    {
        lock (gate)
        {
            var i = IndexOf(name);
            var head = new ReplicaLayer(NewLayerFile(), null, DateTimeOffset.UtcNow);
            var path = Path.Combine(dir, head.File);
            MakeSparse(path, Size);
            var layers = meta.Layers.Take(i + 1).Append(head).ToList();
            var doomed = meta.Layers.Skip(i + 1).ToList();
            var next = meta with { Layers = layers };
            WriteMeta(dir, next);
            meta = next;
            foreach (var f in files.Skip(i + 1))
            {
                f.Dispose();
            }

            files.RemoveRange(i + 1, files.Count - i - 1);
            files.Add(File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite));
            foreach (var d in doomed)
            {
                File.Delete(Path.Combine(dir, d.File));
            }

            presence.Clear();
            RebuildOwners();
        }
    }

    /// <summary>Grows the volume to <paramref name="size"/> bytes (every layer's file grows; the new space reads as zeros).</summary>
    public void Expand(long size)
    {
        lock (gate)
        {
            if (size < Size || size % BlockSize != 0)
            {
                throw new ArgumentException($"size {size}: a volume only grows, by whole {BlockSize}-byte blocks");
            }

            foreach (var f in files)
            {
                RandomAccess.SetLength(f, size);
            }

            var next = meta with { Size = size };
            WriteMeta(dir, next);
            meta = next;
            Array.Resize(ref owner, (int)(size / BlockSize));
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            foreach (var f in files)
            {
                f.Dispose();
            }
        }
    }

    /// <summary>The layer index of snapshot <paramref name="name"/>.</summary>
    public int IndexOf(string name)
    {
        lock (gate)
        {
            for (var i = 0; i < HeadIndex; i++)
            {
                if (meta.Layers[i].Snapshot == name)
                {
                    return i;
                }
            }

            throw new KeyNotFoundException($"volume {Volume} has no snapshot {name}");
        }
    }

    private int CheckLayer(int layer) =>
        layer >= 0 && layer <= HeadIndex ? layer : throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer}: the chain has {HeadIndex + 1}");

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (offset < 0 || length < 0 || offset + length > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"{offset}+{length} is outside the volume ({Size} bytes)");
        }
    }

    // the 1-based layer a block of the view at 'top' comes from, 0 for none
    private int SourceOf(long block, int top)
    {
        if (block >= owner.Length)
        {
            return -1;
        }

        var o = owner[block];
        if (o <= top + 1)
        {
            return o;
        }

        for (var l = top; l >= 0; l--)
        {
            if (Has(Presence(l), block))
            {
                return l + 1;
            }
        }

        return 0;
    }

    private ulong[] Presence(int layer)
    {
        if (layer == HeadIndex)
        {
            return MakePresence(layer); // the head changes: never kept
        }

        if (!presence.TryGetValue(layer, out var bits))
        {
            presence[layer] = bits = MakePresence(layer);
        }

        return bits;
    }

    private ulong[] MakePresence(int layer)
    {
        var bits = new ulong[(owner.Length + 63) / 64];
        foreach (var (offset, length) in Extents(layer))
        {
            for (var b = offset / BlockSize; b < (offset + length) / BlockSize; b++)
            {
                bits[b >> 6] |= 1UL << (int)(b & 63);
            }
        }

        return bits;
    }

    private static bool Has(ulong[] bits, long block) => (bits[block >> 6] & (1UL << (int)(block & 63))) != 0;

    private void RebuildOwners()
    {
        owner = new ushort[Size / BlockSize];
        for (var l = 0; l <= HeadIndex; l++)
        {
            foreach (var (offset, length) in Extents(l))
            {
                Array.Fill(owner, (ushort)(l + 1), (int)(offset / BlockSize), (int)(length / BlockSize));
            }
        }
    }

    private void ReadBlock(long block, int source, Span<byte> buffer)
    {
        if (source == 0)
        {
            buffer.Clear();
        }
        else
        {
            ReadFully(files[source - 1], buffer, block * BlockSize);
        }
    }

    private static void ReadFully(SafeFileHandle file, Span<byte> destination, long offset)
    {
        while (destination.Length > 0)
        {
            var n = RandomAccess.Read(file, destination, offset);
            if (n == 0)
            {
                destination.Clear();
                return;
            }

            destination = destination[n..];
            offset += n;
        }
    }

    private static string NewLayerFile() => $"layer-{Guid.NewGuid():N}.img";

    private static void MakeSparse(string path, long size)
    {
        using var f = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.SetLength(f, size);
        RandomAccess.FlushToDisk(f);
    }

    private static void WriteMeta(string dir, ReplicaMeta m)
    {
        var path = Path.Combine(dir, MetaFile);
        var temp = path + ".tmp";
        using (var f = File.OpenHandle(temp, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(f, JsonSerializer.SerializeToUtf8Bytes(m, ReplicaJsonContext.Default.ReplicaMeta), 0);
            RandomAccess.FlushToDisk(f);
        }

        File.Move(temp, path, overwrite: true);
    }
}
