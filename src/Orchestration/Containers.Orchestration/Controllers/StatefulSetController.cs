using System.Globalization;
using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Keeps each StatefulSet's pods as kube's statefulset controller does: pod NAME-i for each ordinal i from
/// <c>spec.ordinals.start</c>, with hostname NAME-i and subdomain <c>serviceName</c> (so the headless Service gives it
/// the name <c>NAME-i.SERVICE.NS.svc.cluster.local</c>), and one PersistentVolumeClaim per volumeClaimTemplate and pod
/// (TEMPLATE-NAME-i), made before the pod and kept when the pod goes. OrderedReady makes pods one at a time in
/// ordinal order, each once the one before is Running and Ready, and removes them from the highest ordinal down,
/// one at a time; Parallel does both at once. A failed pod is deleted and made again under the same name.
/// RollingUpdate replaces pods of an old revision from the highest ordinal down to the partition, one at a time,
/// each once the set is healthy; OnDelete leaves it to the user. Claims are deleted as
/// persistentVolumeClaimRetentionPolicy says (whenDeleted: owned by the set; whenScaled: once the pod went).
/// Revisions are ControllerRevisions; status carries currentRevision and updateRevision and the counts.
/// </summary>
internal sealed class StatefulSetController : IReconciler<string>
{
    /// <summary>The label naming a pod of a set.</summary>
    public const string PodNameLabel = "statefulset.kubernetes.io/pod-name";

    /// <summary>The label carrying a pod's ordinal.</summary>
    public const string PodIndexLabel = "apps.kubernetes.io/pod-index";

    private const string Component = "statefulset-controller";
    private readonly ObjectApi api;
    private readonly Informer sets;
    private readonly Informer pods;
    private readonly Informer claims;
    private readonly Informer revisions;

    public StatefulSetController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        sets = b.For(StatefulSetStrategy.Type);
        revisions = b.Owns(ControllerRevisionStrategy.Type, StatefulSetStrategy.Type);
        pods = b.Owns(ResourceType.Pods, StatefulSetStrategy.Type);
        claims = b.Reads(ResourceType.Claims);
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var set = sets.Get(ns, name);
        if (set is null || Json.Has(set, "metadata", "deletionTimestamp"))
        {
            return Task.FromResult(default(ReconcileResult)); // the garbage collector takes its pods (and claims it owns)
        }

        var (update, others) = ControllerHistory.Sync(api, revisions, StatefulSetStrategy.Type, set);
        string updateName = Json.Name(update);
        string currentName = Json.Str(set, "status", "currentRevision") is { } c && (c == updateName || others.Any(r => Json.Name(r) == c)) ? c : updateName;
        var current = currentName == updateName ? update : others.First(r => Json.Name(r) == currentName);

        string uid = Json.Uid(set);
        long replicas = Json.Int(set, "spec", "replicas") ?? 1;
        long start = Json.Int(set, "spec", "ordinals", "start") ?? 0;
        long minReady = Json.Int(set, "spec", "minReadySeconds") ?? 0;
        bool parallel = Json.Str(set, "spec", "podManagementPolicy") == "Parallel";
        bool rolling = Json.Str(set, "spec", "updateStrategy", "type") == "RollingUpdate";
        long partition = Json.Int(set, "spec", "updateStrategy", "rollingUpdate", "partition") ?? 0;
        var now = api.Time.GetUtcNow();

        // the set's pods by ordinal: those in range are replicas, the rest condemned
        var byOrdinal = new SortedDictionary<long, PodState.Facts>();
        foreach (var p in pods.OwnedByStored(uid).Select(PodState.Of).Where(p => p.ControllerUid == uid))
        {
            if (OrdinalOf(name, Json.Name(p.Object)) is { } ord)
            {
                byOrdinal[ord] = p;
            }
        }

        var condemned = byOrdinal.Where(kv => kv.Key < start || kv.Key >= start + replicas).OrderByDescending(kv => kv.Key).Select(kv => kv.Value).ToList();
        bool Healthy(PodState.Facts p) => !p.Deleting && p.Phase == "Running" && p.Available(minReady, now);
        bool waiting = false;

        for (long ord = start; ord < start + replicas; ord++)
        {
            byOrdinal.TryGetValue(ord, out var pod);
            if (pod is not null && pod.Phase is "Failed" or "Succeeded" && !pod.Deleting)
            {
                api.RecordEvent(set, "Warning", "RecreatingFailedPod", $"StatefulSet {ns}/{name} is recreating failed Pod {Json.Name(pod.Object)}", Component);
                DeletePod(set, pod);
                waiting = true;
                if (!parallel)
                {
                    break;
                }

                continue;
            }

            if (pod is null)
            {
                // made with the current revision below the partition (or before the current replicas), else the update
                bool old = rolling && ord < start + partition;
                CreatePod(set, ord, old ? current : update);
                waiting = true;
                if (!parallel)
                {
                    break;
                }

                continue;
            }

            if (!parallel && !Healthy(pod))
            {
                waiting = true;
                break; // OrderedReady: the next waits for this one
            }
        }

        // scale down: the highest ordinal first; in order, one at a time and only while the rest is healthy
        bool allHealthy = byOrdinal.Where(kv => kv.Key >= start && kv.Key < start + replicas).All(kv => Healthy(kv.Value))
            && byOrdinal.Count(kv => kv.Key >= start && kv.Key < start + replicas) == replicas;
        foreach (var victim in condemned)
        {
            if (victim.Deleting)
            {
                if (!parallel)
                {
                    break;
                }

                continue;
            }

            if (!parallel && !allHealthy && !(victim.Phase is "Failed" or "Succeeded"))
            {
                break;
            }

            DeletePod(set, victim);
            if (!parallel)
            {
                break;
            }
        }

        // rolling update: from the highest ordinal down to the partition, one pod at a time, when all are healthy
        if (rolling && allHealthy && condemned.Count == 0)
        {
            for (long ord = start + replicas - 1; ord >= start + partition; ord--)
            {
                var pod = byOrdinal[ord];
                if (RevisionOf(pod) != updateName)
                {
                    api.RecordEvent(set, "Normal", "SuccessfulDelete", $"delete Pod {Json.Name(pod.Object)} in StatefulSet {name} successful", Component);
                    DeletePod(set, pod, evented: true);
                    break;
                }
            }
        }

        ReleaseScaledClaims(set, byOrdinal, start, replicas);
        WriteStatus(set, byOrdinal.Values.ToList(), currentName, updateName, replicas, minReady, now);
        var inUse = byOrdinal.Values.Select(RevisionOf).Append(currentName).Append(updateName).ToHashSet(StringComparer.Ordinal);
        ControllerHistory.Truncate(api, others, Json.Int(set, "spec", "revisionHistoryLimit") ?? 10, r => inUse.Contains(Json.Name(r)));
        bool availability = minReady > 0 && byOrdinal.Values.Any(p => p.Ready && !p.Available(minReady, now));
        return Task.FromResult(new ReconcileResult(availability || (waiting && minReady > 0) ? TimeSpan.FromSeconds(1) : null));
    }

    private static string RevisionOf(PodState.Facts pod) => pod.Labels.GetValueOrDefault(ControllerHistory.HashLabel) ?? "";

    /// <summary>The ordinal of a pod named <c>SET-N</c>, or null for any other name.</summary>
    internal static long? OrdinalOf(string set, string pod) =>
        pod.Length > set.Length + 1 && pod.StartsWith(set, StringComparison.Ordinal) && pod[set.Length] == '-'
            && long.TryParse(pod.AsSpan(set.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : null;

    private void CreatePod(JsonObject set, long ordinal, JsonObject revision)
    {
        string ns = Json.Namespace(set) ?? "default";
        string name = $"{Json.Name(set)}-{ordinal.ToString(CultureInfo.InvariantCulture)}";
        var template = Json.At(revision, "data", "spec", "template") as JsonObject ?? Json.At(set, "spec", "template") as JsonObject ?? [];
        var labels = (JsonObject)(Json.At(template, "metadata", "labels")?.DeepClone() ?? new JsonObject());
        labels[PodNameLabel] = name;
        labels[PodIndexLabel] = ordinal.ToString(CultureInfo.InvariantCulture);
        labels[ControllerHistory.HashLabel] = Json.Name(revision);
        var meta = new JsonObject
        {
            ["name"] = name,
            ["namespace"] = ns,
            ["labels"] = labels,
            ["ownerReferences"] = new JsonArray(PodState.ControllerReference(set)),
        };
        if (Json.At(template, "metadata", "annotations") is JsonObject annotations)
        {
            meta["annotations"] = annotations.DeepClone();
        }

        var spec = (JsonObject)(template["spec"]?.DeepClone() ?? new JsonObject());
        spec["hostname"] = name;
        if (Json.Str(set, "spec", "serviceName") is { Length: > 0 } service)
        {
            spec["subdomain"] = service;
        }

        // the pod's claims: made first, named TEMPLATE-POD, and its volumes of the templates' names point at them
        var volumes = spec["volumes"] as JsonArray ?? [];
        spec["volumes"] = volumes;
        foreach (var claimTemplate in Json.Items(set, "spec", "volumeClaimTemplates"))
        {
            string volume = Json.Str(claimTemplate, "metadata", "name") ?? "";
            string claim = $"{volume}-{name}";
            EnsureClaim(set, claimTemplate, claim);
            foreach (var existing in volumes.OfType<JsonObject>().Where(v => Json.Str(v, "name") == volume).ToList())
            {
                volumes.Remove(existing);
            }

            volumes.Add((JsonNode)new JsonObject { ["name"] = volume, ["persistentVolumeClaim"] = new JsonObject { ["claimName"] = claim } });
        }

        if (volumes.Count == 0)
        {
            spec.Remove("volumes");
        }

        try
        {
            api.CreateOwned(ResourceType.Pods, ns, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = spec });
            api.RecordEvent(set, "Normal", "SuccessfulCreate", $"create Pod {name} in StatefulSet {Json.Name(set)} successful", Component);
        }
        catch (ApiException e) when (e.Code == 409)
        {
            // made already: the cache has not seen it yet, or the pod of that name is still going
        }
        catch (ApiException e)
        {
            api.RecordEvent(set, "Warning", "FailedCreate", $"create Pod {name} in StatefulSet {Json.Name(set)} failed error: {e.Message}", Component);
            throw;
        }
    }

    private void EnsureClaim(JsonObject set, JsonObject claimTemplate, string claim)
    {
        string ns = Json.Namespace(set) ?? "default";
        if (claims.Get(ns, claim) is not null)
        {
            return;
        }

        var labels = (JsonObject)(Json.At(claimTemplate, "metadata", "labels")?.DeepClone() ?? new JsonObject());
        foreach (var (k, v) in Json.Map(set, "spec", "selector", "matchLabels"))
        {
            labels[k] = v;
        }

        var meta = new JsonObject { ["name"] = claim, ["namespace"] = ns, ["labels"] = labels };
        if (Json.At(claimTemplate, "metadata", "annotations") is JsonObject annotations)
        {
            meta["annotations"] = annotations.DeepClone();
        }

        if (Json.Str(set, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted") == "Delete")
        {
            var owner = PodState.ControllerReference(set);
            owner.Remove("controller");
            meta["ownerReferences"] = new JsonArray(owner); // the garbage collector deletes it with the set
        }

        try
        {
            api.CreateOwned(ResourceType.Claims, ns, new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "PersistentVolumeClaim",
                ["metadata"] = meta,
                ["spec"] = Json.At(claimTemplate, "spec")?.DeepClone(),
            });
            api.RecordEvent(set, "Normal", "SuccessfulCreate", $"create Claim {claim} for Pod {claim[(Json.Str(claimTemplate, "metadata", "name")!.Length + 1)..]} in StatefulSet {Json.Name(set)} success", Component);
        }
        catch (ApiException e) when (e.Code == 409)
        {
        }
        catch (ApiException e)
        {
            api.RecordEvent(set, "Warning", "FailedCreate", $"create Claim {claim} in StatefulSet {Json.Name(set)} failed error: {e.Message}", Component);
            throw;
        }
    }

    private void DeletePod(JsonObject set, PodState.Facts pod, bool evented = false)
    {
        string name = Json.Name(pod.Object);
        try
        {
            // by uid: a cache behind its writes must not delete the pod of the same name made since
            api.Delete(ResourceType.Pods, Json.Namespace(set), name, new DeleteOptions(ExpectedUid: Json.Uid(pod.Object)));
            if (!evented)
            {
                api.RecordEvent(set, "Normal", "SuccessfulDelete", $"delete Pod {name} in StatefulSet {Json.Name(set)} successful", Component);
            }
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
        }
    }

    /// <summary>With whenScaled: Delete, the claims of ordinals above the replicas go once their pod has.</summary>
    private void ReleaseScaledClaims(JsonObject set, SortedDictionary<long, PodState.Facts> byOrdinal, long start, long replicas)
    {
        if (Json.Str(set, "spec", "persistentVolumeClaimRetentionPolicy", "whenScaled") != "Delete")
        {
            return;
        }

        string ns = Json.Namespace(set) ?? "default";
        string name = Json.Name(set);
        foreach (var claimTemplate in Json.Items(set, "spec", "volumeClaimTemplates"))
        {
            string prefix = $"{Json.Str(claimTemplate, "metadata", "name")}-";
            foreach (var claim in claims.List(ns).Where(c => Json.Name(c).StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                if (OrdinalOf(name, Json.Name(claim)[prefix.Length..]) is { } ord && ord >= start + replicas && !byOrdinal.ContainsKey(ord)
                    && !Json.Has(claim, "metadata", "deletionTimestamp"))
                {
                    try
                    {
                        api.Delete(ResourceType.Claims, ns, Json.Name(claim));
                    }
                    catch (ApiException e) when (e.Code == 404)
                    {
                    }
                }
            }
        }
    }

    private void WriteStatus(JsonObject set, List<PodState.Facts> owned, string currentName, string updateName, long replicas, long minReady, DateTimeOffset now)
    {
        var live = owned.Where(p => !p.Deleting).ToList();
        long updated = live.Count(p => RevisionOf(p) == updateName);
        long currentCount = live.Count(p => RevisionOf(p) == currentName);
        long ready = live.Count(p => p.Ready);
        if (updated == replicas && ready == replicas && live.Count == replicas)
        {
            currentName = updateName; // the update is complete
            currentCount = updated;
        }

        var status = new JsonObject
        {
            ["observedGeneration"] = Json.Int(set, "metadata", "generation") ?? 1,
            ["replicas"] = live.Count,
            ["readyReplicas"] = ready,
            ["currentReplicas"] = currentCount,
            ["updatedReplicas"] = updated,
            ["currentRevision"] = currentName,
            ["updateRevision"] = updateName,
            ["collisionCount"] = Json.Int(set, "status", "collisionCount") ?? 0,
            ["availableReplicas"] = live.Count(p => p.Available(minReady, now)),
        };
        if (!JsonNode.DeepEquals(Json.At(set, "status"), status))
        {
            api.Mutate(StatefulSetStrategy.Type, Json.Namespace(set), Json.Name(set), o =>
            {
                o["status"] = status.DeepClone();
                return true;
            }, "status");
        }
    }
}
