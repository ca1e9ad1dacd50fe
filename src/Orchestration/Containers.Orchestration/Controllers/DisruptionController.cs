using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Keeps each PodDisruptionBudget's status as kube's disruption controller does: the pods its selector matches,
/// how many are healthy (ready, not going, not just evicted), how many must be (minAvailable as given, or as a
/// percentage of the expected pods; the expected pods less maxUnavailable), the expected pods (the replicas of the
/// pods' controllers: Deployments through their ReplicaSets, ReplicaSets, StatefulSets; the pods themselves for a
/// whole-number minAvailable), and so how many disruptions are allowed now, with the DisruptionAllowed condition.
/// An evicted pod stays under disruptedPods until it is seen going, or for two minutes.
/// </summary>
internal sealed class DisruptionController : IReconciler<string>
{
    private static readonly TimeSpan DisruptedTimeout = TimeSpan.FromMinutes(2);
    private readonly ObjectApi api;
    private readonly Informer budgets;
    private readonly Informer pods;
    private readonly Informer replicaSets;
    private readonly Informer deployments;
    private readonly Informer statefulSets;

    public DisruptionController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        budgets = b.For(PodDisruptionBudgetStrategy.Type);
        pods = b.Watches(ResourceType.Pods, (old, pod) =>
        {
            var current = pod ?? old!;
            string ns = Json.Namespace(current) ?? "default";
            foreach (var pdb in budgets.List(ns).Where(p => Selects(p, current) || (old is not null && Selects(p, old))))
            {
                Queue.Add(PodState.Key(pdb));
            }
        });
        replicaSets = b.Reads(ResourceType.ReplicaSets);
        deployments = b.Reads(ResourceType.Deployments);
        statefulSets = b.Watches(StatefulSetStrategy.Type, (_, set) => ScaleChanged(set));
        b.Watches(ResourceType.Deployments, (_, d) => ScaleChanged(d));
    }

    public WorkQueue<string> Queue { get; }

    private void ScaleChanged(JsonObject? owner)
    {
        if (owner is not null)
        {
            foreach (var pdb in budgets.List(Json.Namespace(owner)))
            {
                Queue.Add(PodState.Key(pdb));
            }
        }
    }

    private static bool Selects(JsonObject pdb, JsonObject pod) =>
        Json.At(pdb, "spec", "selector") is { } s && LabelSelector.FromObject(s).Matches(Json.Labels(pod));

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var pdb = budgets.Get(ns, name);
        if (pdb is null || Json.Has(pdb, "metadata", "deletionTimestamp"))
        {
            return Task.FromResult(default(ReconcileResult));
        }

        var now = api.Time.GetUtcNow();
        var matched = pods.List(ns).Where(p => Selects(pdb, p)).ToList();
        var min = Json.At(pdb, "spec", "minAvailable");
        var max = Json.At(pdb, "spec", "maxUnavailable");
        long expected, desired;
        if (max is not null)
        {
            expected = ExpectedPods(matched);
            desired = Math.Max(0, expected - DeploymentController.IntOrPercent(max, expected, roundUp: true, fallback: "0"));
        }
        else if (min is not null && min.ToString().EndsWith('%'))
        {
            expected = ExpectedPods(matched);
            desired = DeploymentController.IntOrPercent(min, expected, roundUp: true, fallback: "0");
        }
        else
        {
            expected = matched.Count(p => PodState.Of(p).Active);
            desired = min is null ? 0 : DeploymentController.IntOrPercent(min, expected, roundUp: true, fallback: "0");
        }

        // evicted pods count as gone until they are seen going (or two minutes pass)
        var disrupted = new JsonObject();
        DateTimeOffset? nextExpiry = null;
        foreach (var (pod, at) in Json.Map(pdb, "status", "disruptedPods"))
        {
            var p = matched.FirstOrDefault(x => Json.Name(x) == pod);
            if (p is null || PodState.Of(p).Deleting || Json.ParseTime(at) is not { } t || t + DisruptedTimeout <= now)
            {
                continue;
            }

            disrupted[pod] = at;
            nextExpiry = nextExpiry is null || t + DisruptedTimeout < nextExpiry ? t + DisruptedTimeout : nextExpiry;
        }

        long healthy = matched.Select(PodState.Of).Count(p => p.Active && p.Ready && !disrupted.ContainsKey(Json.Name(p.Object)));
        long allowed = Math.Max(0, healthy - desired);
        var status = new JsonObject
        {
            ["observedGeneration"] = Json.Int(pdb, "metadata", "generation") ?? 1,
            ["disruptionsAllowed"] = allowed,
            ["currentHealthy"] = healthy,
            ["desiredHealthy"] = desired,
            ["expectedPods"] = expected,
        };
        if (disrupted.Count > 0)
        {
            status["disruptedPods"] = disrupted;
        }

        var conditions = (Json.At(pdb, "status", "conditions") as JsonArray)?.DeepClone() as JsonArray ?? [];
        status["conditions"] = conditions;
        PodState.SetCondition(status, "DisruptionAllowed", allowed > 0 ? "True" : "False", allowed > 0 ? "SufficientPods" : "InsufficientPods", "", now);
        if (!JsonNode.DeepEquals(Json.At(pdb, "status"), status))
        {
            api.Mutate(PodDisruptionBudgetStrategy.Type, ns, name, o =>
            {
                // evictions since the cache's version are kept: they lowered the budget in the store
                foreach (var (pod, at) in Json.Map(o, "status", "disruptedPods"))
                {
                    if (!disrupted.ContainsKey(pod) && Json.ParseTime(at) is { } t && t + DisruptedTimeout > now && matched.All(x => Json.Name(x) != pod || !PodState.Of(x).Deleting))
                    {
                        return false; // a newer eviction: the next reconcile counts it
                    }
                }

                o["status"] = status.DeepClone();
                return true;
            }, "status");
        }

        return Task.FromResult(new ReconcileResult(nextExpiry is { } e ? e - now : null));
    }

    /// <summary>The replicas of the pods' controllers (each counted once): Deployments through their ReplicaSets, ReplicaSets, StatefulSets.</summary>
    private long ExpectedPods(List<JsonObject> matched)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long expected = 0;
        foreach (var pod in matched)
        {
            var facts = PodState.Of(pod);
            string ns = Json.Namespace(pod) ?? "default";
            JsonObject? scaled = facts.ControllerKind switch
            {
                "ReplicaSet" when replicaSets.Get(ns, facts.ControllerName ?? "") is { } rs =>
                    PodState.ControllerOf(rs) is { } d && Json.Str(d, "kind") == "Deployment" ? deployments.Get(ns, Json.Str(d, "name") ?? "") ?? rs : rs,
                "StatefulSet" => statefulSets.Get(ns, facts.ControllerName ?? ""),
                _ => null,
            };
            if (scaled is null)
            {
                expected += facts.Active ? 1 : 0; // a pod of no scalable controller counts for itself
            }
            else if (seen.Add(Json.Uid(scaled)))
            {
                expected += Json.Int(scaled, "spec", "replicas") ?? 1;
            }
        }

        return expected;
    }
}
