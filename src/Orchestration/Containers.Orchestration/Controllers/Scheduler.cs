using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Containers.Orchestration.Api;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Binds pending pods (schedulerName default-scheduler, no nodeName) to nodes. Filters: the node is Ready and
/// schedulable, the pod tolerates its NoSchedule/NoExecute taints, matches its nodeSelector, and the pod's requests fit
/// the node's allocatable cpu, memory and pod count. Scores: least allocated, then fewest pods of the same owner
/// (spreading a controller's pods). An unschedulable pod stays Pending with PodScheduled=False and a FailedScheduling
/// event saying why, and is retried when nodes or pods change.
/// </summary>
internal sealed class Scheduler : IReconciler<string>
{
    private readonly ObjectApi api;
    private readonly Informer pods;
    private readonly Informer nodes;
    private readonly ConcurrentDictionary<string, Usage> usage = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Node, long Cpu, long Memory, string? Owner)> placed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> unschedulable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeInfo> nodeInfos = new(StringComparer.Ordinal); // under the gate
    private NodeInfo[] nodeList = [];
    private readonly Lock gate = new();

    public Scheduler(ObjectApi api, InformerSet informers)
    {
        this.api = api;
        pods = informers.For(ResourceType.Pods);
        nodes = informers.For(ResourceType.Nodes);
        Queue = new WorkQueue<string>(api.Time);
        pods.OnChange(PodChanged);
        foreach (var node in nodes.List())
        {
            nodeInfos[Json.Name(node)] = Info(node); // nodes cached before this scheduler registered (later changes come below)
        }

        nodeList = [.. nodeInfos.Values];
        nodes.OnChange((old, node) =>
        {
            lock (gate)
            {
                if (node is null)
                {
                    nodeInfos.Remove(Json.Name(old!));
                }
                else
                {
                    nodeInfos[Json.Name(node)] = Info(node);
                }

                nodeList = [.. nodeInfos.Values];
            }

            foreach (string key in unschedulable.Keys)
            {
                Queue.Add(key);
            }
        });
    }

    public WorkQueue<string> Queue { get; }

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

        var facts = PodFacts.Of(pod);
        var (cpu, memory) = (facts.Cpu, facts.Memory);
        string? owner = Json.Str(PodState.ControllerOf(pod), "uid");
        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        string? best = null;
        lock (gate)
        {
            double bestScore = double.MinValue;
            foreach (var info in nodeList)
            {
                var u = usage.GetValueOrDefault(info.Name) ?? Usage.None;
                string? why = Filter(facts, info, u);
                if (why is not null)
                {
                    reasons[why] = reasons.GetValueOrDefault(why) + 1;
                    continue;
                }

                // least allocated (cpu and memory, as fractions free), then spread a controller's pods
                double free = (((info.ScoreCpu - u.Cpu - cpu) / Math.Max(info.ScoreCpu, 1)) + ((info.ScoreMemory - u.Memory - memory) / Math.Max(info.ScoreMemory, 1))) / 2;
                int siblings = owner is null ? 0 : u.Owners.GetValueOrDefault(owner);
                double score = (free * 100) - (siblings * 10) - (u.Pods * 0.01);
                if (score > bestScore || (score == bestScore && string.CompareOrdinal(info.Name, best) < 0))
                {
                    bestScore = score;
                    best = info.Name;
                }
            }

            if (best is not null)
            {
                Assume(key, best, cpu, memory, owner);
            }
        }

        if (best is null)
        {
            int total = nodes.Count;
            string message = total == 0
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

    /// <summary>Writes the binding of an assumed pod (spec.nodeName and PodScheduled in one write); on failure the pod is forgotten and scheduled again.</summary>
    private void Bind(string key, string node)
    {
        var (ns, name) = PodState.Split(key);
        try
        {
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

    private static string? Filter(PodFacts pod, NodeInfo node, Usage u)
    {
        if (!node.Ready)
        {
            return "node(s) were not ready";
        }

        if (node.Unschedulable && !pod.Tolerates("node.kubernetes.io/unschedulable", null, "NoSchedule"))
        {
            return "node(s) were unschedulable";
        }

        foreach (var taint in node.Taints)
        {
            if (taint.Effect is "NoSchedule" or "NoExecute" && !pod.Tolerates(taint.Key, taint.Value, taint.Effect))
            {
                return $"node(s) had untolerated taint {{{taint.Key}: {taint.Value}}}";
            }
        }

        foreach (var (k, v) in pod.NodeSelector)
        {
            if (node.Labels.GetValueOrDefault(k) != v)
            {
                return "node(s) didn't match Pod's node affinity/selector";
            }
        }

        if (u.Pods + 1 > node.Pods)
        {
            return "Too many pods";
        }

        if (pod.Cpu > 0 && u.Cpu + pod.Cpu > node.Cpu)
        {
            return "Insufficient cpu";
        }

        if (pod.Memory > 0 && u.Memory + pod.Memory > node.Memory)
        {
            return "Insufficient memory";
        }

        return null;
    }

    /// <summary>What filtering needs of a node, read once per version of the node object (as the informer hands it over).</summary>
    private static NodeInfo Info(JsonObject node)
    {
        return new NodeInfo(
            node,
            Json.Name(node),
            Json.Items(node, "status", "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Ready") is { } ready && Json.Str(ready, "status") == "True",
            Json.Bool(node, "spec", "unschedulable") == true,
            [.. Json.Items(node, "spec", "taints").Select(t => (Json.Str(t, "key") ?? "", Json.Str(t, "value"), Json.Str(t, "effect") ?? ""))],
            Json.Labels(node),
            Milli(Quantity.Of(Json.At(node, "status", "allocatable", "cpu"))),
            Whole(Quantity.Of(Json.At(node, "status", "allocatable", "memory"))),
            Whole(Quantity.Of(Json.At(node, "status", "allocatable", "pods"), 110)),
            Milli(Quantity.Of(Json.At(node, "status", "allocatable", "cpu"), 1)),
            Whole(Quantity.Of(Json.At(node, "status", "allocatable", "memory"), 1)));
    }

    /// <summary>Cores as millicores (rounded up, as Kubernetes does).</summary>
    private static long Milli(decimal cores) => (long)Math.Ceiling(cores * 1000);

    /// <summary>Bytes (or a count), rounded up.</summary>
    private static long Whole(decimal value) => (long)Math.Ceiling(value);

    /// <summary>The pod's requests: cpu in millicores, memory in bytes (integers: filtering and sums stay exact and cheap).</summary>
    private static (long Cpu, long Memory) Requests(JsonObject pod)
    {
        long cpu = 0, memory = 0;
        foreach (var c in Json.ReadItems(pod, "spec", "containers"))
        {
            // requests default to limits when only limits are given
            cpu += Milli(Quantity.Of(Json.Read(c, "resources", "requests", "cpu") ?? Json.Read(c, "resources", "limits", "cpu")));
            memory += Whole(Quantity.Of(Json.Read(c, "resources", "requests", "memory") ?? Json.Read(c, "resources", "limits", "memory")));
        }

        foreach (var c in Json.ReadItems(pod, "spec", "initContainers"))
        {
            cpu = Math.Max(cpu, Milli(Quantity.Of(Json.Read(c, "resources", "requests", "cpu"))));
            memory = Math.Max(memory, Whole(Quantity.Of(Json.Read(c, "resources", "requests", "memory"))));
        }

        return (cpu, memory);
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
                var (cpu, memory) = Requests(pod!);
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
            var u = usage.GetOrAdd(node, _ => new Usage());
            u.Cpu += cpu;
            u.Memory += memory;
            u.Pods++;
            if (owner is not null)
            {
                u.Owners[owner] = u.Owners.GetValueOrDefault(owner) + 1;
            }
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
                if (p.Owner is not null)
                {
                    u.Owners[p.Owner] = u.Owners.GetValueOrDefault(p.Owner) - 1;
                }
            }
        }
    }

    private sealed record NodeInfo(
        JsonObject Source,
        string Name,
        bool Ready,
        bool Unschedulable,
        (string Key, string? Value, string Effect)[] Taints,
        IReadOnlyDictionary<string, string> Labels,
        long Cpu,
        long Memory,
        long Pods,
        double ScoreCpu,
        double ScoreMemory);

    /// <summary>What filtering needs of a pod, read once per scheduling attempt.</summary>
    private sealed record PodFacts(long Cpu, long Memory, (string? Key, string? Operator, string? Value, string? Effect)[] Tolerations, IReadOnlyDictionary<string, string> NodeSelector)
    {
        public static PodFacts Of(JsonObject pod)
        {
            var (cpu, memory) = Requests(pod);
            return new PodFacts(
                cpu,
                memory,
                [.. Json.ReadItems(pod, "spec", "tolerations").Select(t => (Json.Str(t, "key"), Json.Str(t, "operator"), Json.Str(t, "value"), Json.Str(t, "effect")))],
                Json.Map(pod, "spec", "nodeSelector"));
        }

        public bool Tolerates(string key, string? value, string effect) =>
            Tolerations.Any(t =>
                (t.Effect is null or "" || t.Effect == effect)
                && (t.Key is null or "" ? t.Operator == "Exists" : t.Key == key)
                && (t.Operator == "Exists" || t.Value == value));
    }

    private sealed class Usage
    {
        public static readonly Usage None = new();

        public long Cpu { get; set; }

        public long Memory { get; set; }

        public int Pods { get; set; }

        public Dictionary<string, int> Owners { get; } = new(StringComparer.Ordinal);
    }
}
