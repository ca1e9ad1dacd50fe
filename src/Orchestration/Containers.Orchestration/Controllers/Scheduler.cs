using System.Collections.Concurrent;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Binds pending pods (schedulerName default-scheduler, no nodeName) to nodes. Filters: the node is Ready and
/// schedulable, the pod tolerates its NoSchedule/NoExecute taints, matches its nodeSelector, and the pod's requests fit
/// the node's allocatable cpu, memory and pod count. Scores: least allocated, then fewest pods of the same owner
/// (spreading a controller's pods). On more than 100 nodes a placement scores the first feasible nodes it finds, as
/// kube-scheduler does (see <see cref="FeasibleNodesToFind"/>). An unschedulable pod stays Pending with
/// PodScheduled=False and a FailedScheduling event saying why, and is retried when nodes or pods change.
/// </summary>
internal sealed class Scheduler : IReconciler<string>
{
    private readonly ObjectApi api;
    private readonly Informer pods;
    private readonly Informer nodes;
    private readonly ConcurrentDictionary<string, NodeUsage> usage = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Node, long Cpu, long Memory, string? Owner)> placed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> unschedulable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SchedulingNode> nodeInfos = new(StringComparer.Ordinal); // under the gate
    private (SchedulingNode Node, NodeUsage Usage)[] nodeList = []; // each node with what is placed on it (its entry in usage)
    private NodeSlot[] slots = []; // beside nodeList: what a placement reads of each node, side by side (under the gate)
    private readonly Dictionary<string, OwnerCount> owners = new(StringComparer.Ordinal); // a controller's pods per node (under the gate)
    private int nextUsageId;
    private int nextStartNodeIndex; // where the next placement starts looking (under the gate)
    private readonly Lock gate = new();
    private readonly Informer claims;
    private readonly Informer volumes;

    public Scheduler(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.SingleWorker().Queue;
        pods = b.Watches(ResourceType.Pods, PodChanged);
        nodes = b.Reads(ResourceType.Nodes);
        claims = b.Watches(ResourceType.Claims, (_, claim) =>
        {
            if (claim is not null && Json.Str(claim, "spec", "volumeName") is not null)
            {
                foreach (string key in unschedulable.Keys)
                {
                    Queue.Add(key); // a claim bound: a pod that waited for it may be placed now
                }
            }
        });
        volumes = b.Reads(ResourceType.Volumes);
        foreach (var node in nodes.List())
        {
            nodeInfos[Json.Name(node)] = SchedulingNode.Of(node); // nodes cached before this scheduler registered (later changes come below)
        }

        nodeList = NodeList();
        b.Watches(ResourceType.Nodes, (old, node) =>
        {
            lock (gate)
            {
                if (node is null)
                {
                    nodeInfos.Remove(Json.Name(old!));
                    nodeList = NodeList();
                }
                else
                {
                    var info = SchedulingNode.Of(node);
                    bool known = nodeInfos.ContainsKey(info.Name);
                    nodeInfos[info.Name] = info;
                    if (known && usage.TryGetValue(info.Name, out var u) && u.Slot >= 0 && u.Slot < nodeList.Length && ReferenceEquals(nodeList[u.Slot].Usage, u))
                    {
                        // a change of a known node (its heartbeat, a taint, a label): its own entry and slot, nothing made anew
                        nodeList[u.Slot] = (info, u);
                        slots[u.Slot] = SlotOf(info, u);
                    }
                    else
                    {
                        nodeList = NodeList();
                    }
                }
            }

            foreach (string key in unschedulable.Keys)
            {
                Queue.Add(key);
            }
        });
    }

    public WorkQueue<string> Queue { get; }

    /// <summary>
    /// What a placement reads of a node, kept side by side for every node (a few cache lines per dozen nodes, where the
    /// node's record, its usage and a dictionary of its controllers were three objects apart): its allocatable and
    /// scoring capacity, what is placed on it, and whether it is Ready, schedulable and without NoSchedule or NoExecute
    /// taints (then a pod without node selector or affinity needs no more than the resource checks).
    /// </summary>
    private struct NodeSlot
    {
        public bool Plain;
        public int Id;
        public int UsedPods;
        public long Pods;
        public long Cpu;
        public long Memory;
        public long UsedCpu;
        public long UsedMemory;
        public double ScoreCpu;
        public double ScoreMemory;
    }

    /// <summary>How many pods of one controller are placed, in all and per node (by <see cref="NodeUsage.Id"/>).</summary>
    private sealed class OwnerCount
    {
        public int Total;
        public int[] PerNode = [];
    }

    private NodeUsage UsageOf(string node) => usage.GetOrAdd(node, _ => new NodeUsage { Id = Interlocked.Increment(ref nextUsageId) - 1 });

    /// <summary>The nodes as placements go over them, each with its usage, and their slots (under the gate): no lookup by name per node and pod.</summary>
    private (SchedulingNode, NodeUsage)[] NodeList()
    {
        foreach (var (_, u) in nodeList)
        {
            u.Slot = -1;
        }

        (SchedulingNode Node, NodeUsage Usage)[] list = [.. nodeInfos.Values.Select(n => (n, UsageOf(n.Name)))];
        var fresh = new NodeSlot[list.Length];
        for (var i = 0; i < list.Length; i++)
        {
            var (n, u) = list[i];
            u.Slot = i;
            fresh[i] = SlotOf(n, u);
        }

        slots = fresh;
        return list;
    }

    private static NodeSlot SlotOf(SchedulingNode n, NodeUsage u) =>
        new()
        {
            Plain = SchedulingPolicy.IsPlain(n),
            Id = u.Id,
            Pods = n.Pods,
            Cpu = n.Cpu,
            Memory = n.Memory,
            ScoreCpu = n.ScoreCpu,
            ScoreMemory = n.ScoreMemory,
            UsedPods = u.Pods,
            UsedCpu = u.Cpu,
            UsedMemory = u.Memory,
        };

    /// <summary>
    /// How many feasible nodes a pod's placement looks for before it scores them, as kube-scheduler's
    /// numFeasibleNodesToFind with its adaptive percentageOfNodesToScore: every node up to 100; beyond, 50% less 1% per
    /// 125 nodes (at least 5%), and at least 100 nodes. The search starts where the last one stopped (round robin), so
    /// every node is looked at in turn. 1,000 nodes: 420; 5,000: 500.
    /// </summary>
    internal static int FeasibleNodesToFind(int nodes)
    {
        const int MinFeasible = 100, MinPercentage = 5;
        if (nodes < MinFeasible)
        {
            return nodes;
        }

        int percentage = Math.Max(50 - (nodes / 125), MinPercentage);
        return Math.Max(nodes * percentage / 100, MinFeasible);
    }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var pod = pods.Get(ns, name);
        if (pod is null || Json.Str(pod, "spec", "nodeName") is not null || Json.Has(pod, "metadata", "deletionTimestamp")
            || (Json.Str(pod, "spec", "schedulerName") ?? "default-scheduler") != "default-scheduler")
        {
            unschedulable.TryRemove(key, out _);
            return Task.FromResult(default(ReconcileResult));
        }

        if (placed.ContainsKey(key))
        {
            return Task.FromResult(default(ReconcileResult)); // assumed on a node: its binding is in flight
        }

        var facts = SchedulingPod.Of(pod);
        var (volumeTerms, unbound) = VolumeNodeTerms(pod);
        var (cpu, memory) = (facts.Cpu, facts.Memory);
        string? owner = Json.Str(PodState.ControllerOf(pod), "uid");
        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        string? best = null;
        lock (gate)
        {
            double bestScore = double.MinValue;
            var candidates = unbound is null ? nodeList : []; // kube-scheduler's VolumeBinding: a claim is bound before its pod is placed (its volume may belong to a node)
            var nodeSlots = slots;
            int want = FeasibleNodesToFind(candidates.Length), feasible = 0, looked = 0;
            int start = candidates.Length == 0 ? 0 : nextStartNodeIndex % candidates.Length;
            // a pod without node selector, affinity or volume terms needs only the resource checks on a plain node
            bool plainPod = facts.NodeSelector.Count == 0 && facts.RequiredTerms is null && volumeTerms.Count == 0;
            int[] siblings = owner is not null && owners.TryGetValue(owner, out var count) ? count.PerNode : [];
            for (; looked < candidates.Length && feasible < want; looked++)
            {
                int i = (start + looked) % candidates.Length;
                ref readonly var slot = ref nodeSlots[i];
                string? why;
                if (plainPod && slot.Plain)
                {
                    why = SchedulingPolicy.FilterResources(cpu, memory, slot.Pods, slot.Cpu, slot.Memory, slot.UsedPods, slot.UsedCpu, slot.UsedMemory);
                }
                else
                {
                    var (info, u) = candidates[i];
                    why = SchedulingPolicy.Filter(facts, info, u)
                        ?? (volumeTerms.Count == 0 || MatchesVolumes(volumeTerms, info) ? null : "node(s) had volume node affinity conflict");
                }

                if (why is not null)
                {
                    reasons[why] = reasons.GetValueOrDefault(why) + 1;
                    continue;
                }

                feasible++;
                double score = SchedulingPolicy.Score(cpu, memory, slot.ScoreCpu, slot.ScoreMemory, slot.UsedCpu, slot.UsedMemory, slot.UsedPods, slot.Id < siblings.Length ? siblings[slot.Id] : 0);
                if (score > bestScore || (score == bestScore && string.CompareOrdinal(candidates[i].Node.Name, best) < 0))
                {
                    bestScore = score;
                    best = candidates[i].Node.Name;
                }
            }

            if (candidates.Length > 0)
            {
                nextStartNodeIndex = (start + looked) % candidates.Length;
            }

            if (best is not null)
            {
                Assume(key, best, cpu, memory, owner);
            }
        }

        if (best is null)
        {
            int total = nodes.Count;
            string message = unbound is not null ? $"0/{total} nodes are available: {unbound}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
                : total == 0
                ? "0/0 nodes are available: no nodes available to schedule pods."
                : $"0/{total} nodes are available: {string.Join(", ", reasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Value} {r.Key}"))}. preemption: not eligible.";
            bool first = unschedulable.TryAdd(key, 0);
            api.Mutate(ResourceType.Pods, ns, name, p =>
            {
                var status = Json.Obj(p, "status");
                var before = status.DeepClone();
                PodState.SetCondition(status, "PodScheduled", "False", "Unschedulable", message, api.Time.GetUtcNow(), probeTimes: true);
                return !JsonNode.DeepEquals(before, status);
            }, "status");
            if (first)
            {
                api.RecordEvent(pod, "Warning", "FailedScheduling", message, "default-scheduler");
            }

            return Task.FromResult(new ReconcileResult(TimeSpan.FromSeconds(10)));
        }

        unschedulable.TryRemove(key, out _);
        _ = Task.Run(() => Bind(key, best), CancellationToken.None); // as kube-scheduler: the next pod is scheduled while this one's binding is written
        return Task.FromResult(default(ReconcileResult));
    }

    private static readonly IReadOnlyDictionary<string, string> EmptyLabels = new Dictionary<string, string>();

    private static bool MatchesVolumes(List<NodeAffinity.Term[]> volumeTerms, SchedulingNode node)
    {
        foreach (var terms in volumeTerms)
        {
            if (!NodeAffinity.Matches(EmptyLabels, terms, node.Name, node.Labels))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The node affinity of each PersistentVolume the pod's claims are bound to (kube-scheduler's VolumeBinding filter:
    /// a node must match them all), and why the pod cannot be placed yet when a claim of it is missing or not bound.
    /// </summary>
    private (List<NodeAffinity.Term[]> Terms, string? Unbound) VolumeNodeTerms(JsonObject pod)
    {
        var terms = new List<NodeAffinity.Term[]>();
        foreach (var (pv, unbound) in ClaimVolumes(pod))
        {
            if (unbound is not null)
            {
                return (terms, unbound);
            }

            if (Json.At(pv, "spec", "nodeAffinity", "required") is { } required)
            {
                terms.Add(NodeAffinity.Terms(required));
            }
        }

        return (terms, null);
    }

    /// <summary>The PersistentVolume each claim of the pod is bound to, or why there is none (the claim missing or not bound).</summary>
    private IEnumerable<(JsonObject? Volume, string? Unbound)> ClaimVolumes(JsonObject pod)
    {
        string ns = Json.Namespace(pod) ?? "default";
        foreach (var v in Json.Items(pod, "spec", "volumes"))
        {
            if (Json.Str(v, "persistentVolumeClaim", "claimName") is not { } claimName)
            {
                continue;
            }

            yield return claims.Get(ns, claimName) is not { } claim ? (null, $"persistentvolumeclaim \"{claimName}\" not found")
                : Json.Str(claim, "spec", "volumeName") is { } volumeName && volumes.Get(null, volumeName) is { } pv ? (pv, null)
                : (null, "pod has unbound immediate PersistentVolumeClaims");
        }
    }

    /// <summary>
    /// kube-scheduler's PreBind for local volumes: a volume our local-path provisioner made (a directory on a node's
    /// disk) belongs to the first node a pod of it is bound to, as local-path-provisioner's volumes have the node
    /// affinity of the node they were made on: it gets spec.nodeAffinity for that node, so a pod of the claim is never
    /// placed where its data is not. False when it already belongs to another node (the pod is scheduled again).
    /// </summary>
    private bool PinLocalVolumes(JsonObject pod, string node)
    {
        IReadOnlyDictionary<string, string> labels;
        lock (gate)
        {
            labels = nodeInfos.GetValueOrDefault(node)?.Labels ?? EmptyLabels;
        }

        // a volume already pinned matched the node in the filter; only one not yet pinned is written
        foreach (var pv in ClaimVolumes(pod).Select(c => c.Volume).OfType<JsonObject>()
            .Where(v => Json.Str(v, "metadata", "annotations", PersistentVolumeController.ProvisionedBy) == PersistentVolumeController.LocalPathProvisioner && Json.At(v, "spec", "nodeAffinity") is null).ToList())
        {
            bool elsewhere = false;
            api.Mutate(ResourceType.Volumes, null, Json.Name(pv), v =>
            {
                if (Json.At(v, "spec", "nodeAffinity", "required") is { } required)
                {
                    elsewhere = !NodeAffinity.Matches(EmptyLabels, NodeAffinity.Terms(required), node, labels);
                    return false;
                }

                Json.Obj(v, "spec")["nodeAffinity"] = new JsonObject
                {
                    ["required"] = new JsonObject
                    {
                        ["nodeSelectorTerms"] = new JsonArray(new JsonObject
                        {
                            ["matchExpressions"] = new JsonArray(new JsonObject { ["key"] = "kubernetes.io/hostname", ["operator"] = "In", ["values"] = new JsonArray(node) }),
                        }),
                    },
                };
                return true;
            });
            if (elsewhere)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Writes the binding of an assumed pod (spec.nodeName and PodScheduled in one write); on failure the pod is forgotten and scheduled again.</summary>
    private void Bind(string key, string node)
    {
        var (ns, name) = PodState.Split(key);
        try
        {
            if (pods.Get(ns, name) is { } pending && !PinLocalVolumes(pending, node))
            {
                Forget(key); // its volume belongs to another node now
                Queue.AddRateLimited(key);
                return;
            }

            bool assigned = false;
            var bound = api.Mutate(ResourceType.Pods, ns, name, p =>
            {
                assigned = false;
                if (Json.Str(p, "spec", "nodeName") is not null)
                {
                    return false;
                }

                Json.Obj(p, "spec")["nodeName"] = node;
                PodState.SetCondition(Json.Obj(p, "status"), "PodScheduled", "True", null, null, api.Time.GetUtcNow(), probeTimes: true);
                assigned = true;
                return true;
            }, "binding");
            if (bound is null)
            {
                Forget(key); // the pod went
            }
            else if (assigned)
            {
                api.RecordEvent(bound, "Normal", "Scheduled", $"Successfully assigned {ns}/{name} to {node}", "default-scheduler");
            }
        }
#pragma warning disable CA1031 // a failed binding is retried, as any failed reconcile
        catch (Exception)
#pragma warning restore CA1031
        {
            Forget(key);
            Queue.AddRateLimited(key);
        }
    }

    private void PodChanged(JsonObject? old, JsonObject? pod)
    {
        var current = pod ?? old!;
        string key = PodState.Key(current);
        var facts = pod is null ? null : PodState.Of(pod);
        lock (gate)
        {
            if (facts is null || facts.Phase is "Succeeded" or "Failed")
            {
                Forget(key);
            }
            else if (facts.NodeName is { } node && (!placed.TryGetValue(key, out var p) || p.Node != node))
            {
                var (cpu, memory) = SchedulingPod.Requests(pod!);
                Forget(key);
                Assume(key, node, cpu, memory, facts.ControllerUid);
            }
        }

        if (facts is not null && facts.NodeName is null && !facts.Deleting)
        {
            Queue.Add(key);
        }
        else if (pod is null || (old is not null && PodState.Of(old).NodeName is not null))
        {
            // capacity freed somewhere: retry what did not fit
            foreach (string k in unschedulable.Keys)
            {
                Queue.Add(k);
            }
        }
    }

    private void Assume(string key, string node, long cpu, long memory, string? owner)
    {
        lock (gate)
        {
            if (placed.ContainsKey(key))
            {
                return;
            }

            placed[key] = (node, cpu, memory, owner);
            var u = UsageOf(node);
            u.Cpu += cpu;
            u.Memory += memory;
            u.Pods++;
            if (owner is not null)
            {
                if (!owners.TryGetValue(owner, out var count))
                {
                    owners[owner] = count = new OwnerCount();
                }

                if (count.PerNode.Length <= u.Id)
                {
                    Array.Resize(ref count.PerNode, Math.Max(Volatile.Read(ref nextUsageId), u.Id + 1));
                }

                count.PerNode[u.Id]++;
                count.Total++;
            }

            Sync(u);
        }
    }

    // copies a node's usage into its slot, when it has one (under the gate)
    private void Sync(NodeUsage u)
    {
        if (u.Slot >= 0 && u.Slot < slots.Length)
        {
            ref var slot = ref slots[u.Slot];
            slot.UsedCpu = u.Cpu;
            slot.UsedMemory = u.Memory;
            slot.UsedPods = u.Pods;
        }
    }

    private void Forget(string key)
    {
        lock (gate)
        {
            if (placed.TryRemove(key, out var p) && usage.TryGetValue(p.Node, out var u))
            {
                u.Cpu -= p.Cpu;
                u.Memory -= p.Memory;
                u.Pods--;
                if (p.Owner is not null && owners.TryGetValue(p.Owner, out var count))
                {
                    count.PerNode[u.Id]--;
                    if (--count.Total == 0)
                    {
                        owners.Remove(p.Owner);
                    }
                }

                Sync(u);
            }
        }
    }
}
