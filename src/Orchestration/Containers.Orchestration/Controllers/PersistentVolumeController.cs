namespace Containers.Orchestration.Controllers;

/// <summary>
/// Binds PersistentVolumeClaims to PersistentVolumes as Kubernetes' binder does: a pending claim takes the smallest
/// Available volume of its storage class (none for <c>""</c>) whose access modes and capacity cover the request; a claim
/// without a storage class field gets a volume provisioned for it (a hostPath directory under the cluster's volume
/// directory, reclaim policy Delete, as kind's local-path provisioner). A deleted claim releases its volume: Retain
/// leaves it Released, Delete removes it (and a provisioned directory).
/// </summary>
internal sealed class PersistentVolumeController : IReconciler<string>
{
    /// <summary>The annotation naming the provisioner that made a volume.</summary>
    public const string ProvisionedBy = "pv.kubernetes.io/provisioned-by";

    /// <summary>This cluster's local-path provisioner (a directory on the disk of the node its first pod runs on).</summary>
    public const string LocalPathProvisioner = "containers-dotnet/local-path";
    private readonly ObjectApi api;
    private readonly Informer claims;
    private readonly Informer volumes;
    private readonly Informer classes;
    private readonly Informer nodes;
    private readonly string? directory;
    private readonly ReplicatedPopulator? populator;

    public PersistentVolumeController(ControllerBuilder b, string? directory, ReplicatedPopulator? populator = null)
    {
        api = b.Api;
        this.directory = directory;
        this.populator = populator;
        Queue = b.SingleWorker().Queue;
        nodes = b.Reads(ResourceType.Nodes);
        claims = b.Watches(ResourceType.Claims, (old, claim) => ["claim:" + PodState.Key(claim ?? old!)]);
        // a class made after its claims (applied in one go, or the cache not there yet) provisions them
        classes = b.Watches(ResourceType.StorageClasses, (old, sc) => sc is null ? [] :
            claims.List().Where(c => Json.Str(c, "status", "phase") == "Pending" && Json.Str(c, "spec", "storageClassName") == Json.Name(sc)).Select(c => "claim:" + PodState.Key(c)));
        // a new or changed volume may bind a pending claim
        volumes = b.Watches(ResourceType.Volumes, (_, volume) => volume is null ? [] :
            claims.List().Where(c => Json.Str(c, "status", "phase") == "Pending").Select(c => "claim:" + PodState.Key(c)).Prepend("volume:" + Json.Name(volume)));
    }

    public WorkQueue<string> Queue { get; }

    public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        if (key.StartsWith("volume:", StringComparison.Ordinal))
        {
            await ReleaseIfOrphanedAsync(key["volume:".Length..], cancellationToken).ConfigureAwait(false);
            return default;
        }

        var (ns, name) = PodState.Split(key["claim:".Length..]);
        var claim = claims.Get(ns, name);
        if (claim is null)
        {
            foreach (var v in volumes.List().Where(v => Json.Str(v, "spec", "claimRef", "namespace") == ns && Json.Str(v, "spec", "claimRef", "name") == name))
            {
                await ReleaseIfOrphanedAsync(Json.Name(v), cancellationToken).ConfigureAwait(false);
            }

            return default;
        }

        if (Json.Str(claim, "status", "phase") == "Bound" && !Json.Has(claim, "metadata", "deletionTimestamp"))
        {
            Expand(claim);
            return default;
        }

        if (Json.Has(claim, "metadata", "deletionTimestamp"))
        {
            return default;
        }

        string? storageClass = Json.Str(claim, "spec", "storageClassName");
        bool classGiven = Json.At(claim, "spec", "storageClassName") is not null;
        decimal request = Quantity.Of(Json.At(claim, "spec", "resources", "requests", "storage"));
        var modes = (Json.At(claim, "spec", "accessModes") as JsonArray ?? []).Select(m => m?.GetValue<string>()).ToHashSet();
        var volume = Json.Str(claim, "spec", "volumeName") is { } wanted
            ? volumes.Get(null, wanted)
            : !classGiven ? null // the default class: provisioned (as the DefaultStorageClass admission and a provisioner do)
            : volumes.List()
                .Where(v => Json.Str(v, "status", "phase") == "Available" && Json.At(v, "spec", "claimRef") is null
                    && (Json.Str(v, "spec", "storageClassName") ?? "") == (storageClass ?? "")
                    && Quantity.Of(Json.At(v, "spec", "capacity", "storage")) >= request
                    && modes.All(m => (Json.At(v, "spec", "accessModes") as JsonArray ?? []).Any(x => x?.GetValue<string>() == m)))
                .OrderBy(v => Quantity.Of(Json.At(v, "spec", "capacity", "storage")))
                .FirstOrDefault();
        if (volume is null && !classGiven && directory is not null)
        {
            volume = Provision(claim);
        }

        if (volume is null && storageClass is not null && classes.Get(null, storageClass) is { } sc && Json.Str(sc, "provisioner") == Replicated.Driver)
        {
            var (made, retry) = await ProvisionReplicatedAsync(claim, sc, request, cancellationToken).ConfigureAwait(false);
            if (made is null)
            {
                return new ReconcileResult(retry);
            }

            volume = made;
        }

        if (volume is null && storageClass is { Length: > 0 } && classes.Get(null, storageClass) is null)
        {
            // as the binder: a claim of a class that does not exist (yet) waits for it, and says so
            api.RecordEvent(claim, "Warning", "ProvisioningFailed", $"storageclass.storage.k8s.io \"{storageClass}\" not found", "persistentvolume-controller");
            return new ReconcileResult(TimeSpan.FromSeconds(15));
        }

        if (volume is null)
        {
            api.RecordEvent(claim, "Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set", "persistentvolume-controller");
            return default;
        }

        string volumeName = Json.Name(volume);
        bool taken = false;
        api.Mutate(ResourceType.Volumes, null, volumeName, v =>
        {
            if (Json.Str(v, "spec", "claimRef", "uid") is { } other && other != Json.Uid(claim))
            {
                taken = true; // another claim got it first (this cache had not seen it yet)
                return false;
            }

            Json.Obj(v, "spec")["claimRef"] = new JsonObject
            {
                ["kind"] = "PersistentVolumeClaim",
                ["namespace"] = ns,
                ["name"] = name,
                ["uid"] = Json.Uid(claim),
                ["apiVersion"] = "v1",
            };
            return true;
        });
        if (taken)
        {
            return new ReconcileResult(TimeSpan.FromMilliseconds(100));
        }

        api.Mutate(ResourceType.Volumes, null, volumeName, v =>
        {
            Json.Obj(v, "status")["phase"] = "Bound";
            return true;
        }, "status");
        api.Mutate(ResourceType.Claims, ns, name, c =>
        {
            Json.Obj(c, "spec")["volumeName"] = volumeName;
            return true;
        });
        api.Mutate(ResourceType.Claims, ns, name, c =>
        {
            var status = Json.Obj(c, "status");
            status["phase"] = "Bound";
            status["capacity"] = Json.At(volume, "spec", "capacity")?.DeepClone();
            status["accessModes"] = Json.At(volume, "spec", "accessModes")?.DeepClone();
            return true;
        }, "status");
        return default;
    }

    /// <summary>
    /// A bound claim of a replicated volume asking for more than its volume has: the volume grows when its class allows
    /// expansion (the node that has it attached grows the device and the filesystem; a detached one grows at its next
    /// attach), as the external resizer does; a shrink is refused by an event.
    /// </summary>
    private void Expand(JsonObject claim)
    {
        if (Json.Str(claim, "spec", "volumeName") is not { } pvName || volumes.Get(null, pvName) is not { } pv || !Replicated.Is(pv))
        {
            return;
        }

        var request = Quantity.Of(Json.At(claim, "spec", "resources", "requests", "storage"));
        var size = Replicated.SizeOf(pv);
        var wanted = (long)Math.Ceiling(request / 4096m) * 4096;
        if (wanted <= size)
        {
            return;
        }

        var sc = Json.Str(claim, "spec", "storageClassName") is { } name ? classes.Get(null, name) : null;
        if (sc is null || Json.At(sc, "allowVolumeExpansion")?.GetValue<bool>() != true)
        {
            api.RecordEvent(claim, "Warning", "VolumeResizeFailed", $"only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize (StorageClass {Json.Str(claim, "spec", "storageClassName")} has no allowVolumeExpansion: true)", "external-resizer " + Replicated.Driver);
            return;
        }

        var text = wanted.ToString(System.Globalization.CultureInfo.InvariantCulture);
        api.Mutate(ResourceType.Volumes, null, pvName, v =>
        {
            Json.Obj(v, "spec", "capacity")["storage"] = Replicated.Quantity(wanted);
            Json.Obj(v, "spec", "csi", "volumeAttributes")["size"] = text;
            return true;
        });
        api.RecordEvent(claim, "Normal", "Resizing", $"External resizer is resizing volume {pvName} to {text} bytes", "external-resizer " + Replicated.Driver);
    }

    /// <summary>
    /// A volume of <c>containers.dev/replicated</c> for <paramref name="claim"/>: numberOfReplicas (default 3) nodes that
    /// are Ready and serve replicas, the ones holding fewest replicas first (one replica per node); the replicas are made
    /// on the volume's first attach. Too few such nodes leave the claim Pending with an event saying so. A claim with a
    /// dataSource (a VolumeSnapshot) gets the snapshot's data (or its backup's) before it is bound.
    /// </summary>
    private async Task<(JsonObject? Volume, TimeSpan Retry)> ProvisionReplicatedAsync(JsonObject claim, JsonObject sc, decimal request, CancellationToken ct)
    {
        string pvName = "pvc-" + Json.Uid(claim);
        if (volumes.Get(null, pvName) is { } existing)
        {
            return (existing, default);
        }

        var className = Json.Name(sc);
        var parameters = Json.At(sc, "parameters") as JsonObject ?? [];
        var wanted = int.TryParse(Json.Str(parameters, "numberOfReplicas") ?? "3", System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 3;
        var fsType = Json.Str(parameters, "csi.storage.k8s.io/fstype") ?? Json.Str(parameters, "fsType") ?? "ext4";
        var size = (long)Math.Ceiling(Math.Max(request, 16 << 20) / 4096m) * 4096;
        var load = volumes.List().Where(Replicated.Is).SelectMany(v => Replicated.ReplicaNodes(v, null)).GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        var able = nodes.List().Where(x => Replicated.IsReady(x) && Replicated.AddressOf(x) is not null).Select(Json.Name).ToList();
        if (able.Count < wanted)
        {
            var message = $"failed to provision volume with StorageClass \"{className}\": numberOfReplicas is {wanted} but {(able.Count == 0 ? "no node" : $"only {able.Count} node{(able.Count == 1 ? "" : "s")} ({string.Join(", ", able.Order(StringComparer.Ordinal))})")} can hold a replica (Ready, serving replicas); one replica per node";
            api.RecordEvent(claim, "Warning", "ProvisioningFailed", message, "persistentvolume-controller");

            return (null, TimeSpan.FromSeconds(5));
        }

        // nodes that take pods first (a cordoned control-plane machine holds replicas only when it must), then the least loaded
        var placed = able.OrderBy(x => Json.At(nodes.Get(null, x) ?? [], "spec", "unschedulable")?.GetValue<bool>() == true ? 1 : 0)
            .ThenBy(x => load.GetValueOrDefault(x)).ThenBy(x => x, StringComparer.Ordinal).Take(wanted).ToList();
        var pv = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = pvName, ["annotations"] = new JsonObject { [ProvisionedBy] = Replicated.Driver } },
            ["spec"] = new JsonObject
            {
                ["capacity"] = new JsonObject { ["storage"] = Replicated.Quantity(size) },
                ["accessModes"] = Json.At(claim, "spec", "accessModes")?.DeepClone() ?? new JsonArray("ReadWriteOnce"),
                ["persistentVolumeReclaimPolicy"] = Json.Str(sc, "reclaimPolicy") ?? "Delete",
                ["storageClassName"] = className,
                ["volumeMode"] = "Filesystem",
                ["csi"] = new JsonObject
                {
                    ["driver"] = Replicated.Driver,
                    ["volumeHandle"] = pvName,
                    ["fsType"] = fsType,
                    ["volumeAttributes"] = new JsonObject
                    {
                        ["numberOfReplicas"] = wanted.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["replicas"] = string.Join(',', placed),
                        ["size"] = size.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    },
                },
            },
        };
        if (Json.At(claim, "spec", "dataSource") is JsonObject source && populator is not null)
        {
            try
            {
                await populator.PopulateAsync(claim, source, pv, placed, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                api.RecordEvent(claim, "Warning", "ProvisioningFailed", $"failed to provision volume with StorageClass \"{className}\" from {Json.Str(source, "kind")} {Json.Str(source, "name")}: {e.Message}", "persistentvolume-controller");
                return (null, TimeSpan.FromSeconds(10));
            }
        }

        try
        {
            var made = api.Create(ResourceType.Volumes, null, pv);
            api.RecordEvent(claim, "Normal", "ProvisioningSucceeded", $"Successfully provisioned volume {pvName} with {wanted} replicas on {string.Join(", ", placed)}", "persistentvolume-controller");
            return (made, default);
        }
        catch (ApiException e) when (e.Reason == "AlreadyExists")
        {
            return (api.Get(ResourceType.Volumes, null, pvName), default);
        }
    }

    private JsonObject Provision(JsonObject claim)
    {
        string pvName = "pvc-" + Json.Uid(claim);
        string path = Path.Combine(directory!, pvName);
        Directory.CreateDirectory(path);
        var capacity = Json.At(claim, "spec", "resources", "requests", "storage")?.DeepClone() ?? "1Gi";
        try
        {
            return api.Create(ResourceType.Volumes, null, new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = pvName, ["annotations"] = new JsonObject { [ProvisionedBy] = LocalPathProvisioner } },
                ["spec"] = new JsonObject
                {
                    ["capacity"] = new JsonObject { ["storage"] = capacity },
                    ["accessModes"] = Json.At(claim, "spec", "accessModes")?.DeepClone() ?? new JsonArray("ReadWriteOnce"),
                    ["persistentVolumeReclaimPolicy"] = "Delete",
                    ["hostPath"] = new JsonObject { ["path"] = path, ["type"] = "DirectoryOrCreate" },
                },
            });
        }
        catch (ApiException e) when (e.Reason == "AlreadyExists")
        {
            return api.Get(ResourceType.Volumes, null, pvName);
        }
    }

    private async Task ReleaseIfOrphanedAsync(string volumeName, CancellationToken ct)
    {
        var volume = volumes.Get(null, volumeName);
        if (volume is null || Json.At(volume, "spec", "claimRef") is not JsonObject claimRef)
        {
            return;
        }

        var claim = claims.Get(Json.Str(claimRef, "namespace"), Json.Str(claimRef, "name") ?? "");
        if (claim is not null && Json.Uid(claim) == Json.Str(claimRef, "uid"))
        {
            return;
        }

        if (Json.Str(volume, "spec", "persistentVolumeReclaimPolicy") == "Delete")
        {
            try
            {
                api.Delete(ResourceType.Volumes, null, volumeName);
            }
            catch (ApiException e) when (e.Code == 404)
            {
            }

            if (Replicated.Is(volume) && populator is not null)
            {
                await populator.DeleteReplicasAsync(volume, ct).ConfigureAwait(false);
            }

            if (Json.Str(volume, "metadata", "annotations", ProvisionedBy) is not null && Json.Str(volume, "spec", "hostPath", "path") is { } path
                && directory is not null && path.StartsWith(directory, StringComparison.Ordinal) && Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }

            return;
        }

        api.Mutate(ResourceType.Volumes, null, volumeName, v =>
        {
            Json.Obj(v, "status")["phase"] = "Released";
            return true;
        }, "status");
    }
}
