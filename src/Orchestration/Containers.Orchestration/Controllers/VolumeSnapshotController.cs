using System.Globalization;
using System.Text;
using Containers.Volumes;
using Containers.Volumes.Backups;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Snapshots and backups of replicated volumes through the CSI snapshot API (snapshot.storage.k8s.io/v1), as the
/// external snapshotter and Longhorn's CSI plugin do: a VolumeSnapshot of a claim gets a VolumeSnapshotContent; the
/// snapshot is taken by the volume's engine, on the node that has it attached (or here, holding the volume's lease,
/// when no node does); a class with parameter <c>type: bak</c> then uploads it to its <c>backupTarget</c> (a directory,
/// or <c>s3://BUCKET/PREFIX</c> with the credentials of the class's snapshotter secret) incrementally. The
/// VolumeSnapshot is ready once its content is. Deleting it deletes the content (deletionPolicy Delete): the snapshot
/// leaves the volume and the backup the target. A StorageClass with <c>snapshotSchedule</c> / <c>backupSchedule</c>
/// (cron) takes recurring snapshots / backups of its claims and keeps the newest <c>snapshotRetain</c> /
/// <c>backupRetain</c> (Longhorn's recurring jobs).
/// </summary>
internal sealed class VolumeSnapshotController : IReconciler<string>
{
    /// <summary>The content's finalizer while its snapshot is in the volume.</summary>
    public const string SnapshotFinalizer = "replicated.containers.dev/snapshot";

    /// <summary>The content's finalizer while its backup is in the target.</summary>
    public const string BackupFinalizer = "replicated.containers.dev/backup";

    /// <summary>The content's annotation once its snapshot is in the volume: the snapshot's name there.</summary>
    public const string TakenAnnotation = "replicated.containers.dev/snapshot-taken";

    /// <summary>A recurring snapshot's label: snapshot or backup.</summary>
    public const string RecurringLabel = "replicated.containers.dev/recurring";

    private const string ErrorAnnotation = "replicated.containers.dev/error";
    private readonly ObjectApi api;
    private readonly Informer snapshots;
    private readonly Informer contents;
    private readonly Informer classes;
    private readonly Informer claims;
    private readonly Informer volumes;
    private readonly Informer nodes;
    private readonly Informer storageClasses;
    private readonly ILogger logger;
    private readonly Dictionary<string, DateTimeOffset> lastRecurring = new(StringComparer.Ordinal);

    public VolumeSnapshotController(ControllerBuilder b, ILogger logger)
    {
        api = b.Api;
        this.logger = logger;
        Queue = b.Queue;
        snapshots = b.For(ResourceType.Snapshots);
        contents = b.Watches(ResourceType.SnapshotContents, (old, c) =>
        {
            var x = c ?? old!;
            return Json.Str(x, "spec", "volumeSnapshotRef", "name") is { } n ? [$"{Json.Str(x, "spec", "volumeSnapshotRef", "namespace")}/{n}", "content:" + Json.Name(x)] : ["content:" + Json.Name(x)];
        });
        classes = b.Reads(ResourceType.SnapshotClasses);
        claims = b.Reads(ResourceType.Claims);
        volumes = b.Reads(ResourceType.Volumes);
        nodes = b.Reads(ResourceType.Nodes);
        storageClasses = b.Reads(ResourceType.StorageClasses);
        Queue.Add("recurring");
    }

    public WorkQueue<string> Queue { get; }

    public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken ct)
    {
        try
        {
            if (key == "recurring")
            {
                return Recurring();
            }

            if (key.StartsWith("content:", StringComparison.Ordinal))
            {
                return await ContentAsync(key["content:".Length..], ct).ConfigureAwait(false);
            }

            return await SnapshotAsync(key, ct).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            return new ReconcileResult(TimeSpan.FromMilliseconds(200));
        }
    }

    private async Task<ReconcileResult> SnapshotAsync(string key, CancellationToken ct)
    {
        var (ns, name) = PodState.Split(key);
        var vs = snapshots.Get(ns, name);
        if (vs is null)
        {
            // its content goes with it when the policy says Delete
            foreach (var c in contents.List().Where(c => Json.Str(c, "spec", "volumeSnapshotRef", "namespace") == ns && Json.Str(c, "spec", "volumeSnapshotRef", "name") == name
                && Json.Str(c, "spec", "deletionPolicy") == "Delete" && !Json.Has(c, "metadata", "deletionTimestamp")))
            {
                api.Delete(ResourceType.SnapshotContents, null, Json.Name(c));
            }

            return default;
        }

        if (Json.Has(vs, "metadata", "deletionTimestamp"))
        {
            return default;
        }

        var contentName = Json.Str(vs, "status", "boundVolumeSnapshotContentName") ?? Json.Str(vs, "spec", "source", "volumeSnapshotContentName");
        if (contentName is null)
        {
            var claimName = Json.Str(vs, "spec", "source", "persistentVolumeClaimName")!;
            var claim = claims.Get(ns, claimName);
            var pv = claim is null ? null : Json.Str(claim, "spec", "volumeName") is { } pvName ? volumes.Get(null, pvName) : null;
            if (pv is null)
            {
                return Fail(vs, $"the source claim {claimName} is not bound to a volume", TimeSpan.FromSeconds(2));
            }

            if (!Replicated.Is(pv))
            {
                return Fail(vs, $"the source claim {claimName}'s volume {Json.Name(pv)} is not a {Replicated.Driver} volume: no snapshotter for it", TimeSpan.FromSeconds(30));
            }

            var defaultClass = classes.List().FirstOrDefault(c => Json.Str(c, "driver") == Replicated.Driver && Json.Str(c, "metadata", "annotations", "snapshot.storage.kubernetes.io/is-default-class") == "true");
            var className = Json.Str(vs, "spec", "volumeSnapshotClassName") ?? (defaultClass is null ? null : Json.Name(defaultClass));
            var vsClass = className is null ? null : classes.Get(null, className);
            if (vsClass is null)
            {
                return Fail(vs, className is null ? $"no VolumeSnapshotClass is named and none of driver {Replicated.Driver} is the default" : $"VolumeSnapshotClass {className} not found", TimeSpan.FromSeconds(5));
            }

            contentName = "snapcontent-" + Json.Uid(vs);
            var bak = Json.Str(vsClass, "parameters", "type") == "bak";
            try
            {
                api.Create(ResourceType.SnapshotContents, null, new JsonObject
                {
                    ["metadata"] = new JsonObject
                    {
                        ["name"] = contentName,
                        ["finalizers"] = bak ? new JsonArray(SnapshotFinalizer, BackupFinalizer) : new JsonArray(SnapshotFinalizer),
                    },
                    ["spec"] = new JsonObject
                    {
                        ["driver"] = Replicated.Driver,
                        ["deletionPolicy"] = Json.Str(vsClass, "deletionPolicy") ?? "Delete",
                        ["source"] = new JsonObject { ["volumeHandle"] = Json.Name(pv) },
                        ["volumeSnapshotClassName"] = className,
                        ["volumeSnapshotRef"] = new JsonObject
                        {
                            ["kind"] = "VolumeSnapshot",
                            ["apiVersion"] = "snapshot.storage.k8s.io/v1",
                            ["namespace"] = ns,
                            ["name"] = name,
                            ["uid"] = Json.Uid(vs),
                        },
                    },
                });
            }
            catch (ApiException e) when (e.Reason == "AlreadyExists")
            {
            }

            var bound = contentName;
            api.Mutate(ResourceType.Snapshots, ns, name, s =>
            {
                Json.Obj(s, "status")["boundVolumeSnapshotContentName"] = bound;
                Json.Obj(s, "status")["readyToUse"] = false;
                return true;
            }, "status");
            return new ReconcileResult(TimeSpan.FromMilliseconds(100));
        }

        // the snapshot's status follows its content's
        var content = contents.Get(null, contentName);
        if (content is null)
        {
            return new ReconcileResult(TimeSpan.FromMilliseconds(200));
        }

        var ready = Json.At(content, "status", "readyToUse")?.GetValue<bool>() == true;
        var error = Json.Str(content, "metadata", "annotations", ErrorAnnotation);
        api.Mutate(ResourceType.Snapshots, ns, name, s =>
        {
            var status = Json.Obj(s, "status");
            if (Json.At(status, "readyToUse")?.GetValue<bool>() == ready && Json.Str(status, "error", "message") == error && (!ready || Json.Str(status, "creationTime") is not null))
            {
                return false;
            }

            status["boundVolumeSnapshotContentName"] = contentName;
            status["readyToUse"] = ready;
            if (ready)
            {
                var created = Json.Int(content, "status", "creationTime") ?? 0;
                status["creationTime"] = Json.Time(DateTimeOffset.FromUnixTimeMilliseconds(created / 1_000_000));
                status["restoreSize"] = (Json.Int(content, "status", "restoreSize") ?? 0).ToString(CultureInfo.InvariantCulture);
                status.Remove("error");
            }
            else if (error is not null)
            {
                status["error"] = new JsonObject { ["message"] = error, ["time"] = Json.Time(api.Time.GetUtcNow()) };
            }

            return true;
        }, "status");
        return default;
    }

    private ReconcileResult Fail(JsonObject vs, string message, TimeSpan retry)
    {
        api.RecordEvent(vs, "Warning", "SnapshotCreationFailed", $"Failed to create snapshot: {message}", "snapshot-controller");
        api.Mutate(ResourceType.Snapshots, Json.Namespace(vs), Json.Name(vs), s =>
        {
            if (Json.Str(s, "status", "error", "message") == message)
            {
                return false;
            }

            Json.Obj(s, "status")["readyToUse"] = false;
            Json.Obj(s, "status")["error"] = new JsonObject { ["message"] = message, ["time"] = Json.Time(api.Time.GetUtcNow()) };
            return true;
        }, "status");
        return new ReconcileResult(retry);
    }

    private async Task<ReconcileResult> ContentAsync(string name, CancellationToken ct)
    {
        var content = contents.Get(null, name);
        if (content is null || Json.Str(content, "spec", "driver") != Replicated.Driver)
        {
            return default;
        }

        var pvName = Json.Str(content, "spec", "source", "volumeHandle");
        var pv = pvName is null ? null : volumes.Get(null, pvName);
        var vsClass = Json.Str(content, "spec", "volumeSnapshotClassName") is { } cn ? classes.Get(null, cn) : null;
        var bak = vsClass is not null && Json.Str(vsClass, "parameters", "type") == "bak";
        var finalizers = (Json.At(content, "metadata", "finalizers") as JsonArray ?? []).Select(f => Json.Str(f)).ToList();

        if (Json.Has(content, "metadata", "deletionTimestamp"))
        {
            if (finalizers.Contains(BackupFinalizer))
            {
                if (Json.Str(content, "spec", "deletionPolicy") == "Delete" && Json.Str(content, "status", "snapshotHandle") is { } handle && handle.StartsWith("bak:", StringComparison.Ordinal) && vsClass is not null)
                {
                    var (volume, backup) = SplitHandle(handle);
                    using var target = OpenTarget(vsClass);
                    await new BackupStore(target).DeleteAsync(volume, backup, ct).ConfigureAwait(false);
                }

                RemoveFinalizer(name, BackupFinalizer);
            }

            if (finalizers.Contains(SnapshotFinalizer) && await ExecuteHereAsync(content, pv, delete: true, ct).ConfigureAwait(false) is { } later)
            {
                return new ReconcileResult(later); // the node that has the volume attached deletes it, or a failure is tried again
            }

            return default;
        }

        if (Json.At(content, "status", "readyToUse")?.GetValue<bool>() == true || pv is null)
        {
            return default;
        }

        if (Json.Str(content, "metadata", "annotations", TakenAnnotation) is not { } snapshot)
        {
            // taken here (its status next), by the node that has it attached, or tried again after a failure
            return new ReconcileResult(await ExecuteHereAsync(content, pv, delete: false, ct).ConfigureAwait(false) ?? TimeSpan.FromMilliseconds(50));
        }

        string snapshotHandle = $"snap:{pvName}/{snapshot}";
        if (bak)
        {
            try
            {
                await using var reader = await VolumeReader.OpenAsync(pvName!, ReplicaAddresses(pv), TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
                using var target = OpenTarget(vsClass!);
                var info = await new BackupStore(target).BackupAsync(reader, snapshot, snapshot, ct).ConfigureAwait(false);
                snapshotHandle = $"bak:{pvName}/{snapshot}";
                logger.LogInformation("backup {Backup} of {Volume}: {Chunks} chunks, {New} new, {Bytes} bytes uploaded in {Seconds:0.00} s (base {Base})", snapshot, pvName, info.Chunks, info.NewChunks, info.UploadedBytes, info.Seconds, info.Base ?? "none");
            }
            catch (Exception e) when (e is BackupException or IOException or ArgumentException or KeyNotFoundException)
            {
                var message = $"backup of volume {pvName} to {Json.Str(vsClass!, "parameters", "backupTarget")} failed: {e.Message}";
                SetError(name, message);
                if (Json.Str(content, "spec", "volumeSnapshotRef", "name") is { } vsName && snapshots.Get(Json.Str(content, "spec", "volumeSnapshotRef", "namespace"), vsName) is { } vs)
                {
                    api.RecordEvent(vs, "Warning", "BackupFailed", message, "snapshot-controller");
                }

                return new ReconcileResult(TimeSpan.FromSeconds(15));
            }
        }

        var created = Json.ParseTime(Json.Str(content, "metadata", "creationTimestamp")) ?? api.Time.GetUtcNow();
        api.Mutate(ResourceType.SnapshotContents, null, name, c =>
        {
            var status = Json.Obj(c, "status");
            status["snapshotHandle"] = snapshotHandle;
            status["readyToUse"] = true;
            status["restoreSize"] = Replicated.SizeOf(pv);
            status["creationTime"] = created.ToUnixTimeMilliseconds() * 1_000_000;
            return true;
        }, "status");
        api.Mutate(ResourceType.SnapshotContents, null, name, c => Json.Obj(c, "metadata", "annotations").Remove(ErrorAnnotation));
        return default;
    }

    // takes (or deletes) the content's snapshot here when no node has the volume attached: null once done; else when to
    // look again (1 s: the node that has it attached does it; 5 s: it failed, the error is on the content)
    private async Task<TimeSpan?> ExecuteHereAsync(JsonObject content, JsonObject? pv, bool delete, CancellationToken ct)
    {
        var name = Json.Name(content);
        if (pv is null)
        {
            if (delete)
            {
                RemoveFinalizer(name, SnapshotFinalizer); // the volume is gone, and its snapshots with it
            }

            return null;
        }

        var lease = api.TryGet(ResourceType.Leases, Replicated.LeaseNamespace, Replicated.LeaseName(Json.Name(pv)));
        if (lease is not null && Replicated.HolderAlive(api, lease, n => nodes.Get(null, n)) && nodes.Get(null, Json.Str(lease, "spec", "holderIdentity") ?? "") is not null)
        {
            return TimeSpan.FromSeconds(1);
        }

        const string holder = "snapshot-controller";
        try
        {
            var taken = Replicated.Acquire(api, Json.Name(pv), holder, n => nodes.Get(null, n), Json.Str(pv, "spec", "csi", "volumeAttributes", "replicas"));
            try
            {
                await using var engine = await Replicated.OpenAsync(pv, Replicated.ReplicaNodes(pv, taken), Json.Int(taken, "spec", "leaseTransitions") ?? 1, null, n => nodes.Get(null, n), TimeSpan.FromSeconds(5), logger, ct).ConfigureAwait(false);
                await SnapshotExecutor.ApplyAsync(api, engine, content, delete, ct).ConfigureAwait(false);
            }
            finally
            {
                Replicated.Release(api, Json.Name(pv), holder);
            }
        }
        catch (VolumeAttachException)
        {
            return TimeSpan.FromSeconds(1); // a node took it meanwhile
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException)
        {
            SetError(name, $"{(delete ? "deleting" : "taking")} snapshot of volume {Json.Name(pv)}: {e.Message}");
            return TimeSpan.FromSeconds(5);
        }

        return null;
    }

    private IReadOnlyList<string> ReplicaAddresses(JsonObject pv)
    {
        var lease = api.TryGet(ResourceType.Leases, Replicated.LeaseNamespace, Replicated.LeaseName(Json.Name(pv)));
        return [.. Replicated.ReplicaNodes(pv, lease).Select(n => Replicated.AddressOf(nodes.Get(null, n))).OfType<string>()];
    }

    private void SetError(string content, string message) =>
        api.Mutate(ResourceType.SnapshotContents, null, content, c =>
        {
            if (Json.Str(c, "metadata", "annotations", ErrorAnnotation) == message)
            {
                return false;
            }

            Json.Obj(c, "metadata", "annotations")[ErrorAnnotation] = message;
            return true;
        });

    private void RemoveFinalizer(string content, string finalizer) => SnapshotExecutor.RemoveFinalizer(api, content, finalizer);

    private IBackupTarget OpenTarget(JsonObject vsClass) => new TargetOpener(api).Open(vsClass);

    internal static (string Volume, string Name) SplitHandle(string handle)
    {
        var body = handle[(handle.IndexOf(':', StringComparison.Ordinal) + 1)..];
        var slash = body.IndexOf('/', StringComparison.Ordinal);
        return (body[..slash], body[(slash + 1)..]);
    }

    // recurring snapshots and backups of the claims of StorageClasses with a schedule, keeping the newest N
    private ReconcileResult Recurring()
    {
        var now = api.Time.GetUtcNow();
        var next = now.AddMinutes(1);
        foreach (var sc in storageClasses.List().Where(c => Json.Str(c, "provisioner") == Replicated.Driver))
        {
            foreach (var kind in new[] { "snapshot", "backup" })
            {
                // five fields as cron, or six with seconds first
                if (Json.Str(sc, "parameters", kind + "Schedule") is not { } cron
                    || !Cronos.CronExpression.TryParse(cron, cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? Cronos.CronFormat.IncludeSeconds : Cronos.CronFormat.Standard, out var schedule))
                {
                    continue;
                }

                var retain = int.TryParse(Json.Str(sc, "parameters", kind + "Retain") ?? "5", CultureInfo.InvariantCulture, out var r) ? Math.Max(r, 1) : 5;
                var vsClass = kind == "backup" ? Json.Str(sc, "parameters", "backupSnapshotClass") : Json.Str(sc, "parameters", "snapshotClass");
                foreach (var claim in claims.List().Where(c => Json.Str(c, "spec", "storageClassName") == Json.Name(sc) && Json.Str(c, "status", "phase") == "Bound"))
                {
                    var key = $"{kind}/{Json.Namespace(claim)}/{Json.Name(claim)}";
                    var last = lastRecurring.TryGetValue(key, out var l) ? l : Json.ParseTime(Json.Str(claim, "metadata", "creationTimestamp")) ?? now;
                    var due = schedule.GetNextOccurrence(last, TimeZoneInfo.Utc);
                    if (due is { } d && d <= now)
                    {
                        lastRecurring[key] = now;
                        var vs = new JsonObject
                        {
                            ["metadata"] = new JsonObject
                            {
                                ["name"] = $"{Json.Name(claim)}-{kind}-{now:yyyyMMddHHmmss}",
                                ["labels"] = new JsonObject { [RecurringLabel] = kind, ["replicated.containers.dev/claim"] = Json.Name(claim) },
                            },
                            ["spec"] = new JsonObject { ["source"] = new JsonObject { ["persistentVolumeClaimName"] = Json.Name(claim) } },
                        };
                        if (vsClass is not null)
                        {
                            Json.Obj(vs, "spec")["volumeSnapshotClassName"] = vsClass;
                        }

                        try
                        {
                            api.Create(ResourceType.Snapshots, Json.Namespace(claim), vs);
                        }
                        catch (ApiException e) when (e.Reason == "AlreadyExists")
                        {
                        }
                    }
                    else if (due is { } later && later < next)
                    {
                        next = later;
                    }

                    // retention: the newest ready ones are kept
                    var mine = snapshots.List(Json.Namespace(claim))
                        .Where(s => Json.Str(s, "metadata", "labels", RecurringLabel) == kind && Json.Str(s, "metadata", "labels", "replicated.containers.dev/claim") == Json.Name(claim) && !Json.Has(s, "metadata", "deletionTimestamp"))
                        .OrderByDescending(s => Json.Str(s, "metadata", "creationTimestamp"), StringComparer.Ordinal).ThenByDescending(Json.Name, StringComparer.Ordinal)
                        .ToList();
                    foreach (var old in mine.Skip(retain))
                    {
                        api.Delete(ResourceType.Snapshots, Json.Namespace(old), Json.Name(old));
                    }
                }
            }
        }

        var wait = next - api.Time.GetUtcNow();
        return new ReconcileResult(wait < TimeSpan.FromMilliseconds(200) ? TimeSpan.FromMilliseconds(200) : wait > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : wait);
    }
}

/// <summary>Takes or deletes a VolumeSnapshotContent's snapshot with a volume's engine (here or on the node that has it attached).</summary>
internal static class SnapshotExecutor
{
    /// <summary>Drops <paramref name="finalizer"/> from a content (its part of the deletion is done).</summary>
    public static void RemoveFinalizer(ObjectApi api, string content, string finalizer) =>
        api.Mutate(ResourceType.SnapshotContents, null, content, c =>
        {
            if (Json.At(c, "metadata", "finalizers") is not JsonArray f || f.FirstOrDefault(x => Json.Str(x) == finalizer) is not { } item)
            {
                return false;
            }

            f.Remove(item);
            return true;
        });

    /// <summary>Takes the snapshot (named as the content) and marks the content, or deletes it and drops the finalizer.</summary>
    public static async Task ApplyAsync(ObjectApi api, ReplicatedVolume engine, JsonObject content, bool delete, CancellationToken ct)
    {
        var name = Json.Name(content);
        var existing = await engine.SnapshotsAsync(ct).ConfigureAwait(false);
        if (delete)
        {
            if (existing.Any(s => s.Name == name))
            {
                await engine.DeleteSnapshotAsync(name, ct).ConfigureAwait(false);
            }

            RemoveFinalizer(api, name, VolumeSnapshotController.SnapshotFinalizer);
            return;
        }

        if (!existing.Any(s => s.Name == name))
        {
            await engine.SnapshotAsync(name, ct).ConfigureAwait(false);
        }

        api.Mutate(ResourceType.SnapshotContents, null, name, c =>
        {
            Json.Obj(c, "metadata", "annotations")[VolumeSnapshotController.TakenAnnotation] = name;
            return true;
        });
    }
}

/// <summary>Opens the backup target of a VolumeSnapshotClass of type bak.</summary>
internal sealed class TargetOpener(ObjectApi api)
{
        /// <summary>The backup target of a VolumeSnapshotClass of type bak: its backupTarget, with its snapshotter secret's credentials.</summary>
            public IBackupTarget Open(JsonObject vsClass)
        {
            var url = Json.Str(vsClass, "parameters", "backupTarget") ?? throw new ArgumentException($"VolumeSnapshotClass {Json.Name(vsClass)} of type bak has no parameter backupTarget");
            S3Settings? s3 = null;
            if (url.StartsWith("s3://", StringComparison.Ordinal))
            {
                var secretName = Json.Str(vsClass, "parameters", "csi.storage.k8s.io/snapshotter-secret-name");
                var secretNs = Json.Str(vsClass, "parameters", "csi.storage.k8s.io/snapshotter-secret-namespace") ?? "default";
                var data = secretName is null ? null : api.TryGet(ResourceType.Secrets, secretNs, secretName) is { } secret ? Json.At(secret, "data") as JsonObject : null;
                string? Value(string k) => data is not null && Json.Str(data, k) is { } b64 ? Encoding.UTF8.GetString(Convert.FromBase64String(b64)) : null;
                if (secretName is not null && data is null)
                {
                    throw new ArgumentException($"the backup target's secret {secretNs}/{secretName} was not found");
                }

                s3 = new S3Settings(Value("AWS_ENDPOINTS") ?? Value("AWS_ENDPOINT_URL"), Value("AWS_REGION") ?? "us-east-1", Value("AWS_ACCESS_KEY_ID") ?? "", Value("AWS_SECRET_ACCESS_KEY") ?? "");
            }

            return BackupTargets.Open(url, s3);
        }
}
