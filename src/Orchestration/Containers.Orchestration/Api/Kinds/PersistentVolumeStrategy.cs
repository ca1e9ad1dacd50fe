namespace Containers.Orchestration.Api.Kinds;

/// <summary>PersistentVolume (v1): reclaim policy Retain, phase Available on create.</summary>
internal sealed class PersistentVolumeStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "PersistentVolume", "persistentvolumes", false) { ShortNames = ["pv"], HasStatus = true, Strategy = new PersistentVolumeStrategy() };

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        Json.Obj(obj, "spec")["persistentVolumeReclaimPolicy"] ??= "Retain";
        Json.Obj(obj, "spec")["volumeMode"] ??= "Filesystem";
    }

    /// <inheritdoc/>
    public override JsonObject? InitialStatus(JsonObject obj) => new() { ["phase"] = "Available" };

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Capacity", "string", 0, (o, _) => Json.Str(o, "spec", "capacity", "storage") ?? ""),
        new("Access Modes", "string", 0, (o, _) => AccessModes(o)),
        TableColumn.Text("Reclaim Policy", "spec", "persistentVolumeReclaimPolicy"),
        TableColumn.Text("Status", "status", "phase"),
        new("Claim", "string", 0, (o, _) => Json.Str(o, "spec", "claimRef", "name") is { } n ? $"{Json.Str(o, "spec", "claimRef", "namespace")}/{n}" : ""),
        new("StorageClass", "string", 0, (o, _) => Json.Str(o, "spec", "storageClassName") ?? ""),
        TableColumn.ObjectAge,
    ];

    /// <summary>The access modes as kubectl abbreviates them (RWO, ROX, RWX, RWOP).</summary>
    internal static string AccessModes(JsonObject o) => string.Join(",", (Json.At(o, "spec", "accessModes") as JsonArray ?? []).Select(m => m?.GetValue<string>() switch
    {
        "ReadWriteOnce" => "RWO",
        "ReadOnlyMany" => "ROX",
        "ReadWriteMany" => "RWX",
        "ReadWriteOncePod" => "RWOP",
        var x => x,
    }));
}
