using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// kube-controller-manager's serviceaccount and root-ca-cert-publisher controllers: every live namespace has the
/// ServiceAccount <c>default</c> and the ConfigMap <c>kube-root-ca.crt</c> with the cluster CA (what a pod's projected
/// service-account volume carries as ca.crt); a deleted one is made again.
/// </summary>
internal sealed class ServiceAccountController : IReconciler<string>
{
    /// <summary>The ConfigMap holding the cluster CA in every namespace.</summary>
    public const string RootCaConfigMap = "kube-root-ca.crt";

    private static readonly ResourceType Accounts = ResourceType.Find("", "serviceaccounts")!;
    private readonly ObjectApi api;
    private readonly ObjectApi publisher;
    private readonly Informer namespaces;
    private readonly Informer accounts;
    private readonly Informer configMaps;
    private readonly string? caPem;

    public ServiceAccountController(ControllerBuilder b, string? caPem)
    {
        api = b.Api;
        publisher = b.As(ControllerPolicy.RootCaPublisher); // the ConfigMaps are the root-ca-cert-publisher's part
        this.caPem = caPem;
        Queue = b.Queue;
        namespaces = b.For(ResourceType.Namespaces);
        accounts = b.Watches(Accounts, (old, obj) => old is not null && obj is null && Json.Name(old) == "default" ? [Json.Namespace(old)!] : []);
        configMaps = b.Watches(ResourceType.ConfigMaps, (old, obj) => old is not null && Json.Name(old) == RootCaConfigMap && (obj is null || caPem is not null && Json.Str(obj, "data", "ca.crt") != caPem) ? [Json.Namespace(old)!] : []);
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string name, CancellationToken cancellationToken)
    {
        var ns = namespaces.Get(null, name);
        if (ns is null || Json.Has(ns, "metadata", "deletionTimestamp"))
        {
            return Task.FromResult(default(ReconcileResult));
        }

        try
        {
            // what exists is read from the caches, as Kubernetes' controllers read listers (their roles may only create)
            if (accounts.Get(name, "default") is null)
            {
                api.Create(Accounts, name, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "default" } });
            }

            if (caPem is not null)
            {
                var data = new JsonObject { ["ca.crt"] = caPem };
                var current = configMaps.Get(name, RootCaConfigMap);
                if (current is null)
                {
                    publisher.Create(ResourceType.ConfigMaps, name, new JsonObject
                    {
                        ["metadata"] = new JsonObject { ["name"] = RootCaConfigMap, ["annotations"] = new JsonObject { ["kubernetes.io/description"] = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters." } },
                        ["data"] = data,
                    });
                }
                else if (Json.Str(current, "data", "ca.crt") != caPem)
                {
                    publisher.Mutate(ResourceType.ConfigMaps, name, RootCaConfigMap, o =>
                    {
                        o["data"] = data.DeepClone();
                        return true;
                    });
                }
            }
        }
        catch (ApiException e) when (e.Code is 409 or 403 or 404)
        {
            // made meanwhile, or the namespace began terminating: the next change says what to do
        }

        return Task.FromResult(default(ReconcileResult));
    }
}

/// <summary>kube-controller-manager's clusterrole-aggregation controller: a ClusterRole's change sets the rules of every aggregated ClusterRole again.</summary>
internal sealed class ClusterRoleAggregationController : IReconciler<string>
{
    private readonly ObjectApi api;

    public ClusterRoleAggregationController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.SingleWorker().Queue;
        // one key for all: an aggregation writes only what changed, so its own writes end in a pass that writes nothing
        b.Watches(ClusterRoleStrategy.Type, (_, _) => ["*"]);
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        ClusterRoleAggregation.AggregateAll(api);
        return Task.FromResult(default(ReconcileResult));
    }
}
