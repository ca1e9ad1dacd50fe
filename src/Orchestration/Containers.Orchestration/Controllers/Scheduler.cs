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
    private readonly ConcurrentDictionary<string, (string Node, decimal Cpu, decimal Memory, string? Owner)> placed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> unschedulable = new(StringComparer.Ordinal);
    private readonly Lock gate = new();

    public Scheduler(ObjectApi api, InformerSet informers)
    {
        this.api = api;
        pods = informers.For(ResourceType.Pods);
        nodes = informers.For(ResourceType.Nodes);
        Queue = new WorkQueue<string>(api.Time);
        pods.OnChange(PodChanged);
        nodes.OnChange((_, node) =>
        {
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
        if (pod is null || Json.Str(pod, "spec", "nodeName") is not null || Json.At(pod, "metadata", "deletionTimestamp") is not null
            || (Json.Str(pod, "spec", "schedulerName") ?? "default-scheduler") != "default-scheduler")
        {
            unschedulable.TryRemove(key, out _);
            return Task.FromResult(default(ReconcileResult));
        }

        var (cpu, memory) = Requests(pod);
        string? owner = Json.Str(PodState.ControllerOf(pod), "uid");
        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        string? best = null;
        lock (gate)
        {
            double bestScore = double.MinValue;
            var candidates = nodes.List().ToList();
            foreach (var node in candidates)
            {
                string? why = Filter(pod, node, cpu, memory);
                if (why is not null)
                {
                    reasons[why] = reasons.GetValueOrDefault(why) + 1;
                    continue;
                }

                string nodeName = Json.Name(node);
                var u = usage.GetValueOrDefault(nodeName) ?? new Usage();
                decimal allocCpu = Quantity.Of(Json.At(node, "status", "allocatable", "cpu"), 1);
                decimal allocMem = Quantity.Of(Json.At(node, "status", "allocatable", "memory"), 1);
                // least allocated (cpu and memory, as fractions free), then spread a controller's pods
                double free = (double)(((allocCpu - u.Cpu - cpu) / Math.Max(allocCpu, 0.001m)) + ((allocMem - u.Memory - memory) / Math.Max(allocMem, 1m))) / 2;
                int siblings = owner is null ? 0 : u.Owners.GetValueOrDefault(owner);
                double score = (free * 100) - (siblings * 10) - (u.Pods * 0.01);
                if (score > bestScore || (score == bestScore && string.CompareOrdinal(nodeName, best) < 0))
                {
                    bestScore = score;
                    best = nodeName;
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
        try
        {
            var bound = api.Mutate(ResourceType.Pods, ns, name, p =>
            {
                if (Json.Str(p, "spec", "nodeName") is not null)
                {
                    return false;
                }

                Json.Obj(p, "spec")["nodeName"] = best;
                return true;
            });
            if (bound is not null)
            {
                api.Mutate(ResourceType.Pods, ns, name, p =>
                {
                    PodState.SetCondition(Json.Obj(p, "status"), "PodScheduled", "True", null, null, api.Time.GetUtcNow(), probeTimes: true);
                    return true;
                }, "status");
                api.RecordEvent(bound, "Normal", "Scheduled", $"Successfully assigned {ns}/{name} to {best}", "default-scheduler");
            }
        }
        catch
        {
            Forget(key);
            throw;
        }

        return Task.FromResult(default(ReconcileResult));
    }

    private string? Filter(JsonObject pod, JsonObject node, decimal cpu, decimal memory)
    {
        if (Json.Items(node, "status", "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Ready") is not { } ready || Json.Str(ready, "status") != "True")
        {
            return "node(s) were not ready";
        }

        if (Json.Bool(node, "spec", "unschedulable") == true && !Tolerates(pod, "node.kubernetes.io/unschedulable", null, "NoSchedule"))
        {
            return "node(s) were unschedulable";
        }

        foreach (var taint in Json.Items(node, "spec", "taints"))
        {
            string effect = Json.Str(taint, "effect") ?? "";
            if (effect is "NoSchedule" or "NoExecute" && !Tolerates(pod, Json.Str(taint, "key") ?? "", Json.Str(taint, "value"), effect))
            {
                return $"node(s) had untolerated taint {{{Json.Str(taint, "key")}: {Json.Str(taint, "value")}}}";
            }
        }

        var labels = Json.Labels(node);
        foreach (var (k, v) in Json.Map(pod, "spec", "nodeSelector"))
        {
            if (labels.GetValueOrDefault(k) != v)
            {
                return "node(s) didn't match Pod's node affinity/selector";
            }
        }

        var u = usage.GetValueOrDefault(Json.Name(node)) ?? new Usage();
        if (u.Pods + 1 > Quantity.Of(Json.At(node, "status", "allocatable", "pods"), 110))
        {
            return "Too many pods";
        }

        if (cpu > 0 && u.Cpu + cpu > Quantity.Of(Json.At(node, "status", "allocatable", "cpu")))
        {
            return "Insufficient cpu";
        }

        if (memory > 0 && u.Memory + memory > Quantity.Of(Json.At(node, "status", "allocatable", "memory")))
        {
            return "Insufficient memory";
        }

        return null;
    }

    private static bool Tolerates(JsonObject pod, string key, string? value, string effect) =>
        Json.Items(pod, "spec", "tolerations").Any(t =>
            (Json.Str(t, "effect") is null or "" || Json.Str(t, "effect") == effect)
            && (Json.Str(t, "key") is null or "" ? Json.Str(t, "operator") == "Exists" : Json.Str(t, "key") == key)
            && (Json.Str(t, "operator") == "Exists" || Json.Str(t, "value") == value));

    private static (decimal Cpu, decimal Memory) Requests(JsonObject pod)
    {
        decimal cpu = 0, memory = 0;
        foreach (var c in Json.Items(pod, "spec", "containers"))
        {
            // requests default to limits when only limits are given
            cpu += Quantity.Of(Json.At(c, "resources", "requests", "cpu") ?? Json.At(c, "resources", "limits", "cpu"));
            memory += Quantity.Of(Json.At(c, "resources", "requests", "memory") ?? Json.At(c, "resources", "limits", "memory"));
        }

        foreach (var c in Json.Items(pod, "spec", "initContainers"))
        {
            cpu = Math.Max(cpu, Quantity.Of(Json.At(c, "resources", "requests", "cpu")));
            memory = Math.Max(memory, Quantity.Of(Json.At(c, "resources", "requests", "memory")));
        }

        return (cpu, memory);
    }

    private void PodChanged(JsonObject? old, JsonObject? pod)
    {
        var current = pod ?? old!;
        string key = PodState.Key(current);
        lock (gate)
        {
            if (pod is null || !PodState.IsActive(pod) && Json.Str(pod, "status", "phase") is "Succeeded" or "Failed")
            {
                Forget(key);
            }
            else if (Json.Str(pod, "spec", "nodeName") is { } node && (!placed.TryGetValue(key, out var p) || p.Node != node))
            {
                var (cpu, memory) = Requests(pod);
                Forget(key);
                Assume(key, node, cpu, memory, Json.Str(PodState.ControllerOf(pod), "uid"));
            }
        }

        if (pod is not null && Json.Str(pod, "spec", "nodeName") is null && Json.At(pod, "metadata", "deletionTimestamp") is null)
        {
            Queue.Add(key);
        }
        else if (pod is null || Json.Str(old, "spec", "nodeName") is not null)
        {
            // capacity freed somewhere: retry what did not fit
            foreach (string k in unschedulable.Keys)
            {
                Queue.Add(k);
            }
        }
    }

    private void Assume(string key, string node, decimal cpu, decimal memory, string? owner)
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

    private sealed class Usage
    {
        public decimal Cpu { get; set; }

        public decimal Memory { get; set; }

        public int Pods { get; set; }

        public Dictionary<string, int> Owners { get; } = new(StringComparer.Ordinal);
    }
}
