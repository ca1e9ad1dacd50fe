using System.Net;
using Containers.Volumes;
using Containers.Volumes.Replicas;

namespace Containers.Benchmarks;

/// <summary>
/// <c>volume-serve DIR SIZE_MIB REPLICAS MOUNTPOINT</c>: REPLICAS replica servers on 127.0.0.1 (each under DIR/nodeN), a
/// volume of SIZE_MIB on them attached (FUSE, loop, ext4) at MOUNTPOINT, the first replica written in process (the
/// engine's own node's) and the others over TCP; prints <c>ready</c>, serves until stdin
/// closes, then detaches and prints the replicas' checksums (all equal when every write reached every replica).
/// benchmarks/volume-fio.sh drives fio against it.
/// </summary>
internal static class VolumeServe
{
    public static async Task<int> RunAsync(string dir, long sizeMiB, int replicas, string mountpoint)
    {
        var servers = Enumerable.Range(0, replicas).Select(i => ReplicaServer.Start(Path.Combine(dir, $"node{i}"), new IPEndPoint(IPAddress.Loopback, 0))).ToList();
        try
        {
            var addresses = servers.Select(s => $"127.0.0.1:{s.EndPoint.Port}").ToList();
            // the first replica is the one on the engine's own node, written in process as the node agent does
            // (VOLUME_SERVE_LOCAL=0: every replica over TCP, as before)
            var local = Environment.GetEnvironmentVariable("VOLUME_SERVE_LOCAL") == "0" ? new Dictionary<string, ReplicaServer>() : new Dictionary<string, ReplicaServer> { [addresses[0]] = servers[0] };
            await using var volume = await ReplicatedVolume.OpenAsync("bench", sizeMiB << 20, addresses, new ReplicatedVolumeOptions { LocalServers = local });
            var attachment = await VolumeAttachment.AttachAsync(volume, Path.Combine(dir, "run"), mountpoint);
            Console.WriteLine("ready");
            await Console.In.ReadToEndAsync();
            await attachment.DisposeAsync();
            foreach (var (address, sum) in await volume.ReplicaChecksumsAsync())
            {
                Console.WriteLine($"{address} {sum}");
            }

            return volume.Replicas.All(r => r.Mode == ReplicaMode.ReadWrite) ? 0 : 1;
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
