namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// DaemonSet (apps/v1), as kube-apiserver's daemonset strategy: a RollingUpdate strategy with maxUnavailable 1 and
/// maxSurge 0 unless given, revisionHistoryLimit 10; validation of the selector (immutable), the template
/// (restartPolicy Always) and the update strategy (maxUnavailable and maxSurge not both zero).
/// </summary>
internal sealed class DaemonSetStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("apps", "v1", "DaemonSet", "daemonsets", true)
    {
        ShortNames = ["ds"], HasStatus = true, HasGeneration = true, Strategy = new DaemonSetStrategy(),
    };

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        var spec = Json.Obj(obj, "spec");
        spec["revisionHistoryLimit"] ??= 10;
        var strategy = Json.Obj(spec, "updateStrategy");
        strategy["type"] ??= "RollingUpdate";
        if (Json.Str(strategy, "type") == "RollingUpdate")
        {
            var ru = Json.Obj(strategy, "rollingUpdate");
            ru["maxUnavailable"] ??= 1;
            ru["maxSurge"] ??= 0;
        }

        PodSpecs.Default(Json.Obj(spec, "template", "spec"), pod: false, api.DefaultTolerationSeconds, api.DefaultUnreachableTolerationSeconds);
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        PodSpecs.ValidateWorkload(obj, old, errors);
        string? type = Json.Str(obj, "spec", "updateStrategy", "type");
        if (type is not ("RollingUpdate" or "OnDelete"))
        {
            errors.Add(("spec.updateStrategy.type", $"Unsupported value: \"{type}\": supported values: \"OnDelete\", \"RollingUpdate\""));
        }
        else if (type == "RollingUpdate")
        {
            var ru = Json.At(obj, "spec", "updateStrategy", "rollingUpdate");
            bool zero = true;
            foreach (string field in (string[])["maxUnavailable", "maxSurge"])
            {
                string at = "spec.updateStrategy.rollingUpdate." + field;
                if (PodSpecs.ValidateIntOrPercent(Json.At(ru, field), at, errors) is not (null or 0))
                {
                    zero = false;
                }
            }

            if (zero)
            {
                errors.Add(("spec.updateStrategy.rollingUpdate.maxUnavailable", "Invalid value: 0: may not be 0 when `maxSurge` is 0"));
            }
        }

        PodSpecs.ValidateTemplate(obj, errors);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        TableColumn.Integer("Desired", "status", "desiredNumberScheduled"),
        TableColumn.Integer("Current", "status", "currentNumberScheduled"),
        TableColumn.Integer("Ready", "status", "numberReady"),
        TableColumn.Integer("Up-to-date", "status", "updatedNumberScheduled"),
        TableColumn.Integer("Available", "status", "numberAvailable"),
        new("Node Selector", "string", 0, (o, _) => Json.Map(o, "spec", "template", "spec", "nodeSelector") is { Count: > 0 } m ? string.Join(',', m.Select(kv => $"{kv.Key}={kv.Value}")) : "<none>"),
        TableColumn.ObjectAge,
        .. PodSpecs.WideTemplateColumns(),
    ];
}
