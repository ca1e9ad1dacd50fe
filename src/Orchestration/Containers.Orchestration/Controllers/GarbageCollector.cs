namespace Containers.Orchestration.Controllers;

/// <summary>
/// Deletes objects whose owners are gone (ownerReferences naming a uid that no longer exists, checked for the kinds
/// that are owned here: ReplicaSets, Pods, Jobs, ControllerRevisions and PersistentVolumeClaims), and completes foreground deletion (an owner
/// with the foregroundDeletion finalizer goes once its blocking dependents are gone).
/// </summary>
internal sealed class GarbageCollector : IReconciler<string>
{
    private readonly ObjectApi api;
    private readonly List<Informer> owners;
    private readonly List<Informer> dependents;

    public GarbageCollector(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        // keyed by the owner's uid: an owner that went, or waits in foreground deletion, and dependents naming a missing owner
        owners = [.. new[] { ResourceType.Deployments, ResourceType.ReplicaSets, ResourceType.Services, ResourceType.Pods, Api.Kinds.JobStrategy.Type, Api.Kinds.CronJobStrategy.Type, Api.Kinds.DaemonSetStrategy.Type, Api.Kinds.StatefulSetStrategy.Type }.Select(t => b.Watches(t, OwnerChanged))];
        dependents = [.. new[] { ResourceType.ReplicaSets, ResourceType.Pods, Api.Kinds.JobStrategy.Type, Api.Kinds.ControllerRevisionStrategy.Type, ResourceType.Claims }.Select(t => b.Watches(t, (Action<JsonObject?, JsonObject?>)((_, obj) => QueueMissingOwners(obj))))];
    }

    private static IEnumerable<string> OwnerChanged(JsonObject? old, JsonObject? obj)
    {
        if (obj is null && old is not null)
        {
            return [Json.Uid(old)]; // the owner went: look at what it owned
        }

        return obj is not null && Json.Has(obj, "metadata", "deletionTimestamp")
            && Json.At(obj, "metadata", "finalizers") is JsonArray f && f.Any(x => x?.GetValue<string>() == "foregroundDeletion")
            ? [Json.Uid(obj)]
            : [];
    }

    private void QueueMissingOwners(JsonObject? obj)
    {
        if (obj is null)
        {
            return;
        }

        foreach (var (uid, kind, name) in PodState.Of(obj).Owners)
        {
            if (uid.Length > 0 && !OwnerExists(uid, kind, Json.Namespace(obj), name))
            {
                Queue.Add(uid);
            }
        }
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string uid, CancellationToken cancellationToken)
    {
        // foreground: the owner still exists and waits for its dependents
        var owner = owners.Select(i => i.List().FirstOrDefault(o => Json.Uid(o) == uid)).FirstOrDefault(o => o is not null);
        var children = dependents.SelectMany(i => i.OwnedBy(uid).Select(o => (i.Type, Object: o))).ToList();
        if (owner is not null)
        {
            bool foreground = Json.Has(owner, "metadata", "deletionTimestamp")
                && (Json.At(owner, "metadata", "finalizers") as JsonArray)?.Any(f => f?.GetValue<string>() == "foregroundDeletion") == true;
            if (!foreground)
            {
                return Task.FromResult(default(ReconcileResult));
            }

            foreach (var (type, child) in children.Where(c => !Json.Has(c.Object, "metadata", "deletionTimestamp")))
            {
                Delete(type, child, "Foreground");
            }

            if (children.Count == 0)
            {
                var type = ResourceType.ForKind(Json.Str(owner, "apiVersion") ?? "", Json.Str(owner, "kind") ?? "")!;
                api.Mutate(type, Json.Namespace(owner), Json.Name(owner), o =>
                {
                    var f = (JsonArray)o["metadata"]!["finalizers"]!;
                    foreach (var x in f.Where(x => x?.GetValue<string>() == "foregroundDeletion").ToList())
                    {
                        f.Remove(x);
                    }

                    return true;
                });
                return Task.FromResult(default(ReconcileResult));
            }

            return Task.FromResult(new ReconcileResult(TimeSpan.FromSeconds(1)));
        }

        foreach (var (type, child) in children)
        {
            // only when no other owner of the child is alive
            bool otherOwner = Json.Items(child, "metadata", "ownerReferences").Any(r => Json.Str(r, "uid") != uid && OwnerExists(Json.Str(r, "uid")!, Json.Str(r, "kind"), Json.Namespace(child), Json.Str(r, "name")));
            if (!otherOwner && !Json.Has(child, "metadata", "deletionTimestamp"))
            {
                Delete(type, child, "Background");
            }
        }

        return Task.FromResult(default(ReconcileResult));
    }

    private bool OwnerExists(string uid, string? kind, string? ns, string? name)
    {
        var informer = owners.FirstOrDefault(i => i.Type.Kind == kind);
        if (informer is null)
        {
            return true; // not a kind we track: never collect on its account
        }

        return informer.Uid(ns, name ?? "") == uid;
    }

    private void Delete(ResourceType type, JsonObject obj, string policy)
    {
        try
        {
            api.Delete(type, Json.Namespace(obj), Json.Name(obj), new DeleteOptions(PropagationPolicy: policy, ExpectedUid: Json.Uid(obj)));
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
        }
    }

    /// <summary>
    /// Orphans the dependents of the owner with <paramref name="uid"/> (a delete with propagationPolicy Orphan): the
    /// owner reference is taken off every object that names it, before the owner goes.
    /// </summary>
    internal static void Orphan(ObjectApi api, ResourceType owner, string? ns, string uid)
    {
        foreach (var type in ResourceType.Stores.Where(t => (t.Namespaced == owner.Namespaced || t.Namespaced) && !t.Strategy.Virtual))
        {
            foreach (var dependent in api.List(type, ns).Items.Where(o => Json.Items(o, "metadata", "ownerReferences").Any(r => Json.Str(r, "uid") == uid)))
            {
                api.Mutate(type, Json.Namespace(dependent), Json.Name(dependent), o =>
                {
                    var refs = (JsonArray)o["metadata"]!["ownerReferences"]!;
                    foreach (var r in refs.Where(r => Json.Str(r, "uid") == uid).ToList())
                    {
                        refs.Remove(r);
                    }

                    return true;
                });
            }
        }
    }
}
