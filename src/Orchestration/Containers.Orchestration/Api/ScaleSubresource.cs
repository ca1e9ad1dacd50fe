namespace Containers.Orchestration.Api;

/// <summary>The scale subresource (autoscaling/v1 Scale) of the kinds with spec.replicas.</summary>
internal static class ScaleSubresource
{
    /// <summary>The Scale of <paramref name="obj"/>.</summary>
    public static JsonObject Of(ResourceType type, string? ns, string name, JsonObject obj)
    {
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["uid"] = Json.Uid(obj),
                ["resourceVersion"] = Json.Str(obj, "metadata", "resourceVersion"),
                ["creationTimestamp"] = Json.Str(obj, "metadata", "creationTimestamp"),
            },
            ["spec"] = new JsonObject { ["replicas"] = Json.Int(obj, "spec", "replicas") ?? 0 },
            ["status"] = new JsonObject
            {
                ["replicas"] = Json.Int(obj, "status", "replicas") ?? 0,
                ["selector"] = Json.At(obj, "spec", "selector") is { } sel ? LabelSelector.FromObject(sel).ToString() : "",
            },
        };
    }

    /// <summary>The object with the spec.replicas of a patched Scale (a patch against the scale subresource applied to the object itself).</summary>
    public static JsonObject ToObject(JsonObject current, JsonObject patchedScale)
    {
        // a patch against the scale subresource was applied to the object itself: carry spec.replicas only
        var copy = Json.Clone(current);
        if (Json.Int(patchedScale, "spec", "replicas") is { } replicas)
        {
            Json.Obj(copy, "spec")["replicas"] = replicas;
        }

        return copy;
    }
}
