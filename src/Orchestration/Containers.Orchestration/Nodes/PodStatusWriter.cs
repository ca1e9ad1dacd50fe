using Containers.Orchestration.Controllers;

namespace Containers.Orchestration.Nodes;

/// <summary>The kubelet's status manager for one node: pods' statuses, as the kubelet reports them, written through the status subresource.</summary>
internal sealed class PodStatusWriter(ObjectApi api, IPodRuntime runtime, string? nodeIP)
{
    /// <summary>The order of a pod's conditions, as the kubelet writes them.</summary>
    private static readonly string[] ConditionOrder = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];

    /// <summary>
    /// Writes the pod's status from what the node knows: each container's state (waiting, running, terminated) and
    /// lastState, restart count, readiness and started; the phase; the conditions in the kubelet's order; host and pod
    /// IPs and the start time. Nothing is written when nothing changed.
    /// </summary>
    public void Write(JsonObject pod, PodRecord rec, bool initialized, string? podError, DateTimeOffset now)
    {
        bool statusesUsed = false;
        var statuses = new JsonArray();
        var initStatuses = new JsonArray();
        foreach (var (list, target, init) in new[] { ("initContainers", initStatuses, true), ("containers", statuses, false) })
        {
            foreach (var spec in Json.ReadItems(pod, "spec", list))
            {
                string name = Json.Str(spec, "name")!;
                var cr = rec.Get(name, init);
                var running = cr.Id is null ? null : runtime.Inspect(cr.Id);
                JsonObject state;
                if (running is { Running: true })
                {
                    state = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = Json.Time(running.StartedAt ?? cr.StartedAt ?? now) } };
                }
                else if ((cr.Finished || cr.Succeeded) && cr.Terminated is not null)
                {
                    state = new JsonObject { ["terminated"] = cr.Terminated.DeepClone() };
                }
                else
                {
                    var waiting = new JsonObject { ["reason"] = cr.WaitingReason ?? (init || initialized ? "ContainerCreating" : "PodInitializing") };
                    if (cr.WaitingMessage is not null)
                    {
                        waiting["message"] = cr.WaitingMessage;
                    }

                    state = new JsonObject { ["waiting"] = waiting };
                }

                var s = new JsonObject
                {
                    ["name"] = name,
                    ["state"] = state,
                    ["lastState"] = cr.Terminated is not null && !(cr.Finished || cr.Succeeded) ? new JsonObject { ["terminated"] = cr.Terminated.DeepClone() } : new JsonObject(),
                    ["ready"] = init ? cr.Succeeded : cr.Ready && running is { Running: true },
                    ["restartCount"] = cr.RestartCount,
                    ["image"] = Json.Str(spec, "image"),
                    ["imageID"] = running?.ImageId ?? "",
                    ["started"] = running is { Running: true } && cr.Started,
                };
                if ((running?.Id ?? cr.LastRun) is { } cid)
                {
                    s["containerID"] = "containers-dotnet://" + cid;
                }

                target.Add((JsonNode)s);
                foreach (var p in Json.ReadItems(spec, "ports").Where(p => Json.Str(p, "name") is not null))
                {
                    rec.NamedPorts[Json.Str(p, "name")!] = Json.Int(p, "containerPort") ?? 0;
                }
            }
        }

        var containers = statuses.OfType<JsonObject>().ToList();
        string policy = Json.Str(pod, "spec", "restartPolicy") ?? "Always";
        bool allTerminated = containers.Count > 0 && containers.All(c => Json.At(c, "state", "terminated") is not null);
        string phase = allTerminated
            ? containers.All(c => Json.Int(c, "state", "terminated", "exitCode") == 0) ? "Succeeded" : "Failed"
            : containers.Any(c => Json.At(c, "state", "running") is not null || (Json.At(c, "lastState", "terminated") is not null && policy != "Never")) && initialized ? "Running" : "Pending";
        if (initStatuses.OfType<JsonObject>().Any(c => Json.At(c, "state", "terminated") is JsonObject t && Json.Int(t, "exitCode") != 0) && policy == "Never")
        {
            phase = "Failed";
        }

        bool containersReady = containers.Count > 0 && containers.All(c => Json.Bool(c, "ready") == true);
        string podIP = rec.PodIP ?? "";
        string? hostIP = nodeIP;
        string startTime = Json.Time(rec.StartTime ?? now);
        void Update(JsonObject p)
        {
            var status = Json.Obj(p, "status");
            status["phase"] = phase;
            status["hostIP"] = hostIP;
            status["hostIPs"] = new JsonArray(new JsonObject { ["ip"] = hostIP });
            if (podIP.Length > 0)
            {
                status["podIP"] = podIP;
                status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = podIP });
            }

            status["startTime"] = startTime;
            PodState.SetCondition(status, "PodReadyToStartContainers", podError is null ? "True" : "False", null, null, now, probeTimes: true);
            PodState.SetCondition(status, "Initialized", initialized ? "True" : "False", initialized ? null : "ContainersNotInitialized", initialized ? null : "containers with incomplete status: [" + string.Join(" ", initStatuses.OfType<JsonObject>().Where(c => Json.Bool(c, "ready") != true).Select(c => Json.Str(c, "name"))) + "]", now, probeTimes: true);
            string notReady = string.Join(" ", containers.Where(c => Json.Bool(c, "ready") != true).Select(c => Json.Str(c, "name")));
            PodState.SetCondition(status, "ContainersReady", containersReady ? "True" : "False", containersReady ? null : "ContainersNotReady", containersReady ? null : $"containers with unready status: [{notReady}]", now, probeTimes: true);
            PodState.SetCondition(status, "Ready", containersReady ? "True" : "False", containersReady ? null : "ContainersNotReady", containersReady ? null : $"containers with unready status: [{notReady}]", now, probeTimes: true);
            // the statuses made above go into the first status made; a second one (a retry) gets copies
            if (initStatuses.Count > 0)
            {
                status["initContainerStatuses"] = statusesUsed ? initStatuses.DeepClone() : initStatuses;
            }

            status["containerStatuses"] = statusesUsed ? statuses.DeepClone() : statuses;
            statusesUsed = true;
            var conditions = (JsonArray)status["conditions"]!;
            if (!InOrder(conditions))
            {
                var sorted = conditions.OfType<JsonObject>().OrderBy(c => Array.IndexOf(ConditionOrder, Json.Str(c, "type"))).ToList();
                while (conditions.Count > 0)
                {
                    conditions.RemoveAt(conditions.Count - 1);
                }

                foreach (var c in sorted)
                {
                    conditions.Add((JsonNode)c);
                }
            }
        }

        static bool InOrder(JsonArray conditions)
        {
            int last = int.MinValue;
            foreach (var c in conditions)
            {
                int at = c is JsonObject o ? Array.IndexOf(ConditionOrder, Json.Str(o, "type")) : int.MinValue;
                if (at == int.MinValue || at < last)
                {
                    return false;
                }

                last = at;
            }

            return true;
        }

        // most syncs change nothing: try on a copy of the cached status first, and write only when it differs (the
        // write itself stores nothing when the status it makes equals the stored one)
        JsonNode? made = null;
        string? madeFrom = null;
        if (Json.Uid(pod) == rec.Uid)
        {
            var trial = new JsonObject { ["status"] = Json.Copy(pod["status"]) };
            Update(trial);
            if (JsonNode.DeepEquals(trial["status"], pod["status"]))
            {
                return;
            }

            (made, madeFrom) = (trial["status"], Json.Str(pod, "metadata", "resourceVersion"));
            trial.Remove("status");
        }

        api.Mutate(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod), p =>
        {
            if (Json.Uid(p) != rec.Uid)
            {
                return false;
            }

            if (made is not null && Json.Str(p, "metadata", "resourceVersion") == madeFrom)
            {
                p["status"] = made; // the trial was made from this very version: it is the status to write
                made = null;
            }
            else
            {
                Update(p); // the pod changed since (or a retry): make the status again from what is stored
            }

            return true;
        }, "status");
    }
}
