namespace Containers.Orchestration.Api.Kinds;

/// <summary>Deployment (apps/v1): replicas, revision history, progress deadline and the rolling update's defaults; strategy validation.</summary>
internal sealed class DeploymentStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("apps", "v1", "Deployment", "deployments", true)
    {
        ShortNames = ["deploy"], HasStatus = true, HasScale = true, HasGeneration = true, Strategy = new DeploymentStrategy(),
    };

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        var spec = Json.Obj(obj, "spec");
        spec["replicas"] ??= 1;
        spec["revisionHistoryLimit"] ??= 10;
        spec["progressDeadlineSeconds"] ??= 600;
        var strategy = Json.Obj(spec, "strategy");
        strategy["type"] ??= "RollingUpdate";
        if (Json.Str(strategy, "type") == "RollingUpdate")
        {
            var ru = Json.Obj(strategy, "rollingUpdate");
            ru["maxSurge"] ??= "25%";
            ru["maxUnavailable"] ??= "25%";
        }

        PodSpecs.Default(Json.Obj(spec, "template", "spec"), pod: false, api.DefaultTolerationSeconds, api.DefaultUnreachableTolerationSeconds);
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        PodSpecs.ValidateWorkload(obj, old, errors);
        string? strategy = Json.Str(obj, "spec", "strategy", "type");
        if (strategy is not ("RollingUpdate" or "Recreate"))
        {
            errors.Add(("spec.strategy.type", $"Unsupported value: \"{strategy}\": supported values: \"Recreate\", \"RollingUpdate\""));
        }

        if (strategy == "Recreate" && Json.At(obj, "spec", "strategy", "rollingUpdate") is not null)
        {
            errors.Add(("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'"));
        }

        PodSpecs.ValidateTemplate(obj, errors);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Ready", "string", 0, (o, _) => $"{Json.Int(o, "status", "readyReplicas") ?? 0}/{Json.Int(o, "spec", "replicas") ?? 0}"),
        TableColumn.Integer("Up-to-date", "status", "updatedReplicas"),
        TableColumn.Integer("Available", "status", "availableReplicas"),
        TableColumn.ObjectAge,
        .. PodSpecs.WideTemplateColumns(),
    ];
}
