namespace Containers.Orchestration.Api.Kinds;

/// <summary>Pod (v1): defaults and the DefaultTolerationSeconds admission, QoS class on create, graceful deletion, binding, the pod subresources.</summary>
internal sealed class PodStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "Pod", "pods", true)
    {
        ShortNames = ["po"], HasStatus = true, HasGeneration = true, Strategy = new PodStrategy(),
    };

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override bool HasBinding => true;

    /// <inheritdoc/>
    public override IReadOnlyList<Subresource> Subresources { get; } =
    [
        new("log", "Pod", ["get"]),
        new("exec", "PodExecOptions", ["create", "get"]),
        new("portforward", "PodPortForwardOptions", ["create", "get"]),
        new("attach", "PodAttachOptions", ["create", "get"]),
        new("eviction", "Eviction", ["create"], "policy", "v1"),
    ];

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        PodSpecs.Default(Json.Obj(obj, "spec"), pod: true, api.DefaultTolerationSeconds, api.DefaultUnreachableTolerationSeconds);
        if (Json.Str(obj, "metadata", "resourceVersion") is null)
        {
            ServiceAccountAdmission.Admit(obj, api); // on create only: a pod's volumes never change
        }
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        PodSpecs.Validate(Json.At(obj, "spec") as JsonObject, "spec", errors);
        if (old is not null)
        {
            ValidateUpdate(obj, old, errors);
        }
    }

    /// <inheritdoc/>
    public override JsonObject? InitialStatus(JsonObject obj) => new() { ["phase"] = "Pending", ["qosClass"] = QosClass(obj) };

    /// <summary>
    /// A pod bound to a node that has not ended is marked with its grace period (the node agent stops it and removes it);
    /// a second delete only shortens the grace period.
    /// </summary>
    public override DeleteMode OnDelete(JsonObject copy, JsonObject meta, DeleteOptions options, DateTimeOffset now)
    {
        if (Json.Str(copy, "spec", "nodeName") is null || Json.Str(copy, "status", "phase") is "Succeeded" or "Failed")
        {
            return DeleteMode.Immediate;
        }

        long grace = options.GracePeriodSeconds ?? Json.Int(copy, "spec", "terminationGracePeriodSeconds") ?? 30;
        long? markedGrace = Json.Int(meta, "deletionGracePeriodSeconds");
        bool shorter = grace > 0 && (markedGrace is null || grace < markedGrace);
        if (shorter)
        {
            meta["deletionTimestamp"] = Json.Time(now.AddSeconds(grace));
            meta["deletionGracePeriodSeconds"] = grace;
            return DeleteMode.Graceful;
        }

        return grace > 0 && markedGrace is not null ? DeleteMode.Unchanged : DeleteMode.Immediate;
    }

    /// <inheritdoc/>
    public override bool GoesWhenFinalized(JsonObject meta) => Json.Int(meta, "deletionGracePeriodSeconds") is not > 0;

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Ready", "string", 0, (o, _) => $"{Json.Items(o, "status", "containerStatuses").Count(c => Json.Bool(c, "ready") == true)}/{Json.Items(o, "spec", "containers").Count()}"),
        new("Status", "string", 0, (o, _) => Status(o)),
        new("Restarts", "string", 0, Restarts),
        TableColumn.ObjectAge,
        new("IP", "string", 1, (o, _) => Json.Str(o, "status", "podIP") ?? "<none>"),
        new("Node", "string", 1, (o, _) => Json.Str(o, "spec", "nodeName") ?? "<none>"),
        new("Nominated Node", "string", 1, (o, _) => Json.Str(o, "status", "nominatedNodeName") ?? "<none>"),
        new("Readiness Gates", "string", 1, (_, _) => "<none>"),
    ];

    /// <summary>Only images (and a few scheduling fields) may change on a running pod.</summary>
    private static void ValidateUpdate(JsonObject obj, JsonObject old, List<(string, string)> errors)
    {
        var a = Json.At(obj, "spec")?.DeepClone() as JsonObject ?? [];
        var b = Json.At(old, "spec")?.DeepClone() as JsonObject ?? [];
        foreach (var s in new[] { a, b })
        {
            foreach (var c in Json.Items(s, "containers").Concat(Json.Items(s, "initContainers")))
            {
                c.Remove("image");
            }

            s.Remove("activeDeadlineSeconds");
            s.Remove("tolerations");
            if (Json.Str(old, "spec", "nodeName") is null)
            {
                s.Remove("nodeName");
            }
        }

        if (!JsonNode.DeepEquals(a, b))
        {
            errors.Add(("spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations)"));
        }
    }

    /// <summary>The QoS class (BestEffort, Burstable, Guaranteed) from the containers' requests and limits.</summary>
    internal static string QosClass(JsonObject pod)
    {
        var containers = Json.Items(pod, "spec", "containers").ToList();
        bool any = containers.Any(c => Json.At(c, "resources", "requests") is JsonObject { Count: > 0 } || Json.At(c, "resources", "limits") is JsonObject { Count: > 0 });
        if (!any)
        {
            return "BestEffort";
        }

        bool guaranteed = containers.All(c =>
            Json.At(c, "resources", "limits") is JsonObject limits && limits["cpu"] is not null && limits["memory"] is not null &&
            (Json.At(c, "resources", "requests") is not JsonObject req || ((req["cpu"] is null || Quantity.Of(req["cpu"]) == Quantity.Of(limits["cpu"])) && (req["memory"] is null || Quantity.Of(req["memory"]) == Quantity.Of(limits["memory"])))));
        return guaranteed ? "Guaranteed" : "Burstable";
    }

    /// <summary>The STATUS column of <c>kubectl get pods</c>, as kubectl's printer works it out.</summary>
    public static string Status(JsonObject pod)
    {
        string reason = Json.Str(pod, "status", "reason") ?? Json.Str(pod, "status", "phase") ?? "Unknown";
        int initCount = Json.Items(pod, "spec", "initContainers").Count();
        int i = 0;
        bool initializing = false;
        foreach (var c in Json.Items(pod, "status", "initContainerStatuses"))
        {
            if (Json.Int(c, "state", "terminated", "exitCode") == 0)
            {
                i++;
                continue;
            }

            initializing = true;
            reason = Json.Str(c, "state", "terminated", "reason") is { } tr ? "Init:" + tr
                : Json.Str(c, "state", "waiting", "reason") is { Length: > 0 } wr && wr != "PodInitializing" ? "Init:" + wr
                : $"Init:{i}/{initCount}";
            break;
        }

        if (!initializing)
        {
            bool running = false;
            foreach (var c in Json.Items(pod, "status", "containerStatuses").Reverse())
            {
                if (Json.Str(c, "state", "waiting", "reason") is { Length: > 0 } w)
                {
                    reason = w;
                }
                else if (Json.Str(c, "state", "terminated", "reason") is { Length: > 0 } t)
                {
                    reason = t;
                }
                else if (Json.At(c, "state", "terminated") is JsonObject term)
                {
                    reason = Json.Int(term, "signal") is { } sig and not 0 ? $"Signal:{sig}" : $"ExitCode:{Json.Int(term, "exitCode")}";
                }
                else if (Json.Bool(c, "ready") == true && Json.At(c, "state", "running") is not null)
                {
                    running = true;
                }
            }

            if (reason == "Completed" && running)
            {
                reason = "Running";
            }
        }

        if (Json.Has(pod, "metadata", "deletionTimestamp"))
        {
            reason = Json.Str(pod, "status", "reason") == "NodeLost" ? "Unknown" : "Terminating";
        }

        return reason;
    }

    private static JsonNode? Restarts(JsonObject pod, DateTimeOffset now)
    {
        long restarts = 0;
        DateTimeOffset? last = null;
        foreach (var c in Json.Items(pod, "status", "containerStatuses"))
        {
            restarts += Json.Int(c, "restartCount") ?? 0;
            if (Json.ParseTime(Json.Str(c, "lastState", "terminated", "finishedAt")) is { } t && (last is null || t > last))
            {
                last = t;
            }
        }

        return restarts > 0 && last is { } l ? string.Create(CultureInfo.InvariantCulture, $"{restarts} ({Json.Age(l, now)} ago)") : restarts.ToString(CultureInfo.InvariantCulture);
    }
}
