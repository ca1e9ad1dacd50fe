namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// StatefulSet (apps/v1), as kube-apiserver's statefulset strategy: replicas 1, OrderedReady pod management, a
/// RollingUpdate strategy with partition 0, revisionHistoryLimit 10, claims retained when the set is deleted or scaled;
/// validation of the selector (immutable), the template (restartPolicy Always), the policies and claim templates, and
/// of the fields that an update may not change (all but replicas, ordinals, template, updateStrategy,
/// persistentVolumeClaimRetentionPolicy and minReadySeconds).
/// </summary>
internal sealed class StatefulSetStrategy : KindStrategy
{
    private static readonly string[] Updatable = ["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"];

    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("apps", "v1", "StatefulSet", "statefulsets", true)
    {
        ShortNames = ["sts"], HasStatus = true, HasScale = true, HasGeneration = true, Strategy = new StatefulSetStrategy(),
    };

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        var spec = Json.Obj(obj, "spec");
        spec["replicas"] ??= 1;
        spec["podManagementPolicy"] ??= "OrderedReady";
        spec["revisionHistoryLimit"] ??= 10;
        var strategy = Json.Obj(spec, "updateStrategy");
        strategy["type"] ??= "RollingUpdate";
        if (Json.Str(strategy, "type") == "RollingUpdate")
        {
            Json.Obj(strategy, "rollingUpdate")["partition"] ??= 0;
        }

        var retention = Json.Obj(spec, "persistentVolumeClaimRetentionPolicy");
        retention["whenDeleted"] ??= "Retain";
        retention["whenScaled"] ??= "Retain";
        foreach (var claim in Json.Items(spec, "volumeClaimTemplates"))
        {
            Json.Obj(claim, "spec")["volumeMode"] ??= "Filesystem";
        }

        PodSpecs.Default(Json.Obj(spec, "template", "spec"), pod: false, api.DefaultTolerationSeconds, api.DefaultUnreachableTolerationSeconds);
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        PodSpecs.ValidateWorkload(obj, old, errors);
        string? policy = Json.Str(obj, "spec", "podManagementPolicy");
        if (policy is not ("OrderedReady" or "Parallel"))
        {
            errors.Add(("spec.podManagementPolicy", $"Unsupported value: \"{policy}\": supported values: \"OrderedReady\", \"Parallel\""));
        }

        string? type = Json.Str(obj, "spec", "updateStrategy", "type");
        if (type is not ("RollingUpdate" or "OnDelete"))
        {
            errors.Add(("spec.updateStrategy.type", $"Unsupported value: \"{type}\": supported values: \"OnDelete\", \"RollingUpdate\""));
        }
        else if (type == "OnDelete" && Json.At(obj, "spec", "updateStrategy", "rollingUpdate") is not null)
        {
            errors.Add(("spec.updateStrategy.rollingUpdate", "Invalid value: only allowed for updateStrategy 'RollingUpdate'"));
        }
        else if (Json.Int(obj, "spec", "updateStrategy", "rollingUpdate", "partition") is < 0 and var partition)
        {
            errors.Add(("spec.updateStrategy.rollingUpdate.partition", $"Invalid value: {partition}: must be greater than or equal to 0"));
        }

        foreach (string when in (string[])["whenDeleted", "whenScaled"])
        {
            if (Json.Str(obj, "spec", "persistentVolumeClaimRetentionPolicy", when) is { } value and not ("Retain" or "Delete"))
            {
                errors.Add(($"spec.persistentVolumeClaimRetentionPolicy.{when}", $"Unsupported value: \"{value}\": supported values: \"Retain\", \"Delete\""));
            }
        }

        if (Json.Int(obj, "spec", "ordinals", "start") is < 0 and var start)
        {
            errors.Add(("spec.ordinals.start", $"Invalid value: {start}: must be greater than or equal to 0"));
        }

        if (Json.Int(obj, "spec", "minReadySeconds") is < 0 and var minReady)
        {
            errors.Add(("spec.minReadySeconds", $"Invalid value: {minReady}: must be greater than or equal to 0"));
        }

        int i = 0;
        var claimNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in Json.Items(obj, "spec", "volumeClaimTemplates"))
        {
            string at = $"spec.volumeClaimTemplates[{i++}]";
            string? name = Json.Str(claim, "metadata", "name");
            if (string.IsNullOrEmpty(name))
            {
                errors.Add((at + ".metadata.name", "Required value: name or generateName is required"));
            }
            else if (!claimNames.Add(name))
            {
                errors.Add((at + ".metadata.name", $"Duplicate value: \"{name}\""));
            }

            if (Json.At(claim, "spec", "accessModes") is not JsonArray { Count: > 0 })
            {
                errors.Add((at + ".spec.accessModes", "Required value: at least 1 access mode is required"));
            }

            if (Json.At(claim, "spec", "resources", "requests", "storage") is null)
            {
                errors.Add((at + ".spec.resources[storage]", "Required value"));
            }
        }

        // the claim templates are volumes of the pods (as kube validates the template)
        var withClaims = obj;
        if (claimNames.Count > 0 && Json.At(obj, "spec", "template", "spec") is JsonObject)
        {
            withClaims = Json.Clone(obj);
            var podSpec = Json.Obj(withClaims, "spec", "template", "spec");
            var volumes = podSpec["volumes"] as JsonArray ?? [];
            podSpec["volumes"] = volumes;
            foreach (string claim in claimNames.Where(c => !volumes.OfType<JsonObject>().Any(v => Json.Str(v, "name") == c)))
            {
                volumes.Add((JsonNode)new JsonObject { ["name"] = claim, ["persistentVolumeClaim"] = new JsonObject { ["claimName"] = claim } });
            }
        }

        PodSpecs.ValidateTemplate(withClaims, errors);
        if (old is not null)
        {
            var (a, b) = (Json.Clone(Json.Obj(obj, "spec")), Json.Clone(Json.Obj(old, "spec")));
            foreach (string field in Updatable)
            {
                a.Remove(field);
                b.Remove(field);
            }

            if (!JsonNode.DeepEquals(a, b))
            {
                errors.Add(("spec", "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
            }
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Ready", "string", 0, (o, _) => $"{Json.Int(o, "status", "readyReplicas") ?? 0}/{Json.Int(o, "spec", "replicas") ?? 0}"),
        TableColumn.ObjectAge,
        .. PodSpecs.WideTemplateColumns().Take(2),
    ];
}
