using System.Globalization;
using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Runs one pod of each DaemonSet on every node that should run it (kube's daemon controller): a node should when the
/// template's nodeSelector and required node affinity match it and the pod tolerates its NoSchedule and NoExecute
/// taints (with the tolerations every daemon pod gets: not-ready, unreachable, the pressure taints, unschedulable); a
/// pod already there stays unless a NoExecute taint it does not tolerate comes. Pods are bound to their node by a
/// node affinity on its name, for the scheduler to place. Nodes joining, leaving, relabelled or tainted move pods.
/// A template change rolls out as the update strategy says: RollingUpdate replaces old pods node by node within
/// maxUnavailable (deleting first) or maxSurge (the new pod first, the old one once the new is available); OnDelete
/// waits for pods to be deleted. The templates' history is kept as ControllerRevisions (<c>kubectl rollout
/// history|undo ds/NAME</c>); status counts desired, current, misscheduled, ready, updated and available pods.
/// </summary>
internal sealed class DaemonSetController : IReconciler<string>
{
    /// <summary>The label carrying the DaemonSet's generation on its pods.</summary>
    public const string GenerationLabel = "pod-template-generation";

    private const string Component = "daemonset-controller";
    private readonly ObjectApi api;
    private readonly Informer sets;
    private readonly Informer pods;
    private readonly Informer nodes;
    private readonly Informer revisions;
    private readonly Expectations expectations;

    public DaemonSetController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        expectations = new Expectations(api.Time);
        sets = b.For(DaemonSetStrategy.Type);
        revisions = b.Owns(ControllerRevisionStrategy.Type, DaemonSetStrategy.Type);
        pods = b.Watches(ResourceType.Pods, PodChanged).IndexOrphans();
        nodes = b.Watches(ResourceType.Nodes, (old, node) =>
        {
            // what decides where daemons run: the node's existence, labels, taints and readiness
            if (old is null || node is null || !Same(old, node))
            {
                foreach (var ds in sets.List())
                {
                    Queue.Add(PodState.Key(ds));
                }
            }
        });
    }

    public WorkQueue<string> Queue { get; }

    private static bool Same(JsonObject a, JsonObject b) =>
        JsonNode.DeepEquals(Json.Read(a, "metadata", "labels"), Json.Read(b, "metadata", "labels"))
        && JsonNode.DeepEquals(Json.Read(a, "spec", "taints"), Json.Read(b, "spec", "taints"))
        && SchedulingNode.Of(a).Ready == SchedulingNode.Of(b).Ready;

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var ds = sets.Get(ns, name);
        if (ds is null)
        {
            expectations.Forget(key);
            return Task.FromResult(default(ReconcileResult));
        }

        if (Json.Has(ds, "metadata", "deletionTimestamp"))
        {
            return Task.FromResult(default(ReconcileResult)); // the garbage collector takes its pods
        }

        bool satisfied = expectations.Satisfied(key);
        var (current, oldRevisions) = ControllerHistory.Sync(api, revisions, DaemonSetStrategy.Type, ds);
        string hash = ControllerHistory.HashOf(current);
        string uid = Json.Uid(ds);
        var selector = LabelSelector.FromObject(Json.At(ds, "spec", "selector"));

        // the set's pods by node: its own, and orphans it adopts
        var owned = pods.OwnedByStored(uid).Select(PodState.Of).Where(p => p.ControllerUid == uid).ToList();
        foreach (var orphan in pods.ByIndexStored(PodState.OrphanIndex, ns).Select(PodState.Of).Where(p => p.Active && selector.Matches(p.Labels)).ToList())
        {
            try
            {
                if (api.Mutate(ResourceType.Pods, ns, Json.Name(orphan.Object), p => PodState.TakeOwnership(p, ds), asPatch: true) is { } adopted)
                {
                    owned.Add(PodState.Of(adopted));
                }
            }
            catch (ApiException)
            {
            }
        }

        var byNode = new Dictionary<string, List<PodState.Facts>>(StringComparer.Ordinal);
        foreach (var p in owned)
        {
            if (NodeOf(p) is { } node)
            {
                (byNode.TryGetValue(node, out var list) ? list : byNode[node] = []).Add(p);
            }
        }

        var template = NewPod(ds, hash, "");
        var facts = SchedulingPod.Of(template);
        long minReady = Json.Int(ds, "spec", "minReadySeconds") ?? 0;
        var now = api.Time.GetUtcNow();
        var create = new List<string>();
        var delete = new List<JsonObject>();
        var nodeList = nodes.List().Select(SchedulingNode.Of).OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
        var placement = new List<Placement>();
        foreach (var node in nodeList)
        {
            var (shouldRun, shouldContinue) = Fits(facts, node);
            var here = byNode.GetValueOrDefault(node.Name) ?? [];
            byNode.Remove(node.Name);
            var live = here.Where(p => !p.Deleting).ToList();
            foreach (var failed in live.Where(p => p.Phase == "Failed").ToList())
            {
                // a failed daemon pod is deleted and made again (as the daemon controller does, after an event)
                api.RecordEvent(ds, "Warning", "FailedDaemonPod", $"Found failed daemon pod {ns}/{Json.Name(failed.Object)} on node {node.Name}, will try to kill it", Component);
                delete.Add(failed.Object);
                live.Remove(failed);
            }

            if (!shouldContinue)
            {
                delete.AddRange(live.Select(p => p.Object));
                placement.Add(new Placement(node.Name, shouldRun, null, null));
                continue;
            }

            // one pod of the current revision and one older one at most (both only while a surge replaces it)
            var updated = live.Where(p => IsUpdated(p, hash, ds)).OrderBy(Created).ToList();
            var old = live.Where(p => !IsUpdated(p, hash, ds)).OrderBy(Created).ToList();
            delete.AddRange(updated.Skip(1).Concat(old.Skip(1)).Select(p => p.Object));
            var (newPod, oldPod) = (updated.FirstOrDefault(), old.FirstOrDefault());
            if (newPod is not null && oldPod is not null && (newPod.Available(minReady, now) || oldPod.Phase == "Failed"))
            {
                delete.Add(oldPod.Object); // replaced
                oldPod = null;
            }

            if (shouldRun && newPod is null && oldPod is null && !here.Any(p => p.Deleting))
            {
                create.Add(node.Name);
            }

            placement.Add(new Placement(node.Name, shouldRun, newPod, oldPod));
        }

        // pods on nodes that are gone (the pod garbage collector's part for them: no agent will finish them)
        var orphaned = byNode.Values.SelectMany(l => l).ToList();

        if (Json.Str(ds, "spec", "updateStrategy", "type") == "RollingUpdate")
        {
            long desired = placement.Count(p => p.ShouldRun);
            long surge = DeploymentController.IntOrPercent(Json.At(ds, "spec", "updateStrategy", "rollingUpdate", "maxSurge"), desired, roundUp: true, fallback: "0");
            long unavailable = DeploymentController.IntOrPercent(Json.At(ds, "spec", "updateStrategy", "rollingUpdate", "maxUnavailable"), desired, roundUp: true, fallback: "1");
            RollingUpdate(placement, surge > 0 ? surge : unavailable, surge > 0, minReady, now, create, delete);
        }

        if (satisfied && (create.Count > 0 || delete.Count > 0 || orphaned.Count > 0))
        {
            Sync(ds, hash, create.Distinct().ToList(), delete.DistinctBy(Json.Uid).ToList(), orphaned, key);
        }

        WriteStatus(ds, placement, minReady, now);
        var inUse = owned.Select(p => p.Labels.GetValueOrDefault(ControllerHistory.HashLabel)).ToHashSet(StringComparer.Ordinal);
        ControllerHistory.Truncate(api, oldRevisions, Json.Int(ds, "spec", "revisionHistoryLimit") ?? 10, r => inUse.Contains(ControllerHistory.HashOf(r)));
        bool waiting = minReady > 0 && owned.Any(p => p.Ready && !p.Available(minReady, now));
        return Task.FromResult(new ReconcileResult(waiting ? TimeSpan.FromSeconds(1) : null));
    }

    /// <summary>
    /// Chooses the old pods to replace within the budget: without surge, old pods are deleted while fewer than
    /// maxUnavailable of the nodes are without an available daemon (an unavailable old pod goes at once); with surge,
    /// new pods are made beside available old ones on at most maxSurge nodes at once (the old goes when its
    /// replacement is available, above).
    /// </summary>
    private static void RollingUpdate(List<Placement> placement, long budget, bool surgeMode, long minReady, DateTimeOffset now, List<string> create, List<JsonObject> delete)
    {
        var candidates = new List<(string Node, PodState.Facts Old)>();
        long used = 0;
        foreach (var (node, shouldRun, newPod, oldPod) in placement)
        {
            if (oldPod is null)
            {
                if (shouldRun && (newPod is null || !newPod.Available(minReady, now)))
                {
                    used += surgeMode ? 0 : 1; // a node without an available daemon
                }

                continue;
            }

            if (surgeMode)
            {
                if (newPod is not null)
                {
                    used++; // surging here already
                }
                else if (!oldPod.Available(minReady, now))
                {
                    delete.Add(oldPod.Object); // nothing to wait for
                }
                else
                {
                    candidates.Add((node, oldPod));
                }
            }
            else if (!oldPod.Available(minReady, now))
            {
                delete.Add(oldPod.Object);
                used++;
            }
            else
            {
                candidates.Add((node, oldPod));
            }
        }

        foreach (var (node, oldPod) in candidates.Take((int)Math.Max(0, budget - used)))
        {
            if (surgeMode)
            {
                create.Add(node);
            }
            else
            {
                delete.Add(oldPod.Object);
            }
        }
    }

    private void Sync(JsonObject ds, string hash, List<string> create, List<JsonObject> delete, List<PodState.Facts> orphaned, string key)
    {
        string ns = Json.Namespace(ds) ?? "default";
        int creates = Math.Min(create.Count, 500), deletes = delete.Count + orphaned.Count;
        expectations.Expect(key, creates, deletes);
        foreach (var pod in delete)
        {
            try
            {
                api.Delete(ResourceType.Pods, ns, Json.Name(pod));
                api.RecordEvent(ds, "Normal", "SuccessfulDelete", $"Deleted pod: {Json.Name(pod)}", Component);
            }
            catch (ApiException e) when (e.Code == 404)
            {
                expectations.Lower(key, dels: 1);
            }
        }

        foreach (var p in orphaned)
        {
            try
            {
                api.Delete(ResourceType.Pods, ns, Json.Name(p.Object), new DeleteOptions(GracePeriodSeconds: 0));
            }
            catch (ApiException e) when (e.Code == 404)
            {
                expectations.Lower(key, dels: 1);
            }
        }

        for (int i = 0; i < creates; i++)
        {
            try
            {
                var created = api.CreateOwned(ResourceType.Pods, ns, NewPod(ds, hash, create[i]));
                api.RecordEvent(ds, "Normal", "SuccessfulCreate", $"Created pod: {Json.Name(created)}", Component);
            }
            catch (ApiException e)
            {
                expectations.Lower(key, adds: creates - i);
                api.RecordEvent(ds, "Warning", "FailedCreate", $"Error creating: {e.Message}", Component);
                throw;
            }
        }
    }

    private void WriteStatus(JsonObject ds, List<Placement> placement, long minReady, DateTimeOffset now)
    {
        long desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
        foreach (var (_, shouldRun, newPod, oldPod) in placement)
        {
            var pod = oldPod ?? newPod; // the oldest daemon on the node is the one counted, as kube's status does
            if (shouldRun)
            {
                desired++;
                if (pod is not null)
                {
                    current++;
                    ready += pod.Ready ? 1 : 0;
                    available += pod.Available(minReady, now) ? 1 : 0;
                    updated += newPod is not null && oldPod is null ? 1 : 0;
                }
            }
            else if (pod is not null)
            {
                misscheduled++;
            }
        }

        var status = new JsonObject
        {
            ["currentNumberScheduled"] = current,
            ["numberMisscheduled"] = misscheduled,
            ["desiredNumberScheduled"] = desired,
            ["numberReady"] = ready,
            ["observedGeneration"] = Json.Int(ds, "metadata", "generation") ?? 1,
            ["updatedNumberScheduled"] = updated,
            ["numberAvailable"] = available,
        };
        if (desired - available > 0)
        {
            status["numberUnavailable"] = desired - available;
        }

        if (Json.Int(ds, "status", "collisionCount") is { } collisions)
        {
            status["collisionCount"] = collisions;
        }

        if (!JsonNode.DeepEquals(Json.At(ds, "status"), status))
        {
            api.Mutate(DaemonSetStrategy.Type, Json.Namespace(ds), Json.Name(ds), o =>
            {
                o["status"] = status.DeepClone();
                return true;
            }, "status");
        }
    }

    /// <summary>Whether a daemon should run on <paramref name="node"/>, and whether one there may stay (kube's NodeShouldRunDaemonPod).</summary>
    internal static (bool ShouldRun, bool ShouldContinue) Fits(SchedulingPod pod, SchedulingNode node)
    {
        if (!NodeAffinity.Matches(pod.NodeSelector, pod.RequiredTerms, node.Name, node.Labels))
        {
            return (false, false);
        }

        bool schedule = true;
        foreach (var (k, v, effect) in node.Taints)
        {
            if (effect is "NoSchedule" or "NoExecute" && !pod.Tolerates(k, v, effect))
            {
                if (effect == "NoExecute")
                {
                    return (false, false);
                }

                schedule = false;
            }
        }

        return (schedule, true);
    }

    private static bool IsUpdated(PodState.Facts pod, string hash, JsonObject ds) =>
        pod.Labels.GetValueOrDefault(ControllerHistory.HashLabel) is { } h
            ? h == hash
            : pod.Labels.GetValueOrDefault(GenerationLabel) == (Json.Int(ds, "metadata", "generation") ?? 1).ToString(CultureInfo.InvariantCulture);

    private static long Created(PodState.Facts pod) =>
        Json.ParseTime(Json.Str(pod.Object, "metadata", "creationTimestamp"))?.ToUnixTimeMilliseconds() ?? 0;

    /// <summary>The node a daemon pod is for: where it is bound, or the node its affinity names.</summary>
    private static string? NodeOf(PodState.Facts pod) =>
        pod.NodeName ?? NodeAffinity.Required(Json.Read(pod.Object, "spec"))?.SelectMany(t => t.Fields)
            .FirstOrDefault(f => f.Key == "metadata.name" && f.Operator == "In" && f.Values.Length == 1)?.Values[0];

    /// <summary>A daemon pod of <paramref name="ds"/> for <paramref name="node"/> (none: the template, for the fit checks).</summary>
    internal static JsonObject NewPod(JsonObject ds, string hash, string node)
    {
        var template = Json.At(ds, "spec", "template") as JsonObject ?? [];
        var labels = (JsonObject)(Json.At(template, "metadata", "labels")?.DeepClone() ?? new JsonObject());
        labels[ControllerHistory.HashLabel] = hash;
        labels[GenerationLabel] = (Json.Int(ds, "metadata", "generation") ?? 1).ToString(CultureInfo.InvariantCulture);
        var meta = new JsonObject
        {
            ["generateName"] = Json.Name(ds) + "-",
            ["namespace"] = Json.Namespace(ds),
            ["labels"] = labels,
            ["ownerReferences"] = new JsonArray(PodState.ControllerReference(ds)),
        };
        if (Json.At(template, "metadata", "annotations") is JsonObject annotations)
        {
            meta["annotations"] = annotations.DeepClone();
        }

        var spec = (JsonObject)(template["spec"]?.DeepClone() ?? new JsonObject());
        if (node.Length > 0)
        {
            // the node by name, in place of the template's required terms (which the controller checked)
            var required = Json.Obj(spec, "affinity", "nodeAffinity");
            required["requiredDuringSchedulingIgnoredDuringExecution"] = new JsonObject
            {
                ["nodeSelectorTerms"] = new JsonArray(new JsonObject
                {
                    ["matchFields"] = new JsonArray(new JsonObject { ["key"] = "metadata.name", ["operator"] = "In", ["values"] = new JsonArray(node) }),
                }),
            };
        }

        // every daemon pod tolerates these (kube's AddOrUpdateDaemonPodTolerations)
        var tolerations = spec["tolerations"] as JsonArray ?? [];
        spec["tolerations"] = tolerations;
        var wanted = new List<(string Key, string Effect)>
        {
            ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"),
        };
        if (Json.Bool(spec, "hostNetwork") == true)
        {
            wanted.Add(("node.kubernetes.io/network-unavailable", "NoSchedule"));
        }

        foreach (var (k, effect) in wanted)
        {
            if (!tolerations.OfType<JsonObject>().Any(t => Json.Str(t, "key") == k && Json.Str(t, "effect") == effect))
            {
                tolerations.Add((JsonNode)new JsonObject { ["key"] = k, ["operator"] = "Exists", ["effect"] = effect });
            }
        }

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = meta, ["spec"] = spec };
    }

    private void PodChanged(JsonObject? old, JsonObject? pod)
    {
        var current = PodState.Of(pod ?? old!);
        string ns = Json.Namespace(pod ?? old!) ?? "";
        if (current.ControllerKind == "DaemonSet")
        {
            string key = $"{ns}/{current.ControllerName}";
            expectations.Observed(key, old, pod);

            Queue.Add(key);
            return;
        }

        if (pod is not null && current.Active && current.ControllerKind is null)
        {
            foreach (var ds in sets.List(ns).Where(ds => LabelSelector.FromObject(Json.At(ds, "spec", "selector")).Matches(current.Labels)))
            {
                Queue.Add(PodState.Key(ds));
            }
        }
    }

    /// <summary>What a node should run of the set and runs: its current-revision daemon and an older one being replaced.</summary>
    private readonly record struct Placement(string Node, bool ShouldRun, PodState.Facts? New, PodState.Facts? Old);
}
