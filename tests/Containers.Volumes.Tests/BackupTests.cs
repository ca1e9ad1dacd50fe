using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Containers.Volumes.Backups;
using Containers.Volumes.Replicas;

namespace Containers.Volumes.Tests;

/// <summary>s3rver (npm) on 127.0.0.1 with a bucket <c>backups</c>: the S3-compatible server of the backup tests.</summary>
internal sealed class S3Server : IDisposable
{
    /// <summary>Where tests/run.sh installs it.</summary>
    public const string Program = "/opt/containers-dotnet-tests/s3rver/node_modules/.bin/s3rver";
    private readonly Process process;

    public S3Server(string directory)
    {
        var psi = new ProcessStartInfo(Program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-d", directory, "-a", "127.0.0.1", "-p", "0", "--configure-bucket", "backups" })
        {
            psi.ArgumentList.Add(a);
        }

        process = Process.Start(psi)!;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var line = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"s3rver ended: {process.StandardError.ReadToEnd()}");
            if (line.StartsWith("S3rver listening on ", StringComparison.Ordinal))
            {
                Endpoint = "http://" + line["S3rver listening on ".Length..].Trim();
                break;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("s3rver did not start");
            }
        }

        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
    }

    public string Endpoint { get; }

    public S3Settings Settings => new(Endpoint, "us-east-1", "S3RVER", "S3RVER");

    public void Dispose()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
    }
}

/// <summary>Incremental deduplicated backups of snapshots to a directory and to S3, restored byte-identical.</summary>
public sealed class BackupTests : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    private const long Size = 64 << 20;
    private readonly TestDirectory dir = new();
    private readonly List<ReplicaServer> servers = [];

    private async Task<ReplicatedVolume> VolumeAsync(string name)
    {
        while (servers.Count < 2)
        {
            servers.Add(ReplicaServer.Start(dir.Sub($"node{servers.Count}"), new IPEndPoint(IPAddress.Loopback, 0)));
        }

        return await ReplicatedVolume.OpenAsync(name, Size, [.. servers.Select(s => $"127.0.0.1:{s.EndPoint.Port}")]);
    }

    [Fact]
    public Task A_directory_target_takes_a_full_then_an_incremental_backup_and_both_restore_byte_identical() =>
        BackupAndRestoreAsync(new DirectoryBackupTarget(dir.Sub("backups")));

    [Fact]
    public async Task An_S3_target_on_s3rver_takes_a_full_then_an_incremental_backup_and_both_restore_byte_identical()
    {
        using var s3 = new S3Server(dir.Sub("s3"));
        await BackupAndRestoreAsync(BackupTargets.Open("s3://backups/cluster-a", s3.Settings));
    }

    private async Task BackupAndRestoreAsync(IBackupTarget target)
    {
        using var _ = target;
        var store = new BackupStore(target);
        await using var volume = await VolumeAsync("pgdata");

        // 24 MiB of data in a 64 MiB volume (the rest holes), a snapshot, a full backup
        var random = new Random(3);
        var data = new byte[24 << 20];
        random.NextBytes(data);
        await volume.WriteAsync(8 << 20, data);
        await volume.SnapshotAsync("s1");
        var full = await store.BackupAsync(volume, "s1", "b1");
        Assert.Null(full.Base);
        Assert.Equal(12, full.Chunks);
        Assert.Equal(12, full.NewChunks);

        // 1% changed (two 300 KiB writes), a second snapshot: the second backup reads and uploads only what changed
        var change = new byte[300 << 10];
        random.NextBytes(change);
        await volume.WriteAsync(10 << 20, change);
        await volume.WriteAsync(40 << 20, change);
        await volume.SnapshotAsync("s2");
        var incremental = await store.BackupAsync(volume, "s2", "b2");
        Assert.Equal("b1", incremental.Base);
        Assert.Equal(13, incremental.Chunks);
        Assert.Equal(2, incremental.NewChunks);
        Assert.True(incremental.UploadedBytes < 5 << 20, $"uploaded {incremental.UploadedBytes}");
        Assert.Equal(["b1", "b2"], (await store.ListAsync("pgdata")).Select(b => b.Name));

        // the volume is wiped (writes after the snapshots), each backup restores byte-identical to its snapshot
        await volume.WriteAsync(0, new byte[Size]);
        foreach (var (backup, snapshot) in new[] { ("b2", "s2"), ("b1", "s1") })
        {
            await store.RestoreAsync("pgdata", backup, volume);
            Assert.Equal(await volume.ChecksumAsync(snapshot), await volume.ChecksumAsync());
        }

        // into a new volume as well
        await using var copy = await ReplicatedVolume.OpenAsync("pgdata-copy", Size, [$"127.0.0.1:{servers[0].EndPoint.Port}"]);
        await store.RestoreAsync("pgdata", "b2", copy);
        Assert.Equal(await volume.ChecksumAsync("s2"), await copy.ChecksumAsync());

        // deleting b1 keeps every block b2 needs
        await store.DeleteAsync("pgdata", "b1");
        await copy.WriteAsync(0, new byte[Size]);
        await store.RestoreAsync("pgdata", "b2", copy);
        Assert.Equal(await volume.ChecksumAsync("s2"), await copy.ChecksumAsync());
    }

    [Fact]
    public async Task An_unreachable_target_fails_the_backup_with_its_address_and_leaves_the_volume_untouched()
    {
        await using var volume = await VolumeAsync("data");
        await volume.WriteAsync(0, RandomNumberGenerator.GetBytes(1 << 20));
        await volume.SnapshotAsync("s1");
        var before = await volume.ReplicaChecksumsAsync();

        using var target = BackupTargets.Open("s3://backups/x", new S3Settings("http://127.0.0.1:1", "us-east-1", "k", "s"));
        var e = await Assert.ThrowsAsync<BackupException>(() => new BackupStore(target).BackupAsync(volume, "s1", "b1"));
        Assert.Contains("s3://backups/x at http://127.0.0.1:1", e.Message);

        Assert.Equal(before, await volume.ReplicaChecksumsAsync());
        Assert.Equal(["s1"], (await volume.SnapshotsAsync()).Select(s => s.Name));

        var missing = await Assert.ThrowsAsync<KeyNotFoundException>(() => new BackupStore(new DirectoryBackupTarget(dir.Sub("empty"))).RestoreAsync("data", "b9", volume));
        Assert.Contains("volume data has no backup b9", missing.Message);
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
