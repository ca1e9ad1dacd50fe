using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// The kubelet's node status: registers the Node (labels, capacity and allocatable, conditions, addresses, nodeInfo)
/// and posts its Ready heartbeat, which the node lifecycle controller watches.
/// </summary>
internal sealed class NodeStatusReporter(ObjectApi api, NodeOptions options, ILogger logger)
{
    private NodeOptions Options { get; } = options;

    /// <summary>host:port of the node's replica server, announced in its annotations (null: none).</summary>
    public string? ReplicaAddress { get; set; }

    /// <summary>Creates the Node object, or brings an existing one's labels and status up to date (a restart).</summary>
    public void Register()
    {
        var node = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = Options.Name,
                ["labels"] = NodeLabels(),
                ["annotations"] = ReplicaAddress is { } replicas
                    ? new JsonObject { ["node.alpha.kubernetes.io/ttl"] = "0", [Controllers.Replicated.ReplicaAddress] = replicas }
                    : new JsonObject { ["node.alpha.kubernetes.io/ttl"] = "0" },
            },
            ["spec"] = Options.PodCidr is { } cidr ? new JsonObject { ["podCIDR"] = cidr, ["podCIDRs"] = new JsonArray(cidr) } : new JsonObject(),
            ["status"] = NodeStatus(api.Time.GetUtcNow()),
        };
        if (api.TryGet(ResourceType.Nodes, null, Options.Name) is null)
        {
            try
            {
                api.Create(ResourceType.Nodes, null, node);
                return;
            }
            catch (ApiException e) when (e.Reason == "AlreadyExists")
            {
            }
        }

        api.Mutate(ResourceType.Nodes, null, Options.Name, n =>
        {
            var labels = Json.Obj(n, "metadata", "labels");
            foreach (var (k, v) in NodeLabels())
            {
                labels[k] = v?.DeepClone();
            }

            var annotations = Json.Obj(n, "metadata", "annotations");
            if (ReplicaAddress is { } replicas)
            {
                annotations[Controllers.Replicated.ReplicaAddress] = replicas;
            }
            else
            {
                annotations.Remove(Controllers.Replicated.ReplicaAddress);
            }

            if (Options.PodCidr is { } cidr && Json.Str(n, "spec", "podCIDR") is null)
            {
                Json.Obj(n, "spec")["podCIDR"] = cidr;
                Json.Obj(n, "spec")["podCIDRs"] = new JsonArray(cidr);
            }

            return true;
        });
        api.Mutate(ResourceType.Nodes, null, Options.Name, n =>
        {
            n["status"] = NodeStatus(api.Time.GetUtcNow());
            return true;
        }, "status");
    }

    private JsonObject NodeLabels()
    {
        var labels = new JsonObject
        {
            ["kubernetes.io/hostname"] = Options.Name,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = "amd64",
            ["beta.kubernetes.io/os"] = "linux",
            ["beta.kubernetes.io/arch"] = "amd64",
        };
        foreach (var (k, v) in Options.Labels)
        {
            labels[k] = v;
        }

        return labels;
    }

    private JsonObject NodeStatus(DateTimeOffset now)
    {
        var resources = new JsonObject { ["cpu"] = Options.Cpu, ["memory"] = Options.Memory, ["pods"] = Options.MaxPods.ToString(CultureInfo.InvariantCulture), ["ephemeral-storage"] = "100Gi" };
        string time = Json.Time(now);
        JsonObject Condition(string type, string status, string reason, string message) => new()
        {
            ["type"] = type,
            ["status"] = status,
            ["lastHeartbeatTime"] = time,
            ["lastTransitionTime"] = time,
            ["reason"] = reason,
            ["message"] = message,
        };
        string kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "";
        return new JsonObject
        {
            ["capacity"] = resources.DeepClone(),
            ["allocatable"] = resources,
            ["conditions"] = new JsonArray(
                Condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                Condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                Condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                Condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")),
            ["addresses"] = new JsonArray(
                new JsonObject { ["type"] = "InternalIP", ["address"] = Options.LanAddress ?? Options.InternalIP },
                new JsonObject { ["type"] = "Hostname", ["address"] = Options.Name }),
            ["daemonEndpoints"] = new JsonObject { ["kubeletEndpoint"] = new JsonObject { ["Port"] = 10250 } },
            ["nodeInfo"] = new JsonObject
            {
                ["machineID"] = "",
                ["systemUUID"] = "",
                ["bootID"] = "",
                ["kernelVersion"] = kernel,
                ["osImage"] = OsImage(),
                ["containerRuntimeVersion"] = "containers-dotnet://" + typeof(ContainerEngine).Assembly.GetName().Version,
                ["kubeletVersion"] = KubeApiServer.KubernetesVersion,
                ["kubeProxyVersion"] = KubeApiServer.KubernetesVersion,
                ["operatingSystem"] = "linux",
                ["architecture"] = "amd64",
            },
        };
    }

    private static string OsImage() => HostInfo.OsRelease("PRETTY_NAME") ?? "Linux";

    /// <summary>Posts the Ready heartbeat every <see cref="NodeOptions.HeartbeatInterval"/> until cancelled; registers again when the Node was deleted.</summary>
    public async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Options.HeartbeatInterval, api.Time, cancellationToken).ConfigureAwait(false);
                string now = Json.Time(api.Time.GetUtcNow());
                if (api.Mutate(ResourceType.Nodes, null, Options.Name, n =>
                {
                    foreach (var c in Json.Items(n, "status", "conditions"))
                    {
                        c["lastHeartbeatTime"] = now;
                        if (Json.Str(c, "type") == "Ready" && Json.Str(c, "status") != "True")
                        {
                            c["status"] = "True";
                            c["reason"] = "KubeletReady";
                            c["message"] = "kubelet is posting ready status";
                            c["lastTransitionTime"] = now;
                        }
                        else if (Json.Str(c, "type") != "Ready" && Json.Str(c, "status") == "Unknown")
                        {
                            c["status"] = "False";
                            c["lastTransitionTime"] = now;
                        }
                    }

                    return true;
                }, "status") is null)
                {
                    Register(); // the node object was deleted: register again, as the kubelet does
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ApiException e)
            {
                logger.LogWarning(e, "node {Node}: heartbeat failed", Options.Name);
            }
        }
    }
}
