using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Containers.Volumes.Replicas;

namespace Containers.Volumes.Tests;

/// <summary>A volume engine over replica servers on loopback, each with its own directory.</summary>
public sealed class ReplicatedVolumeTests : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    private const long Size = 32 << 20;
    private readonly TestDirectory dir = new();
    private readonly List<ReplicaServer> servers = [];
    private static readonly ReplicatedVolumeOptions Options = new() { ReplicaTimeout = TimeSpan.FromSeconds(3) };

    private ReplicaServer Server(string? root = null)
    {
        var s = ReplicaServer.Start(root ?? dir.Sub($"node{servers.Count}"), new IPEndPoint(IPAddress.Loopback, 0));
        servers.Add(s);
        return s;
    }

    private static string Address(ReplicaServer s) => $"127.0.0.1:{s.EndPoint.Port}";

    // the engine's options with the given servers' replicas read and written in process (the engine's own node's)
    private static ReplicatedVolumeOptions InProcess(params ReplicaServer[] local) =>
        Options with { LocalServers = local.ToDictionary(Address, s => s) };

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the first replica, and the rebuilt one, in process; the others over TCP
    public async Task Writes_go_on_when_a_replica_s_server_dies_and_a_rebuilt_replica_matches_byte_for_byte(bool inProcess)
    {
        var a = Server();
        var b = Server();
        var c = Server();
        var d = Server();
        await using var volume = await ReplicatedVolume.OpenAsync("orders", Size, [Address(a), Address(b), Address(c)], inProcess ? InProcess(a, d) : Options);
        var model = new byte[Size];
        var failed = new System.Collections.Concurrent.ConcurrentQueue<ReplicaStatus>(); // raised on the engine's thread
        volume.ReplicaFailed += failed.Enqueue;

        // a writer goes on while one replica's server dies and while another replica is rebuilt
        using var stop = new CancellationTokenSource();
        var writes = 0;
        var writer = Task.Run(async () =>
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                var length = random.Next(1, 64 << 10);
                var offset = random.NextInt64(Size - length);
                var data = new byte[length];
                random.NextBytes(data);
                await volume.WriteAsync(offset, data);
                data.CopyTo(model, offset);
                Interlocked.Increment(ref writes);
            }
        });

        // waits on what happens, not on fixed delays: the test assemblies run beside each other on 2 cores
        async Task Until(Func<bool> condition, string what)
        {
            for (var waited = Stopwatch.StartNew(); !condition(); await Task.Delay(10))
            {
                Assert.False(writer.IsCompleted && !writer.IsCompletedSuccessfully, $"the writer failed: {writer.Exception}");
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"{what}: not within 20 s ({Volatile.Read(ref writes)} writes)");
            }
        }

        await Until(() => Volatile.Read(ref writes) >= 50, "50 writes on three replicas");
        await b.DisposeAsync();
        servers.Remove(b);
        await Until(() => volume.Replicas.Single(r => r.Address == Address(b)).Mode == ReplicaMode.Failed, "the dead server's replica failed");
        await Until(() => !failed.IsEmpty, "the failure was raised"); // (raised just after the mode is set)
        Assert.Contains(Address(b), Assert.Single(failed).Error);
        var atFailure = Volatile.Read(ref writes);
        await Until(() => Volatile.Read(ref writes) >= atFailure + 50, "50 writes on the two replicas left");

        await volume.RebuildAsync(Address(d));
        var atRebuild = Volatile.Read(ref writes);
        await Until(() => Volatile.Read(ref writes) >= atRebuild + 50, "50 writes after the rebuild");
        await stop.CancelAsync();
        await writer;

        Assert.Equal(ReplicaMode.ReadWrite, volume.Replicas.Single(r => r.Address == Address(d)).Mode);
        Assert.Equal(3, volume.Replicas.Count(r => r.Mode == ReplicaMode.ReadWrite));
        string[] expectedInProcess = inProcess ? [Address(a), Address(d)] : [];
        Assert.Equal(expectedInProcess.Order(), volume.Replicas.Where(r => r.InProcess).Select(r => r.Address).Order()); // the rebuilt one too
        var sums = await volume.ReplicaChecksumsAsync();
        Assert.Equal(3, sums.Count);
        Assert.All(sums.Values, s => Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(model)), s));

        var read = new byte[Size];
        await volume.ReadAsync(0, read);
        Assert.Equal(model, read);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the first replica in process (reads and the rebuild's source), the others over TCP
    public async Task Snapshots_taken_under_writes_are_the_same_on_every_replica_and_are_rebuilt_with_it(bool inProcess)
    {
        var servers3 = new[] { Server(), Server(), Server() };
        await using var volume = await ReplicatedVolume.OpenAsync("snaps", Size, [.. servers3.Select(Address)], inProcess ? InProcess(servers3[0]) : Options);
        using var stop = new CancellationTokenSource();
        // each writer in blocks of its own: two writes of one block in flight at once may be queued to the replicas
        // in different orders (the engine orders a replica's requests, not the volume's), which is not what this checks
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            var data = new byte[4096];
            while (!stop.IsCancellationRequested)
            {
                random.NextBytes(data);
                await volume.WriteAsync(((random.NextInt64(Size / 4096 / 4) * 4) + w) * 4096, data);
            }
        })).ToArray();

        for (var i = 0; i < 5; i++)
        {
            await Task.Delay(50);
            await volume.SnapshotAsync($"s{i}");
        }

        await stop.CancelAsync();
        await Task.WhenAll(writers);

        // each snapshot reads the same on every replica: no write was half in
        var snaps = await volume.SnapshotsAsync();
        Assert.Equal(["s0", "s1", "s2", "s3", "s4"], snaps.Select(s => s.Name));
        for (var i = 0; i < 5; i++)
        {
            var sums = new HashSet<string>();
            foreach (var s in servers3)
            {
                await using var client = await ReplicaClient.ConnectAsync("127.0.0.1", s.EndPoint.Port, new OpenRequest("snaps", Size, false, null), TimeSpan.FromSeconds(5), default);
                sums.Add(Convert.ToHexStringLower(await client.ChecksumAsync(i, 0, Size)));
            }

            Assert.Single(sums);
        }

        // a rebuilt replica gets the snapshots too
        var fresh = Server();
        await volume.RemoveReplicaAsync(Address(servers3[2]));
        await volume.RebuildAsync(Address(fresh));
        await using (var client = await ReplicaClient.ConnectAsync("127.0.0.1", fresh.EndPoint.Port, new OpenRequest("snaps", Size, false, null), TimeSpan.FromSeconds(5), default))
        {
            Assert.Equal(snaps.Select(s => s.Name), client.Info.Snapshots.Select(s => s.Name));
            Assert.Equal(await volume.ChecksumAsync("s2"), await client.ChecksumAsync(2, 0, Size));
        }

        await volume.DeleteSnapshotAsync("s1");
        Assert.Equal(["s0", "s2", "s3", "s4"], (await volume.SnapshotsAsync()).Select(s => s.Name));
        Assert.Single((await volume.ReplicaChecksumsAsync()).Values.Distinct());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the full replica in process
    public async Task A_full_disk_fails_that_replica_only_and_the_volume_keeps_its_data(bool inProcess)
    {
        var small = Server(dir.SmallDisk($"small{inProcess}", 4 << 20));
        var a = Server();
        var b = Server();
        await using var volume = await ReplicatedVolume.OpenAsync("full", Size, [Address(a), Address(small), Address(b)], inProcess ? InProcess(small) : Options);
        var data = RandomNumberGenerator.GetBytes(8 << 20);
        for (var off = 0; off < data.Length; off += 1 << 20)
        {
            await volume.WriteAsync(off, data.AsMemory(off, 1 << 20));
        }

        var status = volume.Replicas.Single(r => r.Address == Address(small));
        Assert.Equal(ReplicaMode.Failed, status.Mode);
        Assert.Contains("No space left on device", status.Error);
        Assert.Equal(2, volume.Replicas.Count(r => r.Mode == ReplicaMode.ReadWrite));
        var read = new byte[data.Length];
        await volume.ReadAsync(0, read);
        Assert.Equal(data, read);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_replica_failed_by_another_call_after_a_write_picked_it_is_failed_over_not_dereferenced(bool inProcess)
    {
        var a = Server();
        var b = Server();
        var c = Server();
        await using var volume = await ReplicatedVolume.OpenAsync("race", Size, [Address(a), Address(b), Address(c)], inProcess ? InProcess(b) : Options);
        var failed = new List<string>();
        volume.ReplicaFailed += r => { lock (failed) { failed.Add(r.Address); } };

        // between the write's choice of replicas and its calls, another call fails b (its connection is gone)
        var once = 0;
        volume.TargetsPicked = () => Interlocked.Exchange(ref once, 1) == 0 ? volume.FailReplicaAsync(Address(b), new ReplicaException("failed by another call", 5)) : Task.CompletedTask;
        var data = RandomNumberGenerator.GetBytes(8192);
        await volume.WriteAsync(4096, data);
        await volume.FlushAsync();

        lock (failed)
        {
            Assert.Equal([Address(b)], failed);
        }

        Assert.Equal(ReplicaMode.Failed, volume.Replicas.Single(r => r.Address == Address(b)).Mode);
        var read = new byte[data.Length];
        await volume.ReadAsync(4096, read);
        Assert.Equal(data, read);
        var sums = await volume.ReplicaChecksumsAsync();
        Assert.Equal(sums[Address(a)], sums[Address(c)]);
    }

    [Fact]
    public async Task Unreachable_and_missing_replicas_are_failed_at_open_with_their_address_and_none_at_all_is_an_error()
    {
        var a = Server();
        var b = Server();
        await using (var volume = await ReplicatedVolume.OpenAsync("v", Size, [Address(a), Address(b)], Options))
        {
            await volume.WriteAsync(0, new byte[] { 1, 2, 3 });
        }

        var c = Server();
        await using (var volume = await ReplicatedVolume.OpenAsync("v", Size, [Address(a), "127.0.0.1:1", Address(c)], Options))
        {
            Assert.Contains("cannot connect", volume.Replicas.Single(r => r.Address == "127.0.0.1:1").Error);
            Assert.Contains("must be rebuilt", volume.Replicas.Single(r => r.Address == Address(c)).Error);
            var read = new byte[3];
            await volume.ReadAsync(0, read);
            Assert.Equal(new byte[] { 1, 2, 3 }, read);
        }

        var e = await Assert.ThrowsAsync<ReplicaException>(() => ReplicatedVolume.OpenAsync("v", Size, ["127.0.0.1:1", "127.0.0.1:2"], Options));
        Assert.Contains("no replica could be opened", e.Message);
        Assert.Contains("127.0.0.1:2", e.Message);
    }

    [Fact]
    public async Task After_an_engine_crash_replicas_that_differ_where_a_write_was_in_flight_are_made_the_same_at_the_next_open()
    {
        var a = Server();
        var b = Server();
        string[] addresses = [Address(a), Address(b)];
        var crashed = await ReplicatedVolume.OpenAsync("crash", Size, addresses, new ReplicatedVolumeOptions { Epoch = 1 });
        await crashed.WriteAsync(0, RandomNumberGenerator.GetBytes(1 << 20));

        // a write in flight when the engine died reached one replica only (the engine is never disposed: no clean close)
        await using (var one = await ReplicaClient.ConnectAsync("127.0.0.1", b.EndPoint.Port, new OpenRequest("crash", Size, false, null, 1), TimeSpan.FromSeconds(5), default))
        {
            Assert.True(one.Info.Dirty);
            await one.WriteAsync(4096, RandomNumberGenerator.GetBytes(8192));
        }

        await using var next = await ReplicatedVolume.OpenAsync("crash", Size, addresses, new ReplicatedVolumeOptions { Epoch = 2 });
        var sums = await next.ReplicaChecksumsAsync();
        Assert.Single(sums.Values.Distinct());
        Assert.All(next.Replicas, r => Assert.Equal(ReplicaMode.ReadWrite, r.Mode));
        await next.DisposeAsync();

        // closed cleanly: not dirty any more
        await using var again = await ReplicaClient.ConnectAsync("127.0.0.1", a.EndPoint.Port, new OpenRequest("crash", Size, false, null, 3), TimeSpan.FromSeconds(5), default);
        Assert.False(again.Info.Dirty);
    }

    public async Task DisposeAsync()
    {
        foreach (var s in servers)
        {
            await s.DisposeAsync();
        }

        dir.Dispose();
    }
}

/// <summary>Fencing: a writer left behind is refused once another opened the volume with a newer epoch.</summary>
public sealed class FencingTests : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    private readonly TestDirectory dir = new();
    private readonly List<ReplicaServer> servers = [];

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the old engine holds its first replica in process (the node it ran on), the new one over TCP
    public async Task An_engine_with_an_older_epoch_is_refused_after_a_newer_one_opens_and_fails_instead_of_writing(bool inProcess)
    {
        servers.Add(ReplicaServer.Start(dir.Sub("a"), new IPEndPoint(IPAddress.Loopback, 0)));
        servers.Add(ReplicaServer.Start(dir.Sub("b"), new IPEndPoint(IPAddress.Loopback, 0)));
        string[] addresses = [.. servers.Select(s => $"127.0.0.1:{s.EndPoint.Port}")];
        var local = inProcess ? new Dictionary<string, ReplicaServer> { [addresses[0]] = servers[0] } : [];
        var old = await ReplicatedVolume.OpenAsync("v", 1 << 20, addresses, new ReplicatedVolumeOptions { Epoch = 1, LocalServers = local });
        await old.WriteAsync(0, new byte[] { 1 });

        await using var taken = await ReplicatedVolume.OpenAsync("v", 1 << 20, addresses, new ReplicatedVolumeOptions { Epoch = 2 });
        await taken.WriteAsync(0, new byte[] { 2 });

        var e = await Assert.ThrowsAsync<ReplicaException>(async () => await old.WriteAsync(0, new byte[] { 3 }));
        Assert.Contains("no replica in step is left", e.Message);
        Assert.All(old.Replicas, r => Assert.Contains("held by a newer writer (epoch 2 > 1)", r.Error));
        await old.DisposeAsync();

        var again = await Assert.ThrowsAsync<ReplicaException>(() => ReplicatedVolume.OpenAsync("v", 1 << 20, addresses, new ReplicatedVolumeOptions { Epoch = 1, LocalServers = local }));
        Assert.Contains("epoch 2 > 1", again.Message);

        // a reader is neither fenced nor fences
        await taken.SnapshotAsync("s");
        await using var reader = await VolumeReader.OpenAsync("v", addresses, TimeSpan.FromSeconds(5));
        var b = new byte[1];
        await reader.ReadAsync(0, 0, b);
        Assert.Equal(2, b[0]);
        await taken.WriteAsync(0, new byte[] { 4 });
    }

    public async Task DisposeAsync()
    {
        foreach (var s in servers)
        {
            await s.DisposeAsync();
        }

        dir.Dispose();
    }
}
