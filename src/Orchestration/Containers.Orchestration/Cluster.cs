using System.Diagnostics;
using System.Runtime.CompilerServices;
using Containers.Orchestration.Controllers;
using Containers.Orchestration.Nodes;
using Containers.Orchestration.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Containers.Orchestration;

/// <summary>What a cluster is made of.</summary>
public sealed record ClusterOptions
{
    /// <summary>The engine root; the cluster keeps its store in ROOT/cluster and writes ROOT/kubeconfig.</summary>
    public required string Root { get; init; }

    /// <summary>
    /// Opens the object store the control plane keeps its objects in; null for the embedded store under ROOT/cluster/store
    /// (one machine). The cluster owns what it returns and disposes it. The Containers.Orchestration.Etcd package's
    /// <c>WithEtcd</c> sets one for etcd.
    /// </summary>
    public Func<CancellationToken, Task<IObjectStore>>? OpenStore { get; init; }

    /// <summary>
    /// A machine that joined a cluster (<c>cluster join</c>): no control plane runs here; the node agents, the service
    /// proxy and the pod routes talk to the API server of the credential as its node (a <see cref="RemoteObjectStore"/>),
    /// and the node's endpoint serves its pods' streams to the API servers. <see cref="NodeName"/> names the node and
    /// <see cref="AdvertiseAddress"/> is its LAN address.
    /// </summary>
    public NodeCredential? Join { get; init; }

    /// <summary>
    /// The network all machines' pod subnets are part of: with it the controllers give every node that registers
    /// without a pod subnet (a machine that joined without one) a /24 of it, and machines that join read it from
    /// cluster-info; null (one machine): none.
    /// </summary>
    public string? ClusterCidr { get; init; }

    /// <summary>
    /// The cluster CA this control-plane machine must find in the store (<c>cluster join --control-plane</c>: the one
    /// its bootstrap token vouched for); another one there fails the start, naming both. Null: whatever is there.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ExpectedAuthority { get; init; }

    /// <summary>A bootstrap token (<c>abcdef.0123456789abcdef</c>) the control plane accepts for machines that join (kept until deleted; see <see cref="BootstrapTokens"/>).</summary>
    public string? BootstrapToken { get; init; }

    /// <summary>
    /// Where the API listens: 127.0.0.1 when null; <see cref="System.Net.IPAddress.Any"/> for every address of the
    /// machine, as a control-plane member the other machines and the virtual IP reach.
    /// </summary>
    public System.Net.IPAddress? BindAddress { get; init; }

    /// <summary>The address other machines reach this API server at (in its serving certificate, and the kubernetes Service's endpoints when there is no virtual IP).</summary>
    public System.Net.IPAddress? AdvertiseAddress { get; init; }

    /// <summary>
    /// Runs the controllers and the scheduler only while this process holds the Leases kube-system/kube-controller-manager
    /// and kube-system/kube-scheduler (several control-plane machines on one store: one of each leads); null runs them
    /// always (one control plane).
    /// </summary>
    public LeaderElectionOptions? LeaderElection { get; init; }

    /// <summary>
    /// A virtual IP for the API, held by the machine that holds the Lease kube-system/containers-vip (leader election
    /// settings as <see cref="LeaderElection"/>) and moved when it dies; the kubeconfig points at it. Null: none.
    /// </summary>
    public VirtualIpOptions? VirtualIp { get; init; }

    /// <summary>
    /// Addresses for LoadBalancer Services from a pool on the LAN of <see cref="LoadBalancerOptions.Interface"/>: set in
    /// their status, held on that interface and announced by gratuitous ARP (by the virtual IP's holder when there is
    /// leader election, else by this process), and answered by the service proxy. Null: LoadBalancer Services stay pending.
    /// </summary>
    public LoadBalancerOptions? LoadBalancer { get; init; }

    /// <summary>
    /// Joins this machine's pod network to the other machines' (host routes to every other node's pod subnet via its
    /// LAN address, see <see cref="PodRoutes"/>): its nodes report <see cref="AdvertiseAddress"/> as their InternalIP and
    /// the pod subnet as their spec.podCIDR, so every machine needs a pod subnet of its own inside the cluster CIDR.
    /// Null: the pod network stays on this machine.
    /// </summary>
    public PodRoutesOptions? PodRoutes { get; init; }

    /// <summary>The names of this process's nodes: NAME for one node, NAME-1 ... NAME-N for several; node-1 ... node-N when null.</summary>
    public string? NodeName { get; init; }

    /// <summary>How many nodes this process runs (node-1 ... node-N); 0 for a control-plane-only machine.</summary>
    public int Nodes { get; init; } = 1;

    /// <summary>The API server's port on 127.0.0.1 (0 = any free port).</summary>
    public int Port { get; init; } = 6443;

    /// <summary>The range cluster IPs come from (the DNS server takes .10).</summary>
    public string ServiceCidr { get; init; } = "10.96.0.0/16";

    /// <summary>
    /// The pod network's subnet: when the root's pod network exists already, it must be the one it was made with (a
    /// start names both when it is not); null keeps that one, or makes 10.244.0.0/16.
    /// </summary>
    public string? PodSubnet { get; init; }

    /// <summary>The engine network (and bridge) pods join.</summary>
    public string PodNetwork { get; init; } = "k8s-pods";

    /// <summary>Each node's allocatable cpu.</summary>
    public string NodeCpu { get; init; } = "2";

    /// <summary>Each node's allocatable memory.</summary>
    public string NodeMemory { get; init; } = "4Gi";

    /// <summary>How often nodes post status.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a silent node stays Ready (Kubernetes: 40 s).</summary>
    public TimeSpan NodeMonitorGracePeriod { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>The host port the built-in Ingress controller serves HTTP on (0: a free port; null: none, the default for a cluster hosted in a program; <c>containers cluster up</c> uses 80).</summary>
    public int? IngressHttpPort { get; init; }

    /// <summary>The host port the built-in Ingress controller serves HTTPS on (0: a free port; null: none; <c>containers cluster up</c> uses 443).</summary>
    public int? IngressHttpsPort { get; init; }

    /// <summary>How often nodes sample their containers' usage for the metrics API (metrics-server: 15 s).</summary>
    public TimeSpan MetricsResolution { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often each HorizontalPodAutoscaler is evaluated (kube-controller-manager's --horizontal-pod-autoscaler-sync-period: 15 s).</summary>
    public TimeSpan AutoscalerSyncPeriod { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long pods tolerate an unreachable or not-ready node before eviction (Kubernetes: 300 s).</summary>
    public long DefaultTolerationSeconds { get; init; } = 300;

    /// <summary>How long pods tolerate an unreachable node before eviction, when it differs from <see cref="DefaultTolerationSeconds"/> (kube-apiserver's --default-unreachable-toleration-seconds).</summary>
    public long? DefaultUnreachableTolerationSeconds { get; init; }

    /// <summary>How long an event is kept after it was last written (kube-apiserver's --event-ttl: 1 h); null keeps them.</summary>
    public TimeSpan? EventTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Static bearer tokens, as kube-apiserver's <c>--token-auth-file</c>: a CSV of <c>token,user,uid,"group1,group2"</c>
    /// (the groups optional); null for none. Client certificates of the cluster CA are accepted either way.
    /// </summary>
    public string? TokenAuthFile { get; init; }

    /// <summary>
    /// Where the audit log is written (JSON lines of audit.k8s.io/v1 Events at the Metadata level, mode 0600): null for
    /// ROOT/cluster/audit.log, "" for none.
    /// </summary>
    public string? AuditLogPath { get; init; }

    /// <summary>The engine's options (its Root must be <see cref="Root"/>); defaults with that root when null.</summary>
    public EngineOptions? Engine { get; init; }

    /// <summary>Loggers (none by default).</summary>
    public ILoggerFactory? Loggers { get; init; }

    /// <summary>
    /// Runs pods through this runtime instead of the engine (a test or benchmark double); then no pod network, service
    /// proxy or DNS is set up (Services still get cluster IPs and Endpoints).
    /// </summary>
    public IPodRuntime? Runtime { get; init; }
}

/// <summary>LoadBalancer Services' addresses: the pool they come from and the LAN interface they are held on.</summary>
/// <param name="Pool">The addresses (<see cref="LoadBalancerPool.Parse"/>).</param>
/// <param name="Interface">The LAN interface of the machine(s) that hold them.</param>
public sealed record LoadBalancerOptions(LoadBalancerPool Pool, string Interface);

/// <summary>Builds and starts a <see cref="Cluster"/>: <c>await new ClusterBuilder().WithNodes(3).StartAsync(ct)</c>.</summary>
public sealed class ClusterBuilder
{
    private readonly ClusterOptions options;

    /// <summary>A builder for a cluster on the engine root <paramref name="root"/> (CONTAINERS_ROOT or /var/lib/containers-dotnet by default).</summary>
    public ClusterBuilder(string? root = null) =>
        options = new ClusterOptions { Root = root ?? new EngineOptions().Root };

    private ClusterBuilder(ClusterOptions options) => this.options = options;

    /// <summary>Runs <paramref name="count"/> nodes in this process.</summary>
    public ClusterBuilder WithNodes(int count) => new(options with { Nodes = count });

    /// <summary>Serves the API on 127.0.0.1:<paramref name="port"/> (0 = any).</summary>
    public ClusterBuilder WithPort(int port) => new(options with { Port = port });

    /// <summary>Each node's allocatable cpu and memory (Kubernetes quantities).</summary>
    public ClusterBuilder WithNodeCapacity(string cpu, string memory) => new(options with { NodeCpu = cpu, NodeMemory = memory });

    /// <summary>The pod network subnet and the service range.</summary>
    public ClusterBuilder WithNetworks(string podSubnet, string serviceCidr) => new(options with { PodSubnet = podSubnet, ServiceCidr = serviceCidr });

    /// <summary>How fast node loss is noticed and acted on (heartbeat, grace period, pods' default toleration).</summary>
    public ClusterBuilder WithNodeTimings(TimeSpan heartbeat, TimeSpan gracePeriod, long tolerationSeconds) =>
        new(options with { HeartbeatInterval = heartbeat, NodeMonitorGracePeriod = gracePeriod, DefaultTolerationSeconds = tolerationSeconds });

    /// <summary>Keeps events for <paramref name="ttl"/> after they were last written (null: forever; 1 h by default, as Kubernetes).</summary>
    public ClusterBuilder WithEventTtl(TimeSpan? ttl) => new(options with { EventTtl = ttl });

    /// <summary>Serves Ingresses on these host ports (80 and 443 as a real cluster's ingress controller; 0 for a free port; null for none).</summary>
    public ClusterBuilder WithIngress(int? httpPort = 80, int? httpsPort = 443) => new(options with { IngressHttpPort = httpPort, IngressHttpsPort = httpsPort });

    /// <summary>Sets how often nodes sample usage for the metrics API and how often autoscalers are evaluated (both 15 s by default).</summary>
    public ClusterBuilder WithAutoscaling(TimeSpan metricsResolution, TimeSpan syncPeriod) => new(options with { MetricsResolution = metricsResolution, AutoscalerSyncPeriod = syncPeriod });

    /// <summary>Static bearer tokens from a kube-apiserver <c>--token-auth-file</c> (see <see cref="ClusterOptions.TokenAuthFile"/>).</summary>
    public ClusterBuilder WithTokenAuthFile(string path) => new(options with { TokenAuthFile = path });

    /// <summary>Runs pods through <paramref name="runtime"/> instead of the engine (no pod network, proxy or DNS): for tests and benchmarks of the control plane.</summary>
    public ClusterBuilder WithRuntime(IPodRuntime runtime) => new(options with { Runtime = runtime });

    /// <summary>Keeps the objects in the store <paramref name="open"/> opens (see <see cref="ClusterOptions.OpenStore"/>).</summary>
    public ClusterBuilder WithStore(Func<CancellationToken, Task<IObjectStore>> open) => new(options with { OpenStore = open });

    /// <summary>Logs through <paramref name="loggers"/>.</summary>
    public ClusterBuilder WithLogging(ILoggerFactory loggers) => new(options with { Loggers = loggers });

    /// <summary>The options as built.</summary>
    public ClusterOptions ToOptions() => options;

    /// <summary>Starts the control plane and the nodes.</summary>
    public Task<Cluster> StartAsync(CancellationToken cancellationToken = default) => Cluster.StartAsync(options, cancellationToken);
}

/// <summary>
/// A Kubernetes-compatible cluster in this process: the persistent object store, the API server (for kubectl, on
/// 127.0.0.1), the controllers and scheduler, the service proxy with cluster DNS, and N node agents running pods as
/// engine containers on one pod network. Disposing stops it; state stays on disk and pods' containers keep running,
/// to be taken over by the next start on the same root (<see cref="RemoveWorkloadsAsync"/> removes them).
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    private readonly List<NodeAgent> agents = [];
    private readonly ContainerEngine? engine;
    private readonly IObjectStore store;
    private KubeApiServer? server;
    private ControllerManager? controllers;
    private readonly List<LeaderElector> electors = [];
    private readonly CancellationTokenSource stopping = new();
    private InformerSet? sharedInformers;
    private Task holding = Task.CompletedTask;
    private PodRoutes? routes;
    private ServiceProxy? proxy;
    private NodeServer? nodeServer;
    private HttpMessageInvoker? nodeClient;
    private MetricsScraper? scraper;

    /// <summary>The built-in Ingress controller (null unless ports were given for it).</summary>
    public IngressProxy? Ingress { get; private set; }

    private Cluster(ClusterOptions options, ContainerEngine? engine, IObjectStore store, ObjectApi api)
    {
        Options = options;
        this.engine = engine;
        this.store = store;
        Api = api;
    }

    /// <summary>The options it runs with.</summary>
    public ClusterOptions Options { get; }

    /// <summary>The leader elections this control-plane member takes part in (none without <see cref="ClusterOptions.LeaderElection"/>).</summary>
    public IReadOnlyList<LeaderElector> Elections => electors;

    /// <summary>The object store the control plane keeps its objects in.</summary>
    public IObjectStore Store => store;

    /// <summary>The API, in process (typed access to every object).</summary>
    public ObjectApi Api { get; }

    /// <summary>The API server's URL.</summary>
    public string Url => server!.Url;

    /// <summary>The cluster's certificates: its CA, the API server's, and the admin's client certificate the kubeconfig holds.</summary>
    public Containers.Orchestration.Api.ClusterPki? Pki { get; private set; }

    /// <summary>Who may use the API: the authorizer, the service-account tokens and the audit log.</summary>
    public ApiAccess? Access { get; private set; }

    /// <summary>An HttpClient for the API as its admin (it trusts the cluster CA and presents the admin's certificate).</summary>
    public HttpClient CreateAdminHttpClient() => new(Pki?.AdminHandler() ?? new HttpClientHandler(), disposeHandler: true);

    /// <summary>The kubeconfig written for kubectl.</summary>
    public string KubeconfigPath => Path.Combine(Options.Root, "kubeconfig");

    /// <summary>Adds one more node (named <paramref name="name"/>) run by this process.</summary>
    public Task AddNodeAsync(string name, CancellationToken cancellationToken = default) =>
        AddNodeAsync(name, Options.Runtime ?? new EnginePodRuntime(engine!), proxy is null ? "127.0.0.1" : agents.FirstOrDefault()?.Options.InternalIP ?? "127.0.0.1", Options.Loggers ?? NullLoggerFactory.Instance, cancellationToken);

    /// <summary>The node agents running here.</summary>
    public IReadOnlyList<NodeAgent> NodeAgents => agents;

    /// <summary>Starts a cluster per <paramref name="options"/>.</summary>
    public static async Task<Cluster> StartAsync(ClusterOptions options, CancellationToken cancellationToken = default)
    {
        var loggers = options.Loggers ?? NullLoggerFactory.Instance;
        var engine = options.Runtime is null && options.Nodes > 0 ? new ContainerEngine(options.Engine ?? new EngineOptions { Root = options.Root }, loggers) : null;
        IObjectStore? store = null;
        Cluster? cluster = null;
        try
        {
            store = options.Join is { } join ? new RemoteObjectStore(join.Server, join.Handler())
                : options.OpenStore is { } open ? await open(cancellationToken).ConfigureAwait(false) : EmbeddedObjectStore.Open(Path.Combine(options.Root, "cluster", "store"));
            var startLog = loggers.CreateLogger("cluster");
            startLog.LogDebug("object store open at revision {Revision}", store.Revision);
            var api = new ObjectApi(store, TimeProvider.System, options.ServiceCidr, options.DefaultTolerationSeconds, options.DefaultUnreachableTolerationSeconds);
            cluster = new Cluster(options, engine, store, api);
            var logs = new NodeLogs(cluster);
            if (options.Join is not null)
            {
                cluster.sharedInformers = new InformerSet(api);
                _ = await cluster.sharedInformers.StartAsync(cluster.stopping.Token).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await cluster.StartControlPlaneAsync(logs, startLog, loggers, cancellationToken).ConfigureAwait(false);
            }

            if (options.Nodes == 0)
            {
                return cluster; // a control-plane-only machine
            }

            if (engine is null)
            {
                for (int i = 1; i <= options.Nodes; i++)
                {
                    await cluster.AddNodeAsync($"node-{i}", options.Runtime!, "127.0.0.1", loggers, cancellationToken).ConfigureAwait(false);
                }

                return cluster;
            }

            var network = engine.Networks.List().FirstOrDefault(n => n.Name == options.PodNetwork);
            if (network is not null && options.PodSubnet is { } wanted && network.Subnet != wanted)
            {
                throw new ContainerException($"the pod network {options.PodNetwork} of {options.Root} has subnet {network.Subnet}, not {wanted}: start with that one, or remove the network (with no pods left) to change it");
            }

            network ??= engine.Networks.Create(options.PodNetwork, new Networking.NetworkCreateOptions
            {
                Subnet = options.PodSubnet ?? "10.244.0.0/16",
                Labels = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add("io.containers-dotnet.cluster", "pods"),
            });
            engine.Networks.EnsureBridge(network.Id);
            cluster.proxy = await ServiceProxy.StartAsync(cluster.Access is { } access ? api.As(ComponentIdentities.ProxyUser, access.Authorizer) : api, cluster.Informers, network.BridgeName, loggers.CreateLogger("kube-proxy"), cancellationToken: cancellationToken).ConfigureAwait(false);
            var runtime = new EnginePodRuntime(engine);
            string? lan = options.PodRoutes is not null || options.Join is not null ? options.AdvertiseAddress?.ToString() ?? throw new ArgumentException("pod routes need the machine's AdvertiseAddress", nameof(options)) : null;
            for (int i = 1; i <= options.Nodes; i++)
            {
                await cluster.AddNodeAsync(options.NodeName is { } n ? options.Nodes == 1 ? n : $"{n}-{i}" : $"node-{i}", runtime, network.Gateway, loggers, cancellationToken, lan, lan is null ? null : network.Subnet).ConfigureAwait(false);
            }

            if (options.PodRoutes is { } podRoutes)
            {
                cluster.routes = await PodRoutes.StartAsync(cluster.Informers, network.Subnet, network.BridgeName, podRoutes, loggers.CreateLogger("pod-routes"), cancellationToken).ConfigureAwait(false);
            }

            if (lan is not null && (cluster.Pki?.Authority ?? options.Join?.Authority) is { } authority)
            {
                // the API servers on other machines reach this machine's pods' logs, exec and port-forward here
                cluster.nodeServer = await NodeServer.StartAsync(api, logs, options.AdvertiseAddress!, NodeServer.DefaultPort, authority, cancellationToken).ConfigureAwait(false);
            }

            return cluster;
        }
        catch
        {
            // the cleanup's own failure is logged: what the caller hears is why the start failed (an unreachable etcd)
            try
            {
                if (cluster is not null)
                {
                    await cluster.DisposeAsync().ConfigureAwait(false);
                }
                else
                {
                    if (store is not null)
                    {
                        await store.DisposeAsync().ConfigureAwait(false);
                    }

                    if (engine is not null)
                    {
                        await engine.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
            catch (Exception cleanup)
            {
                loggers.CreateLogger("cluster").LogWarning(cleanup, "cleaning up after a failed start");
            }

            throw;
        }
    }

    /// <summary>
    /// Refuses a virtual IP that another host of the LAN has (kube-vip would fight it for the address, and the API
    /// would answer from two machines): the address must not answer ARP probes, or the host answering must be an API
    /// server of this cluster (a TLS certificate of its CA at the API's port). A holder that just died keeps answering
    /// until its address's lifetime (one lease) ends, so a stranger is named only after a lease and a little more.
    /// </summary>
    private async Task CheckVirtualIpAsync(VirtualIpOptions vip, CancellationToken cancellationToken)
    {
        var patience = Stopwatch.StartNew();
        var limit = (Options.LeaderElection?.LeaseDuration ?? TimeSpan.FromSeconds(15)) + TimeSpan.FromSeconds(2);
        while (true)
        {
            string? mac = await Task.Run(() => Containers.Networking.HostInterfaces.ProbeAddress(vip.Interface, vip.Address, TimeSpan.FromMilliseconds(600)), cancellationToken).ConfigureAwait(false);
            if (mac is null)
            {
                return;
            }

            try
            {
                using var client = new HttpClient(Pki!.AdminHandler(), disposeHandler: true) { Timeout = TimeSpan.FromSeconds(2) };
                using var answer = await client.GetAsync(new Uri($"https://{vip.Address}:{Options.Port}/version"), cancellationToken).ConfigureAwait(false);
                return; // a certificate of this cluster's CA: another control-plane machine holds it
            }
            catch (HttpRequestException)
            {
                // nothing there, or not of this cluster
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // no answer in time
            }

            if (patience.Elapsed > limit)
            {
                throw new ContainerException($"--vip {vip.Address}: the address is already in use on the LAN ({mac} answers for it on {vip.Interface}) and that host is not an API server of this cluster (no answer with this cluster's CA at https://{vip.Address}:{Options.Port}); choose a free address");
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The API server, its access and policy, and the controllers (behind leader election when asked).</summary>
    private async Task StartControlPlaneAsync(NodeLogs logs, ILogger startLog, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var api = Api;
        string pki = Path.Combine(Options.Root, "cluster", "pki");
        if (Options.OpenStore is not null)
        {
            SharedPki.Sync(api, pki); // every API server of the store on one CA and service-account key
        }

        var addresses = new List<System.Net.IPAddress> { ServiceAddressAllocator.Offset(System.Net.IPNetwork.Parse(Options.ServiceCidr).BaseAddress, 1) };
        addresses.AddRange(new[] { Options.AdvertiseAddress, Options.VirtualIp?.Address }.OfType<System.Net.IPAddress>());
        Pki = Containers.Orchestration.Api.ClusterPki.LoadOrCreate(pki, addresses);
        if (Options.ExpectedAuthority is { } expected && expected.Thumbprint != Pki.Authority.Thumbprint)
        {
            throw new ContainerException($"the store holds the CA of another cluster ({Pki.Authority.Subject}, {Pki.Authority.Thumbprint}) than the one the token vouched for ({expected.Subject}, {expected.Thumbprint}): check the etcd URLs");
        }

        if (Options.VirtualIp is { } vip)
        {
            startLog.LogDebug("checking that the virtual IP {Address} is free or held by this cluster", vip.Address);
            await CheckVirtualIpAsync(vip, cancellationToken).ConfigureAwait(false);
        }

        var tokens = Options.TokenAuthFile is { } tokenFile ? StaticTokens.Read(tokenFile) : null;
        startLog.LogDebug("certificates ready; reconciling the bootstrap policy");
        RetryConflicts(() => BootstrapPolicy.Reconcile(api)); // another API server may be writing the same objects
        string audit = Options.AuditLogPath ?? Path.Combine(Options.Root, "cluster", "audit.log");
        Access = new ApiAccess(api, Pki, tokens, audit.Length > 0 ? audit : null);
        server = await KubeApiServer.StartAsync(api, Options.Port, logs, cancellationToken, Access, Options.BindAddress).ConfigureAwait(false);
        startLog.LogDebug("API server listening on port {Port}", server.Port);
        string host = (Options.VirtualIp?.Address ?? Options.AdvertiseAddress)?.ToString() ?? "127.0.0.1";
        server.WriteKubeconfig(KubeconfigPath, serverUrl: $"https://{host}:{server.Port}");
        RetryConflicts(() => KubernetesService.Reconcile(api, host, server.Port)); // pods reach it through the service proxy on this machine
        if (Options.BootstrapToken is { } token)
        {
            BootstrapTokens.Ensure(api, token, ttl: null, "given to cluster server");
        }

        // what machines that join read anonymously and check with their token: this API's URL and CA
        BootstrapTokens.SignClusterInfo(api, $"https://{host}:{server.Port}", Containers.Orchestration.Api.ClusterPki.Pem(Pki.Authority), new Dictionary<string, string?> { ["service-cidr"] = Options.ServiceCidr, ["cluster-cidr"] = Options.ClusterCidr });
        nodeClient = NodeServer.Client(Pki.IssueClientCertificate(NodeServer.ApiServerUser, [])); // to reach other machines' nodes
        if (Options.OpenStore is not null)
        {
            // several machines on one store: the usage of nodes of other machines is read from their node endpoints
            scraper = MetricsScraper.Start(api, name => agents.Any(a => a.Name == name), nodeClient, Options.MetricsResolution, loggers.CreateLogger("metrics-scraper"));
        }

        var controllerOptions = new ControllerOptions { RootCaPem = Containers.Orchestration.Api.ClusterPki.Pem(Pki.Authority), NodeMonitorGracePeriod = Options.NodeMonitorGracePeriod, EventTtl = Options.EventTtl, AutoscalerSyncPeriod = Options.AutoscalerSyncPeriod, VolumeDirectory = Path.Combine(Options.Root, "cluster", "volumes"), Authorizer = Access.Authorizer, LoadBalancerPool = Options.LoadBalancer?.Pool, CertificateAuthority = Pki.Authority, AllocateNodeCidrs = Options.ClusterCidr };
        if (Options.LeaderElection is { } election)
        {
            sharedInformers = new InformerSet(api);
            _ = await sharedInformers.StartAsync(stopping.Token).WaitAsync(cancellationToken).ConfigureAwait(false);
            var electionLog = loggers.CreateLogger("leader-election");
            electors.Add(LeaderElector.Start(api, "kube-system", "kube-controller-manager", election, ct => LeadAsync(api, controllerOptions with { Runs = name => name != "default-scheduler" }, loggers, ct), electionLog));
            electors.Add(LeaderElector.Start(api, "kube-system", "kube-scheduler", election, ct => LeadAsync(api, controllerOptions with { Runs = name => name == "default-scheduler" }, loggers, ct), electionLog));
            if (Options.VirtualIp is not null || Options.LoadBalancer is not null)
            {
                electors.Add(LeaderElector.Start(api, "kube-system", "containers-vip", election, ct => HoldAddressesAsync(election.LeaseDuration, ct), electionLog));
            }
        }
        else
        {
            controllers = await ControllerManager.StartAsync(api, controllerOptions, loggers, cancellationToken).ConfigureAwait(false);
            if (Options.LoadBalancer is not null)
            {
                holding = Task.Run(() => HoldAddressesAsync(TimeSpan.FromSeconds(30), stopping.Token), CancellationToken.None);
            }
        }

        if (Options.IngressHttpPort is not null || Options.IngressHttpsPort is not null)
        {
            Ingress = await IngressProxy.StartAsync(api, Informers, Options.IngressHttpPort, Options.IngressHttpsPort, "127.0.0.1", loggers.CreateLogger("ingress-controller"), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Creates or updates every object in the manifests at <paramref name="path"/> (a file or folder), as <c>kubectl
    /// apply</c>; returns them as stored. A field its kind does not have is refused (400 naming the file and the field's
    /// path), as kubectl's default strict validation does.
    /// </summary>
    public Task<IReadOnlyList<JsonObject>> ApplyAsync(string path, CancellationToken cancellationToken = default) => ApplyAsync([path], cancellationToken);

    /// <summary>Creates or updates every object in the manifests at <paramref name="paths"/>.</summary>
    public Task<IReadOnlyList<JsonObject>> ApplyAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        var result = new List<JsonObject>();
        foreach (var (file, manifest) in Manifests.Load(paths))
        {
            var obj = manifest;
            cancellationToken.ThrowIfCancellationRequested();
            var type = ResourceType.ForKind(Json.Str(obj, "apiVersion") ?? "", Json.Str(obj, "kind") ?? "")
                ?? throw new ApiException(404, "NotFound", $"{file}: no matches for kind \"{Json.Str(obj, "kind")}\" in version \"{Json.Str(obj, "apiVersion")}\"");
            string? ns = type.Namespaced ? Json.Namespace(obj) ?? "default" : null;
            try
            {
                FieldSchema.Enforce(type, obj, FieldValidation.Strict); // as kubectl apply (--validate=strict)
            }
            catch (ApiException e)
            {
                throw new ApiException(e.Code, e.Reason, $"{file}: {e.Message}");
            }

            if (type.Stored is { } stored)
            {
                obj = type.Conversion!.ToStored(obj, Api.TryGet(stored, ns, Json.Name(obj))); // an older version: as stored
                type = stored;
            }

            var existing = Api.TryGet(type, ns, Json.Name(obj));
            if (existing is null)
            {
                result.Add(Api.Create(type, ns, obj));
            }
            else
            {
                result.Add(Api.Patch(type, ns, Json.Name(obj), Patches.StrategicMergePatch, Json.Bytes(obj)));
            }
        }

        return Task.FromResult<IReadOnlyList<JsonObject>>(result);
    }

    /// <summary>
    /// The changes to a kind (in a namespace, or all when null) from now on, as they happen. The objects are shared with
    /// the control plane's other readers (one parse per write): copy one (<c>DeepClone</c>) before changing it.
    /// </summary>
    public async IAsyncEnumerable<(string Type, JsonObject Object)> WatchAsync(ResourceType type, string? ns = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (kind, obj) in Api.WatchAsync(type, ns, Api.Revision, cancellationToken).ConfigureAwait(false))
        {
            yield return (kind switch { Storage.WatchEventType.Added => "ADDED", Storage.WatchEventType.Modified => "MODIFIED", Storage.WatchEventType.Deleted => "DELETED", _ => kind.ToString().ToUpperInvariant() }, obj);
        }
    }

    /// <summary>Stops a node's agent (as if the machine went away): its heartbeats stop, and after the grace period its pods are evicted. Its containers keep running until <see cref="RemoveWorkloadsAsync"/>.</summary>
    public async Task StopNodeAsync(string name)
    {
        var agent = agents.FirstOrDefault(a => a.Name == name) ?? throw new ArgumentException($"no node {name} runs here", nameof(name));
        agents.Remove(agent);
        await agent.DisposeAsync().ConfigureAwait(false);
        stoppedAgents.Add(agent);
    }

    private readonly List<NodeAgent> stoppedAgents = [];

    /// <summary>
    /// Stops this process's node agents (so nothing starts again) and removes every pod container they ran (the
    /// cluster's objects stay in the store; a later start on this root recreates the pods).
    /// </summary>
    public async Task RemoveWorkloadsAsync(CancellationToken cancellationToken = default)
    {
        foreach (var agent in agents)
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            stoppedAgents.Add(agent);
        }

        agents.Clear();
        foreach (var agent in stoppedAgents)
        {
            await agent.RemoveAllContainersAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops and removes every pod container a cluster on <paramref name="options"/>'s root ran, on every node (as
    /// <c>cluster down --stop-pods</c>); its objects stay in the store, and the next start recreates the pods. The
    /// cluster must not be running (its node agents would start them again). Returns how many containers went.
    /// </summary>
    public static async Task<int> StopPodsAsync(ClusterOptions options, CancellationToken cancellationToken = default)
    {
        await using var engine = new ContainerEngine(options.Engine ?? new EngineOptions { Root = options.Root }, options.Loggers);
        return await RemovePodContainersAsync(engine, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes everything a cluster on <paramref name="options"/>'s root made, as <c>kind delete cluster</c>: every pod
    /// container, the pod network with its bridge and rules (and the service addresses on it), and the cluster's
    /// state (its store, node data, provisioned volumes and the kubeconfig). The cluster must not be running.
    /// </summary>
    public static async Task DeleteAsync(ClusterOptions options, CancellationToken cancellationToken = default)
    {
        await using (var engine = new ContainerEngine(options.Engine ?? new EngineOptions { Root = options.Root }, options.Loggers))
        {
            await RemovePodContainersAsync(engine, cancellationToken).ConfigureAwait(false);
            if (engine.Networks.List().FirstOrDefault(n => n.Name == options.PodNetwork) is { } network)
            {
                engine.Networks.Remove(network.Id);
            }
        }

        string state = Path.Combine(options.Root, "cluster");
        if (Directory.Exists(state))
        {
            Directory.Delete(state, recursive: true);
        }

        File.Delete(Path.Combine(options.Root, "kubeconfig"));
    }

    private static async Task<int> RemovePodContainersAsync(ContainerEngine engine, CancellationToken cancellationToken)
    {
        int removed = 0;
        foreach (var c in engine.List(all: true).Where(s => s.Spec.Labels.ContainsKey(EnginePodRuntime.NodeLabel)))
        {
            try
            {
                await engine.Get(c.Id).RemoveAsync(force: true, cancellationToken).ConfigureAwait(false);
                removed++;
            }
            catch (ContainerNotFoundException)
            {
                // gone meanwhile
            }
        }

        return removed;
    }

    /// <summary>The informers the node-side parts of this process (proxy, ingress, node agents) read through.</summary>
    private InformerSet Informers => controllers?.Informers ?? sharedInformers!;

    /// <summary>Holds the virtual IP and the LoadBalancer Services' addresses on their interfaces until <paramref name="cancellationToken"/> fires (kernel lifetime <paramref name="lifetime"/>, renewed).</summary>
    private Task HoldAddressesAsync(TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var holders = new List<Task>();
        if (Options.VirtualIp is { } vip)
        {
            holders.Add(AddressHolder.HoldAsync(vip.Interface, () => [(vip.Address, vip.PrefixLength)], lifetime, LogFactory.CreateLogger("virtual-ip"), cancellationToken));
        }

        if (Options.LoadBalancer is { } lb)
        {
            var services = Informers.For(ResourceType.Services);
            holders.Add(AddressHolder.HoldAsync(lb.Interface, () => [.. services.List()
                .SelectMany(s => Json.Items(s, "status", "loadBalancer", "ingress")).Select(i => Json.Str(i, "ip")).OfType<string>()
                .Select(System.Net.IPAddress.Parse).Where(lb.Pool.Contains).Distinct().Select(a => (a, 32))], lifetime, LogFactory.CreateLogger("load-balancer"), cancellationToken));
        }

        return Task.WhenAll(holders);
    }

    private ILoggerFactory LogFactory => Options.Loggers ?? NullLoggerFactory.Instance;

    /// <summary>Runs controllers while leading: started with the leadership, stopped when it ends.</summary>
    private static async Task LeadAsync(ObjectApi api, ControllerOptions options, ILoggerFactory loggers, CancellationToken leading)
    {
        await using var manager = await ControllerManager.StartAsync(api, options, loggers, leading).ConfigureAwait(false);
        await Task.Delay(Timeout.Infinite, leading).ConfigureAwait(false);
    }

    /// <summary>Runs a reconcile of shared objects again when it lost a race to another API server on the same store (409).</summary>
    private static void RetryConflicts(Action reconcile)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                reconcile();
                return;
            }
            catch (ApiException e) when (e.Code == 409 && attempt < 10)
            {
                Thread.Sleep(20 * attempt);
            }
        }
    }

    /// <summary>Stops the nodes, the proxy, the controllers and the API server; the store is closed (state kept).</summary>
    public async ValueTask DisposeAsync()
    {
        // leaders release their leases so the others take over at once: all together, so no lease waits for the
        // work of another to stop
        await Task.WhenAll(electors.Select(e => e.DisposeAsync().AsTask())).ConfigureAwait(false);
        electors.Clear();

        foreach (var agent in agents)
        {
            await agent.DisposeAsync().ConfigureAwait(false);
        }

        agents.Clear();
        if (nodeServer is not null)
        {
            await nodeServer.DisposeAsync().ConfigureAwait(false);
        }

        if (scraper is not null)
        {
            await scraper.DisposeAsync().ConfigureAwait(false);
        }

        nodeClient?.Dispose();
        if (routes is not null)
        {
            await routes.DisposeAsync().ConfigureAwait(false);
        }

        if (Ingress is not null)
        {
            await Ingress.DisposeAsync().ConfigureAwait(false);
        }

        if (proxy is not null)
        {
            await proxy.DisposeAsync().ConfigureAwait(false);
        }

        if (controllers is not null)
        {
            await controllers.DisposeAsync().ConfigureAwait(false);
        }

        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        if (Access is not null)
        {
            await Access.DisposeAsync().ConfigureAwait(false);
        }

        Pki?.Dispose();
        using (var flush = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await Api.FlushEventsAsync(flush.Token).ConfigureAwait(false); // the events still queued reach the store
            }
            catch (OperationCanceledException)
            {
            }
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        await holding.ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
        stopping.Dispose();
        if (engine is not null)
        {
            await engine.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task AddNodeAsync(string name, IPodRuntime runtime, string internalIp, ILoggerFactory loggers, CancellationToken cancellationToken, string? lanAddress = null, string? podCidr = null)
    {
        var identity = Access is { } a ? Api.As(ComponentIdentities.Node(name), a.Authorizer) : Api; // the kubelet acts as system:node:NAME
        var agent = await NodeAgent.StartAsync(identity, Informers, runtime, new NodeOptions
        {
            Name = name,
            DataDirectory = Path.Combine(Options.Root, "cluster", "nodes", name),
            Network = Options.PodNetwork,
            Cpu = Options.NodeCpu,
            Memory = Options.NodeMemory,
            HeartbeatInterval = Options.HeartbeatInterval,
            MetricsResolution = Options.MetricsResolution,
            InternalIP = internalIp,
            LanAddress = lanAddress,
            PodCidr = podCidr,
            DnsServer = proxy?.DnsAddress.ToString(),
            Credentials = Access is { } access ? new NodeCredentials(access.Authorizer, access.Tokens) : null,
            RequestToken = store is RemoteObjectStore remote ? remote.RequestToken : null,
        }, loggers.CreateLogger("kubelet-" + name), cancellationToken).ConfigureAwait(false);
        agents.Add(agent);
    }

    private sealed class NodeLogs(Cluster cluster) : IPodStreams
    {
        public NodeEndpoint? Elsewhere(JsonObject pod)
        {
            string? name = Json.Str(pod, "spec", "nodeName");
            if (name is null || cluster.nodeClient is not { } client || cluster.agents.Any(a => a.Name == name)
                || cluster.Api.TryGet(ResourceType.Nodes, null, name) is not { } node || NodeServer.EndpointOf(node) is not { } endpoint)
            {
                return null; // here, or not reachable: answered here
            }

            return new NodeEndpoint(endpoint, client);
        }

        public Task WriteLogAsync(JsonObject pod, string container, bool follow, long? tailLines, bool timestamps, bool previous, Stream output, CancellationToken cancellationToken)
        {
            var agent = cluster.agents.FirstOrDefault(a => a.Name == Json.Str(pod, "spec", "nodeName"))
                ?? throw ApiException.BadRequest($"node {Json.Str(pod, "spec", "nodeName")} is not reachable for logs");
            return agent.WriteLogAsync(pod, container, follow, tailLines, timestamps, previous, output, cancellationToken);
        }

        public (Stream? Input, Task Output) Attach(JsonObject pod, string container, Stream output, CancellationToken cancellationToken)
        {
            var agent = cluster.agents.FirstOrDefault(a => a.Name == Json.Str(pod, "spec", "nodeName"))
                ?? throw ApiException.BadRequest($"node {Json.Str(pod, "spec", "nodeName")} is not reachable for attach");
            return agent.Attach(pod, container, output, cancellationToken);
        }

        public Task<ExecProcess> StartExecAsync(JsonObject pod, string container, ExecOptions options, CancellationToken cancellationToken)
        {
            var agent = cluster.agents.FirstOrDefault(a => a.Name == Json.Str(pod, "spec", "nodeName"))
                ?? throw ApiException.BadRequest($"node {Json.Str(pod, "spec", "nodeName")} is not reachable for exec");
            return agent.StartExecAsync(pod, container, options, cancellationToken);
        }

        public void ResizeTerminal(JsonObject pod, string container, int rows, int columns) =>
            cluster.agents.FirstOrDefault(a => a.Name == Json.Str(pod, "spec", "nodeName"))?.ResizeTerminal(pod, container, rows, columns);

        public Task<System.Net.Sockets.Socket> ConnectAsync(JsonObject pod, int port, CancellationToken cancellationToken)
        {
            var agent = cluster.agents.FirstOrDefault(a => a.Name == Json.Str(pod, "spec", "nodeName"))
                ?? throw ApiException.BadRequest($"node {Json.Str(pod, "spec", "nodeName")} is not reachable for port-forward");
            return agent.ConnectAsync(pod, port, cancellationToken);
        }
    }
}
