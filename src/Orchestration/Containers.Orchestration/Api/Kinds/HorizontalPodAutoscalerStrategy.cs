namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// HorizontalPodAutoscaler (autoscaling/v2), as kube-apiserver's strategy: minReplicas 1, a cpu utilisation target
/// of 80% when no metric is given, the behaviour's defaults filled in where a behaviour is given; validation of the
/// target reference, the replica bounds, the metrics (Resource cpu and memory, by Utilization or AverageValue) and
/// the behaviour's windows and policies.
/// </summary>
internal sealed class HorizontalPodAutoscalerStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true)
    {
        ShortNames = ["hpa"], HasStatus = true, HasGeneration = true, Strategy = new HorizontalPodAutoscalerStrategy(),
    };

    /// <summary>autoscaling/v1 (what <c>kubectl autoscale</c> posts): served by conversion to and from v2.</summary>
    public static ResourceType V1 { get; } = new("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true)
    {
        ShortNames = ["hpa"], HasStatus = true, HasGeneration = true, Strategy = Type.Strategy, Stored = Type, Conversion = new V1Conversion(),
    };

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        var spec = Json.Obj(obj, "spec");
        spec["minReplicas"] ??= 1;
        if (spec["metrics"] is not JsonArray { Count: > 0 })
        {
            spec["metrics"] = new JsonArray(new JsonObject
            {
                ["type"] = "Resource",
                ["resource"] = new JsonObject { ["name"] = "cpu", ["target"] = new JsonObject { ["type"] = "Utilization", ["averageUtilization"] = 80 } },
            });
        }

        if (spec["behavior"] is JsonObject behavior)
        {
            DefaultRules(Json.Obj(behavior, "scaleUp"), up: true);
            DefaultRules(Json.Obj(behavior, "scaleDown"), up: false);
        }
    }

    /// <summary>kube's defaults of one direction's rules: scale up at once by 100% or 4 pods per 15 s, down after 300 s by 100% per 15 s.</summary>
    public static void DefaultRules(JsonObject rules, bool up)
    {
        rules["stabilizationWindowSeconds"] ??= up ? 0 : 300;
        rules["selectPolicy"] ??= "Max";
        if (rules["policies"] is not JsonArray { Count: > 0 })
        {
            rules["policies"] = up
                ? new JsonArray(
                    new JsonObject { ["type"] = "Pods", ["value"] = 4, ["periodSeconds"] = 15 },
                    new JsonObject { ["type"] = "Percent", ["value"] = 100, ["periodSeconds"] = 15 })
                : new JsonArray(new JsonObject { ["type"] = "Percent", ["value"] = 100, ["periodSeconds"] = 15 });
        }
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        if (string.IsNullOrEmpty(Json.Str(obj, "spec", "scaleTargetRef", "kind")))
        {
            errors.Add(("spec.scaleTargetRef.kind", "Required value"));
        }

        if (string.IsNullOrEmpty(Json.Str(obj, "spec", "scaleTargetRef", "name")))
        {
            errors.Add(("spec.scaleTargetRef.name", "Required value"));
        }

        long min = Json.Int(obj, "spec", "minReplicas") ?? 1;
        long? max = Json.Int(obj, "spec", "maxReplicas");
        if (min < 1)
        {
            errors.Add(("spec.minReplicas", $"Invalid value: {min}: must be greater than or equal to 1"));
        }

        if (max is null)
        {
            errors.Add(("spec.maxReplicas", "Required value"));
        }
        else if (max < 1)
        {
            errors.Add(("spec.maxReplicas", $"Invalid value: {max}: must be greater than 0"));
        }
        else if (max < min)
        {
            errors.Add(("spec.maxReplicas", $"Invalid value: {max}: must be greater than or equal to `minReplicas`"));
        }

        int i = 0;
        foreach (var metric in Json.Items(obj, "spec", "metrics"))
        {
            string at = $"spec.metrics[{i++}]";
            string? type = Json.Str(metric, "type");
            if (type != "Resource")
            {
                errors.Add((at + ".type", $"Unsupported value: \"{type}\": supported values: \"Resource\""));
                continue;
            }

            string? name = Json.Str(metric, "resource", "name");
            if (name is not ("cpu" or "memory"))
            {
                errors.Add((at + ".resource.name", $"Unsupported value: \"{name}\": supported values: \"cpu\", \"memory\""));
            }

            string? target = Json.Str(metric, "resource", "target", "type");
            if (target == "Utilization")
            {
                if (Json.Int(metric, "resource", "target", "averageUtilization") is not > 0)
                {
                    errors.Add((at + ".resource.target.averageUtilization", "Required value: must be greater than 0"));
                }
            }
            else if (target == "AverageValue")
            {
                if (!Quantity.TryParse(Json.At(metric, "resource", "target", "averageValue"), out decimal v) || v <= 0)
                {
                    errors.Add((at + ".resource.target.averageValue", "Required value: must be a positive quantity"));
                }
            }
            else
            {
                errors.Add((at + ".resource.target.type", $"Unsupported value: \"{target}\": supported values: \"AverageValue\", \"Utilization\""));
            }
        }

        foreach (string direction in (string[])["scaleUp", "scaleDown"])
        {
            var rules = Json.At(obj, "spec", "behavior", direction);
            string at = $"spec.behavior.{direction}";
            if (Json.Int(rules, "stabilizationWindowSeconds") is { } window and (< 0 or > 3600))
            {
                errors.Add((at + ".stabilizationWindowSeconds", $"Invalid value: {window}: must be less than or equal to 3600 and greater than or equal to 0"));
            }

            if (Json.Str(rules, "selectPolicy") is { } select and not ("Max" or "Min" or "Disabled"))
            {
                errors.Add((at + ".selectPolicy", $"Unsupported value: \"{select}\": supported values: \"Disabled\", \"Max\", \"Min\""));
            }

            int p = 0;
            foreach (var policy in Json.Items(rules, "policies"))
            {
                string pat = $"{at}.policies[{p++}]";
                if (Json.Str(policy, "type") is not ("Pods" or "Percent"))
                {
                    errors.Add((pat + ".type", $"Unsupported value: \"{Json.Str(policy, "type")}\": supported values: \"Percent\", \"Pods\""));
                }

                if (Json.Int(policy, "value") is not > 0)
                {
                    errors.Add((pat + ".value", "Invalid value: must be greater than zero"));
                }

                if (Json.Int(policy, "periodSeconds") is not (> 0 and <= 1800))
                {
                    errors.Add((pat + ".periodSeconds", "Invalid value: must be greater than zero and less than or equal to 1800"));
                }
            }
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Reference", "string", 0, (o, _) => $"{Json.Str(o, "spec", "scaleTargetRef", "kind")}/{Json.Str(o, "spec", "scaleTargetRef", "name")}"),
        new("Targets", "string", 0, (o, _) => Targets(o)),
        TableColumn.Integer("MinPods", "spec", "minReplicas"),
        TableColumn.Integer("MaxPods", "spec", "maxReplicas"),
        TableColumn.Integer("Replicas", "status", "currentReplicas"),
        TableColumn.ObjectAge,
    ];

    /// <summary>kubectl's TARGETS column: "cpu: 45%/50%" for each metric, &lt;unknown&gt; before a reading.</summary>
    private static string Targets(JsonObject hpa)
    {
        var current = Json.Items(hpa, "status", "currentMetrics").ToList();
        return string.Join(", ", Json.Items(hpa, "spec", "metrics").Select(m =>
        {
            string name = Json.Str(m, "resource", "name") ?? "";
            var now = current.FirstOrDefault(c => Json.Str(c, "resource", "name") == name);
            if (Json.Str(m, "resource", "target", "type") == "Utilization")
            {
                string value = Json.Int(now, "resource", "current", "averageUtilization") is { } u ? $"{u}%" : "<unknown>";
                return $"{name}: {value}/{Json.Int(m, "resource", "target", "averageUtilization")}%";
            }

            return $"{name}: {Json.At(now, "resource", "current", "averageValue")?.ToString() ?? "<unknown>"}/{Json.At(m, "resource", "target", "averageValue")}";
        }));
    }
}

/// <summary>
/// autoscaling/v1 ↔ v2, as kube's conversion: v1's targetCPUUtilizationPercentage is v2's cpu Utilization metric
/// and currentCPUUtilizationPercentage its current value; what v1 cannot say (other metrics, the behaviour) is kept
/// from the stored object when v1 replaces it.
/// </summary>
internal sealed class V1Conversion : IVersionConversion
{
    /// <inheritdoc/>
    public JsonObject ToStored(JsonObject served, JsonObject? current)
    {
        var v2 = Json.Clone(served);
        v2["apiVersion"] = "autoscaling/v2";
        var spec = Json.Obj(v2, "spec");
        var metrics = (JsonArray)(Json.At(current, "spec", "metrics")?.DeepClone() ?? new JsonArray());
        if (spec["targetCPUUtilizationPercentage"] is { } cpu)
        {
            foreach (var m in metrics.OfType<JsonObject>().Where(m => Json.Str(m, "resource", "name") == "cpu").ToList())
            {
                metrics.Remove(m);
            }

            metrics.Insert(0, new JsonObject
            {
                ["type"] = "Resource",
                ["resource"] = new JsonObject { ["name"] = "cpu", ["target"] = new JsonObject { ["type"] = "Utilization", ["averageUtilization"] = cpu.DeepClone() } },
            });
        }

        spec.Remove("targetCPUUtilizationPercentage");
        if (metrics.Count > 0)
        {
            spec["metrics"] = metrics;
        }

        if (Json.At(current, "spec", "behavior") is JsonObject behavior)
        {
            spec["behavior"] = behavior.DeepClone();
        }

        if (v2["status"] is JsonObject status)
        {
            var kept = Json.Clone(Json.At(current, "status") as JsonObject ?? []);
            foreach (string field in (string[])["observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas"])
            {
                if (status[field] is { } value)
                {
                    kept[field] = value.DeepClone();
                }
            }

            v2["status"] = kept;
        }

        return v2;
    }

    /// <inheritdoc/>
    public JsonObject FromStored(JsonObject stored)
    {
        var v1 = new JsonObject { ["kind"] = "HorizontalPodAutoscaler", ["apiVersion"] = "autoscaling/v1", ["metadata"] = Json.At(stored, "metadata")?.DeepClone() };
        var spec = new JsonObject
        {
            ["scaleTargetRef"] = Json.At(stored, "spec", "scaleTargetRef")?.DeepClone(),
            ["minReplicas"] = Json.At(stored, "spec", "minReplicas")?.DeepClone(),
            ["maxReplicas"] = Json.At(stored, "spec", "maxReplicas")?.DeepClone(),
        };
        if (Json.Items(stored, "spec", "metrics").FirstOrDefault(m => Json.Str(m, "resource", "name") == "cpu" && Json.Str(m, "resource", "target", "type") == "Utilization") is { } cpu)
        {
            spec["targetCPUUtilizationPercentage"] = Json.At(cpu, "resource", "target", "averageUtilization")?.DeepClone();
        }

        v1["spec"] = spec;
        var status = new JsonObject();
        foreach (string field in (string[])["observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas"])
        {
            if (Json.At(stored, "status", field) is { } value)
            {
                status[field] = value.DeepClone();
            }
        }

        if (Json.Items(stored, "status", "currentMetrics").FirstOrDefault(m => Json.Str(m, "resource", "name") == "cpu") is { } now
            && Json.At(now, "resource", "current", "averageUtilization") is { } utilization)
        {
            status["currentCPUUtilizationPercentage"] = utilization.DeepClone();
        }

        status["currentReplicas"] ??= 0;
        status["desiredReplicas"] ??= 0;
        v1["status"] = status;
        return v1;
    }
}
