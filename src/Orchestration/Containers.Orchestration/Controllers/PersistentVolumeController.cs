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
    private readonly string? directory;

    public PersistentVolumeController(ControllerBuilder b, string? directory)
    {
        api = b.Api;
        this.directory = directory;
        Queue = b.SingleWorker().Queue;
        claims = b.Watches(ResourceType.Claims, (old, claim) => ["claim:" + PodState.Key(claim ?? old!)]);
        // a new or changed volume may bind a pending claim
        volumes = b.Watches(ResourceType.Volumes, (_, volume) => volume is null ? [] :
            claims.List().Where(c => Json.Str(c, "status", "phase") == "Pending").Select(c => "claim:" + PodState.Key(c)).Prepend("volume:" + Json.Name(volume)));
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        if (key.StartsWith("volume:", StringComparison.Ordinal))
        {
            ReleaseIfOrphaned(key["volume:".Length..]);
            return Task.FromResult(default(ReconcileResult));
        }

        var (ns, name) = PodState.Split(key["claim:".Length..]);
        var claim = claims.Get(ns, name);
        if (claim is null)
        {
            foreach (var v in volumes.List().Where(v => Json.Str(v, "spec", "claimRef", "namespace") == ns && Json.Str(v, "spec", "claimRef", "name") == name))
            {
                ReleaseIfOrphaned(Json.Name(v));
            }

            return Task.FromResult(default(ReconcileResult));
        }

        if (Json.Str(claim, "status", "phase") == "Bound" || Json.Has(claim, "metadata", "deletionTimestamp"))
        {
            return Task.FromResult(default(ReconcileResult));
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

        if (volume is null)
        {
            api.RecordEvent(claim, "Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set", "persistentvolume-controller");
            return Task.FromResult(default(ReconcileResult));
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
            return Task.FromResult(new ReconcileResult(TimeSpan.FromMilliseconds(100)));
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
        return Task.FromResult(default(ReconcileResult));
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

    private void ReleaseIfOrphaned(string volumeName)
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
