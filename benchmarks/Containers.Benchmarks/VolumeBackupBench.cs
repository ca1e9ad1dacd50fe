using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Containers.Volumes;
using Containers.Volumes.Backups;
using Containers.Volumes.Replicas;

namespace Containers.Benchmarks;

/// <summary>
/// <c>volume-backup DIR SIZE_MIB [S3_ENDPOINT]</c>: a volume of SIZE_MIB on 3 replica servers on 127.0.0.1 (each under
/// DIR), filled with random data; the time writes are held for a snapshot (20 snapshots, median and worst); a full
/// backup, then an incremental one after 1% of the volume changed (contiguous 1 MiB writes spread over it), to a
/// directory under DIR and, when given, to s3://bench at an S3 endpoint (credentials S3RVER/S3RVER, as s3rver's);
/// a restore into a new volume, checked by SHA-256.
/// </summary>
internal static class VolumeBackupBench
{
    public static async Task<int> RunAsync(string dir, long sizeMiB, string? s3Endpoint)
    {
        var size = sizeMiB << 20;
        var servers = Enumerable.Range(0, 3).Select(i => ReplicaServer.Start(Path.Combine(dir, $"node{i}"), new IPEndPoint(IPAddress.Loopback, 0))).ToList();
        try
        {
            string[] addresses = [.. servers.Select(s => $"127.0.0.1:{s.EndPoint.Port}")];
            await using var volume = await ReplicatedVolume.OpenAsync("bench", size, addresses);
            var sw = Stopwatch.StartNew();
            var chunk = new byte[1 << 20];
            for (long off = 0; off < size; off += chunk.Length)
            {
                RandomNumberGenerator.Fill(chunk);
                await volume.WriteAsync(off, chunk);
            }

            await volume.FlushAsync();
            Console.WriteLine($"filled {sizeMiB} MiB on 3 replicas: {sw.Elapsed.TotalSeconds:0.00} s ({sizeMiB / sw.Elapsed.TotalSeconds:0} MiB/s)");

            var held = new List<double>();
            for (var i = 0; i < 20; i++)
            {
                await volume.WriteAsync(i * 4096L, chunk.AsMemory(0, 4096));
                held.Add((await volume.SnapshotAsync($"s{i}")).TotalMilliseconds);
            }

            held.Sort();
            Console.WriteLine($"snapshot (writes held): median {held[held.Count / 2]:0.00} ms, worst {held[^1]:0.00} ms over 20");

            var targets = new List<(string Name, IBackupTarget Target)> { ("directory", new DirectoryBackupTarget(Path.Combine(dir, "backups"))) };
            if (s3Endpoint is not null)
            {
                targets.Add(("s3", BackupTargets.Open("s3://bench/volumes", new S3Settings(s3Endpoint, "us-east-1", "S3RVER", "S3RVER"))));
            }

            foreach (var (name, target) in targets)
            {
                using var _ = target;
                var store = new BackupStore(target);
                var full = await store.BackupAsync(volume, "s19", $"full-{name}");
                Console.WriteLine($"{name}: full backup {full.Seconds:0.00} s, {full.Chunks} chunks, {full.UploadedBytes >> 20} MiB uploaded");
            }

            // 1% changed: contiguous 1 MiB writes spread over the volume
            var changed = Math.Max(1, sizeMiB / 100);
            var step = size / changed;
            for (long i = 0; i < changed; i++)
            {
                RandomNumberGenerator.Fill(chunk);
                await volume.WriteAsync(i * step, chunk);
            }

            await volume.SnapshotAsync("after");
            foreach (var (name, target) in targets.Select(t => (t.Name, s3Endpoint is not null && t.Name == "s3" ? BackupTargets.Open("s3://bench/volumes", new S3Settings(s3Endpoint, "us-east-1", "S3RVER", "S3RVER")) : new DirectoryBackupTarget(Path.Combine(dir, "backups")))))
            {
                using var _ = target;
                var store = new BackupStore(target);
                var incremental = await store.BackupAsync(volume, "after", $"incremental-{name}");
                Console.WriteLine($"{name}: incremental backup after {changed} MiB (1%) changed: {incremental.Seconds:0.00} s, {incremental.NewChunks} of {incremental.Chunks} chunks uploaded ({incremental.UploadedBytes >> 20} MiB), base {incremental.Base}");
                await using var copy = await ReplicatedVolume.OpenAsync($"restored-{name}", size, [addresses[0]]);
                sw.Restart();
                await store.RestoreAsync("bench", $"incremental-{name}", copy);
                var restored = await copy.ChecksumAsync();
                var expected = await volume.ChecksumAsync("after");
                var same = restored.AsSpan().SequenceEqual(expected);
                Console.WriteLine($"{name}: restore into a new volume {sw.Elapsed.TotalSeconds:0.00} s, byte-identical: {same}");
                if (!same)
                {
                    return 1;
                }
            }

            return 0;
        }
        finally
        {
            foreach (var s in servers)
            {
                await s.DisposeAsync();
            }
        }
    }
}
