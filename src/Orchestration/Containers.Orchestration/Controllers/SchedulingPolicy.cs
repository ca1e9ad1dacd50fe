namespace Containers.Orchestration.Controllers;

/// <summary>
/// The scheduler's filters and scores, as kube-scheduler's plugins, over what it knows of a pod and a node (pure
/// functions: the <see cref="Scheduler"/> holds the state). Filters, in order: NodeReady, NodeUnschedulable,
/// TaintToleration, NodeAffinity (nodeSelector and the required node affinity), the pod count, NodeResourcesFit (cpu, memory). Score: least allocated
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

        if (!NodeAffinity.Matches(pod.NodeSelector, pod.RequiredTerms, node.Name, node.Labels))
        {
            return "node(s) didn't match Pod's node affinity/selector";
        }

        return FilterResources(pod.Cpu, pod.Memory, node.Pods, node.Cpu, node.Memory, u.Pods, u.Cpu, u.Memory);
    }

    /// <summary>The last of <see cref="Filter"/>'s checks: room for one more pod and its cpu and memory requests.</summary>
    public static string? FilterResources(long cpu, long memory, long maxPods, long allocatableCpu, long allocatableMemory, int usedPods, long usedCpu, long usedMemory) =>
        usedPods + 1 > maxPods ? "Too many pods"
        : cpu > 0 && usedCpu + cpu > allocatableCpu ? "Insufficient cpu"
        : memory > 0 && usedMemory + memory > allocatableMemory ? "Insufficient memory"
        : null;

    /// <summary>
    /// True when <see cref="Filter"/>'s checks before the resources pass on <paramref name="node"/> for any pod without
    /// node selector or required affinity: it is Ready, schedulable and has no NoSchedule or NoExecute taint.
    /// </summary>
    public static bool IsPlain(SchedulingNode node)
    {
        if (!node.Ready || node.Unschedulable)
        {
            return false;
        }

        foreach (var taint in node.Taints)
        {
            if (taint.Effect is "NoSchedule" or "NoExecute")
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// How good a node is for a pod requesting <paramref name="cpu"/> and <paramref name="memory"/> (higher is better):
    /// the node's scoring capacity, what is placed on it, and how many pods of the pod's controller it runs.
    /// </summary>
    public static double Score(long cpu, long memory, double scoreCpu, double scoreMemory, long usedCpu, long usedMemory, int pods, int siblings)
    {
        // least allocated (cpu and memory, as fractions free), then spread a controller's pods
        double free = (((scoreCpu - usedCpu - cpu) / Math.Max(scoreCpu, 1)) + ((scoreMemory - usedMemory - memory) / Math.Max(scoreMemory, 1))) / 2;
        return (free * 100) - (siblings * 10) - (pods * 0.01);
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
internal sealed record SchedulingPod(long Cpu, long Memory, (string? Key, string? Operator, string? Value, string? Effect)[] Tolerations, IReadOnlyDictionary<string, string> NodeSelector, NodeAffinity.Term[]? RequiredTerms = null)
{
    public static SchedulingPod Of(JsonObject pod)
    {
        var (cpu, memory) = Requests(pod);
        return new SchedulingPod(
            cpu,
            memory,
            [.. Json.ReadItems(pod, "spec", "tolerations").Select(t => (Json.Str(t, "key"), Json.Str(t, "operator"), Json.Str(t, "value"), Json.Str(t, "effect")))],
            Json.Map(pod, "spec", "nodeSelector"),
            NodeAffinity.Required(Json.Read(pod, "spec")));
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

/// <summary>What is placed on a node: its pods' requests and count (the per-controller counts are the scheduler's, by <see cref="Id"/>).</summary>
internal sealed class NodeUsage
{
    public long Cpu { get; set; }

    public long Memory { get; set; }

    public int Pods { get; set; }

    /// <summary>A number of its own among the nodes the scheduler has seen (its index in the per-controller counts).</summary>
    public int Id { get; init; }

    /// <summary>Its index in the scheduler's current node slots, or -1.</summary>
    public int Slot { get; set; } = -1;
}

/// <summary>
/// A pod's required node affinity (<c>requiredDuringSchedulingIgnoredDuringExecution</c>), as kube-scheduler's
/// NodeAffinity filter reads it: the terms are ORed, a term's requirements ANDed; matchExpressions on labels (In, NotIn,
/// Exists, DoesNotExist, Gt, Lt), matchFields on <c>metadata.name</c> (In, NotIn). A term with no requirement matches
/// no node. The DaemonSet controller asks the same question of each node.
/// </summary>
internal static class NodeAffinity
{
    /// <summary>One requirement.</summary>
    internal sealed record Requirement(string Key, string Operator, string[] Values);

    /// <summary>One node selector term.</summary>
    internal sealed record Term(Requirement[] Expressions, Requirement[] Fields);

    /// <summary>The required terms of a pod spec (null when it has none: every node matches).</summary>
    public static Term[]? Required(JsonNode? podSpec)
    {
        var selector = Json.Read(podSpec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution");
        if (selector is null)
        {
            return null;
        }

        return Terms(selector);
    }

    /// <summary>The terms of a NodeSelector (its nodeSelectorTerms): a pod's required node affinity, a PersistentVolume's spec.nodeAffinity.required.</summary>
    public static Term[] Terms(JsonNode selector)
    {
        return [.. Json.ReadItems(selector, "nodeSelectorTerms").Select(t => new Term(Read(t, "matchExpressions"), Read(t, "matchFields")))];

        static Requirement[] Read(JsonNode term, string list) =>
            [.. Json.ReadItems(term, list).Select(r => new Requirement(Json.Str(r, "key") ?? "", Json.Str(r, "operator") ?? "", [.. (Json.Read(r, "values") as JsonArray ?? []).Select(v => v?.ToString() ?? "")]))];
    }

    /// <summary>Whether a node (<paramref name="name"/>, <paramref name="labels"/>) satisfies a nodeSelector and the required terms.</summary>
    public static bool Matches(IReadOnlyDictionary<string, string> nodeSelector, Term[]? terms, string name, IReadOnlyDictionary<string, string> labels)
    {
        if (nodeSelector.Count > 0) // (enumerating an interface boxes its enumerator: not for every node of a pod without one)
        {
            foreach (var (k, v) in nodeSelector)
            {
                if (labels.GetValueOrDefault(k) != v)
                {
                    return false;
                }
            }
        }

        return terms is null || terms.Any(t => (t.Expressions.Length > 0 || t.Fields.Length > 0)
            && t.Expressions.All(r => Holds(r, labels.TryGetValue(r.Key, out var v) ? v : null))
            && t.Fields.All(r => r.Key == "metadata.name" && Holds(r, name)));
    }

    private static bool Holds(Requirement r, string? value) => r.Operator switch
    {
        "In" => value is not null && r.Values.Contains(value, StringComparer.Ordinal),
        "NotIn" => value is null || !r.Values.Contains(value, StringComparer.Ordinal),
        "Exists" => value is not null,
        "DoesNotExist" => value is null,
        "Gt" => long.TryParse(value, out long a) && r.Values.Length == 1 && long.TryParse(r.Values[0], out long b) && a > b,
        "Lt" => long.TryParse(value, out long a) && r.Values.Length == 1 && long.TryParse(r.Values[0], out long b) && a < b,
        _ => false,
    };
}
