namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// StorageClass (storage.k8s.io/v1): a provisioner with its parameters (<c>containers.dev/replicated</c>: replicated
/// volumes; see the PersistentVolume controller), reclaim policy Delete and binding mode Immediate by default.
/// </summary>
internal sealed class StorageClassStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("storage.k8s.io", "v1", "StorageClass", "storageclasses", false) { ShortNames = ["sc"], Strategy = new StorageClassStrategy() };

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        obj["reclaimPolicy"] ??= "Delete";
        obj["volumeBindingMode"] ??= "Immediate";
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        if (string.IsNullOrEmpty(Json.Str(obj, "provisioner")))
        {
            errors.Add(("provisioner", "Required value"));
        }

        if (old is not null && Json.Str(old, "provisioner") != Json.Str(obj, "provisioner"))
        {
            errors.Add(("provisioner", "Forbidden: updates to provisioner are forbidden."));
        }

        if (old is not null && (Json.At(old, "parameters")?.ToJsonString() ?? "") != (Json.At(obj, "parameters")?.ToJsonString() ?? ""))
        {
            errors.Add(("parameters", "Forbidden: updates to parameters are forbidden."));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        new("Name", "string", 0, (o, _) => Json.Str(o, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class") == "true" ? $"{Json.Name(o)} (default)" : Json.Name(o), "name"),
        TableColumn.Text("Provisioner", "provisioner"),
        TableColumn.Text("ReclaimPolicy", "reclaimPolicy"),
        TableColumn.Text("VolumeBindingMode", "volumeBindingMode"),
        new("AllowVolumeExpansion", "string", 0, (o, _) => Json.At(o, "allowVolumeExpansion")?.GetValue<bool>() == true ? "true" : "false"),
        TableColumn.ObjectAge,
    ];
}

/// <summary>VolumeSnapshotClass (snapshot.storage.k8s.io/v1): a snapshotter driver, its parameters and deletion policy.</summary>
internal sealed class VolumeSnapshotClassStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("snapshot.storage.k8s.io", "v1", "VolumeSnapshotClass", "volumesnapshotclasses", false) { ShortNames = ["vsclass", "vsclasses"], Strategy = new VolumeSnapshotClassStrategy() };

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        if (string.IsNullOrEmpty(Json.Str(obj, "driver")))
        {
            errors.Add(("driver", "Required value"));
        }

        if (Json.Str(obj, "deletionPolicy") is not ("Delete" or "Retain"))
        {
            errors.Add(("deletionPolicy", "Unsupported value: supported values: \"Delete\", \"Retain\""));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
        [TableColumn.ObjectName, TableColumn.Text("Driver", "driver"), TableColumn.Text("DeletionPolicy", "deletionPolicy"), TableColumn.ObjectAge];
}

/// <summary>
/// VolumeSnapshot (snapshot.storage.k8s.io/v1): a request for a snapshot of a claim (spec.source.persistentVolumeClaimName)
/// or a pre-provisioned one (spec.source.volumeSnapshotContentName); status.readyToUse once taken.
/// </summary>
internal sealed class VolumeSnapshotStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("snapshot.storage.k8s.io", "v1", "VolumeSnapshot", "volumesnapshots", true) { ShortNames = ["vs"], HasStatus = true, Strategy = new VolumeSnapshotStrategy() };

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        var claim = Json.Str(obj, "spec", "source", "persistentVolumeClaimName");
        var content = Json.Str(obj, "spec", "source", "volumeSnapshotContentName");
        if ((claim is null) == (content is null))
        {
            errors.Add(("spec.source", "Invalid value: exactly one of persistentVolumeClaimName and volumeSnapshotContentName must be set"));
        }

        if (old is not null && Json.At(old, "spec", "source")?.ToJsonString() != Json.At(obj, "spec", "source")?.ToJsonString())
        {
            errors.Add(("spec.source", "Invalid value: spec.source is immutable"));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("ReadyToUse", "boolean", 0, (o, _) => Json.At(o, "status", "readyToUse")?.GetValue<bool>() == true ? "true" : "false"),
        TableColumn.Text("SourcePVC", "spec", "source", "persistentVolumeClaimName"),
        TableColumn.Text("SourceSnapshotContent", "spec", "source", "volumeSnapshotContentName"),
        TableColumn.Text("RestoreSize", "status", "restoreSize"),
        TableColumn.Text("SnapshotClass", "spec", "volumeSnapshotClassName"),
        TableColumn.Text("SnapshotContent", "status", "boundVolumeSnapshotContentName"),
        new("CreationTime", "string", 0, (o, now) => Json.ParseTime(Json.Str(o, "status", "creationTime")) is { } t ? Json.Age(t, now) : ""),
        TableColumn.ObjectAge,
    ];
}

/// <summary>VolumeSnapshotContent (snapshot.storage.k8s.io/v1): the snapshot itself, bound to one VolumeSnapshot; its handle names it in the driver.</summary>
internal sealed class VolumeSnapshotContentStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("snapshot.storage.k8s.io", "v1", "VolumeSnapshotContent", "volumesnapshotcontents", false) { ShortNames = ["vsc", "vscs"], HasStatus = true, Strategy = new VolumeSnapshotContentStrategy() };

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        if (string.IsNullOrEmpty(Json.Str(obj, "spec", "driver")))
        {
            errors.Add(("spec.driver", "Required value"));
        }

        if (Json.Str(obj, "spec", "deletionPolicy") is not ("Delete" or "Retain"))
        {
            errors.Add(("spec.deletionPolicy", "Unsupported value: supported values: \"Delete\", \"Retain\""));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("ReadyToUse", "boolean", 0, (o, _) => Json.At(o, "status", "readyToUse")?.GetValue<bool>() == true ? "true" : "false"),
        new("RestoreSize", "integer", 0, (o, _) => Json.Int(o, "status", "restoreSize") ?? 0),
        TableColumn.Text("DeletionPolicy", "spec", "deletionPolicy"),
        TableColumn.Text("Driver", "spec", "driver"),
        TableColumn.Text("VolumeSnapshotClass", "spec", "volumeSnapshotClassName"),
        new("VolumeSnapshot", "string", 0, (o, _) => Json.Str(o, "spec", "volumeSnapshotRef", "name") ?? ""),
        new("VolumeSnapshotNamespace", "string", 0, (o, _) => Json.Str(o, "spec", "volumeSnapshotRef", "namespace") ?? ""),
        TableColumn.ObjectAge,
    ];
}
