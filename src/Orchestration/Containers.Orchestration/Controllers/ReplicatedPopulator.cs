using Containers.Volumes;
using Containers.Volumes.Backups;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// The provisioner's data work for replicated volumes: fills a new volume from a claim's dataSource (a VolumeSnapshot:
/// its snapshot read from a replica of the source volume, or its backup restored from the target), holding the new
/// volume's lease while it writes, and deletes a deleted volume's replicas on their nodes.
/// </summary>
internal sealed class ReplicatedPopulator(ControllerBuilder b, ILogger logger)
{
    private const string Holder = "persistentvolume-controller";
    private readonly ObjectApi api = b.Api;
    private readonly Informer nodes = b.Reads(ResourceType.Nodes);
    private readonly Informer snapshots = b.Reads(ResourceType.Snapshots);
    private readonly Informer contents = b.Reads(ResourceType.SnapshotContents);
    private readonly Informer classes = b.Reads(ResourceType.SnapshotClasses);

    private JsonObject? Node(string name) => nodes.Get(null, name);

    /// <summary>Writes the data of <paramref name="source"/> (kind VolumeSnapshot) into the new volume <paramref name="pv"/> on <paramref name="placed"/>.</summary>
    public async Task PopulateAsync(JsonObject claim, JsonObject source, JsonObject pv, IReadOnlyList<string> placed, CancellationToken ct)
    {
        if (Json.Str(source, "kind") != "VolumeSnapshot" || (Json.Str(source, "apiGroup") ?? "snapshot.storage.k8s.io") != "snapshot.storage.k8s.io")
        {
            throw new ArgumentException($"dataSource {Json.Str(source, "kind")}: only VolumeSnapshot (snapshot.storage.k8s.io) is supported");
        }

        var vsName = Json.Str(source, "name") ?? "";
        var vs = snapshots.Get(Json.Namespace(claim), vsName) ?? throw new ArgumentException($"VolumeSnapshot {vsName} not found");
        var content = Json.Str(vs, "status", "boundVolumeSnapshotContentName") is { } cn ? contents.Get(null, cn) : null;
        if (content is null || Json.At(content, "status", "readyToUse")?.GetValue<bool>() != true || Json.Str(content, "status", "snapshotHandle") is not { } handle)
        {
            throw new ArgumentException($"VolumeSnapshot {vsName} is not ready to use");
        }

        var (sourceVolume, name) = VolumeSnapshotController.SplitHandle(handle);
        var pvName = Json.Name(pv);
        var lease = Replicated.Acquire(api, pvName, Holder, Node, string.Join(',', placed));
        try
        {
            await using var engine = await Replicated.OpenAsync(pv, placed, Json.Int(lease, "spec", "leaseTransitions") ?? 1, null, Node, TimeSpan.FromSeconds(5), logger, ct).ConfigureAwait(false);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            if (handle.StartsWith("bak:", StringComparison.Ordinal))
            {
                var vsClass = Json.Str(content, "spec", "volumeSnapshotClassName") is { } c ? classes.Get(null, c) : null;
                using var target = new TargetOpener(api).Open(vsClass ?? throw new ArgumentException($"the backup's VolumeSnapshotClass {Json.Str(content, "spec", "volumeSnapshotClassName")} is gone"));
                await new BackupStore(target).RestoreAsync(sourceVolume, name, engine, ct).ConfigureAwait(false);
            }
            else
            {
                var sourcePv = api.TryGet(ResourceType.Volumes, null, sourceVolume) ?? throw new ArgumentException($"the snapshot's volume {sourceVolume} is gone");
                var sourceLease = api.TryGet(ResourceType.Leases, Replicated.LeaseNamespace, Replicated.LeaseName(sourceVolume));
                var addresses = Replicated.ReplicaNodes(sourcePv, sourceLease).Select(n => Replicated.AddressOf(Node(n))).OfType<string>().ToList();
                await using var reader = await VolumeReader.OpenAsync(sourceVolume, addresses, TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
                await reader.CopySnapshotAsync(name, engine, ct).ConfigureAwait(false);
            }

            logger.LogInformation("volume {Volume} filled from {Handle} in {Seconds:0.00} s", pvName, handle, sw.Elapsed.TotalSeconds);
        }
        finally
        {
            Replicated.Release(api, pvName, Holder);
        }
    }

    /// <summary>Deletes a deleted volume's replicas (fencing any writer left) and its lease.</summary>
    public async Task DeleteReplicasAsync(JsonObject pv, CancellationToken ct)
    {
        var pvName = Json.Name(pv);
        var lease = api.TryGet(ResourceType.Leases, Replicated.LeaseNamespace, Replicated.LeaseName(pvName));
        var epoch = (Json.Int(lease ?? [], "spec", "leaseTransitions") ?? 0) + 1;
        var nodesOf = Replicated.ReplicaNodes(pv, lease);
        var problems = await ReplicatedVolume.DeleteReplicasAsync(pvName, [.. nodesOf.Select(n => Replicated.AddressOf(Node(n))).OfType<string>()], epoch, TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
        foreach (var p in problems)
        {
            logger.LogWarning("volume {Volume}: a replica was not deleted: {Problem}", pvName, p);
        }

        try
        {
            api.Delete(ResourceType.Leases, Replicated.LeaseNamespace, Replicated.LeaseName(pvName));
        }
        catch (ApiException e) when (e.Code == 404)
        {
        }
    }
}
