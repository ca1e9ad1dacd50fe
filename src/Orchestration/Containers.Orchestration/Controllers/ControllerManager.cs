using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Controllers;

/// <summary>Options of the controllers.</summary>
public sealed record ControllerOptions
{
    /// <summary>How long a node may go without posting status before it is Unknown and tainted unreachable (Kubernetes: 40 s).</summary>
    public TimeSpan NodeMonitorGracePeriod { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>Where volumes for claims without a storage class are provisioned (none when null).</summary>
    public string? VolumeDirectory { get; init; }

    /// <summary>The cluster CA (PEM) published as the ConfigMap kube-root-ca.crt in every namespace; none when null.</summary>
    public string? RootCaPem { get; init; }

    /// <summary>The cluster CA with its key: with it, nodes' client certificate requests are approved and signed (<c>cluster join</c>).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? CertificateAuthority { get; init; }

    /// <summary>Gives nodes without one a /24 pod subnet of this network (kube-controller-manager's --allocate-node-cidrs --cluster-cidr); null: none.</summary>
    public string? AllocateNodeCidrs { get; init; }

    /// <summary>How long the certificates signed for requests are valid (kube-controller-manager's --cluster-signing-duration).</summary>
    public TimeSpan ClusterSigningDuration { get; init; } = TimeSpan.FromDays(365);

    /// <summary>How often each HorizontalPodAutoscaler is evaluated (kube-controller-manager's --horizontal-pod-autoscaler-sync-period: 15 s).</summary>
    public TimeSpan AutoscalerSyncPeriod { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Which controllers run, by name (replicaset-controller, default-scheduler, event-ttl, ...); all when null. A control plane behind leader election runs the scheduler apart from the rest, each under its own Lease.</summary>
    public Func<string, bool>? Runs { get; init; }

    /// <summary>The addresses LoadBalancer Services get (see <see cref="LoadBalancerPool"/>); none when null (they stay pending, as on a cluster without a load balancer).</summary>
    public LoadBalancerPool? LoadBalancerPool { get; init; }

    /// <summary>Workers per controller.</summary>
    public int Workers { get; init; } = 2;

    /// <summary>How long an event is kept after it was last written (kube-apiserver's --event-ttl: 1 h); null keeps them.</summary>
    public TimeSpan? EventTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// When set, each controller acts as its own service account in kube-system (kube-controller-manager's
    /// <c>--use-service-account-credentials</c>: system:serviceaccount:kube-system:replicaset-controller, bound to
    /// system:controller:replicaset-controller), the scheduler as system:kube-scheduler and the shared informers as
    /// system:kube-controller-manager, every call checked by this authorizer. Null: the controllers' calls are not checked.
    /// </summary>
    public Authorizer? Authorizer { get; init; }
}

/// <summary>
/// The kube-controller-manager and kube-scheduler of a control plane: ReplicaSet, Deployment, Endpoints, garbage
/// collector, node lifecycle and namespace controllers and the scheduler, each a reconciler on its own work queue,
/// over one set of informers. Workers start once the caches are filled.
/// </summary>
public sealed class ControllerManager : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> running = [];

    private ControllerManager()
    {
    }

    /// <summary>The shared informers.</summary>
    public InformerSet Informers { get; private set; } = null!;

    /// <summary>Starts the controllers over <paramref name="api"/>.</summary>
    public static async Task<ControllerManager> StartAsync(ObjectApi api, ControllerOptions? options, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        options ??= new();
        var authorizer = options.Authorizer;
        ObjectApi As(KubeUser user) => authorizer is null ? api : api.As(user, authorizer);
        ObjectApi AsAccount(string account) => As(ServiceAccounts.User("kube-system", account));
        if (authorizer is not null)
        {
            ControllerPolicy.EnsureAccounts(api);
        }

        var manager = new ControllerManager { Informers = new InformerSet(As(ComponentIdentities.ControllerManagerUser)) };
        var informers = manager.Informers;
        var built = new List<(ControllerBuilder Builder, IReconciler<string> Reconciler)>();
        T? Add<T>(string name, Func<ControllerBuilder, T> create)
            where T : class, IReconciler<string>
        {
            if (options.Runs is { } runs && !runs(name))
            {
                return null;
            }

            var identity = name == "default-scheduler" ? As(ComponentIdentities.SchedulerUser) : AsAccount(ControllerPolicy.AccountFor(name));
            var builder = new ControllerBuilder(identity, informers, name, options.Workers, AsAccount);
            var controller = create(builder);
            built.Add((builder, controller));
            return controller;
        }

        Add("replicaset-controller", b => new ReplicaSetController(b));
        Add("deployment-controller", b => new DeploymentController(b));
        Add("daemonset-controller", b => new DaemonSetController(b));
        Add("statefulset-controller", b => new StatefulSetController(b));
        Add("disruption-controller", b => new DisruptionController(b));
        Add("horizontal-pod-autoscaler", b => new HorizontalController(b, options.AutoscalerSyncPeriod));
        Add("job-controller", b => new JobController(b));
        Add("cronjob-controller", b => new CronJobController(b));
        Add("ttl-after-finished-controller", b => new TtlAfterFinishedController(b));
        Add("endpoints-controller", b => new EndpointsController(b));
        if (options.LoadBalancerPool is { } pool)
        {
            Add("service-controller", b => new LoadBalancerController(b, pool));
        }

        Add("default-scheduler", b => new Scheduler(b));
        var gc = Add("garbage-collector", b => new GarbageCollector(b));
        Add("node-controller", b => new NodeLifecycleController(b, options.NodeMonitorGracePeriod));
        Add("namespace-controller", b => new NamespaceController(b));
        Add("persistentvolume-controller", b => new PersistentVolumeController(b, options.VolumeDirectory, new ReplicatedPopulator(b, loggers.CreateLogger("replicated-volumes"))));
        Add("snapshot-controller", b => new VolumeSnapshotController(b, loggers.CreateLogger("snapshot-controller")));
        Add("serviceaccount-controller", b => new ServiceAccountController(b, options.RootCaPem));
        Add("clusterrole-aggregation-controller", b => new ClusterRoleAggregationController(b));
        if (options.AllocateNodeCidrs is { } clusterCidr)
        {
            Add("node-ipam-controller", b => new NodeIpamController(b, clusterCidr));
        }

        if (options.CertificateAuthority is { } ca)
        {
            Add("certificatesigningrequest-controller", b => new CertificateSigningController(b, ca, options.ClusterSigningDuration));
        }
        informers.For(ResourceType.Namespaces);
        var token = manager.stop.Token;
        manager.running.Add(await informers.StartAsync(token).WaitAsync(cancellationToken).ConfigureAwait(false));
        foreach (var (builder, controller) in built)
        {
            manager.running.Add(builder.Queue.RunAsync(controller, builder.Workers, loggers.CreateLogger(builder.Name), token));
        }

        if (options.EventTtl is { } ttl && options.Runs?.Invoke("event-ttl") != false)
        {
            manager.running.Add(ExpireEventsAsync(api, ttl, loggers.CreateLogger("event-ttl"), token));
        }

        // a restarted control plane looks at everything once (dependents of owners deleted while it was down)
        foreach (var o in informers.For(ResourceType.Pods).List().Concat(informers.For(ResourceType.ReplicaSets).List()).Concat(informers.For(Api.Kinds.JobStrategy.Type).List())
                     .Concat(informers.For(Api.Kinds.ControllerRevisionStrategy.Type).List()).Concat(informers.For(ResourceType.Claims).List()))
        {
            foreach (var r in gc is null ? [] : Json.Items(o, "metadata", "ownerReferences"))
            {
                gc!.Queue.Add(Json.Str(r, "uid") ?? "");
            }
        }

        return manager;
    }

    /// <summary>Deletes expired events every tenth of <paramref name="ttl"/> (between 1 s and 1 min), as etcd's leases on them do.</summary>
    private static async Task ExpireEventsAsync(ObjectApi api, TimeSpan ttl, ILogger logger, CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromTicks(Math.Clamp(ttl.Ticks / 10, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
        using var timer = new PeriodicTimer(period, api.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    api.ExpireEvents(ttl);
                }
#pragma warning disable CA1031 // the next tick tries again (a store closing under it, a full disk)
                catch (Exception e)
#pragma warning restore CA1031
                {
                    logger.LogWarning(e, "expiring events failed");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops every controller.</summary>
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(running).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        stop.Dispose();
    }
}
