using System.Collections.Immutable;

namespace Containers.Orchestration.Nodes;

/// <summary>A node's identity and capacity.</summary>
public sealed record NodeOptions
{
    /// <summary>The node's name.</summary>
    public required string Name { get; init; }

    /// <summary>Where its pods' volumes live.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The engine network pods join.</summary>
    public string Network { get; init; } = "k8s-pods";

    /// <summary>Allocatable cpu (Kubernetes quantity).</summary>
    public string Cpu { get; init; } = "2";

    /// <summary>Allocatable memory (Kubernetes quantity).</summary>
    public string Memory { get; init; } = "4Gi";

    /// <summary>How many pods it takes.</summary>
    public int MaxPods { get; init; } = 110;

    /// <summary>How often it posts its status.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Its address (status.addresses InternalIP; pods' status.hostIP).</summary>
    public string InternalIP { get; init; } = "127.0.0.1";

    /// <summary>
    /// Its address on the machines' LAN, when it is one of several machines (status.addresses InternalIP, pods'
    /// status.hostIP, the next hop other machines route its pod CIDR to); null: <see cref="InternalIP"/>.
    /// </summary>
    public string? LanAddress { get; init; }

    /// <summary>The pods' subnet on this node (spec.podCIDR), or null when not told.</summary>
    public string? PodCidr { get; init; }

    /// <summary>The cluster DNS server pods use (resolv.conf), or null for the network's.</summary>
    public string? DnsServer { get; init; }

    /// <summary>The cluster domain.</summary>
    public string ClusterDomain { get; init; } = "cluster.local";

    /// <summary>Extra node labels.</summary>
    public ImmutableDictionary<string, string> Labels { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>
    /// The port of the node's replica server for replicated volumes (0: any free port; null: the node keeps no
    /// replicas). It listens on <see cref="LanAddress"/> or else <see cref="InternalIP"/>; the node's annotation
    /// <c>replicated.containers.dev/replica-address</c> tells the other nodes.
    /// </summary>
    public int? ReplicaPort { get; init; } = 0;

    /// <summary>Where the node keeps its replicas (null: DATA/replicated/replicas).</summary>
    public string? ReplicaDirectory { get; init; }

    /// <summary>Pod workers.</summary>
    public int Workers { get; init; } = 4;

    /// <summary>How often the node reads its containers' cgroup usage for the resource metrics (metrics-server's --metric-resolution: 15 s).</summary>
    public TimeSpan MetricsResolution { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>What the agent acts as its node with (authorized reads, its pods' service-account tokens); none when null (a test double's node: reads unchecked, no tokens).</summary>
    public NodeCredentials? Credentials { get; init; }

    /// <summary>
    /// On a machine that joined a cluster: asks the API server for a service-account token bound to a pod (namespace,
    /// account, lifetime in seconds, audience, pod), as the kubelet's TokenRequest; null where <see cref="Credentials"/> issue them here.
    /// </summary>
    public Func<string, string, long, string?, JsonObject, (string Token, DateTimeOffset Expires)>? RequestToken { get; init; }
}
