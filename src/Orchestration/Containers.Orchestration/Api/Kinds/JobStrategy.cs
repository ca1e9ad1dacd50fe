namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// Job (batch/v1), as kube-apiserver's job strategy: completions and parallelism (1 and 1 when neither is given),
/// backoffLimit 6, NonIndexed completion, a generated selector on the job's uid with its labels added to the template
/// (unless manualSelector); validation of the counts, the completion mode, the pod failure policy and the template
/// (restartPolicy Never or OnFailure), and the fields that never change after creation.
/// </summary>
internal sealed class JobStrategy : KindStrategy
{
    /// <summary>The label the generated selector matches: the job's uid.</summary>
    public const string ControllerUidLabel = "batch.kubernetes.io/controller-uid";

    /// <summary>The label naming the job on its pods.</summary>
    public const string JobNameLabel = "batch.kubernetes.io/job-name";

    /// <summary>The annotation (and label) carrying an Indexed job's completion index on its pods.</summary>
    public const string IndexAnnotation = "batch.kubernetes.io/job-completion-index";

    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("batch", "v1", "Job", "jobs", true)
    {
        HasStatus = true, HasGeneration = true, Strategy = new JobStrategy(),
    };

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        var spec = Json.Obj(obj, "spec");
        if (spec["completions"] is null && spec["parallelism"] is null)
        {
            spec["completions"] = 1;
        }

        spec["parallelism"] ??= 1;
        spec["backoffLimit"] ??= spec["backoffLimitPerIndex"] is null ? 6 : int.MaxValue;
        spec["completionMode"] ??= "NonIndexed";
        spec["suspend"] ??= false;
        spec["podReplacementPolicy"] ??= spec["podFailurePolicy"] is null ? "TerminatedOrFailed" : "Failed";
        if (Json.Bool(spec, "manualSelector") != true && spec["selector"] is null)
        {
            // kube-apiserver's generateSelector: the uid, as label and selector, with the job's name beside it
            string uid = Json.Uid(obj);
            var labels = Json.Obj(spec, "template", "metadata", "labels");
            labels[ControllerUidLabel] ??= uid;
            labels[JobNameLabel] ??= Json.Name(obj);
            labels["controller-uid"] ??= uid;
            labels["job-name"] ??= Json.Name(obj);
            spec["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { [ControllerUidLabel] = uid } };
        }

        PodSpecs.Default(Json.Obj(spec, "template", "spec"), pod: false, api.DefaultTolerationSeconds, api.DefaultUnreachableTolerationSeconds);
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        foreach (string field in (string[])["parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"])
        {
            if (Json.Int(obj, "spec", field) is < 0 and var n)
            {
                errors.Add(($"spec.{field}", $"Invalid value: {n}: must be greater than or equal to 0"));
            }
        }

        if (Json.Int(obj, "spec", "activeDeadlineSeconds") is <= 0 and var deadline)
        {
            errors.Add(("spec.activeDeadlineSeconds", $"Invalid value: {deadline}: must be greater than 0"));
        }

        string? mode = Json.Str(obj, "spec", "completionMode");
        if (mode is not ("NonIndexed" or "Indexed"))
        {
            errors.Add(("spec.completionMode", $"Unsupported value: \"{mode}\": supported values: \"NonIndexed\", \"Indexed\""));
        }
        else if (mode == "Indexed" && Json.Int(obj, "spec", "completions") is null)
        {
            errors.Add(("spec.completions", "Required value: when completion mode is Indexed"));
        }

        var selector = Json.At(obj, "spec", "selector");
        if (selector is not JsonObject so || (so["matchLabels"] is null && so["matchExpressions"] is null))
        {
            errors.Add(("spec.selector", "Required value"));
        }
        else
        {
            try
            {
                if (!LabelSelector.FromObject(selector).Matches(Json.Map(obj, "spec", "template", "metadata", "labels")))
                {
                    errors.Add(("spec.template.metadata.labels", $"Invalid value: {Json.At(obj, "spec", "template", "metadata", "labels")?.ToJsonString() ?? "null"}: `selector` does not match template `labels`"));
                }
            }
            catch (ApiException e)
            {
                errors.Add(("spec.selector", e.Message));
            }
        }

        ValidateFailurePolicy(obj, errors);
        PodSpecs.Validate(Json.At(obj, "spec", "template", "spec") as JsonObject, "spec.template.spec", errors);
        string? restart = Json.Str(obj, "spec", "template", "spec", "restartPolicy");
        if (restart is not ("Never" or "OnFailure"))
        {
            errors.Add(("spec.template.spec.restartPolicy", $"Required value: valid values: \"OnFailure\", \"Never\""));
        }

        if (old is not null)
        {
            // kube's ValidateJobSpecUpdate: these never change (the template may while the job is suspended and never ran)
            bool suspendedNeverStarted = Json.Bool(old, "spec", "suspend") == true && Json.At(old, "status", "startTime") is null;
            foreach (var path in new[] { "selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "manualSelector" }.Select(f => new[] { "spec", f })
                .Append(suspendedNeverStarted ? null : new[] { "spec", "template" }))
            {
                if (path is not null && !JsonNode.DeepEquals(Json.At(obj, path), Json.At(old, path)))
                {
                    errors.Add((string.Join('.', path), $"Invalid value: {Json.At(obj, path)?.ToJsonString() ?? "null"}: field is immutable"));
                }
            }

            // completions change only with parallelism in an Indexed job (elastic indexed jobs)
            long? completions = Json.Int(obj, "spec", "completions");
            if (completions != Json.Int(old, "spec", "completions")
                && !(mode == "Indexed" && completions == Json.Int(obj, "spec", "parallelism")))
            {
                errors.Add(("spec.completions", $"Invalid value: {completions?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}: field is immutable"));
            }
        }
    }

    private static void ValidateFailurePolicy(JsonObject obj, List<(string Field, string Message)> errors)
    {
        if (Json.At(obj, "spec", "podFailurePolicy") is not JsonObject policy)
        {
            return;
        }

        if (Json.Str(obj, "spec", "template", "spec", "restartPolicy") == "OnFailure")
        {
            errors.Add(("spec.podFailurePolicy", "Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified"));
        }

        int i = 0;
        foreach (var rule in Json.Items(policy, "rules"))
        {
            string at = $"spec.podFailurePolicy.rules[{i++}]";
            string? action = Json.Str(rule, "action");
            if (action is not ("FailJob" or "Ignore" or "Count" or "FailIndex"))
            {
                errors.Add(($"{at}.action", $"Unsupported value: \"{action}\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\""));
            }

            bool codes = Json.At(rule, "onExitCodes") is JsonObject, conditions = Json.At(rule, "onPodConditions") is JsonArray;
            if (codes == conditions)
            {
                errors.Add((at, "Invalid value: specifying one of OnExitCodes and OnPodConditions is required"));
            }

            if (codes)
            {
                string? op = Json.Str(rule, "onExitCodes", "operator");
                if (op is not ("In" or "NotIn"))
                {
                    errors.Add(($"{at}.onExitCodes.operator", $"Unsupported value: \"{op}\": supported values: \"In\", \"NotIn\""));
                }

                if (Json.At(rule, "onExitCodes", "values") is not JsonArray { Count: > 0 })
                {
                    errors.Add(($"{at}.onExitCodes.values", "Required value"));
                }
                else if (op == "In" && ((JsonArray)Json.At(rule, "onExitCodes", "values")!).Any(v => Json.Int(v) == 0))
                {
                    errors.Add(($"{at}.onExitCodes.values", "Invalid value: 0: must not be 0 for the In operator"));
                }
            }
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Status", "string", 0, (o, _) => Status(o)),
        new("Completions", "string", 0, (o, _) => Json.Int(o, "spec", "completions") is { } c
            ? $"{Json.Int(o, "status", "succeeded") ?? 0}/{c}"
            : $"{Json.Int(o, "status", "succeeded") ?? 0}/1 of {Json.Int(o, "spec", "parallelism") ?? 1}"),
        new("Duration", "string", 0, (o, now) => Json.ParseTime(Json.Str(o, "status", "startTime")) is { } start
            ? Json.Age(start, Json.ParseTime(Json.Str(o, "status", "completionTime")) ?? now)
            : ""),
        TableColumn.ObjectAge,
        .. PodSpecs.WideTemplateColumns(),
    ];

    /// <summary>kubectl's Status column of a job: Complete, Failed, Suspended, Terminating, FailureTarget, SuccessCriteriaMet or Running.</summary>
    private static string Status(JsonObject job)
    {
        bool Has(string type) => Json.Items(job, "status", "conditions").Any(c => Json.Str(c, "type") == type && Json.Str(c, "status") == "True");
        return Has("Complete") ? "Complete"
            : Has("Failed") ? "Failed"
            : Json.Has(job, "metadata", "deletionTimestamp") ? "Terminating"
            : Has("FailureTarget") ? "FailureTarget"
            : Has("SuccessCriteriaMet") ? "SuccessCriteriaMet"
            : Has("Suspended") ? "Suspended"
            : "Running";
    }
}
