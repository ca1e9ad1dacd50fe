using System.Collections.Concurrent;

namespace Containers.Orchestration.Api;

/// <summary>
/// The resource metrics of pods and nodes, as metrics-server keeps them: each node agent publishes what its pods'
/// containers used over the last window (cpu as a rate, memory as the working set), the metrics.k8s.io API serves
/// them (<c>kubectl top</c>), and the horizontal pod autoscaler reads them. Only the latest sample of each is kept.
/// </summary>
public sealed class ResourceMetrics
{
    private readonly ConcurrentDictionary<(string Ns, string Name), PodSample> pods = new();
    private readonly ConcurrentDictionary<string, NodeSample> nodes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Ns, string Name)[]> podsOf = new(StringComparer.Ordinal); // each node's last pods

    /// <summary>One container's usage over a window: cpu in nanocores, memory in bytes.</summary>
    public sealed record ContainerSample(string Name, long CpuNanoCores, long MemoryBytes);

    /// <summary>One pod's usage over <paramref name="Window"/> ending at <paramref name="Timestamp"/>.</summary>
    public sealed record PodSample(string Namespace, string Name, string Node, DateTimeOffset Timestamp, TimeSpan Window, IReadOnlyList<ContainerSample> Containers)
    {
        /// <summary>The pod's cpu, in nanocores.</summary>
        public long CpuNanoCores => Containers.Sum(c => c.CpuNanoCores);

        /// <summary>The pod's memory, in bytes.</summary>
        public long MemoryBytes => Containers.Sum(c => c.MemoryBytes);
    }

    /// <summary>One node's usage (what its pods used) over <paramref name="Window"/> ending at <paramref name="Timestamp"/>.</summary>
    public sealed record NodeSample(string Name, DateTimeOffset Timestamp, TimeSpan Window, long CpuNanoCores, long MemoryBytes);

    /// <summary>Replaces what node <paramref name="node"/> reported before with <paramref name="samples"/> and its total.</summary>
    public void Publish(string node, IReadOnlyList<PodSample> samples, NodeSample total)
    {
        var keys = samples.Select(s => (s.Namespace, s.Name)).ToArray();
        foreach (var gone in podsOf.GetValueOrDefault(node, []).Except(keys))
        {
            pods.TryRemove(gone, out _);
        }

        foreach (var s in samples)
        {
            pods[(s.Namespace, s.Name)] = s;
        }

        podsOf[node] = keys;
        nodes[node] = total;
    }

    /// <summary>Forgets node <paramref name="node"/> and its pods (its agent stopped).</summary>
    public void Forget(string node)
    {
        nodes.TryRemove(node, out _);
        if (podsOf.TryRemove(node, out var keys))
        {
            foreach (var key in keys)
            {
                pods.TryRemove(key, out _);
            }
        }
    }

    /// <summary>The latest sample of a pod, or null.</summary>
    public PodSample? Pod(string ns, string name) => pods.GetValueOrDefault((ns, name));

    /// <summary>The latest samples of the pods (of one namespace when given).</summary>
    public IEnumerable<PodSample> Pods(string? ns = null) => pods.Values.Where(p => ns is null || p.Namespace == ns);

    /// <summary>The latest sample of a node, or null.</summary>
    public NodeSample? Node(string name) => nodes.GetValueOrDefault(name);

    /// <summary>The latest samples of the nodes.</summary>
    public IEnumerable<NodeSample> Nodes() => nodes.Values;
}
