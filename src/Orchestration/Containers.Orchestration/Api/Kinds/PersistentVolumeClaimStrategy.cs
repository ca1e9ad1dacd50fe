namespace Containers.Orchestration.Api.Kinds;

/// <summary>PersistentVolumeClaim (v1): volume mode Filesystem, phase Pending on create.</summary>
internal sealed class PersistentVolumeClaimStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true) { ShortNames = ["pvc"], HasStatus = true, Strategy = new PersistentVolumeClaimStrategy() };

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api) => Json.Obj(obj, "spec")["volumeMode"] ??= "Filesystem";

    /// <inheritdoc/>
    public override JsonObject? InitialStatus(JsonObject obj) => new() { ["phase"] = "Pending" };

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        TableColumn.Text("Status", "status", "phase"),
        new("Volume", "string", 0, (o, _) => Json.Str(o, "spec", "volumeName") ?? ""),
        new("Capacity", "string", 0, (o, _) => Json.Str(o, "status", "capacity", "storage") ?? ""),
        new("Access Modes", "string", 0, (o, _) => PersistentVolumeStrategy.AccessModes(o)),
        new("StorageClass", "string", 0, (o, _) => Json.Str(o, "spec", "storageClassName") ?? "<unset>"),
        TableColumn.ObjectAge,
    ];
}
