namespace Containers.Orchestration.Controllers;

/// <summary>Empties a namespace being deleted (every namespaced object in it), then removes it.</summary>
internal sealed class NamespaceController : IReconciler<string>
{
    private readonly ObjectApi api;
    private readonly Informer namespaces;

    public NamespaceController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.SingleWorker().Queue;
        namespaces = b.For(ResourceType.Namespaces, (_, ns) => Json.Has(ns, "metadata", "deletionTimestamp"));
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string name, CancellationToken cancellationToken)
    {
        var ns = namespaces.Get(null, name);
        if (ns is null || !Json.Has(ns, "metadata", "deletionTimestamp"))
        {
            return Task.FromResult(default(ReconcileResult));
        }

        int remaining = 0;
        foreach (var type in ResourceType.Stores.Where(t => t.Namespaced && !t.Strategy.Virtual))
        {
            foreach (var obj in api.List(type, name).Items)
            {
                remaining++;
                if (!Json.Has(obj, "metadata", "deletionTimestamp"))
                {
                    try
                    {
                        api.Delete(type, name, Json.Name(obj), new DeleteOptions(PropagationPolicy: "Background"));
                    }
                    catch (ApiException e) when (e.Code == 404)
                    {
                    }
                }
            }
        }

        if (remaining == 0)
        {
            api.Remove(ResourceType.Namespaces, null, name);
            return Task.FromResult(default(ReconcileResult));
        }

        return Task.FromResult(new ReconcileResult(TimeSpan.FromSeconds(1)));
    }
}
