namespace Containers.Orchestration.Controllers;

/// <summary>
/// The scheduler's filters and scores, as kube-scheduler's plugins, over what it knows of a pod and a node (pure
/// functions: the <see cref="Scheduler"/> holds the state). Filters, in order: NodeReady, NodeUnschedulable,
/// TaintToleration, NodeAffinity (nodeSelector), the pod count, NodeResourcesFit (cpu, memory). Score: least allocated
/// (cpu and memory free after placing, as fractions), then spread of a controller's pods, then fewer pods.
/// </summary>
internal static class SchedulingPolicy
{
    /// <summary>Why <paramref name="pod"/> does not fit on <paramref name="node"/> (kube-scheduler's reason, as counted in FailedScheduling), or null when it fits.</summary>
    public static string? Filter(SchedulingPod pod, SchedulingNode node, NodeUsage u)
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

    /// <summary>How good <paramref name="node"/> is for <paramref name="pod"/> (higher is better), <paramref name="owner"/> its controller's uid.</summary>
    public static double Score(SchedulingPod pod, string? owner, SchedulingNode node, NodeUsage u)
    {
        // least allocated (cpu and memory, as fractions free), then spread a controller's pods
        double free = (((node.ScoreCpu - u.Cpu - pod.Cpu) / Math.Max(node.ScoreCpu, 1)) + ((node.ScoreMemory - u.Memory - pod.Memory) / Math.Max(node.ScoreMemory, 1))) / 2;
        int siblings = owner is null ? 0 : u.Owners.GetValueOrDefault(owner);
        return (free * 100) - (siblings * 10) - (u.Pods * 0.01);
    }

    /// <summary>Cores as millicores (rounded up, as Kubernetes does).</summary>
    internal static long Milli(decimal cores) => (long)Math.Ceiling(cores * 1000);

    /// <summary>Bytes (or a count), rounded up.</summary>
    internal static long Whole(decimal value) => (long)Math.Ceiling(value);
}

/// <summary>What filtering needs of a node, read once per version of the node object (as the informer hands it over).</summary>
internal sealed record SchedulingNode(
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
    double ScoreMemory)
{
    /// <summary>The node as filtering and scoring see it.</summary>
    public static SchedulingNode Of(JsonObject node)
    {
        return new SchedulingNode(
            node,
            Json.Name(node),
            Json.Items(node, "status", "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Ready") is { } ready && Json.Str(ready, "status") == "True",
            Json.Bool(node, "spec", "unschedulable") == true,
            [.. Json.Items(node, "spec", "taints").Select(t => (Json.Str(t, "key") ?? "", Json.Str(t, "value"), Json.Str(t, "effect") ?? ""))],
            Json.Labels(node),
            SchedulingPolicy.Milli(Quantity.Of(Json.At(node, "status", "allocatable", "cpu"))),
            SchedulingPolicy.Whole(Quantity.Of(Json.At(node, "status", "allocatable", "memory"))),
            SchedulingPolicy.Whole(Quantity.Of(Json.At(node, "status", "allocatable", "pods"), 110)),
            SchedulingPolicy.Milli(Quantity.Of(Json.At(node, "status", "allocatable", "cpu"), 1)),
            SchedulingPolicy.Whole(Quantity.Of(Json.At(node, "status", "allocatable", "memory"), 1)));
    }
}

/// <summary>What filtering needs of a pod, read once per scheduling attempt.</summary>
internal sealed record SchedulingPod(long Cpu, long Memory, (string? Key, string? Operator, string? Value, string? Effect)[] Tolerations, IReadOnlyDictionary<string, string> NodeSelector)
{
    public static SchedulingPod Of(JsonObject pod)
    {
        var (cpu, memory) = Requests(pod);
        return new SchedulingPod(
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

    /// <summary>The pod's requests: cpu in millicores, memory in bytes (integers: filtering and sums stay exact and cheap).</summary>
    public static (long Cpu, long Memory) Requests(JsonObject pod)
    {
        long cpu = 0, memory = 0;
        foreach (var c in Json.ReadItems(pod, "spec", "containers"))
        {
            // requests default to limits when only limits are given
            cpu += SchedulingPolicy.Milli(Quantity.Of(Json.Read(c, "resources", "requests", "cpu") ?? Json.Read(c, "resources", "limits", "cpu")));
            memory += SchedulingPolicy.Whole(Quantity.Of(Json.Read(c, "resources", "requests", "memory") ?? Json.Read(c, "resources", "limits", "memory")));
        }

        foreach (var c in Json.ReadItems(pod, "spec", "initContainers"))
        {
            cpu = Math.Max(cpu, SchedulingPolicy.Milli(Quantity.Of(Json.Read(c, "resources", "requests", "cpu"))));
            memory = Math.Max(memory, SchedulingPolicy.Whole(Quantity.Of(Json.Read(c, "resources", "requests", "memory"))));
        }

        return (cpu, memory);
    }
}

/// <summary>What is placed on a node: its pods' requests and count, and how many of each controller's pods.</summary>
internal sealed class NodeUsage
{
    /// <summary>Nothing placed.</summary>
    public static readonly NodeUsage None = new();

    public long Cpu { get; set; }

    public long Memory { get; set; }

    public int Pods { get; set; }

    public Dictionary<string, int> Owners { get; } = new(StringComparer.Ordinal);
}
