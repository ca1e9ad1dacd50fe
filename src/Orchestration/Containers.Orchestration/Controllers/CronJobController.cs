using System.Globalization;
using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Creates each CronJob's Jobs on its schedule, as kube-controller-manager's cronjob controller (v2): at the most
/// recent scheduled time not yet run (in spec.timeZone, or the process's zone), unless it is older than
/// startingDeadlineSeconds, the CronJob is suspended, or concurrencyPolicy Forbid finds a job still running (Replace
/// deletes the running ones first). A Job is named NAME-MINUTES (its scheduled time in minutes since the epoch), so a
/// schedule runs once however often it is looked at. status.active, lastScheduleTime and lastSuccessfulTime follow
/// the jobs; finished jobs beyond the history limits are deleted, oldest first.
/// </summary>
internal sealed class CronJobController : IReconciler<string>
{
    /// <summary>The annotation with a job's scheduled time (RFC 3339, in the CronJob's zone).</summary>
    public const string ScheduledAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp";

    private readonly ObjectApi api;
    private readonly Informer cronJobs;
    private readonly Informer jobs;

    public CronJobController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        cronJobs = b.For(CronJobStrategy.Type);
        jobs = b.Owns(JobStrategy.Type, CronJobStrategy.Type);
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        if (cronJobs.Get(ns, name) is not { } cj || Json.Has(cj, "metadata", "deletionTimestamp"))
        {
            return Task.FromResult(default(ReconcileResult));
        }

        var now = api.Time.GetUtcNow();
        string uid = Json.Uid(cj);
        var owned = jobs.OwnedBy(uid).Where(j => PodState.ControllerOf(j) is { } r && Json.Str(r, "uid") == uid).ToList();
        var plan = Plan(cj, owned, now);
        foreach (var job in plan.Delete)
        {
            try
            {
                api.Delete(JobStrategy.Type, ns, Json.Name(job), new DeleteOptions(PropagationPolicy: "Background", ExpectedUid: Json.Uid(job)));
                api.RecordEvent(cj, "Normal", "SuccessfulDelete", $"Deleted job {Json.Name(job)}", "cronjob-controller");
            }
            catch (ApiException e) when (e.Code is 404 or 409)
            {
            }
        }

        foreach (var (type, reason, message) in plan.Events)
        {
            api.RecordEvent(cj, type, reason, message, "cronjob-controller");
        }

        var status = Json.At(cj, "status") is JsonObject s ? Json.Clone(s) : [];
        var active = owned.Where(j => !Finished(j) && !plan.Delete.Any(d => Json.Uid(d) == Json.Uid(j))).ToList();
        if (plan.Create is { } create)
        {
            try
            {
                var job = api.CreateOwned(JobStrategy.Type, ns, create.Job);
                active.Add(job);
                api.RecordEvent(cj, "Normal", "SuccessfulCreate", $"Created job {Json.Name(job)}", "cronjob-controller");
            }
            catch (ApiException e) when (e.Code == 409)
            {
                // made already (a cache behind the store): it is this schedule's job
            }
            catch (ApiException e)
            {
                api.RecordEvent(cj, "Warning", "FailedCreate", $"Error creating job: {e.Message}", "cronjob-controller");
                throw;
            }

            status["lastScheduleTime"] = Json.Time(create.Scheduled);
        }

        if (active.Count == 0)
        {
            status.Remove("active");
        }
        else
        {
            status["active"] = new JsonArray([.. active.OrderBy(Json.Name, StringComparer.Ordinal).Select(j => (JsonNode?)Reference(j))]);
        }

        if (owned.Where(j => Condition(j, "Complete")).Select(j => Json.ParseTime(Json.Str(j, "status", "completionTime"))).Max() is { } success
            && (Json.ParseTime(Json.Str(status, "lastSuccessfulTime")) is not { } was || success > was))
        {
            status["lastSuccessfulTime"] = Json.Time(success);
        }

        if (!JsonNode.DeepEquals(Json.At(cj, "status"), status))
        {
            api.Mutate(CronJobStrategy.Type, ns, name, o =>
            {
                if (Json.Uid(o) != uid)
                {
                    return false;
                }

                o["status"] = status.DeepClone();
                return true;
            }, "status");
        }

        return Task.FromResult(new ReconcileResult(plan.Next is { } next ? next - now + TimeSpan.FromMilliseconds(100) : null));
    }

    /// <summary>What a CronJob's controller does at one moment, given the jobs it owns.</summary>
    /// <param name="Create">The job to create and the schedule it stands for, or null.</param>
    /// <param name="Delete">Jobs to delete (replaced, or past the history limits).</param>
    /// <param name="Events">Events to record (type, reason, message).</param>
    /// <param name="Next">When the next schedule comes (the controller looks again then), or null.</param>
    internal sealed record CronPlan(
        (JsonObject Job, DateTimeOffset Scheduled)? Create,
        List<JsonObject> Delete,
        List<(string Type, string Reason, string Message)> Events,
        DateTimeOffset? Next);

    /// <summary>The decision of one look at <paramref name="cj"/> (kube's syncCronJob), without writing anything.</summary>
    internal static CronPlan Plan(JsonObject cj, IReadOnlyList<JsonObject> owned, DateTimeOffset now)
    {
        var delete = new List<JsonObject>();
        var events = new List<(string, string, string)>();
        var spec = Json.Obj(cj, "spec");

        // history: finished jobs beyond the limits go, oldest first
        foreach (var (complete, limitField) in new[] { (true, "successfulJobsHistoryLimit"), (false, "failedJobsHistoryLimit") })
        {
            long limit = Json.Int(spec, limitField) ?? (complete ? 3 : 1);
            var done = owned.Where(j => complete ? Condition(j, "Complete") : Condition(j, "Failed"))
                .OrderBy(j => Json.ParseTime(Json.Str(j, "status", "startTime")) ?? Json.ParseTime(Json.Str(j, "metadata", "creationTimestamp")))
                .ToList();
            foreach (var old in done.Take(Math.Max(0, done.Count - (int)limit)))
            {
                delete.Add(old);
            }
        }

        var (expression, _) = CronJobStrategy.ParseSchedule(Json.Str(spec, "schedule") ?? "");
        string? zoneName = Json.Str(spec, "timeZone");
        var zone = zoneName is null ? TimeZoneInfo.Local : CronJobStrategy.FindZone(zoneName);
        if (expression is null || zone is null)
        {
            events.Add(("Warning", zone is null ? "UnknownTimeZone" : "InvalidSchedule", zone is null ? $"invalid timeZone: \"{zoneName}\"" : $"invalid schedule: {Json.Str(spec, "schedule")}"));
            return new CronPlan(null, delete, events, null);
        }

        var next = expression.GetNextOccurrence(now, zone);
        if (Json.Bool(spec, "suspend") == true || Json.Has(cj, "metadata", "deletionTimestamp"))
        {
            return new CronPlan(null, delete, events, next);
        }

        // the most recent schedule not yet run: after the last one run (or the CronJob's creation), at or before now
        var since = Json.ParseTime(Json.Str(cj, "status", "lastScheduleTime")) ?? Json.ParseTime(Json.Str(cj, "metadata", "creationTimestamp")) ?? now;
        long? deadline = Json.Int(spec, "startingDeadlineSeconds");
        if (deadline is { } d && now.AddSeconds(-d) > since)
        {
            since = now.AddSeconds(-d);
        }

        DateTimeOffset? scheduled = null;
        int missed = 0;
        foreach (var t in expression.GetOccurrences(since, now, zone, fromInclusive: false, toInclusive: true))
        {
            scheduled = t;
            missed++;
        }

        if (scheduled is not { } at)
        {
            return new CronPlan(null, delete, events, next);
        }

        if (missed > 100)
        {
            events.Add(("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"));
        }

        string jobName = $"{Json.Name(cj)}-{at.ToUnixTimeSeconds() / 60}";
        if (owned.Any(j => Json.Name(j) == jobName))
        {
            return new CronPlan(null, delete, events, next); // this schedule ran
        }

        var active = owned.Where(j => !Finished(j)).ToList();
        switch (Json.Str(spec, "concurrencyPolicy"))
        {
            case "Forbid" when active.Count > 0:
                events.Add(("Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid"));
                return new CronPlan(null, delete, events, next);
            case "Replace":
                delete.AddRange(active);
                break;
        }

        return new CronPlan((NewJob(cj, jobName, at, zone), at), delete, events, next);
    }

    /// <summary>The Job a CronJob runs at <paramref name="scheduled"/> (also <c>kubectl create job --from=cronjob/X</c>'s shape).</summary>
    private static JsonObject NewJob(JsonObject cj, string name, DateTimeOffset scheduled, TimeZoneInfo zone)
    {
        var template = Json.At(cj, "spec", "jobTemplate") as JsonObject ?? [];
        var meta = new JsonObject
        {
            ["name"] = name,
            ["namespace"] = Json.Namespace(cj),
            ["labels"] = Json.At(template, "metadata", "labels")?.DeepClone() ?? new JsonObject(),
            ["annotations"] = Json.At(template, "metadata", "annotations")?.DeepClone() ?? new JsonObject(),
            ["ownerReferences"] = new JsonArray(PodState.ControllerReference(cj)),
        };
        ((JsonObject)meta["annotations"]!)[ScheduledAnnotation] = TimeZoneInfo.ConvertTime(scheduled, zone).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
        return new JsonObject { ["metadata"] = meta, ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject() };
    }

    private static JsonObject Reference(JsonObject job) => new()
    {
        ["kind"] = "Job",
        ["namespace"] = Json.Namespace(job),
        ["name"] = Json.Name(job),
        ["uid"] = Json.Uid(job),
        ["apiVersion"] = "batch/v1",
        ["resourceVersion"] = Json.Str(job, "metadata", "resourceVersion"),
    };

    private static bool Finished(JsonObject job) => Condition(job, "Complete") || Condition(job, "Failed");

    private static bool Condition(JsonObject job, string type) =>
        Json.Items(job, "status", "conditions").Any(c => Json.Str(c, "type") == type && Json.Str(c, "status") == "True");
}
