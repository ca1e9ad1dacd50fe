using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Keeps each ReplicaSet's active pods at spec.replicas: creates pods from the template (owned by the set), deletes the
/// surplus in Kubernetes' order (unscheduled, pending, not ready, most restarts, newest first), adopts matching orphans
/// and releases pods whose labels no longer match, and writes status (replicas, ready, available, observedGeneration).
/// Expectations keep it from acting twice on a change its cache has not seen yet.
/// </summary>
internal sealed class ReplicaSetController : IReconciler<string>
{
    private readonly ObjectApi api;
    private readonly Informer sets;
    private readonly Informer pods;
    private readonly Expectations expectations;

    public ReplicaSetController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        expectations = new Expectations(api.Time);
        sets = b.For(ResourceType.ReplicaSets);
        pods = b.Watches(ResourceType.Pods, PodChanged).IndexOrphans(); // with the expectations it keeps
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var rs = sets.Get(ns, name);
        if (rs is null)
        {
            expectations.Forget(key);
            return Task.FromResult(default(ReconcileResult));
        }

        // expectations first, then the cache (as syncReplicaSet): checked after counting, the cache could catch up in
        // between and satisfy them while the count is stale, and the set would create (or delete) too many
        bool satisfied = expectations.Satisfied(key);
        string uid = Json.Uid(rs);
        var selector = LabelSelector.FromObject(Json.At(rs, "spec", "selector"));
        bool deleting = Json.Has(rs, "metadata", "deletionTimestamp");
        var owned = new List<PodState.Facts>();
        foreach (var pod in pods.OwnedByStored(uid).ToList())
        {
            var facts = PodState.Of(pod);
            if (facts.ControllerUid == uid)
            {
                if (!facts.Active || selector.Matches(facts.Labels))
                {
                    owned.Add(facts);
                }
                else if (!deleting)
                {
                    Release(facts.Object, uid);
                }
            }
        }

        if (!deleting)
        {
            foreach (var orphan in pods.ByIndexStored(PodState.OrphanIndex, ns).Select(PodState.Of).Where(p => p.Active && selector.Matches(p.Labels)).ToList())
            {
                if (Adopt(orphan.Object, rs) is { } adopted)
                {
                    owned.Add(PodState.Of(adopted));
                }
            }
        }

        var active = owned.Where(p => p.Active).ToList();
        long replicas = Json.Int(rs, "spec", "replicas") ?? 1;
        if (!deleting && satisfied)
        {
            long diff = replicas - active.Count;
            if (diff > 0)
            {
                int n = (int)Math.Min(diff, 500);
                expectations.Expect(key, n, 0);
                var template = Json.At(rs, "spec", "template") as JsonObject ?? [];
                for (int i = 0; i < n; i++)
                {
                    try
                    {
                        api.CreateOwned(ResourceType.Pods, ns, NewPod(rs, template));
                    }
                    catch (ApiException e)
                    {
                        expectations.Lower(key, adds: n - i);
                        api.RecordEvent(rs, "Warning", "FailedCreate", $"Error creating: {e.Message}", "replicaset-controller");
                        throw;
                    }
                }

                api.RecordEvent(rs, "Normal", "SuccessfulCreate", n == 1 ? "Created pod" : $"Created {n} pods", "replicaset-controller");
            }
            else if (diff < 0)
            {
                var victims = active.Select(p => p.Object).OrderBy(Rank).Take((int)Math.Min(-diff, 500)).ToList();
                expectations.Expect(key, 0, victims.Count);
                foreach (var victim in victims)
                {
                    try
                    {
                        api.Delete(ResourceType.Pods, ns, Json.Name(victim));
                    }
                    catch (ApiException e) when (e.Code == 404)
                    {
                        expectations.Lower(key, dels: 1);
                    }
                }

                api.RecordEvent(rs, "Normal", "SuccessfulDelete", victims.Count == 1 ? $"Deleted pod: {Json.Name(victims[0])}" : $"Deleted {victims.Count} pods", "replicaset-controller");
            }
        }

        var now = api.Time.GetUtcNow();
        long minReady = Json.Int(rs, "spec", "minReadySeconds") ?? 0;
        var templateLabels = Json.Map(rs, "spec", "template", "metadata", "labels");
        var status = new JsonObject
        {
            ["replicas"] = active.Count,
            ["fullyLabeledReplicas"] = active.Count(p => templateLabels.All(kv => p.Labels.GetValueOrDefault(kv.Key) == kv.Value)),
            ["readyReplicas"] = active.Count(p => p.Ready),
            ["availableReplicas"] = active.Count(p => p.Available(minReady, now)),
            ["observedGeneration"] = Json.Int(rs, "metadata", "generation") ?? 1,
        };
        if (!JsonNode.DeepEquals(Strip(Json.At(rs, "status")), status))
        {
            api.Mutate(ResourceType.ReplicaSets, ns, name, o =>
            {
                var s = Json.Obj(o, "status");
                foreach (var (k, v) in status)
                {
                    s[k] = v?.DeepClone();
                }

                return true;
            }, "status");
        }

        bool waitingAvailability = minReady > 0 && active.Any(p => p.Ready && !p.Available(minReady, now));
        return Task.FromResult(new ReconcileResult(waitingAvailability ? TimeSpan.FromSeconds(1) : null));
    }

    private static JsonObject? Strip(JsonNode? status)
    {
        if (status is not JsonObject s)
        {
            return null;
        }

        var copy = Json.Clone(s);
        copy.Remove("conditions");
        return copy;
    }

    private static JsonObject NewPod(JsonObject rs, JsonObject template)
    {
        var meta = new JsonObject
        {
            ["generateName"] = Json.Name(rs) + "-",
            ["namespace"] = Json.Namespace(rs),
            ["ownerReferences"] = new JsonArray(PodState.ControllerReference(rs)),
        };
        if (Json.At(template, "metadata", "labels") is JsonObject labels)
        {
            meta["labels"] = labels.DeepClone();
        }

        if (Json.At(template, "metadata", "annotations") is JsonObject annotations)
        {
            meta["annotations"] = annotations.DeepClone();
        }

        return new JsonObject { ["metadata"] = meta, ["spec"] = template["spec"]?.DeepClone() };
    }

    private static (int, int, int, int, long, long) Rank(JsonObject pod)
    {
        int scheduled = Json.Str(pod, "spec", "nodeName") is null ? 0 : 1;
        int phase = Json.Str(pod, "status", "phase") switch { "Pending" => 0, "Unknown" => 1, _ => 2 };
        int ready = PodState.IsReady(pod) ? 1 : 0;
        long restarts = Json.Items(pod, "status", "containerStatuses").Sum(c => Json.Int(c, "restartCount") ?? 0);
        long created = Json.ParseTime(Json.Str(pod, "metadata", "creationTimestamp"))?.ToUnixTimeSeconds() ?? 0;
        return (scheduled, phase, ready, 0, -restarts, -created);
    }

    private void PodChanged(JsonObject? old, JsonObject? pod)
    {
        var current = PodState.Of(pod ?? old!);
        string ns = Json.Namespace(pod ?? old!) ?? "";
        if (current.ControllerKind == "ReplicaSet")
        {
            string key = $"{ns}/{current.ControllerName}";
            expectations.Observed(key, old, pod);

            Queue.Add(key);
            if (old is not null && PodState.Of(old) is { ControllerKind: not null } was && was.ControllerName != current.ControllerName)
            {
                Queue.Add($"{ns}/{was.ControllerName}");
            }

            return;
        }

        if (pod is not null && current.Active)
        {
            foreach (var rs in sets.List(ns).Where(rs => LabelSelector.FromObject(Json.At(rs, "spec", "selector")).Matches(current.Labels)))
            {
                Queue.Add(PodState.Key(rs));
            }
        }
    }

    private JsonObject? Adopt(JsonObject pod, JsonObject rs)
    {
        try
        {
            return api.Mutate(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod), p => PodState.TakeOwnership(p, rs), asPatch: true);
        }
        catch (ApiException)
        {
            return null;
        }
    }

    private void Release(JsonObject pod, string uid)
    {
        try
        {
            api.Mutate(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod), p =>
            {
                if (Json.At(p, "metadata", "ownerReferences") is not JsonArray refs)
                {
                    return false;
                }

                foreach (var r in refs.Where(r => Json.Str(r, "uid") == uid).ToList())
                {
                    refs.Remove(r);
                }

                return true;
            }, asPatch: true);
        }
        catch (ApiException)
        {
        }
    }
}
