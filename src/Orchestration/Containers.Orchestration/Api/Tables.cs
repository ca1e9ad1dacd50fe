using System.Globalization;
using System.Text.Json.Nodes;

namespace Containers.Orchestration.Api;

/// <summary>The server-side printing kubectl asks for (<c>Accept: application/json;as=Table;g=meta.k8s.io;v=v1</c>): the columns of <c>kubectl get</c> per kind.</summary>
internal static class Tables
{
    private sealed record Column(string Name, string Type, int Priority, Func<JsonObject, DateTimeOffset, JsonNode?> Cell, string Format = "");

    public static JsonObject Build(ResourceType type, IEnumerable<JsonObject> items, string? resourceVersion, DateTimeOffset now, bool includeObject, bool headers = true)
    {
        var columns = ColumnsOf(type);
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var cells = new JsonArray();
            foreach (var c in columns)
            {
                cells.Add(c.Cell(item, now));
            }

            rows.Add((JsonNode)new JsonObject
            {
                ["cells"] = cells,
                ["object"] = includeObject ? Json.Clone(item) : new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = "meta.k8s.io/v1",
                    ["metadata"] = item["metadata"]?.DeepClone(),
                },
            });
        }

        var table = new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion },
            ["columnDefinitions"] = headers
                ? new JsonArray([.. columns.Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["type"] = c.Type, ["format"] = c.Format, ["description"] = c.Name, ["priority"] = c.Priority })])
                : null,
            ["rows"] = rows,
        };
        return table;
    }

    private static Column NameColumn => new("Name", "string", 0, (o, _) => Json.Name(o), "name");

    private static Column AgeColumn => new("Age", "string", 0, (o, now) => Json.ParseTime(Json.Str(o, "metadata", "creationTimestamp")) is { } t ? Json.Age(t, now) : "<unknown>");

    private static List<Column> ColumnsOf(ResourceType type) => type.Kind switch
    {
        "Pod" =>
        [
            NameColumn,
            new("Ready", "string", 0, (o, _) => $"{Json.Items(o, "status", "containerStatuses").Count(c => Json.Bool(c, "ready") == true)}/{Json.Items(o, "spec", "containers").Count()}"),
            new("Status", "string", 0, (o, _) => PodStatus(o)),
            new("Restarts", "string", 0, (o, now) => Restarts(o, now)),
            AgeColumn,
            new("IP", "string", 1, (o, _) => Json.Str(o, "status", "podIP") ?? "<none>"),
            new("Node", "string", 1, (o, _) => Json.Str(o, "spec", "nodeName") ?? "<none>"),
            new("Nominated Node", "string", 1, (o, _) => Json.Str(o, "status", "nominatedNodeName") ?? "<none>"),
            new("Readiness Gates", "string", 1, (_, _) => "<none>"),
        ],
        "Deployment" =>
        [
            NameColumn,
            new("Ready", "string", 0, (o, _) => $"{Json.Int(o, "status", "readyReplicas") ?? 0}/{Json.Int(o, "spec", "replicas") ?? 0}"),
            new("Up-to-date", "integer", 0, (o, _) => Json.Int(o, "status", "updatedReplicas") ?? 0),
            new("Available", "integer", 0, (o, _) => Json.Int(o, "status", "availableReplicas") ?? 0),
            AgeColumn,
            new("Containers", "string", 1, (o, _) => string.Join(",", Json.Items(o, "spec", "template", "spec", "containers").Select(c => Json.Str(c, "name")))),
            new("Images", "string", 1, (o, _) => string.Join(",", Json.Items(o, "spec", "template", "spec", "containers").Select(c => Json.Str(c, "image")))),
            new("Selector", "string", 1, (o, _) => LabelSelector.FromObject(Json.At(o, "spec", "selector")).ToString()),
        ],
        "ReplicaSet" =>
        [
            NameColumn,
            new("Desired", "integer", 0, (o, _) => Json.Int(o, "spec", "replicas") ?? 0),
            new("Current", "integer", 0, (o, _) => Json.Int(o, "status", "replicas") ?? 0),
            new("Ready", "integer", 0, (o, _) => Json.Int(o, "status", "readyReplicas") ?? 0),
            AgeColumn,
            new("Containers", "string", 1, (o, _) => string.Join(",", Json.Items(o, "spec", "template", "spec", "containers").Select(c => Json.Str(c, "name")))),
            new("Images", "string", 1, (o, _) => string.Join(",", Json.Items(o, "spec", "template", "spec", "containers").Select(c => Json.Str(c, "image")))),
            new("Selector", "string", 1, (o, _) => LabelSelector.FromObject(Json.At(o, "spec", "selector")).ToString()),
        ],
        "Service" =>
        [
            NameColumn,
            new("Type", "string", 0, (o, _) => Json.Str(o, "spec", "type")),
            new("Cluster-IP", "string", 0, (o, _) => Json.Str(o, "spec", "clusterIP") ?? "<none>"),
            new("External-IP", "string", 0, (o, _) => Json.Str(o, "spec", "type") == "ExternalName" ? Json.Str(o, "spec", "externalName") : "<none>"),
            new("Port(s)", "string", 0, (o, _) => Json.Items(o, "spec", "ports").Any()
                ? string.Join(",", Json.Items(o, "spec", "ports").Select(p => Json.Int(p, "nodePort") is { } np ? $"{Json.Int(p, "port")}:{np}/{Json.Str(p, "protocol")}" : $"{Json.Int(p, "port")}/{Json.Str(p, "protocol")}"))
                : "<none>"),
            AgeColumn,
            new("Selector", "string", 1, (o, _) => Json.Map(o, "spec", "selector") is { Count: > 0 } sel ? string.Join(",", sel.Select(kv => $"{kv.Key}={kv.Value}")) : "<none>"),
        ],
        "Node" =>
        [
            NameColumn,
            new("Status", "string", 0, (o, _) => NodeStatus(o)),
            new("Roles", "string", 0, (o, _) => Json.Labels(o).Keys.Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal)).Select(k => k["node-role.kubernetes.io/".Length..]).DefaultIfEmpty("<none>").Aggregate((a, b) => a + "," + b)),
            AgeColumn,
            new("Version", "string", 0, (o, _) => Json.Str(o, "status", "nodeInfo", "kubeletVersion") ?? ""),
            new("Internal-IP", "string", 1, (o, _) => Json.Items(o, "status", "addresses").FirstOrDefault(a => Json.Str(a, "type") == "InternalIP") is { } a ? Json.Str(a, "address") : "<none>"),
            new("External-IP", "string", 1, (_, _) => "<none>"),
            new("OS-Image", "string", 1, (o, _) => Json.Str(o, "status", "nodeInfo", "osImage") ?? ""),
            new("Kernel-Version", "string", 1, (o, _) => Json.Str(o, "status", "nodeInfo", "kernelVersion") ?? ""),
            new("Container-Runtime", "string", 1, (o, _) => Json.Str(o, "status", "nodeInfo", "containerRuntimeVersion") ?? ""),
        ],
        "Namespace" => [NameColumn, new("Status", "string", 0, (o, _) => Json.Str(o, "status", "phase")), AgeColumn],
        "ConfigMap" => [NameColumn, new("Data", "integer", 0, (o, _) => ((Json.At(o, "data") as JsonObject)?.Count ?? 0) + ((Json.At(o, "binaryData") as JsonObject)?.Count ?? 0)), AgeColumn],
        "Secret" => [NameColumn, new("Type", "string", 0, (o, _) => Json.Str(o, "type")), new("Data", "integer", 0, (o, _) => (Json.At(o, "data") as JsonObject)?.Count ?? 0), AgeColumn],
        "Endpoints" =>
        [
            NameColumn,
            new("Endpoints", "string", 0, (o, _) =>
            {
                var eps = Json.Items(o, "subsets").SelectMany(s => Json.Items(s, "addresses").SelectMany(a => Json.Items(s, "ports").DefaultIfEmpty().Select(p => p is null ? Json.Str(a, "ip") : $"{Json.Str(a, "ip")}:{Json.Int(p, "port")}"))).ToList();
                return eps.Count == 0 ? "<none>" : eps.Count > 3 ? string.Join(",", eps.Take(3)) + $" + {eps.Count - 3} more..." : string.Join(",", eps);
            }),
            AgeColumn,
        ],
        "Event" =>
        [
            new("Last Seen", "string", 0, (o, now) => Json.ParseTime(Json.Str(o, "lastTimestamp") ?? Json.Str(o, "metadata", "creationTimestamp")) is { } t ? Json.Age(t, now) : "<unknown>"),
            new("Type", "string", 0, (o, _) => Json.Str(o, "type")),
            new("Reason", "string", 0, (o, _) => Json.Str(o, "reason")),
            new("Object", "string", 0, (o, _) => $"{Json.Str(o, "involvedObject", "kind")?.ToLowerInvariant()}/{Json.Str(o, "involvedObject", "name")}"),
            new("Message", "string", 0, (o, _) => Json.Str(o, "message")),
            new("Source", "string", 1, (o, _) => Json.Str(o, "source", "component") + (Json.Str(o, "source", "host") is { } h ? ", " + h : "")),
            new("First Seen", "string", 1, (o, now) => Json.ParseTime(Json.Str(o, "firstTimestamp")) is { } t ? Json.Age(t, now) : "<unknown>"),
            new("Count", "integer", 1, (o, _) => Json.Int(o, "count") ?? 1),
            new("Name", "string", 1, (o, _) => Json.Name(o), "name"),
        ],
        "PersistentVolumeClaim" =>
        [
            NameColumn,
            new("Status", "string", 0, (o, _) => Json.Str(o, "status", "phase")),
            new("Volume", "string", 0, (o, _) => Json.Str(o, "spec", "volumeName") ?? ""),
            new("Capacity", "string", 0, (o, _) => Json.Str(o, "status", "capacity", "storage") ?? ""),
            new("Access Modes", "string", 0, (o, _) => AccessModes(o)),
            new("StorageClass", "string", 0, (o, _) => Json.Str(o, "spec", "storageClassName") ?? "<unset>"),
            AgeColumn,
        ],
        "PersistentVolume" =>
        [
            NameColumn,
            new("Capacity", "string", 0, (o, _) => Json.Str(o, "spec", "capacity", "storage") ?? ""),
            new("Access Modes", "string", 0, (o, _) => AccessModes(o)),
            new("Reclaim Policy", "string", 0, (o, _) => Json.Str(o, "spec", "persistentVolumeReclaimPolicy")),
            new("Status", "string", 0, (o, _) => Json.Str(o, "status", "phase")),
            new("Claim", "string", 0, (o, _) => Json.Str(o, "spec", "claimRef", "name") is { } n ? $"{Json.Str(o, "spec", "claimRef", "namespace")}/{n}" : ""),
            new("StorageClass", "string", 0, (o, _) => Json.Str(o, "spec", "storageClassName") ?? ""),
            AgeColumn,
        ],
        _ => [NameColumn, AgeColumn],
    };

    private static string AccessModes(JsonObject o) => string.Join(",", (Json.At(o, "spec", "accessModes") as JsonArray ?? []).Select(m => m?.GetValue<string>() switch
    {
        "ReadWriteOnce" => "RWO",
        "ReadOnlyMany" => "ROX",
        "ReadWriteMany" => "RWX",
        "ReadWriteOncePod" => "RWOP",
        var x => x,
    }));

    public static string PodStatus(JsonObject pod)
    {
        string reason = Json.Str(pod, "status", "reason") ?? Json.Str(pod, "status", "phase") ?? "Unknown";
        int initCount = Json.Items(pod, "spec", "initContainers").Count();
        int i = 0;
        bool initializing = false;
        foreach (var c in Json.Items(pod, "status", "initContainerStatuses"))
        {
            if (Json.Int(c, "state", "terminated", "exitCode") == 0)
            {
                i++;
                continue;
            }

            initializing = true;
            reason = Json.Str(c, "state", "terminated", "reason") is { } tr ? "Init:" + tr
                : Json.Str(c, "state", "waiting", "reason") is { Length: > 0 } wr && wr != "PodInitializing" ? "Init:" + wr
                : $"Init:{i}/{initCount}";
            break;
        }

        if (!initializing)
        {
            bool running = false;
            foreach (var c in Json.Items(pod, "status", "containerStatuses").Reverse())
            {
                if (Json.Str(c, "state", "waiting", "reason") is { Length: > 0 } w)
                {
                    reason = w;
                }
                else if (Json.Str(c, "state", "terminated", "reason") is { Length: > 0 } t)
                {
                    reason = t;
                }
                else if (Json.At(c, "state", "terminated") is JsonObject term)
                {
                    reason = Json.Int(term, "signal") is { } sig and not 0 ? $"Signal:{sig}" : $"ExitCode:{Json.Int(term, "exitCode")}";
                }
                else if (Json.Bool(c, "ready") == true && Json.At(c, "state", "running") is not null)
                {
                    running = true;
                }
            }

            if (reason == "Completed" && running)
            {
                reason = "Running";
            }
        }

        if (Json.Has(pod, "metadata", "deletionTimestamp"))
        {
            reason = Json.Str(pod, "status", "reason") == "NodeLost" ? "Unknown" : "Terminating";
        }

        return reason;
    }

    private static string Restarts(JsonObject pod, DateTimeOffset now)
    {
        long restarts = 0;
        DateTimeOffset? last = null;
        foreach (var c in Json.Items(pod, "status", "containerStatuses"))
        {
            restarts += Json.Int(c, "restartCount") ?? 0;
            if (Json.ParseTime(Json.Str(c, "lastState", "terminated", "finishedAt")) is { } t && (last is null || t > last))
            {
                last = t;
            }
        }

        return restarts > 0 && last is { } l ? string.Create(CultureInfo.InvariantCulture, $"{restarts} ({Json.Age(l, now)} ago)") : restarts.ToString(CultureInfo.InvariantCulture);
    }

    private static string NodeStatus(JsonObject node)
    {
        var ready = Json.Items(node, "status", "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Ready");
        string status = ready is null ? "Unknown" : Json.Str(ready, "status") == "True" ? "Ready" : "NotReady";
        if (Json.Bool(node, "spec", "unschedulable") == true)
        {
            status += ",SchedulingDisabled";
        }

        return status;
    }
}
