using System.Collections.Concurrent;
using System.Globalization;
using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Runs each Job's pods to completion, as kube-controller-manager's job controller: up to spec.parallelism pods at once
/// until spec.completions have succeeded (Indexed: one success per index, the index in the pod's annotation, label,
/// hostname and JOB_COMPLETION_INDEX); failures counted against backoffLimit with an exponential back-off before new
/// pods (10 s doubling, at most 6 min), the pod failure policy's FailJob, Ignore and Count rules on exit codes and pod
/// conditions, activeDeadlineSeconds, suspend and resume. Pods carry the job-tracking finalizer: a finished pod is
/// first recorded in status.uncountedTerminatedPods, then released, then counted, so no finish is lost or counted twice.
/// A job that met its success or failure criteria gets SuccessCriteriaMet or FailureTarget at once, and Complete or
/// Failed once none of its pods is left running.
/// </summary>
internal sealed class JobController : IReconciler<string>
{
    /// <summary>The finalizer that keeps a job's pod until the controller has counted how it ended.</summary>
    public const string TrackingFinalizer = "batch.kubernetes.io/job-tracking";

    private static readonly TimeSpan BackoffBase = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan BackoffMax = TimeSpan.FromMinutes(6);

    private readonly ObjectApi api;
    private readonly Informer jobs;
    private readonly Informer pods;
    private readonly Expectations expectations;
    private readonly ConcurrentDictionary<string, DateTimeOffset> lastFailure = new(StringComparer.Ordinal);

    // pods whose finalizer this controller removed, until its cache shows them without it (kube's finalizer
    // expectations): a stale copy still holding the finalizer must not be counted a second time
    private readonly ConcurrentDictionary<string, byte> released = new(StringComparer.Ordinal);

    // pods already counted in a job's status, until they are gone: a finish is counted once whatever a cache shows
    private readonly ConcurrentDictionary<string, byte> counted = new(StringComparer.Ordinal);

    public JobController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        expectations = new Expectations(api.Time);
        jobs = b.For(JobStrategy.Type);
        pods = b.Watches(ResourceType.Pods, PodChanged).IndexOrphans();
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        // the job as stored, not as cached: its status (the uncounted pods, the counters) must be the latest written
        var job = jobs.Get(ns, name) is null ? null : api.TryGet(JobStrategy.Type, ns, name);
        if (job is null)
        {
            foreach (var orphaned in pods.List(ns).Where(p => PodState.Of(p) is { ControllerKind: "Job" } f && f.ControllerName == name && HasFinalizer(p)).ToList())
            {
                RemoveFinalizer(orphaned); // the job that held it is gone: nothing will count it
            }

            expectations.Forget(key);
            lastFailure.TryRemove(key, out _);
            return Task.FromResult(default(ReconcileResult));
        }

        return Task.FromResult(Sync(key, job));
    }

    private ReconcileResult Sync(string key, JsonObject job)
    {
        string ns = Json.Namespace(job)!;
        string uid = Json.Uid(job);
        var now = api.Time.GetUtcNow();
        bool satisfied = expectations.Satisfied(key);
        var owned = pods.OwnedByStored(uid).Select(PodState.Of).Where(p => p.ControllerUid == uid).Select(p => p.Object).ToList();
        bool finished = HasCondition(job, "Complete") || HasCondition(job, "Failed");
        if (finished || Json.Has(job, "metadata", "deletionTimestamp"))
        {
            // nothing more to count: pods still held are let go
            foreach (var pod in owned.Where(HasFinalizer))
            {
                RemoveFinalizer(pod);
            }

            return default;
        }

        var selector = LabelSelector.FromObject(Json.At(job, "spec", "selector"));
        foreach (var orphan in pods.ByIndexStored(PodState.OrphanIndex, ns).Select(PodState.Of).Where(p => p.Active && selector.Matches(p.Labels)).ToList())
        {
            try
            {
                if (api.Mutate(ResourceType.Pods, ns, Json.Name(orphan.Object), p => PodState.TakeOwnership(p, job), asPatch: true) is { } adopted)
                {
                    owned.Add(adopted);
                }
            }
            catch (ApiException)
            {
                // gone or taken meanwhile
            }
        }

        var spec = Json.Obj(job, "spec");
        bool indexed = Json.Str(spec, "completionMode") == "Indexed";
        long? completions = Json.Int(spec, "completions");
        long parallelism = Json.Int(spec, "parallelism") ?? 1;
        long backoffLimit = Json.Int(spec, "backoffLimit") ?? 6;
        var status = Json.At(job, "status") is JsonObject s ? Json.Clone(s) : [];
        var uncountedSucceeded = Uids(status, "succeeded");
        var uncountedFailed = Uids(status, "failed");
        long succeeded = Json.Int(status, "succeeded") ?? 0, failed = Json.Int(status, "failed") ?? 0;
        var completedIndexes = ParseIndexes(Json.Str(status, "completedIndexes"));
        string? failureReason = null, failureMessage = null;

        // 1. finished pods not yet counted: recorded as uncounted, released, then counted (in that order, so a crash loses none)
        var newlyDone = new List<JsonObject>();
        foreach (var pod in owned.Where(p => HasFinalizer(p) && Terminal(p) is not null))
        {
            string podUid = Json.Uid(pod);
            if (uncountedSucceeded.Contains(podUid) || uncountedFailed.Contains(podUid) || released.ContainsKey(podUid) || counted.ContainsKey(podUid))
            {
                continue;
            }

            newlyDone.Add(pod);
            if (Terminal(pod) == "Succeeded")
            {
                uncountedSucceeded.Add(podUid);
                continue;
            }

            var (action, message) = FailurePolicy(job, pod);
            if (action == "Ignore")
            {
                continue;
            }

            uncountedFailed.Add(podUid);
            if (action == "FailJob" && failureReason is null)
            {
                (failureReason, failureMessage) = ("PodFailurePolicy", message);
            }
        }

        if (newlyDone.Count > 0)
        {
            SetUncounted(status, uncountedSucceeded, uncountedFailed);
            job = WriteStatus(job, status) ?? job;
            foreach (var pod in newlyDone)
            {
                RemoveFinalizer(pod);
            }
        }

        // released pods: counted (their uids leave uncountedTerminatedPods); Indexed counts each index once
        var held = owned.Where(p => HasFinalizer(p) && !newlyDone.Contains(p) && !released.ContainsKey(Json.Uid(p))).Select(Json.Uid).ToHashSet(StringComparer.Ordinal);
        foreach (var podUid in uncountedSucceeded.Where(u => !held.Contains(u)).ToList())
        {
            uncountedSucceeded.Remove(podUid);
            if (!counted.TryAdd(podUid, 0))
            {
                continue;
            }

            var pod = owned.FirstOrDefault(p => Json.Uid(p) == podUid);
            if (indexed)
            {
                if (pod is not null && Index(pod) is { } i && i < completions)
                {
                    completedIndexes.Add(i);
                }

                succeeded = completedIndexes.Count;
            }
            else
            {
                succeeded++;
            }
        }

        foreach (var podUid in uncountedFailed.Where(u => !held.Contains(u)).ToList())
        {
            uncountedFailed.Remove(podUid);
            if (!counted.TryAdd(podUid, 0))
            {
                continue;
            }

            failed++;
            var pod = owned.FirstOrDefault(p => Json.Uid(p) == podUid);
            lastFailure[key] = (pod is null ? null : FinishedAt(pod)) ?? now;
        }

        status["succeeded"] = succeeded;
        status["failed"] = failed;
        SetUncounted(status, uncountedSucceeded, uncountedFailed);
        if (indexed)
        {
            status["completedIndexes"] = FormatIndexes(completedIndexes);
        }

        var active = owned.Where(p => Terminal(p) is null && !Json.Has(p, "metadata", "deletionTimestamp")).ToList();
        int terminating = owned.Count(p => Json.Has(p, "metadata", "deletionTimestamp") && Json.Str(p, "status", "phase") is not ("Succeeded" or "Failed") && HasFinalizer(p));
        bool suspended = Json.Bool(spec, "suspend") == true;
        ReconcileResult result = default;

        // 2. what the job is now: failed, succeeded, suspended, or running
        bool failureTarget = HasCondition(job, "FailureTarget"), successMet = HasCondition(job, "SuccessCriteriaMet");
        if (!failureTarget && !successMet && failureReason is null)
        {
            long restarts = Json.Str(spec, "template", "spec", "restartPolicy") == "OnFailure"
                ? active.Sum(p => Json.Items(p, "status", "containerStatuses").Sum(c => Json.Int(c, "restartCount") ?? 0))
                : 0;
            if (failed > backoffLimit || (restarts > 0 && restarts >= Math.Max(backoffLimit, 1)))
            {
                (failureReason, failureMessage) = ("BackoffLimitExceeded", "Job has reached the specified backoff limit");
            }
            else if (!suspended && Json.Int(spec, "activeDeadlineSeconds") is { } deadline && Json.ParseTime(Json.Str(status, "startTime")) is { } started)
            {
                var end = started.AddSeconds(deadline);
                if (end <= now)
                {
                    (failureReason, failureMessage) = ("DeadlineExceeded", "Job was active longer than specified deadline");
                }
                else
                {
                    result = new ReconcileResult(end - now);
                }
            }
        }

        if (failureReason is not null && !failureTarget && !successMet)
        {
            PodState.SetCondition(status, "FailureTarget", "True", failureReason, failureMessage, now, probeTimes: true);
            api.RecordEvent(job, "Warning", failureReason, failureMessage!, "job-controller");
            failureTarget = true;
        }

        bool succeededAll = indexed ? completedIndexes.Count >= completions
            : completions is { } c ? succeeded >= c
            : succeeded > 0 && active.Count == 0;
        if (!failureTarget && !successMet && succeededAll)
        {
            PodState.SetCondition(status, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", now, probeTimes: true);
            successMet = true;
        }

        if (failureTarget || successMet || suspended)
        {
            DeletePods(job, key, active);
            active = [];
        }

        if (failureTarget || successMet)
        {
            if (terminating == 0 && uncountedSucceeded.Count == 0 && uncountedFailed.Count == 0 && owned.All(p => !HasFinalizer(p) || released.ContainsKey(Json.Uid(p))))
            {
                // every pod has ended and is counted: the job is done
                var target = Json.Items(status, "conditions").First(x => Json.Str(x, "type") is "FailureTarget" or "SuccessCriteriaMet" && Json.Str(x, "status") == "True");
                if (failureTarget)
                {
                    PodState.SetCondition(status, "Failed", "True", Json.Str(target, "reason"), Json.Str(target, "message"), now, probeTimes: true);
                }
                else
                {
                    PodState.SetCondition(status, "Complete", "True", Json.Str(target, "reason"), Json.Str(target, "message"), now, probeTimes: true);
                    status["completionTime"] = Json.Time(now);
                    api.RecordEvent(job, "Normal", "Completed", "Job completed", "job-controller");
                }
            }
            else
            {
                result = new ReconcileResult(TimeSpan.FromSeconds(1));
            }
        }
        else if (suspended)
        {
            if (!HasCondition(job, "Suspended"))
            {
                PodState.SetCondition(status, "Suspended", "True", "JobSuspended", "Job suspended", now, probeTimes: true);
                api.RecordEvent(job, "Normal", "Suspended", "Job suspended", "job-controller");
            }

            status.Remove("startTime");
        }
        else
        {
            if (HasCondition(job, "Suspended"))
            {
                PodState.SetCondition(status, "Suspended", "False", "JobResumed", "Job resumed", now, probeTimes: true);
                api.RecordEvent(job, "Normal", "Resumed", "Job resumed", "job-controller");
            }

            status["startTime"] ??= Json.Time(now);
            if (satisfied)
            {
                var wait = Backoff(key, failed, now);
                if (wait > TimeSpan.Zero)
                {
                    result = new ReconcileResult(result.RequeueAfter is { } r && r < wait ? r : wait);
                }
                else
                {
                    active = Scale(job, key, active, indexed, completions, parallelism, succeeded, completedIndexes);
                }
            }
        }

        status["active"] = active.Count;
        status["ready"] = active.Count(PodState.IsReady);
        status["terminating"] = terminating;
        WriteStatus(job, status);
        return result;
    }

    /// <summary>Creates or deletes pods toward the number the job wants running; returns the pods now active.</summary>
    private List<JsonObject> Scale(JsonObject job, string key, List<JsonObject> active, bool indexed, long? completions, long parallelism, long succeeded, SortedSet<long> completedIndexes)
    {
        long want;
        if (indexed)
        {
            want = Math.Min(parallelism, completions!.Value - completedIndexes.Count);
        }
        else if (completions is { } c)
        {
            want = Math.Min(parallelism, Math.Max(0, c - succeeded));
        }
        else
        {
            want = succeeded > 0 ? 0 : parallelism; // a work queue: once one succeeded, no new pods
        }

        if (active.Count > want)
        {
            var surplus = active.OrderBy(p => PodState.IsReady(p) ? 1 : 0).ThenByDescending(p => Json.Str(p, "metadata", "creationTimestamp"), StringComparer.Ordinal).Take((int)(active.Count - want)).ToList();
            DeletePods(job, key, surplus);
            return [.. active.Except(surplus)];
        }

        int n = (int)Math.Min(want - active.Count, 500);
        if (n <= 0)
        {
            return active;
        }

        var indexes = new List<long?>();
        if (indexed)
        {
            var taken = active.Select(Index).OfType<long>().ToHashSet();
            for (long i = 0; i < completions && indexes.Count < n; i++)
            {
                if (!completedIndexes.Contains(i) && !taken.Contains(i))
                {
                    indexes.Add(i);
                }
            }
        }
        else
        {
            indexes.AddRange(Enumerable.Repeat<long?>(null, n));
        }

        expectations.Expect(key, indexes.Count, 0);
        var created = new List<JsonObject>();
        for (int i = 0; i < indexes.Count; i++)
        {
            try
            {
                var pod = api.CreateOwned(ResourceType.Pods, Json.Namespace(job), NewPod(job, indexes[i]));
                created.Add(pod);
                api.RecordEvent(job, "Normal", "SuccessfulCreate", $"Created pod: {Json.Name(pod)}", "job-controller");
            }
            catch (ApiException e)
            {
                expectations.Lower(key, adds: indexes.Count - i);
                api.RecordEvent(job, "Warning", "FailedCreate", $"Error creating: {e.Message}", "job-controller");
                throw;
            }
        }

        return [.. active, .. created];
    }

    private void DeletePods(JsonObject job, string key, List<JsonObject> victims)
    {
        if (victims.Count == 0)
        {
            return;
        }

        expectations.Expect(key, 0, victims.Count);
        foreach (var pod in victims)
        {
            try
            {
                api.Delete(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod), new DeleteOptions(ExpectedUid: Json.Uid(pod)));
                api.RecordEvent(job, "Normal", "SuccessfulDelete", $"Deleted pod: {Json.Name(pod)}", "job-controller");
            }
            catch (ApiException e) when (e.Code is 404 or 409)
            {
                expectations.Lower(key, dels: 1);
            }
        }
    }

    private static JsonObject NewPod(JsonObject job, long? index)
    {
        var template = Json.At(job, "spec", "template") as JsonObject ?? [];
        string name = Json.Name(job);
        var meta = new JsonObject
        {
            ["generateName"] = index is { } i ? $"{name}-{i}-" : name + "-",
            ["namespace"] = Json.Namespace(job),
            ["ownerReferences"] = new JsonArray(PodState.ControllerReference(job)),
            ["finalizers"] = new JsonArray(TrackingFinalizer),
            ["labels"] = Json.At(template, "metadata", "labels")?.DeepClone() ?? new JsonObject(),
        };
        if (Json.At(template, "metadata", "annotations") is JsonObject annotations)
        {
            meta["annotations"] = annotations.DeepClone();
        }

        var spec = (JsonObject?)template["spec"]?.DeepClone() ?? [];
        if (index is { } idx)
        {
            string text = idx.ToString(CultureInfo.InvariantCulture);
            Json.Obj(meta, "annotations")[JobStrategy.IndexAnnotation] = text;
            ((JsonObject)meta["labels"]!)[JobStrategy.IndexAnnotation] = text;
            spec["hostname"] ??= $"{name}-{text}";
            foreach (var container in Json.Items(spec, "containers").Concat(Json.Items(spec, "initContainers")))
            {
                if (container["env"] is not JsonArray env)
                {
                    container["env"] = env = [];
                }

                if (!env.Any(e => Json.Str(e, "name") == "JOB_COMPLETION_INDEX"))
                {
                    env.Add((JsonNode)new JsonObject
                    {
                        ["name"] = "JOB_COMPLETION_INDEX",
                        ["valueFrom"] = new JsonObject { ["fieldRef"] = new JsonObject { ["apiVersion"] = "v1", ["fieldPath"] = $"metadata.annotations['{JobStrategy.IndexAnnotation}']" } },
                    });
                }
            }
        }

        return new JsonObject { ["metadata"] = meta, ["spec"] = spec };
    }

    /// <summary>How the job's pod failure policy treats a failed pod: the action of the first rule that matches (Count when none).</summary>
    private static (string Action, string? Message) FailurePolicy(JsonObject job, JsonObject pod)
    {
        int i = 0;
        foreach (var rule in Json.Items(job, "spec", "podFailurePolicy", "rules"))
        {
            string action = Json.Str(rule, "action") ?? "Count";
            if (Json.At(rule, "onExitCodes") is JsonObject codes)
            {
                string? only = Json.Str(codes, "containerName");
                bool notIn = Json.Str(codes, "operator") == "NotIn";
                var values = Json.At(codes, "values") is JsonArray a ? a.Select(v => Json.Int(v) ?? 0).ToHashSet() : [];
                foreach (var c in Json.Items(pod, "status", "initContainerStatuses").Concat(Json.Items(pod, "status", "containerStatuses")))
                {
                    long? exit = Json.Int(c, "state", "terminated", "exitCode");
                    if (exit is null or 0 || (only is not null && Json.Str(c, "name") != only))
                    {
                        continue;
                    }

                    if (values.Contains(exit.Value) != notIn)
                    {
                        return (action, $"Container {Json.Str(c, "name")} for pod {Json.Namespace(pod)}/{Json.Name(pod)} failed with exit code {exit} matching {action} rule at index {i}");
                    }
                }
            }
            else
            {
                foreach (var want in Json.Items(rule, "onPodConditions"))
                {
                    if (Json.Items(pod, "status", "conditions").Any(c => Json.Str(c, "type") == Json.Str(want, "type") && Json.Str(c, "status") == (Json.Str(want, "status") ?? "True")))
                    {
                        return (action, $"Pod {Json.Namespace(pod)}/{Json.Name(pod)} has condition {Json.Str(want, "type")} matching {action} rule at index {i}");
                    }
                }
            }

            i++;
        }

        return ("Count", null);
    }

    private TimeSpan Backoff(string key, long failed, DateTimeOffset now)
    {
        if (failed == 0 || !lastFailure.TryGetValue(key, out var at))
        {
            return TimeSpan.Zero;
        }

        var delay = TimeSpan.FromTicks(Math.Min(BackoffMax.Ticks, BackoffBase.Ticks << (int)Math.Min(failed - 1, 20)));
        return at + delay - now;
    }

    /// <summary>How a pod ended: Succeeded, Failed (also a pod deleted before it succeeded), or null while it runs.</summary>
    private static string? Terminal(JsonObject pod) => Json.Str(pod, "status", "phase") switch
    {
        "Succeeded" => "Succeeded",
        "Failed" => "Failed",
        _ => Json.Has(pod, "metadata", "deletionTimestamp") && Json.Int(pod, "metadata", "deletionGracePeriodSeconds") is null or 0 ? "Failed" : null,
    };

    private static DateTimeOffset? FinishedAt(JsonObject pod) =>
        Json.Items(pod, "status", "containerStatuses").Select(c => Json.ParseTime(Json.Str(c, "state", "terminated", "finishedAt"))).Max();

    private static long? Index(JsonObject pod) =>
        long.TryParse(Json.Str(pod, "metadata", "annotations", JobStrategy.IndexAnnotation), NumberStyles.None, CultureInfo.InvariantCulture, out long i) ? i : null;

    private static bool HasFinalizer(JsonObject pod) =>
        Json.At(pod, "metadata", "finalizers") is JsonArray f && f.Any(x => Json.Str(x) == TrackingFinalizer);

    private static bool HasCondition(JsonObject job, string type) =>
        Json.Items(job, "status", "conditions").Any(c => Json.Str(c, "type") == type && Json.Str(c, "status") == "True");

    private static List<string> Uids(JsonObject status, string which) =>
        [.. (Json.At(status, "uncountedTerminatedPods", which) as JsonArray ?? []).Select(x => Json.Str(x) ?? "")];

    private static void SetUncounted(JsonObject status, List<string> succeeded, List<string> failed)
    {
        var uncounted = new JsonObject();
        if (succeeded.Count > 0)
        {
            uncounted["succeeded"] = new JsonArray([.. succeeded.Select(u => (JsonNode?)u)]);
        }

        if (failed.Count > 0)
        {
            uncounted["failed"] = new JsonArray([.. failed.Select(u => (JsonNode?)u)]);
        }

        status["uncountedTerminatedPods"] = uncounted;
    }

    private void RemoveFinalizer(JsonObject pod)
    {
        released[Json.Uid(pod)] = 0;
        try
        {
            api.Mutate(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod), p =>
            {
                if (Json.At(p, "metadata", "finalizers") is not JsonArray f || f.FirstOrDefault(x => Json.Str(x) == TrackingFinalizer) is not { } mine)
                {
                    return false;
                }

                f.Remove(mine);
                if (f.Count == 0)
                {
                    ((JsonObject)p["metadata"]!).Remove("finalizers"); // as kube-apiserver writes an empty list: not at all
                }

                return true;
            }, asPatch: true);
        }
        catch (ApiException e) when (e.Code == 404)
        {
        }
    }

    private JsonObject? WriteStatus(JsonObject job, JsonObject status)
    {
        if (JsonNode.DeepEquals(Json.At(job, "status"), status))
        {
            return null;
        }

        string? version = Json.Str(job, "metadata", "resourceVersion");
        return api.Mutate(JobStrategy.Type, Json.Namespace(job), Json.Name(job), o =>
        {
            if (Json.Uid(o) != Json.Uid(job))
            {
                return false;
            }

            if (Json.Str(o, "metadata", "resourceVersion") != version)
            {
                throw ApiException.Conflict(JobStrategy.Type, Json.Name(job)); // counted from an older status: looked at again
            }

            o["status"] = status.DeepClone();
            return true;
        }, "status");
    }

    /// <summary>Completed indexes in Kubernetes' text form ("1,3-5,7"): runs of three or more as first-last.</summary>
    internal static string FormatIndexes(SortedSet<long> indexes)
    {
        var parts = new List<string>();
        var list = indexes.ToList();
        for (int i = 0; i < list.Count;)
        {
            int j = i;
            while (j + 1 < list.Count && list[j + 1] == list[j] + 1)
            {
                j++;
            }

            parts.Add(j - i >= 2 ? $"{list[i]}-{list[j]}" : string.Join(',', list.Skip(i).Take(j - i + 1)));
            i = j + 1;
        }

        return string.Join(',', parts);
    }

    /// <summary>Reads <see cref="FormatIndexes"/>' form back.</summary>
    internal static SortedSet<long> ParseIndexes(string? text)
    {
        var set = new SortedSet<long>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && long.TryParse(part[..dash], CultureInfo.InvariantCulture, out long from) && long.TryParse(part[(dash + 1)..], CultureInfo.InvariantCulture, out long to))
            {
                for (long i = from; i <= to; i++)
                {
                    set.Add(i);
                }
            }
            else if (long.TryParse(part, CultureInfo.InvariantCulture, out long one))
            {
                set.Add(one);
            }
        }

        return set;
    }

    private void PodChanged(JsonObject? old, JsonObject? pod)
    {
        if (pod is null || !HasFinalizer(pod))
        {
            released.TryRemove(Json.Uid(pod ?? old!), out _);
        }

        if (pod is null)
        {
            counted.TryRemove(Json.Uid(old!), out _);
        }

        var current = PodState.Of(pod ?? old!);
        if (current.ControllerKind != "Job")
        {
            if (pod is not null && current.ControllerKind is null && current.Active)
            {
                string ns = Json.Namespace(pod) ?? "";
                foreach (var job in jobs.List(ns).Where(j => LabelSelector.FromObject(Json.At(j, "spec", "selector")).Matches(current.Labels)))
                {
                    Queue.Add(PodState.Key(job));
                }
            }

            return;
        }

        string key = $"{Json.Namespace(pod ?? old!)}/{current.ControllerName}";
        expectations.Observed(key, old, pod);

        Queue.Add(key);
    }
}
