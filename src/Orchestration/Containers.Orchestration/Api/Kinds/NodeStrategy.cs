namespace Containers.Orchestration.Api.Kinds;

/// <summary>Node (v1): registered by its node agent with its status.</summary>
internal sealed class NodeStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "Node", "nodes", false) { ShortNames = ["no"], HasStatus = true, Strategy = new NodeStrategy() };

    /// <inheritdoc/>
    public override bool KeepsStatusOnCreate => true;

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Status", "string", 0, (o, _) => Status(o)),
        new("Roles", "string", 0, (o, _) => Json.Labels(o).Keys.Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal)).Select(k => k["node-role.kubernetes.io/".Length..]).DefaultIfEmpty("<none>").Aggregate((a, b) => a + "," + b)),
        TableColumn.ObjectAge,
        new("Version", "string", 0, (o, _) => Json.Str(o, "status", "nodeInfo", "kubeletVersion") ?? ""),
        new("Internal-IP", "string", 1, (o, _) => Json.Items(o, "status", "addresses").FirstOrDefault(a => Json.Str(a, "type") == "InternalIP") is { } a ? Json.Str(a, "address") : "<none>"),
        new("External-IP", "string", 1, (_, _) => "<none>"),
        new("OS-Image", "string", 1, (o, _) => Json.Str(o, "status", "nodeInfo", "osImage") ?? ""),
        new("Kernel-Version", "string", 1, (o, _) => Json.Str(o, "status", "nodeInfo", "kernelVersion") ?? ""),
        new("Container-Runtime", "string", 1, (o, _) => Json.Str(o, "status", "nodeInfo", "containerRuntimeVersion") ?? ""),
    ];

    private static string Status(JsonObject node)
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
