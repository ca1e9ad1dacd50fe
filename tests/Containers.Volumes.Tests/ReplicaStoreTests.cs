using Containers.Volumes.Replicas;

namespace Containers.Volumes.Tests;

/// <summary>A replica's chain of sparse layer files against a plain byte array that does the same writes.</summary>
public sealed class ReplicaStoreTests : IDisposable
{
    private const long Size = 8 << 20;
    private readonly TestDirectory dir = new();
    private readonly Random random = new(42);

    [Fact]
    public void Unaligned_writes_snapshots_deleted_snapshots_a_revert_and_a_reopen_keep_every_view_exact()
    {
        var model = new byte[Size];
        var path = Path.Combine(dir.Path, "r");
        var store = ReplicaStore.Create(path, "v", Size);
        try
        {
            Scribble(store, model, 200);
            var m1 = (byte[])model.Clone();
            store.Snapshot("s1", DateTimeOffset.UtcNow);
            Scribble(store, model, 200);
            var m2 = (byte[])model.Clone();
            store.Snapshot("s2", DateTimeOffset.UtcNow);
            Scribble(store, model, 200);

            Assert.Equal(model, ReadAll(store, -1));
            Assert.Equal(m1, ReadAll(store, 0));
            Assert.Equal(m2, ReadAll(store, 1));
            Assert.Equal(["s1", "s2"], store.Snapshots.Select(s => s.Name));

            // a snapshot's layer holds only the blocks written before it: sparse, not a copy
            Assert.True(store.Snapshots[1].Bytes < Size / 2, $"snapshot s2 holds {store.Snapshots[1].Bytes} bytes");

            // deleting s1 merges it into s2: s2 and the head read the same as before
            store.DeleteSnapshot("s1");
            Assert.Equal(["s2"], store.Snapshots.Select(s => s.Name));
            Assert.Equal(m2, ReadAll(store, 0));
            Assert.Equal(model, ReadAll(store, -1));

            // a reopen rebuilds the block index from the files' extents
            store.Dispose();
            store = ReplicaStore.Open(path);
            Assert.Equal(model, ReadAll(store, -1));
            Assert.Equal(m2, ReadAll(store, 0));

            store.Revert("s2");
            Assert.Equal(m2, ReadAll(store, -1));
            Assert.Equal(2, Directory.GetFiles(path, "layer-*.img").Length);
        }
        finally
        {
            store.Dispose();
        }
    }

    [Fact]
    public void A_volume_holds_a_hundred_and_twenty_snapshots_and_reads_each_as_it_was()
    {
        var model = new byte[Size];
        var store = ReplicaStore.Create(Path.Combine(dir.Path, "r"), "v", Size);
        try
        {
            var views = new List<byte[]>();
            for (var i = 0; i < 120; i++)
            {
                Scribble(store, model, 5);
                views.Add((byte[])model.Clone());
                store.Snapshot($"s{i}", DateTimeOffset.UtcNow);
            }

            Assert.Equal(120, store.Snapshots.Count);
            foreach (var i in new[] { 0, 1, 59, 118, 119 })
            {
                Assert.Equal(views[i], ReadAll(store, i));
            }

            Assert.Equal(model, ReadAll(store, -1));
            Assert.Equal(store.Checksum(119, 0, Size), System.Security.Cryptography.SHA256.HashData(model));
        }
        finally
        {
            store.Dispose();
        }
    }

    [Fact]
    public void Writes_outside_the_volume_and_a_second_replica_in_one_directory_are_refused()
    {
        using var store = ReplicaStore.Create(Path.Combine(dir.Path, "r"), "v", Size);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Write(Size - 10, new byte[20]));
        Assert.Throws<IOException>(() => ReplicaStore.Create(Path.Combine(dir.Path, "r"), "v", Size));
        Assert.Throws<ArgumentException>(() => ReplicaStore.Create(Path.Combine(dir.Path, "odd"), "v", 4097));
        Assert.Throws<KeyNotFoundException>(() => store.Revert("nope"));
    }

    private void Scribble(ReplicaStore store, byte[] model, int writes)
    {
        for (var i = 0; i < writes; i++)
        {
            var length = random.Next(4) switch { 0 => random.Next(1, 100), 1 => 4096, 2 => random.Next(1, 20000), _ => 65536 };
            var offset = random.Next(4) == 0 ? random.NextInt64(Size / 4096) * 4096 : random.NextInt64(Size - length);
            length = (int)Math.Min(length, Size - offset);
            var data = new byte[length];
            random.NextBytes(data);
            store.Write(offset, data);
            data.CopyTo(model, offset);
        }
    }

    private static byte[] ReadAll(ReplicaStore store, int layer)
    {
        var all = new byte[store.Size];
        store.ReadView(layer, 0, all);
        return all;
    }

    public void Dispose() => dir.Dispose();
}
