using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Containers.Orchestration.Controllers;
using Containers.Volumes;
using Containers.Volumes.Replicas;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// A node's part of replicated volumes (Longhorn's instance manager and CSI node plugin in one): it serves the replicas
/// kept on this node's disk to the engines of every node, and attaches the volumes its pods use: takes the volume's
/// lease (its epoch fences an engine left on a lost node), opens the engine on the replicas (this node's first), mounts
/// the filesystem through FUSE and a loop device, and detaches when no pod here uses it any more. While attached it
/// keeps the volume whole: a replica that fails is replaced by a new one rebuilt on a Ready node that holds none, and
/// the state is written to the lease, the claim's status (condition ReplicasHealthy) and its events.
/// </summary>
internal sealed class ReplicatedVolumeManager : IAsyncDisposable
{
    private static readonly TimeSpan RepairPeriod = TimeSpan.FromSeconds(2);
    private readonly ObjectApi api;
    private readonly NodeOptions options;
    private readonly ILogger logger;
    private readonly Informer nodes;
    private readonly Informer contents;
    private readonly ConcurrentDictionary<string, Attached> attached = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim gate = new(1, 1);
    private ReplicaServer? server;

    private sealed class Attached(string pv, JsonObject claim, ReplicatedVolume engine, VolumeAttachment mount, int wanted)
    {
        public readonly string Pv = pv;
        public readonly JsonObject Claim = claim;
        public readonly ReplicatedVolume Engine = engine;
        public readonly VolumeAttachment Mount = mount;
        public readonly int Wanted = wanted;
        public readonly HashSet<string> Pods = new(StringComparer.Ordinal);
        public List<string> ReplicaNodes = [];
        public Task Repair = Task.CompletedTask;
        public readonly CancellationTokenSource Stop = new();
        public string? LastState;
        public bool? Online;
        public readonly SemaphoreSlim Snapshots = new(1, 1);
    }

    public ReplicatedVolumeManager(ObjectApi api, InformerSet informers, NodeOptions options, ILogger logger)
    {
        this.api = api;
        this.options = options;
        this.logger = logger;
        nodes = informers.For(ResourceType.Nodes);
        contents = informers.For(ResourceType.SnapshotContents);
        contents.OnChange((old, c) =>
        {
            if (c is not null && Json.Str(c, "spec", "source", "volumeHandle") is { } pv && attached.TryGetValue(pv, out var a))
            {
                _ = Task.Run(() => SnapshotAsync(a, c));
            }
        });
    }

    // the snapshots of a volume attached here are taken (and deleted) by its engine here
    private async Task SnapshotAsync(Attached a, JsonObject content)
    {
        var delete = Json.Has(content, "metadata", "deletionTimestamp");
        if (delete ? !(Json.At(content, "metadata", "finalizers") as JsonArray ?? []).Any(f => Json.Str(f) == VolumeSnapshotController.SnapshotFinalizer)
                   : Json.Str(content, "metadata", "annotations", VolumeSnapshotController.TakenAnnotation) is not null || Json.At(content, "status", "readyToUse")?.GetValue<bool>() == true)
        {
            return;
        }

        try
        {
            await a.Snapshots.WaitAsync(a.Stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            await SnapshotExecutor.ApplyAsync(api, a.Engine, content, delete, a.Stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("volume {Volume}: snapshot {Snapshot}: {Error}", a.Pv, Json.Name(content), e.Message);
        }
        finally
        {
            a.Snapshots.Release();
        }
    }

    /// <summary>host:port of this node's replica server, or null when it serves none.</summary>
    public string? Address { get; private set; }

    private string Root => Path.Combine(options.DataDirectory, "replicated");

    /// <summary>Starts the replica server on the node's address (port <see cref="NodeOptions.ReplicaPort"/>, 0 for any).</summary>
    public void Start()
    {
        if (options.ReplicaPort is not { } port)
        {
            return;
        }

        var ip = IPAddress.Parse(options.LanAddress ?? options.InternalIP);
        server = ReplicaServer.Start(options.ReplicaDirectory ?? Path.Combine(Root, "replicas"), new IPEndPoint(ip, port), logger);
        Address = $"{ip}:{server.EndPoint.Port}";
    }

    private JsonObject? Node(string name) => nodes.Get(null, name);

    /// <summary>Attaches every replicated volume of <paramref name="pod"/>'s claims; returns PV name → mount path.</summary>
    public async Task<Dictionary<string, string>> PrepareAsync(JsonObject pod, string podKey, NodeReader reader, CancellationToken ct)
    {
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        var ns = Json.Namespace(pod) ?? "default";
        foreach (var v in Json.ReadItems(pod, "spec", "volumes"))
        {
            if (Json.Str(v, "persistentVolumeClaim", "claimName") is not { } claimName)
            {
                continue;
            }

            var claim = reader.Get(ResourceType.Claims, ns, claimName, pod);
            var pvName = claim is null ? null : Json.Str(claim, "spec", "volumeName");
            var pv = pvName is null ? null : reader.Get(ResourceType.Volumes, "", pvName, pod);
            if (!Replicated.Is(pv))
            {
                continue;
            }

            paths[pvName!] = await AttachAsync(pv!, claim!, podKey, ct).ConfigureAwait(false);
        }

        return paths;
    }

    private async Task<string> AttachAsync(JsonObject pv, JsonObject claim, string podKey, CancellationToken ct)
    {
        var name = Json.Name(pv);
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (attached.TryGetValue(name, out var existing))
            {
                existing.Pods.Add(podKey);
                return existing.Mount.Target;
            }

            var lease = Replicated.Acquire(api, name, options.Name, Node, Json.Str(pv, "spec", "csi", "volumeAttributes", "replicas"));
            var epoch = Json.Int(lease, "spec", "leaseTransitions") ?? 1;
            var replicaNodes = Replicated.ReplicaNodes(pv, lease);
            ReplicatedVolume? engine = null;
            try
            {
                engine = await Replicated.OpenAsync(pv, replicaNodes, epoch, options.Name, Node, TimeSpan.FromSeconds(3), logger, ct, server).ConfigureAwait(false);
                if (Replicated.SizeOf(pv) > engine.Size)
                {
                    await engine.ExpandAsync(Replicated.SizeOf(pv), ct).ConfigureAwait(false); // grown while detached: the filesystem follows at mount
                }

                var dir = Path.Combine(Root, "attached", name);
                var mount = await VolumeAttachment.AttachAsync(engine, dir, Path.Combine(dir, "mount"), Replicated.FsTypeOf(pv), logger, ct).ConfigureAwait(false);
                var wanted = int.TryParse(Json.Str(pv, "spec", "csi", "volumeAttributes", "numberOfReplicas"), CultureInfo.InvariantCulture, out var w) ? w : replicaNodes.Count;
                var a = new Attached(name, claim, engine, mount, wanted) { ReplicaNodes = [.. replicaNodes] };
                if (Json.Str(claim, "status", "capacity", "storage") is { } had && had != Json.Str(pv, "spec", "capacity", "storage"))
                {
                    a.Online = true; // grown while detached, its filesystem at this mount: the claim is told
                }

                a.Pods.Add(podKey);
                attached[name] = a;
                engine.ReplicaFailed += status => api.RecordEvent(a.Claim, "Warning", "ReplicaFailed",
                    $"replica of volume {name} on {Replicated.NodeOf(status.Address, a.ReplicaNodes, Node)} failed: {status.Error}", "replicated-volume", options.Name);
                a.Repair = Task.Run(() => RepairLoopAsync(a, a.Stop.Token), CancellationToken.None);
                foreach (var c in contents.List().Where(c => Json.Str(c, "spec", "source", "volumeHandle") == name))
                {
                    _ = Task.Run(() => SnapshotAsync(a, c), CancellationToken.None); // asked for while it was attached nowhere
                }

                logger.LogInformation("volume {Volume} attached at {Path} (epoch {Epoch}, {State})", name, mount.Target, epoch, Replicated.Summary(engine, replicaNodes, Node, wanted));
                return mount.Target;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (engine is not null)
                {
                    await engine.DisposeAsync().ConfigureAwait(false);
                }

                Replicated.Release(api, name, options.Name);
                throw new VolumeAttachException($"AttachVolume.Attach failed for volume \"{name}\" : {e.Message}");
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>A pod here is gone: volumes no pod here uses any more are detached and their leases given up.</summary>
    public async Task ReleaseAsync(string podKey)
    {
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var a in attached.Values.Where(a => a.Pods.Remove(podKey) && a.Pods.Count == 0).ToList())
            {
                await DetachAsync(a).ConfigureAwait(false);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task DetachAsync(Attached a)
    {
        attached.TryRemove(a.Pv, out _);
        await a.Stop.CancelAsync().ConfigureAwait(false);
        await a.Repair.ConfigureAwait(false);
        try
        {
            await a.Mount.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or ReplicaException)
        {
            logger.LogWarning("volume {Volume}: detach: {Error}", a.Pv, e.Message);
        }

        await a.Engine.DisposeAsync().ConfigureAwait(false);
        Replicated.Release(api, a.Pv, options.Name);
        a.Stop.Dispose();
        logger.LogInformation("volume {Volume} detached", a.Pv);
    }

    // keeps an attached volume whole: state written where users look, failed replicas replaced
    private async Task RepairLoopAsync(Attached a, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var replicas = a.Engine.Replicas;
                var state = Replicated.Summary(a.Engine, a.ReplicaNodes, Node, a.Wanted);
                if (state != a.LastState)
                {
                    a.LastState = state;
                    Replicated.RecordState(api, a.Pv, options.Name, state, a.ReplicaNodes);
                    WriteClaimCondition(a, state);
                }

                await ExpandIfAskedAsync(a, ct).ConfigureAwait(false);
                var healthy = replicas.Count(r => r.Mode != ReplicaMode.Failed);
                if (healthy < a.Wanted)
                {
                    await ReplaceAsync(a, ct).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("volume {Volume}: repair: {Error}", a.Pv, e.Message);
            }

            try
            {
                await Task.Delay(RepairPeriod, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // the volume grew (its PV says so): the replicas, the device and the filesystem grow, and the claim says it
    private async Task ExpandIfAskedAsync(Attached a, CancellationToken ct)
    {
        var pv = api.TryGet(ResourceType.Volumes, null, a.Pv);
        if (pv is null)
        {
            return;
        }

        var size = Replicated.SizeOf(pv);
        if (size > a.Engine.Size)
        {
            await a.Engine.ExpandAsync(size, ct).ConfigureAwait(false);
            a.Online = await a.Mount.ResizeAsync(ct).ConfigureAwait(false);
        }

        if (size == a.Engine.Size && a.Online is { } online)
        {
            a.Online = null;
            var capacity = Json.Str(pv, "spec", "capacity", "storage");
            api.Mutate(ResourceType.Claims, Json.Namespace(a.Claim), Json.Name(a.Claim), c =>
            {
                var status = Json.Obj(c, "status");
                var conditions = status["conditions"] as JsonArray ?? [];
                foreach (var old in conditions.OfType<JsonObject>().Where(x => Json.Str(x, "type") is "FileSystemResizePending" or "Resizing").ToList())
                {
                    conditions.Remove(old);
                }

                if (online)
                {
                    Json.Obj(status, "capacity")["storage"] = capacity;
                }
                else
                {
                    conditions.Add((JsonNode)new JsonObject
                    {
                        ["type"] = "FileSystemResizePending",
                        ["status"] = "True",
                        ["message"] = "Waiting for user to (re-)start a pod to finish file system resize of volume on node.",
                        ["lastTransitionTime"] = Json.Time(api.Time.GetUtcNow()),
                    });
                }

                status["conditions"] = conditions;
                return true;
            }, "status");
            api.RecordEvent(a.Claim, "Normal", online ? "FileSystemResizeSuccessful" : "FileSystemResizeRequired",
                online ? $"MountVolume.NodeExpandVolume succeeded for volume \"{a.Pv}\" {options.Name}" : $"the filesystem of volume {a.Pv} grows when it is next attached (this kernel refuses online ext4 resize without CAP_SYS_RESOURCE)", "kubelet", options.Name);
        }
    }

    private async Task ReplaceAsync(Attached a, CancellationToken ct)
    {
        var inUse = a.Engine.Replicas.Where(r => r.Mode != ReplicaMode.Failed).Select(r => Replicated.NodeOf(r.Address, a.ReplicaNodes, Node)).ToHashSet(StringComparer.Ordinal);
        var candidate = nodes.List()
            .Where(n => Replicated.IsReady(n) && Replicated.AddressOf(n) is not null && !inUse.Contains(Json.Name(n)))
            .OrderBy(n => a.ReplicaNodes.Contains(Json.Name(n)) ? 1 : 0) // a node that lost its replica comes last
            .ThenBy(n => Json.At(n, "spec", "unschedulable")?.GetValue<bool>() == true ? 1 : 0)
            .ThenBy(n => Json.Name(n), StringComparer.Ordinal)
            .FirstOrDefault();
        if (candidate is null)
        {
            return; // no node to hold another replica now: degraded until one is
        }

        var node = Json.Name(candidate);
        var address = Replicated.AddressOf(candidate)!;
        api.RecordEvent(a.Claim, "Normal", "RebuildingReplica", $"rebuilding a replica of volume {a.Pv} on {node}", "replicated-volume", options.Name);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await a.Engine.RebuildAsync(address, ct).ConfigureAwait(false);
        foreach (var failed in a.Engine.Replicas.Where(r => r.Mode == ReplicaMode.Failed).ToList())
        {
            await a.Engine.RemoveReplicaAsync(failed.Address).ConfigureAwait(false);
        }

        a.ReplicaNodes = [.. a.Engine.Replicas.Select(r => Replicated.NodeOf(r.Address, [.. a.ReplicaNodes, node], Node))];
        var state = Replicated.Summary(a.Engine, a.ReplicaNodes, Node, a.Wanted);
        a.LastState = state;
        Replicated.RecordState(api, a.Pv, options.Name, state, a.ReplicaNodes);
        WriteClaimCondition(a, state);
        api.RecordEvent(a.Claim, "Normal", "ReplicaRebuilt", $"replica of volume {a.Pv} rebuilt on {node} in {sw.Elapsed.TotalSeconds:0.0} s and verified by checksum", "replicated-volume", options.Name);
    }

    private void WriteClaimCondition(Attached a, string state)
    {
        try
        {
            api.Mutate(ResourceType.Claims, Json.Namespace(a.Claim), Json.Name(a.Claim), c =>
            {
                var healthy = state.StartsWith("healthy", StringComparison.Ordinal);
                var conditions = Json.Obj(c, "status")["conditions"] as JsonArray ?? [];
                var condition = conditions.OfType<JsonObject>().FirstOrDefault(x => Json.Str(x, "type") == "ReplicasHealthy");
                if (condition is null)
                {
                    condition = new JsonObject { ["type"] = "ReplicasHealthy" };
                    conditions.Add((JsonNode)condition);
                }

                var status = healthy ? "True" : "False";
                if (Json.Str(condition, "status") != status)
                {
                    condition["lastTransitionTime"] = Json.Time(api.Time.GetUtcNow());
                }

                condition["status"] = status;
                condition["reason"] = state[..state.IndexOf(':', StringComparison.Ordinal)] switch { "healthy" => "Healthy", "degraded" => "Degraded", _ => "Faulted" };
                condition["message"] = $"{state}; attached to {options.Name}";
                condition["lastProbeTime"] = Json.Time(api.Time.GetUtcNow());
                Json.Obj(c, "status")["conditions"] = conditions;
                return true;
            }, "status");
        }
        catch (ApiException e)
        {
            logger.LogDebug("volume {Volume}: claim condition: {Error}", a.Pv, e.Message);
        }
    }

    /// <summary>Detaches every volume (unmounting lazily under pods still running) and stops serving replicas.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var a in attached.Values.ToList())
        {
            try
            {
                await DetachAsync(a).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("volume {Volume}: detach at stop: {Error}", a.Pv, e.Message);
            }
        }

        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        gate.Dispose();
    }
}
