namespace Containers.Orchestration.Api.Kinds;

/// <summary>ConfigMap (v1): config keys validated.</summary>
internal sealed class ConfigMapStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "ConfigMap", "configmaps", true) { ShortNames = ["cm"], Strategy = new ConfigMapStrategy() };

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors) => ConfigData.ValidateKeys(obj, errors);

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Data", "integer", 0, (o, _) => ((Json.At(o, "data") as JsonObject)?.Count ?? 0) + ((Json.At(o, "binaryData") as JsonObject)?.Count ?? 0)),
        TableColumn.ObjectAge,
    ];
}
