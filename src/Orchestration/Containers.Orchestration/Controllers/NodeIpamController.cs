using System.Net;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// kube-controller-manager's node IPAM (<c>--allocate-node-cidrs --cluster-cidr</c>, range allocator): a Node without
/// spec.podCIDR gets the first /24 of the cluster CIDR that no node has (so a machine that joins needs no pod subnet of
/// its own choosing); a node that registered with one keeps it. When the range is used up the node gets a
/// CIDRNotAvailable event and no subnet, as in Kubernetes.
/// </summary>
internal sealed class NodeIpamController : IReconciler<string>
{
    private const int MaskSize = 24; // --node-cidr-mask-size
    private readonly ObjectApi api;
    private readonly Informer nodes;
    private readonly IPNetwork clusterCidr;

    public NodeIpamController(ControllerBuilder b, string clusterCidr)
    {
        api = b.Api;
        Queue = b.SingleWorker().Queue; // one at a time: two nodes never get the same subnet
        this.clusterCidr = IPNetwork.Parse(clusterCidr);
        if (this.clusterCidr.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || this.clusterCidr.PrefixLength > MaskSize)
        {
            throw new ArgumentException($"the cluster CIDR {clusterCidr} must be an IPv4 network of /{MaskSize} or larger", nameof(clusterCidr));
        }

        nodes = b.For(ResourceType.Nodes, (_, node) => Json.Str(node, "spec", "podCIDR") is null);
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string name, CancellationToken cancellationToken)
    {
        if (nodes.Get(null, name) is not { } node || Json.Str(node, "spec", "podCIDR") is not null)
        {
            return Task.FromResult(default(ReconcileResult));
        }

        var used = nodes.List().Select(n => Json.Str(n, "spec", "podCIDR")).OfType<string>().ToHashSet(StringComparer.Ordinal);
        string? free = null;
        uint count = 1u << (MaskSize - clusterCidr.PrefixLength);
        for (uint i = 0; i < count && free is null; i++)
        {
            string candidate = $"{ServiceAddressAllocator.Offset(clusterCidr.BaseAddress, i << (32 - MaskSize))}/{MaskSize}";
            if (!used.Contains(candidate))
            {
                free = candidate;
            }
        }

        if (free is null)
        {
            api.RecordEvent(node, "Normal", "CIDRNotAvailable", $"Node {name} status is now: CIDRNotAvailable", "cidrAllocator");
            return Task.FromResult(new ReconcileResult(TimeSpan.FromSeconds(30)));
        }

        try
        {
            api.Mutate(ResourceType.Nodes, null, name, n =>
            {
                if (Json.Str(n, "spec", "podCIDR") is not null)
                {
                    return false;
                }

                Json.Obj(n, "spec")["podCIDR"] = free;
                Json.Obj(n, "spec")["podCIDRs"] = new JsonArray(free);
                return true;
            });
            api.RecordEvent(node, "Normal", "CIDRAssignmentSucceeded", $"Node {name} got pod CIDR {free}", "cidrAllocator");
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            return Task.FromResult(new ReconcileResult(TimeSpan.FromMilliseconds(100)));
        }

        return Task.FromResult(default(ReconcileResult));
    }
}
