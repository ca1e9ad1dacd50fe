namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// PodDisruptionBudget (policy/v1): how many of a selector's pods must stay available (minAvailable) or may be
/// unavailable (maxUnavailable), as a count or a percentage, never both; the eviction subresource of pods honours it
/// (<see cref="ObjectApi.Evict"/>) and the disruption controller keeps its status.
/// </summary>
internal sealed class PodDisruptionBudgetStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true)
    {
        ShortNames = ["pdb"], HasStatus = true, HasGeneration = true, Strategy = new PodDisruptionBudgetStrategy(),
    };

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        // an absent selector selects nothing in policy/v1; kept as written
    }

    /// <inheritdoc/>
    public override JsonObject? InitialStatus(JsonObject obj) => new()
    {
        ["disruptionsAllowed"] = 0, ["currentHealthy"] = 0, ["desiredHealthy"] = 0, ["expectedPods"] = 0,
    };

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        var min = Json.At(obj, "spec", "minAvailable");
        var max = Json.At(obj, "spec", "maxUnavailable");
        if (min is not null && max is not null)
        {
            errors.Add(("spec", "Invalid value: minAvailable and maxUnavailable cannot be both set"));
        }

        PodSpecs.ValidateIntOrPercent(min, "spec.minAvailable", errors);
        PodSpecs.ValidateIntOrPercent(max, "spec.maxUnavailable", errors);
        if (Json.At(obj, "spec", "selector") is { } selector)
        {
            try
            {
                LabelSelector.FromObject(selector);
            }
            catch (ApiException e)
            {
                errors.Add(("spec.selector", e.Message));
            }
        }

        if (Json.Str(obj, "spec", "unhealthyPodEvictionPolicy") is { } policy and not ("IfHealthyBudget" or "AlwaysAllow"))
        {
            errors.Add(("spec.unhealthyPodEvictionPolicy", $"Unsupported value: \"{policy}\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Min Available", "string", 0, (o, _) => Json.At(o, "spec", "minAvailable")?.ToString() ?? "N/A"),
        new("Max Unavailable", "string", 0, (o, _) => Json.At(o, "spec", "maxUnavailable")?.ToString() ?? "N/A"),
        TableColumn.Integer("Allowed Disruptions", "status", "disruptionsAllowed"),
        TableColumn.ObjectAge,
    ];
}
