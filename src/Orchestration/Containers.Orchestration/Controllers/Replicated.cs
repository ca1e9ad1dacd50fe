using System.Globalization;
using Containers.Volumes;

namespace Containers.Orchestration.Controllers;

/// <summary>A replicated volume cannot be attached here now (another node holds it, or no replica answers).</summary>
public sealed class VolumeAttachException(string message) : ContainerException(message);

/// <summary>
/// What the pieces of replicated volumes (<c>containers.dev/replicated</c>) share: the names on objects, where a
/// volume's replicas are, and its attachment, a Lease <c>kube-system/volume-PV</c> held by the one node (or controller)
/// whose engine writes it. Each acquisition raises the lease's <c>leaseTransitions</c>, which is the engine's epoch:
/// replicas refuse a writer with an older one, so an engine left on a lost node is fenced once another takes over.
/// </summary>
public static class Replicated
{
    /// <summary>The provisioner and CSI driver name.</summary>
    public const string Driver = "containers.dev/replicated";

    /// <summary>A node's annotation: host:port of its replica server.</summary>
    public const string ReplicaAddress = "replicated.containers.dev/replica-address";

    /// <summary>The lease's annotation: the nodes holding the volume's replicas now (after rebuilds), comma-separated.</summary>
    public const string ReplicasAnnotation = "replicated.containers.dev/replicas";

    /// <summary>The lease's annotation: the replicas' state as the engine last saw it.</summary>
    public const string StateAnnotation = "replicated.containers.dev/state";

    /// <summary>The namespace of the volumes' leases.</summary>
    public const string LeaseNamespace = "kube-system";

    /// <summary>How long a holder that is not a node keeps a lease without renewing it.</summary>
    public const int ControllerLeaseSeconds = 60;

    /// <summary>True for a PersistentVolume of this driver.</summary>
    public static bool Is(JsonObject? pv) => pv is not null && Json.Str(pv, "spec", "csi", "driver") == Driver;

    /// <summary>The volume's size in bytes.</summary>
    public static long SizeOf(JsonObject pv) => long.Parse(Json.Str(pv, "spec", "csi", "volumeAttributes", "size") ?? "0", CultureInfo.InvariantCulture);

    /// <summary>A size in bytes as a Kubernetes quantity (Gi or Mi when whole, else bytes).</summary>
    public static string Quantity(long bytes) =>
        bytes % (1L << 30) == 0 ? $"{bytes >> 30}Gi" : bytes % (1L << 20) == 0 ? $"{bytes >> 20}Mi" : bytes.ToString(CultureInfo.InvariantCulture);

    /// <summary>The filesystem (ext4 unless the PV says otherwise).</summary>
    public static string FsTypeOf(JsonObject pv) => Json.Str(pv, "spec", "csi", "fsType") ?? "ext4";

    /// <summary>The lease's name for a volume.</summary>
    public static string LeaseName(string pv) => "volume-" + pv;

    /// <summary>The nodes holding the volume's replicas: as the lease says after rebuilds, else as provisioned.</summary>
    public static IReadOnlyList<string> ReplicaNodes(JsonObject pv, JsonObject? lease) =>
        [.. (Json.Str(lease ?? [], "metadata", "annotations", ReplicasAnnotation) ?? Json.Str(pv, "spec", "csi", "volumeAttributes", "replicas") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>A node's replica server (host:port), or null when it serves none.</summary>
    public static string? AddressOf(JsonObject? node) => node is null ? null : Json.Str(node, "metadata", "annotations", ReplicaAddress);

    /// <summary>True when the node's Ready condition is True.</summary>
    public static bool IsReady(JsonObject? node) =>
        node is not null && Json.Items(node, "status", "conditions").Any(c => Json.Str(c, "type") == "Ready" && Json.Str(c, "status") == "True");

    /// <summary>Whether the lease's holder still holds it: a node while it is Ready, anything else while it renews.</summary>
    internal static bool HolderAlive(ObjectApi api, JsonObject lease, Func<string, JsonObject?> node)
    {
        var holder = Json.Str(lease, "spec", "holderIdentity");
        if (string.IsNullOrEmpty(holder))
        {
            return false;
        }

        if (node(holder) is { } n)
        {
            return IsReady(n);
        }

        var renewed = Json.ParseTime(Json.Str(lease, "spec", "renewTime"));
        var seconds = Json.Int(lease, "spec", "leaseDurationSeconds") ?? ControllerLeaseSeconds;
        return renewed is { } r && r.AddSeconds(seconds) > api.Time.GetUtcNow();
    }

    /// <summary>
    /// Takes volume <paramref name="pv"/> for <paramref name="holder"/>: free, already this holder's, or held by a node
    /// that is not Ready (a lost node's engine is fenced by the new epoch). Returns the lease (its leaseTransitions is
    /// the new epoch). Throws <see cref="VolumeAttachException"/> when a live holder has it.
    /// </summary>
    internal static JsonObject Acquire(ObjectApi api, string pv, string holder, Func<string, JsonObject?> node, string? replicas)
    {
        var name = LeaseName(pv);
        for (var attempt = 0; ; attempt++)
        {
            var now = Json.Time(api.Time.GetUtcNow());
            var lease = api.TryGet(ResourceType.Leases, LeaseNamespace, name);
            if (lease is null)
            {
                try
                {
                    return api.Create(ResourceType.Leases, LeaseNamespace, new JsonObject
                    {
                        ["metadata"] = new JsonObject
                        {
                            ["name"] = name,
                            ["annotations"] = replicas is null ? new JsonObject() : new JsonObject { [ReplicasAnnotation] = replicas },
                        },
                        ["spec"] = new JsonObject
                        {
                            ["holderIdentity"] = holder,
                            ["leaseDurationSeconds"] = ControllerLeaseSeconds,
                            ["acquireTime"] = now,
                            ["renewTime"] = now,
                            ["leaseTransitions"] = 1,
                        },
                    });
                }
                catch (ApiException e) when (e.Reason == "AlreadyExists" && attempt < 5)
                {
                    continue;
                }
            }

            var current = Json.Str(lease, "spec", "holderIdentity");
            if (!string.IsNullOrEmpty(current) && current != holder && HolderAlive(api, lease, node))
            {
                throw new VolumeAttachException($"Multi-Attach error for volume \"{pv}\" Volume is already exclusively attached to one node ({current}) and can't be attached to another");
            }

            var taken = false;
            var result = api.Mutate(ResourceType.Leases, LeaseNamespace, name, l =>
            {
                var now2 = Json.Str(l, "spec", "holderIdentity");
                if (!string.IsNullOrEmpty(now2) && now2 != holder && now2 != current)
                {
                    return false; // someone else took it meanwhile
                }

                var spec = Json.Obj(l, "spec");
                spec["holderIdentity"] = holder;
                spec["acquireTime"] = now;
                spec["renewTime"] = now;
                spec["leaseDurationSeconds"] = ControllerLeaseSeconds;
                spec["leaseTransitions"] = (Json.Int(l, "spec", "leaseTransitions") ?? 0) + 1;
                if (replicas is not null && Json.Str(l, "metadata", "annotations", ReplicasAnnotation) is null)
                {
                    Json.Obj(l, "metadata", "annotations")[ReplicasAnnotation] = replicas;
                }

                taken = true;
                return true;
            });
            if (taken && result is not null)
            {
                return result;
            }

            if (attempt >= 5)
            {
                throw new VolumeAttachException($"volume \"{pv}\": its attachment changed hands while taking it; retrying");
            }
        }
    }

    /// <summary>Gives the volume up when <paramref name="holder"/> has it.</summary>
    internal static void Release(ObjectApi api, string pv, string holder)
    {
        try
        {
            api.Mutate(ResourceType.Leases, LeaseNamespace, LeaseName(pv), l =>
            {
                if (Json.Str(l, "spec", "holderIdentity") != holder)
                {
                    return false;
                }

                Json.Obj(l, "spec")["holderIdentity"] = "";
                return true;
            });
        }
        catch (ApiException e) when (e.Code == 404)
        {
        }
    }

    /// <summary>Records the replicas' state (and the set of replica nodes) on the volume's lease.</summary>
    internal static void RecordState(ObjectApi api, string pv, string holder, string state, IReadOnlyList<string>? replicaNodes)
    {
        try
        {
            api.Mutate(ResourceType.Leases, LeaseNamespace, LeaseName(pv), l =>
            {
                if (Json.Str(l, "spec", "holderIdentity") != holder)
                {
                    return false;
                }

                var annotations = Json.Obj(l, "metadata", "annotations");
                var replicas = replicaNodes is null ? null : string.Join(',', replicaNodes);
                if (Json.Str(annotations, StateAnnotation) == state && (replicas is null || Json.Str(annotations, ReplicasAnnotation) == replicas))
                {
                    return false;
                }

                annotations[StateAnnotation] = state;
                if (replicas is not null)
                {
                    annotations[ReplicasAnnotation] = replicas;
                }

                Json.Obj(l, "spec")["renewTime"] = Json.Time(api.Time.GetUtcNow());
                return true;
            });
        }
        catch (ApiException e) when (e.Code == 404)
        {
        }
    }

    /// <summary>
    /// Opens the engine of <paramref name="pv"/> at <paramref name="epoch"/> on its replicas (the one on
    /// <paramref name="localNode"/> first, so reads stay on this machine; written in process when
    /// <paramref name="localServer"/>, that node's replica server, runs in this process). Replicas whose node has no
    /// address are failed.
    /// </summary>
    internal static async Task<ReplicatedVolume> OpenAsync(JsonObject pv, IReadOnlyList<string> replicaNodes, long epoch, string? localNode, Func<string, JsonObject?> node, TimeSpan timeout, Microsoft.Extensions.Logging.ILogger logger, CancellationToken ct, Containers.Volumes.Replicas.ReplicaServer? localServer = null)
    {
        var ordered = replicaNodes.OrderBy(n => n == localNode ? 0 : 1).ToList();
        var addresses = ordered.Select(n => AddressOf(node(n)) ?? $"{n}.invalid:1").ToList();
        var local = new Dictionary<string, Containers.Volumes.Replicas.ReplicaServer>(StringComparer.Ordinal);
        if (localServer is not null && localNode is not null && AddressOf(node(localNode)) is { } localAddress)
        {
            local[localAddress] = localServer;
        }

        return await ReplicatedVolume.OpenAsync(Json.Name(pv), SizeOf(pv), addresses, new ReplicatedVolumeOptions { Epoch = epoch, ReplicaTimeout = timeout, Logger = logger, LocalServers = local }, ct).ConfigureAwait(false);
    }

    /// <summary>The node of a replica address among <paramref name="replicaNodes"/>, or the address itself.</summary>
    internal static string NodeOf(string address, IReadOnlyList<string> replicaNodes, Func<string, JsonObject?> node) =>
        replicaNodes.FirstOrDefault(n => AddressOf(node(n)) == address) ?? (address.EndsWith(".invalid:1", StringComparison.Ordinal) ? address[..^".invalid:1".Length] : address);

    /// <summary>A one-line summary of a volume's replicas: "healthy: 3/3 replicas in step (a, b, c)" or what is wrong.</summary>
    internal static string Summary(ReplicatedVolume volume, IReadOnlyList<string> replicaNodes, Func<string, JsonObject?> node, int wanted)
    {
        var inStep = volume.Replicas.Where(r => r.Mode == ReplicaMode.ReadWrite).Select(r => NodeOf(r.Address, replicaNodes, node)).ToList();
        var rebuilding = volume.Replicas.Where(r => r.Mode == ReplicaMode.Rebuilding).Select(r => NodeOf(r.Address, replicaNodes, node)).ToList();
        var failed = volume.Replicas.Where(r => r.Mode == ReplicaMode.Failed).Select(r => $"{NodeOf(r.Address, replicaNodes, node)} ({r.Error})").ToList();
        var word = inStep.Count >= wanted ? "healthy" : inStep.Count == 0 ? "faulted" : "degraded";
        var text = $"{word}: {inStep.Count}/{wanted} replicas in step ({string.Join(", ", inStep)})";
        if (rebuilding.Count > 0)
        {
            text += $"; rebuilding on {string.Join(", ", rebuilding)}";
        }

        if (failed.Count > 0)
        {
            text += $"; failed: {string.Join("; ", failed)}";
        }

        return text;
    }
}
