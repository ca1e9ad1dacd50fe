using Cronos;

namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// CronJob (batch/v1): the schedule (five-field cron or a macro such as @hourly) and its time zone, concurrencyPolicy
/// Allow, history limits 3 and 1; validation of the schedule, the zone, the policy, the limits and the job template.
/// </summary>
internal sealed class CronJobStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("batch", "v1", "CronJob", "cronjobs", true)
    {
        ShortNames = ["cj"], HasStatus = true, HasGeneration = true, Strategy = new CronJobStrategy(),
    };

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        var spec = Json.Obj(obj, "spec");
        spec["concurrencyPolicy"] ??= "Allow";
        spec["suspend"] ??= false;
        spec["successfulJobsHistoryLimit"] ??= 3;
        spec["failedJobsHistoryLimit"] ??= 1;
        PodSpecs.Default(Json.Obj(spec, "jobTemplate", "spec", "template", "spec"), pod: false, api.DefaultTolerationSeconds, api.DefaultUnreachableTolerationSeconds);
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        if (Json.Name(obj).Length > 52)
        {
            errors.Add(("metadata.name", $"Invalid value: \"{Json.Name(obj)}\": must be no more than 52 characters"));
        }

        string? schedule = Json.Str(obj, "spec", "schedule");
        string? zone = Json.Str(obj, "spec", "timeZone");
        if (string.IsNullOrEmpty(schedule))
        {
            errors.Add(("spec.schedule", "Required value"));
        }
        else if (schedule.Contains("TZ", StringComparison.Ordinal))
        {
            errors.Add(("spec.schedule", $"Invalid value: \"{schedule}\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
        }
        else if (ParseSchedule(schedule) is { Error: { } error })
        {
            errors.Add(("spec.schedule", $"Invalid value: \"{schedule}\": {error}"));
        }

        if (zone is not null && FindZone(zone) is null)
        {
            errors.Add(("spec.timeZone", $"Invalid value: \"{zone}\": unknown time zone {zone}"));
        }

        string? policy = Json.Str(obj, "spec", "concurrencyPolicy");
        if (policy is not ("Allow" or "Forbid" or "Replace"))
        {
            errors.Add(("spec.concurrencyPolicy", $"Unsupported value: \"{policy}\": supported values: \"Allow\", \"Forbid\", \"Replace\""));
        }

        foreach (string field in (string[])["startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"])
        {
            if (Json.Int(obj, "spec", field) is < 0 and var n)
            {
                errors.Add(($"spec.{field}", $"Invalid value: {n}: must be greater than or equal to 0"));
            }
        }

        PodSpecs.Validate(Json.At(obj, "spec", "jobTemplate", "spec", "template", "spec") as JsonObject, "spec.jobTemplate.spec.template.spec", errors);
        if (Json.Str(obj, "spec", "jobTemplate", "spec", "template", "spec", "restartPolicy") is not ("Never" or "OnFailure"))
        {
            errors.Add(("spec.jobTemplate.spec.template.spec.restartPolicy", "Required value: valid values: \"OnFailure\", \"Never\""));
        }
    }

    /// <summary>A schedule as robfig/cron's standard parser reads it (five fields, or @yearly, @monthly, @weekly, @daily, @midnight, @hourly); an error says why not.</summary>
    public static (CronExpression? Expression, string? Error) ParseSchedule(string schedule)
    {
        string text = schedule.Trim() switch
        {
            "@yearly" or "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" or "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            var s => s,
        };
        if (text.StartsWith('@'))
        {
            return (null, $"unrecognized descriptor: {text}");
        }

        int fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        if (fields != 5)
        {
            return (null, $"expected exactly 5 fields, found {fields}: {text}");
        }

        try
        {
            return (CronExpression.Parse(text, CronFormat.Standard), null);
        }
        catch (CronFormatException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>The IANA time zone <paramref name="name"/>, or null when this machine does not know it.</summary>
    public static TimeZoneInfo? FindZone(string name)
    {
        if (name.Length == 0 || name.Contains("..", StringComparison.Ordinal) || name.StartsWith('/'))
        {
            return null;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(name);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        TableColumn.Text("Schedule", "spec", "schedule"),
        new("Timezone", "string", 0, (o, _) => Json.Str(o, "spec", "timeZone") ?? "<none>"),
        new("Suspend", "boolean", 0, (o, _) => Json.Bool(o, "spec", "suspend") == true),
        new("Active", "integer", 0, (o, _) => Json.Items(o, "status", "active").Count()),
        new("Last Schedule", "date", 0, (o, now) => Json.ParseTime(Json.Str(o, "status", "lastScheduleTime")) is { } t ? Json.Age(t, now) : "<none>"),
        TableColumn.ObjectAge,
        new("Containers", "string", 1, (o, _) => string.Join(",", Json.Items(o, "spec", "jobTemplate", "spec", "template", "spec", "containers").Select(c => Json.Str(c, "name")))),
        new("Images", "string", 1, (o, _) => string.Join(",", Json.Items(o, "spec", "jobTemplate", "spec", "template", "spec", "containers").Select(c => Json.Str(c, "image")))),
        new("Selector", "string", 1, (o, _) => Json.At(o, "spec", "jobTemplate", "spec", "selector") is { } s ? LabelSelector.FromObject(s).ToString() : "<none>"),
    ];
}
