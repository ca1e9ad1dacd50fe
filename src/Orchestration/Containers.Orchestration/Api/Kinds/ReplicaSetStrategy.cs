namespace Containers.Orchestration.Api.Kinds;

/// <summary>ReplicaSet (apps/v1): replicas and the template's defaults; selector and template validation.</summary>
internal sealed class ReplicaSetStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("apps", "v1", "ReplicaSet", "replicasets", true)
    {
        ShortNames = ["rs"], HasStatus = true, HasScale = true, HasGeneration = true, Strategy = new ReplicaSetStrategy(),
    };

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        var spec = Json.Obj(obj, "spec");
        spec["replicas"] ??= 1;
        PodSpecs.Default(Json.Obj(spec, "template", "spec"), pod: false, api.DefaultTolerationSeconds, api.DefaultUnreachableTolerationSeconds);
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        PodSpecs.ValidateWorkload(obj, old, errors);
        PodSpecs.ValidateTemplate(obj, errors);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        TableColumn.Integer("Desired", "spec", "replicas"),
        TableColumn.Integer("Current", "status", "replicas"),
        TableColumn.Integer("Ready", "status", "readyReplicas"),
        TableColumn.ObjectAge,
        .. PodSpecs.WideTemplateColumns(),
    ];
}
