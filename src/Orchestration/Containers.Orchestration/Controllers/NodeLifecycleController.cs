namespace Containers.Orchestration.Controllers;

/// <summary>
/// Watches node heartbeats: a node whose agent has not posted status for <see cref="GracePeriod"/> gets Ready=Unknown
/// and the <c>node.kubernetes.io/unreachable:NoExecute</c> taint (a node reporting NotReady gets
/// <c>node.kubernetes.io/not-ready</c>), its pods are marked not ready, and each pod is evicted once its toleration of
/// the taint (tolerationSeconds) runs out, so its controller replaces it elsewhere. A node back to Ready loses the taints.
/// </summary>
internal sealed class NodeLifecycleController : IReconciler<string>
{
    private const string Unreachable = "node.kubernetes.io/unreachable";
    private const string NotReady = "node.kubernetes.io/not-ready";
    private readonly ObjectApi api;
    private readonly Informer nodes;
    private readonly Informer pods;
    private readonly DateTimeOffset started;

    public NodeLifecycleController(ControllerBuilder b, TimeSpan gracePeriod)
    {
        api = b.Api;
        GracePeriod = gracePeriod;
        started = api.Time.GetUtcNow();
        Queue = b.SingleWorker().Queue;
        nodes = b.For(ResourceType.Nodes, (old, node) => old is null || ReadyStatus(node) != ReadyStatus(old)); // new, or its readiness changed
        pods = b.Reads(ResourceType.Pods).IndexByNode();
    }

    /// <summary>How long a node may go without posting status.</summary>
    public TimeSpan GracePeriod { get; }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string name, CancellationToken cancellationToken)
    {
        var node = nodes.Get(null, name);
        if (node is null)
        {
            return Task.FromResult(default(ReconcileResult));
        }

        var now = api.Time.GetUtcNow();
        var ready = Json.Items(node, "status", "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Ready");
        var heartbeat = Json.ParseTime(Json.Str(ready, "lastHeartbeatTime")) ?? Json.ParseTime(Json.Str(node, "metadata", "creationTimestamp")) ?? now;
        if (heartbeat < started)
        {
            // a controller that has just started leading (the last leader died) gives every node a whole grace
            // period from its start, as kube-controller-manager's probe timestamps do: the nodes' heartbeats may have
            // failed while no API server held the virtual IP
            heartbeat = started;
        }

        string status = Json.Str(ready, "status") ?? "Unknown";
        if (heartbeat + GracePeriod <= now && status != "Unknown")
        {
            api.Mutate(ResourceType.Nodes, null, name, n =>
            {
                foreach (var c in Json.Items(n, "status", "conditions"))
                {
                    if (Json.Str(c, "status") != "Unknown")
                    {
                        c["status"] = "Unknown";
                        c["reason"] = "NodeStatusUnknown";
                        c["message"] = "Kubelet stopped posting node status.";
                        c["lastTransitionTime"] = Json.Time(now);
                    }
                }

                return true;
            }, "status");
            api.RecordEvent(node, "Normal", "NodeNotReady", $"Node {name} status is now: NodeNotReady", "node-controller");
            status = "Unknown";
        }

        string? taint = status switch { "True" => null, "Unknown" => Unreachable, _ => NotReady };
        var taintAdded = SetTaint(name, taint, now);
        TimeSpan next = status == "True" ? heartbeat + GracePeriod - now : TimeSpan.FromSeconds(1);
        if (taint is not null)
        {
            foreach (var pod in pods.ByIndex(PodState.NodeIndex, name).Where(p => !Json.Has(p, "metadata", "deletionTimestamp")).ToList())
            {
                MarkNotReady(pod, now);
                long? seconds = Json.Items(pod, "spec", "tolerations").Where(t => (Json.Str(t, "key") == taint || (Json.Str(t, "key") is null && Json.Str(t, "operator") == "Exists"))
                    && (Json.Str(t, "effect") is null or "NoExecute")).Select(t => Json.Int(t, "tolerationSeconds") ?? long.MaxValue).DefaultIfEmpty(0).Max();
                if (seconds == long.MaxValue)
                {
                    continue;
                }

                var evictAt = taintAdded.AddSeconds(seconds ?? 0);
                if (evictAt <= now)
                {
                    try
                    {
                        api.RecordEvent(pod, "Normal", "TaintManagerEviction", $"Marking for deletion Pod {Json.Namespace(pod)}/{Json.Name(pod)}", "taint-eviction-controller");
                        api.Delete(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod), new DeleteOptions(GracePeriodSeconds: 0));
                    }
                    catch (ApiException e) when (e.Code == 404)
                    {
                    }
                }
                else if (evictAt - now < next)
                {
                    next = evictAt - now;
                }
            }
        }

        return Task.FromResult(new ReconcileResult(next > TimeSpan.Zero ? next : TimeSpan.FromSeconds(1)));
    }

    private static string? ReadyStatus(JsonObject node) =>
        Json.Str(Json.Items(node, "status", "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Ready"), "status");

    private DateTimeOffset SetTaint(string name, string? taint, DateTimeOffset now)
    {
        DateTimeOffset added = now;
        api.Mutate(ResourceType.Nodes, null, name, n =>
        {
            var taints = Json.At(n, "spec", "taints") as JsonArray ?? [];
            bool changed = false;
            foreach (var t in taints.OfType<JsonObject>().Where(t => Json.Str(t, "key") is Unreachable or NotReady && Json.Str(t, "key") != taint).ToList())
            {
                taints.Remove(t);
                changed = true;
            }

            if (taint is not null)
            {
                if (taints.OfType<JsonObject>().FirstOrDefault(t => Json.Str(t, "key") == taint) is { } existing)
                {
                    added = Json.ParseTime(Json.Str(existing, "timeAdded")) ?? now;
                }
                else
                {
                    taints.Add((JsonNode)new JsonObject { ["key"] = taint, ["effect"] = "NoExecute", ["timeAdded"] = Json.Time(now) });
                    changed = true;
                }
            }

            if (changed)
            {
                if (taints.Count > 0)
                {
                    Json.Obj(n, "spec")["taints"] = taints.Parent is null ? taints : taints.DeepClone();
                }
                else
                {
                    Json.Obj(n, "spec").Remove("taints");
                }
            }

            return changed;
        });
        return added;
    }

    private void MarkNotReady(JsonObject pod, DateTimeOffset now)
    {
        if (!PodState.IsReady(pod))
        {
            return;
        }

        api.Mutate(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod), p =>
        {
            PodState.SetCondition(Json.Obj(p, "status"), "Ready", "False", null, null, now, probeTimes: true);
            foreach (var c in Json.Items(p, "status", "containerStatuses"))
            {
                c["ready"] = false;
            }

            return true;
        }, "status");
    }
}
