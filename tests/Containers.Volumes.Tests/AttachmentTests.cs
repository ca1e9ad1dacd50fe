using System.Net;
using Containers.Volumes.Replicas;

namespace Containers.Volumes.Tests;

/// <summary>A replicated volume through the kernel: FUSE, a loop device, ext4 mounted, and nothing left after.</summary>
[Collection("attach")]
public sealed class AttachmentTests : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    private const long Size = 64 << 20;
    private readonly TestDirectory dir = new();
    private readonly List<ReplicaServer> servers = [];

    private async Task<ReplicatedVolume> VolumeAsync(string name, int replicas = 3)
    {
        while (servers.Count < replicas)
        {
            servers.Add(ReplicaServer.Start(dir.Sub($"node{servers.Count}"), new IPEndPoint(IPAddress.Loopback, 0)));
        }

        return await ReplicatedVolume.OpenAsync(name, Size, [.. servers.Take(replicas).Select(s => $"127.0.0.1:{s.EndPoint.Port}")]);
    }

    [Fact]
    public async Task A_volume_is_formatted_mounted_written_detached_and_attached_again_with_its_files_and_leaves_no_mount_or_loop_device()
    {
        var loopsBefore = LoopDevices();
        var volume = await VolumeAsync("web");
        var target = Path.Combine(dir.Path, "mnt");
        var a = await VolumeAttachment.AttachAsync(volume, dir.Sub("run"), target);
        string device;
        try
        {
            Assert.True(a.Formatted);
            device = a.Device;
            Assert.Contains(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == target && l.Contains(" - ext4 " + device, StringComparison.Ordinal));
            Directory.CreateDirectory(Path.Combine(target, "orders"));
            var payload = new byte[3 << 20];
            new Random(1).NextBytes(payload);
            await File.WriteAllBytesAsync(Path.Combine(target, "orders", "big.bin"), payload);
            await File.WriteAllTextAsync(Path.Combine(target, "orders", "1.txt"), "one order");

            // a write to a mounted file reaches every replica's bytes: the replicas agree while mounted
            TestDirectory.Run("sync", "-f", Path.Combine(target, "orders", "1.txt"));
            Assert.Single((await volume.ReplicaChecksumsAsync()).Values.Distinct());
        }
        finally
        {
            await a.DisposeAsync();
        }

        Assert.Empty(dir.Mounts());
        Assert.Equal(loopsBefore, LoopDevices());

        await using (var again = await VolumeAttachment.AttachAsync(volume, Path.Combine(dir.Path, "run"), target))
        {
            Assert.False(again.Formatted);
            Assert.Equal("one order", await File.ReadAllTextAsync(Path.Combine(target, "orders", "1.txt")));
            var payload = new byte[3 << 20];
            new Random(1).NextBytes(payload);
            Assert.Equal(payload, await File.ReadAllBytesAsync(Path.Combine(target, "orders", "big.bin")));
        }

        await volume.DisposeAsync();
        Assert.Equal(loopsBefore, LoopDevices());
        Assert.Empty(dir.Mounts());
    }

    [Fact]
    public async Task A_snapshot_of_a_mounted_volume_is_reverted_to_and_the_deleted_files_are_back()
    {
        await using var volume = await VolumeAsync("db");
        var target = Path.Combine(dir.Path, "mnt");
        var run = dir.Sub("run");
        await using (var a = await VolumeAttachment.AttachAsync(volume, run, target))
        {
            for (var i = 0; i < 50; i++)
            {
                await File.WriteAllTextAsync(Path.Combine(target, $"row{i}"), $"order {i}");
            }

            TestDirectory.Run("sync", "-f", Path.Combine(target, "row0"));
            await volume.SnapshotAsync("before-delete");
            foreach (var f in Directory.GetFiles(target, "row*"))
            {
                File.Delete(f);
            }

            TestDirectory.Run("sync", "-f", target);
            Assert.Empty(Directory.GetFiles(target, "row*"));
        }

        await volume.RevertAsync("before-delete");
        await using (var a = await VolumeAttachment.AttachAsync(volume, run, target))
        {
            Assert.Equal(50, Directory.GetFiles(target, "row*").Length);
            Assert.Equal("order 42", await File.ReadAllTextAsync(Path.Combine(target, "row42")));
        }
    }

    [Fact]
    public async Task A_busy_mount_is_not_detached_and_an_expanded_volume_grows_its_filesystem()
    {
        await using var volume = await VolumeAsync("grow", replicas: 2);
        var target = Path.Combine(dir.Path, "mnt");
        var a = await VolumeAttachment.AttachAsync(volume, dir.Sub("run"), target);
        var before = new DriveInfo(target).TotalSize;
        await File.WriteAllTextAsync(Path.Combine(target, "kept"), "kept");
        await volume.ExpandAsync(Size * 2);
        if (!await a.ResizeAsync())
        {
            // online ext4 resize needs CAP_SYS_RESOURCE: without it the filesystem grows at the next attach
            await a.DisposeAsync();
            a = await VolumeAttachment.AttachAsync(volume, Path.Combine(dir.Path, "run"), target);
        }

        try
        {
            var after = new DriveInfo(target).TotalSize;
            Assert.True(after > before * 3 / 2, $"{before} -> {after}");
            Assert.Equal("kept", await File.ReadAllTextAsync(Path.Combine(target, "kept")));

            using (File.Open(Path.Combine(target, "held"), FileMode.Create))
            {
                var e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await a.DisposeAsync());
                Assert.Contains("busy", e.Message);
            }
        }
        finally
        {
            await a.DisposeAsync();
        }

        Assert.Empty(dir.Mounts());
    }

    [Fact]
    public async Task What_a_killed_attach_left_mounted_at_the_target_is_unmounted_before_attaching_again()
    {
        await using var volume = await VolumeAsync("stale", replicas: 1);
        var target = Path.Combine(dir.Path, "mnt");
        dir.SmallDisk("mnt", 1 << 20); // stands for the ext4 of an attach whose process died
        await using (var a = await VolumeAttachment.AttachAsync(volume, dir.Sub("run"), target))
        {
            Assert.Contains(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == target && l.Contains(" - ext4 ", StringComparison.Ordinal));
            Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == target && l.Contains(" - tmpfs ", StringComparison.Ordinal));
        }

        Assert.Empty(dir.Mounts());
    }

    private static string[] LoopDevices() =>
        [.. Directory.GetDirectories("/sys/block", "loop*").Where(d => File.Exists(Path.Combine(d, "loop", "backing_file"))).Select(Path.GetFileName).OfType<string>().Order()];

    public async Task DisposeAsync()
    {
        foreach (var s in servers)
        {
            await s.DisposeAsync();
        }

        dir.Dispose();
    }
}
