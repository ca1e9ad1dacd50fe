using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Deletes finished Jobs (Complete or Failed) once spec.ttlSecondsAfterFinished has passed since they finished, with
/// their pods (background propagation), as kube-controller-manager's ttl-after-finished controller.
/// </summary>
internal sealed class TtlAfterFinishedController : IReconciler<string>
{
    private readonly ObjectApi api;
    private readonly Informer jobs;

    public TtlAfterFinishedController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        jobs = b.For(JobStrategy.Type, (_, job) => Json.Has(job, "spec", "ttlSecondsAfterFinished") && FinishedAt(job) is not null);
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        if (jobs.Get(ns, name) is not { } job || Json.Has(job, "metadata", "deletionTimestamp")
            || Json.Int(job, "spec", "ttlSecondsAfterFinished") is not { } ttl || FinishedAt(job) is not { } finished)
        {
            return Task.FromResult(default(ReconcileResult));
        }

        var due = finished.AddSeconds(ttl);
        var now = api.Time.GetUtcNow();
        if (due > now)
        {
            return Task.FromResult(new ReconcileResult(due - now));
        }

        try
        {
            api.Delete(JobStrategy.Type, ns, name, new DeleteOptions(PropagationPolicy: "Background", ExpectedUid: Json.Uid(job)));
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            // gone, or another job of that name
        }

        return Task.FromResult(default(ReconcileResult));
    }

    /// <summary>When the job finished: its Complete or Failed condition's transition time.</summary>
    private static DateTimeOffset? FinishedAt(JsonObject job) =>
        Json.Items(job, "status", "conditions").Where(c => Json.Str(c, "type") is "Complete" or "Failed" && Json.Str(c, "status") == "True")
            .Select(c => Json.ParseTime(Json.Str(c, "lastTransitionTime"))).FirstOrDefault();
}
