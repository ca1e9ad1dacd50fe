using System.Diagnostics;
using System.Globalization;
using Containers.Orchestration;
using Containers.Orchestration.Storage;
using Microsoft.Extensions.Logging;

namespace Containers.Cli;

/// <summary><c>containers cluster up|down|status</c>: a Kubernetes-compatible cluster for kubectl.</summary>
internal static class ClusterCommands
{
    public static async Task<int> RunAsync(EngineOptions options, Args a)
    {
        string dir = Path.Combine(options.Root, "cluster");
        string pidFile = Path.Combine(dir, "pid");
        switch (a.Name)
        {
            case "up":
            {
                int nodes = a.Get("nodes") is { } n ? int.TryParse(n, CultureInfo.InvariantCulture, out int nn) && nn is > 0 and <= 100 ? nn : throw new UsageException($"--nodes: '{n}' is not a number from 1 to 100") : 1;
                int port = a.Get("port") is { } p ? int.TryParse(p, CultureInfo.InvariantCulture, out int pp) && pp is > 0 and < 65536 ? pp : throw new UsageException($"--port: '{p}' is not a port") : 6443;
                string? podSubnet = a.Get("pod-subnet") is { } ps ? System.Net.IPNetwork.TryParse(ps, out var net) && net.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? net.ToString() : throw new UsageException($"--pod-subnet: '{ps}' is not an IPv4 network such as 10.244.0.0/16") : null;
                string? serviceCidr = a.Get("service-cidr") is { } sc
                    ? System.Net.IPNetwork.TryParse(sc, out var svc) && svc.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && svc.PrefixLength is >= 12 and <= 28 ? svc.ToString() : throw new UsageException($"--service-cidr: '{sc}' is not an IPv4 network from /12 to /28 such as 10.96.0.0/16")
                    : null;
                string ingressHttp = IngressPort(a, "ingress-http-port", "80"), ingressHttps = IngressPort(a, "ingress-https-port", "443");
                string? eventTtl = a.Get("event-ttl") is { } et ? Duration(et) is not null ? et : throw new UsageException($"--event-ttl: '{et}' is not a duration such as 1h, 30m or 1h30m0s") : null;
                if (Running(pidFile) is { } pid)
                {
                    throw new UsageException($"a cluster already runs on {options.Root} (pid {pid}); \"containers cluster down\" stops it");
                }

                string? tokenFile = a.Get("token-auth-file") is { } tf ? File.Exists(tf) ? Path.GetFullPath(tf) : throw new UsageException($"--token-auth-file: {tf}: no such file") : null;
                string? auditLog = a.Get("audit-log-path") is { } al ? al == "-" ? al : Path.GetFullPath(al) : null;
                string? etcd = a.Get("etcd") is { } ec ? string.Join(',', EtcdEndpoints(ec, "--etcd")) : RememberedEtcd(dir);
                var (lbPool, lbInterface) = LoadBalancerFlags(a);
                var up = new Up(nodes, port, podSubnet, serviceCidr, eventTtl, tokenFile, auditLog, ingressHttp, ingressHttps, etcd, lbPool, lbInterface);
                return a.Has("detach") ? await DetachAsync(options, up, dir).ConfigureAwait(false) : await ForegroundAsync(options, up, pidFile).ConfigureAwait(false);
            }

            case "server":
                return await ServerAsync(options, a, pidFile).ConfigureAwait(false);

            case "join" when a.Has("control-plane"):
            {
                // kubeadm join --control-plane: the token vouches for the cluster's CA, then this machine runs as a
                // control-plane machine on the cluster's etcd, refusing a store that holds another CA
                var server = a.Get("server") is { } sv && Uri.TryCreate(sv, UriKind.Absolute, out var su) && su.Scheme == "https" ? su : throw new UsageException("--server is required: the cluster's API server, https://VIP:6443", a.Verb);
                string token = a.Get("token") ?? throw new UsageException("--token is required with --control-plane: a bootstrap token of the cluster", a.Verb);
                var authority = await Containers.Orchestration.Nodes.NodeBootstrap.DiscoverAuthorityAsync(server, token, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                await Console.Out.WriteLineAsync($"joining {server} as a control-plane machine: its CA {authority.Thumbprint} is vouched for by the token").ConfigureAwait(false);
                return await ServerAsync(options, a, pidFile, authority).ConfigureAwait(false);
            }

            case "join":
                return await JoinAsync(options, a, pidFile).ConfigureAwait(false);

            case "create": // cluster token create
            {
                var ttl = a.Get("ttl") is { } t ? t == "0" ? (TimeSpan?)null : Duration(t) ?? throw new UsageException($"--ttl: '{t}' is not a duration such as 24h (0: never expires)") : TimeSpan.FromHours(24);
                string kubeconfig = Path.Combine(options.Root, "kubeconfig"), pki = Path.Combine(dir, "pki");
                string url = ServerUrl(kubeconfig);
                if (url.Length == 0 || !Directory.Exists(pki))
                {
                    throw new ContainerException($"no control plane was set up on {options.Root}: create tokens on a machine that runs \"cluster up\" or \"cluster server\"");
                }

                string token = Containers.Orchestration.Api.BootstrapTokens.Generate();
                var secret = Containers.Orchestration.Api.BootstrapTokens.Secret(token, ttl is { } life ? DateTimeOffset.UtcNow.Add(life) : null, a.Get("description") ?? "made by containers cluster token create");
                using var http = new HttpClient(Containers.Orchestration.Api.ClusterPki.AdminHandler(pki)) { Timeout = TimeSpan.FromSeconds(10) };
                using var created = await http.PostAsync(url + "/api/v1/namespaces/kube-system/secrets", new StringContent(secret.ToJsonString(), System.Text.Encoding.UTF8, "application/json")).ConfigureAwait(false);
                if (!created.IsSuccessStatusCode)
                {
                    throw new ContainerException($"the API at {url} refused the token ({(int)created.StatusCode}): {await created.Content.ReadAsStringAsync().ConfigureAwait(false)}");
                }

                // cluster-info signed for the new token too (the control plane signs it at its start): a JSON merge patch
                string info = await http.GetStringAsync(url + Containers.Orchestration.Api.BootstrapTokens.ClusterInfoPath).ConfigureAwait(false);
                string kubeconfigData = (string?)System.Text.Json.Nodes.JsonNode.Parse(info)?["data"]?["kubeconfig"] ?? throw new ContainerException($"the API at {url} has no cluster-info to sign for the token");
                var patch = new System.Text.Json.Nodes.JsonObject { ["data"] = new System.Text.Json.Nodes.JsonObject { ["jws-kubeconfig-" + token[..6]] = Containers.Orchestration.Api.BootstrapTokens.Sign(kubeconfigData, token[..6], token[7..]) } };
                using var signed = await http.PatchAsync(url + Containers.Orchestration.Api.BootstrapTokens.ClusterInfoPath, new StringContent(patch.ToJsonString(), System.Text.Encoding.UTF8, "application/merge-patch+json")).ConfigureAwait(false);
                if (!signed.IsSuccessStatusCode)
                {
                    throw new ContainerException($"the API at {url} refused to sign cluster-info for the token ({(int)signed.StatusCode}): {await signed.Content.ReadAsStringAsync().ConfigureAwait(false)}");
                }

                await Console.Out.WriteLineAsync(token).ConfigureAwait(false);
                return 0;
            }

            case "kubeconfig":
            {
                string user = a.Get("user") is { Length: > 0 } u ? u : throw new UsageException("--user is required: the user the certificate names", a.Verb);
                var lifetime = a.Get("expiration") is { } ex ? Duration(ex) ?? throw new UsageException($"--expiration: '{ex}' is not a duration such as 24h or 8760h") : TimeSpan.FromDays(365);
                string kubeconfig = Path.Combine(options.Root, "kubeconfig");
                string server = ServerUrl(kubeconfig);
                if (server.Length == 0)
                {
                    throw new ContainerException($"no cluster was set up on {options.Root} (no kubeconfig): run \"containers cluster up\" first");
                }

                string output = a.Get("output") ?? Path.Combine(Path.GetTempPath(), $"kubeconfig-{Environment.ProcessId}");
                Containers.Orchestration.Api.Kubeconfig.WriteForUser(output, Path.Combine(dir, "pki"), server, user, a.All("group"), lifetime);
                if (a.Get("output") is null)
                {
                    await Console.Out.WriteAsync(await File.ReadAllTextAsync(output).ConfigureAwait(false)).ConfigureAwait(false);
                    File.Delete(output);
                }

                return 0;
            }

            case "down":
            {
                bool stopped = await StopAsync(pidFile).ConfigureAwait(false);
                if (!stopped && !a.Has("stop-pods"))
                {
                    await Console.Error.WriteLineAsync($"no cluster runs on {options.Root}").ConfigureAwait(false);
                    return 0;
                }

                string pods = "";
                if (a.Has("stop-pods"))
                {
                    int removed = await Cluster.StopPodsAsync(new ClusterOptions { Root = options.Root, Engine = options }).ConfigureAwait(false);
                    pods = $", {removed} pod container(s) stopped";
                }

                await Console.Out.WriteLineAsync((stopped ? "cluster stopped" : "no cluster runs") + pods + " (state kept in " + dir + ")").ConfigureAwait(false);
                return 0;
            }

            case "migrate":
            {
                string to = a.Get("to-etcd") is { } te ? string.Join(',', EtcdEndpoints(te, "--to-etcd")) : throw new UsageException("--to-etcd is required: the etcd members' client URLs, comma-separated", a.Verb);
                if (Running(pidFile) is { } running)
                {
                    throw new UsageException($"a cluster runs on {options.Root} (pid {running}): \"containers cluster down\" first, then migrate");
                }

                if (RememberedEtcd(dir) is { } already)
                {
                    throw new ContainerException($"the cluster on {options.Root} keeps its objects in etcd already ({already})");
                }

                string embedded = Path.Combine(dir, "store");
                if (!File.Exists(Path.Combine(embedded, "objects.log")))
                {
                    throw new ContainerException($"no cluster store at {embedded}: nothing to migrate");
                }

                IReadOnlyDictionary<string, int> counts;
                await using (var from = Containers.Orchestration.Storage.EmbeddedObjectStore.Open(embedded))
                await using (var target = await Containers.Orchestration.Storage.EtcdObjectStore.OpenAsync(new Containers.Orchestration.Storage.EtcdStoreOptions { Endpoints = to.Split(','), CompactionInterval = null }).ConfigureAwait(false))
                {
                    counts = Containers.Orchestration.Storage.EtcdCluster.Migrate(from, target);
                }

                await File.WriteAllTextAsync(Path.Combine(dir, "etcd"), to + "\n").ConfigureAwait(false);
                string kept = Path.Combine(dir, "store.before-etcd");
                Directory.Move(embedded, kept);
                foreach (var (resource, count) in counts)
                {
                    await Console.Out.WriteLineAsync($"  {resource}: {count}").ConfigureAwait(false);
                }

                await Console.Out.WriteLineAsync($"migrated {counts.Values.Sum()} object(s) to etcd {to}, each read back and compared; \"cluster up\" now runs on it (the embedded store is kept in {kept})").ConfigureAwait(false);
                return 0;
            }

            case "delete":
            {
                await StopAsync(pidFile).ConfigureAwait(false);
                string? endpoints = RememberedEtcd(dir);
                bool shared = File.Exists(Path.Combine(dir, "server")); // a control-plane machine of several: the others keep the objects

                await Cluster.DeleteAsync(new ClusterOptions { Root = options.Root, Engine = options }).ConfigureAwait(false);
                if (endpoints is not null && !shared)
                {
                    int deleted = await Containers.Orchestration.Storage.EtcdCluster.DeleteAllAsync(endpoints.Split(',')).ConfigureAwait(false);
                    await Console.Out.WriteLineAsync($"removed {deleted} key(s) under /registry in etcd {endpoints}").ConfigureAwait(false);
                }

                await Console.Out.WriteLineAsync($"cluster on {options.Root} deleted{(shared ? " (its objects stay in etcd, shared with the other control-plane machines)" : "")}").ConfigureAwait(false);
                return 0;
            }

            case "status":
            {
                string kubeconfig = Path.Combine(options.Root, "kubeconfig");
                if (Running(pidFile) is not { } pid)
                {
                    await Console.Out.WriteLineAsync("stopped").ConfigureAwait(false);
                    return 1;
                }

                string url = ServerUrl(kubeconfig);
                await Console.Out.WriteLineAsync($"running (pid {pid}), API {url}, kubeconfig {kubeconfig}").ConfigureAwait(false);
                string pki = Path.Combine(options.Root, "cluster", "pki");
                using var http = new HttpClient(Directory.Exists(pki) ? Containers.Orchestration.Api.ClusterPki.AdminHandler(pki) : new HttpClientHandler()) { Timeout = TimeSpan.FromSeconds(5) };
                string table;
                try
                {
                    table = await http.GetStringAsync(url + "/api/v1/nodes").ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException or UriFormatException)
                {
                    await Console.Out.WriteLineAsync($"  the API at {url} does not answer: {e.Message}").ConfigureAwait(false);
                    return 1;
                }

                var doc = System.Text.Json.Nodes.JsonNode.Parse(table);
                foreach (var node in doc?["items"]?.AsArray() ?? [])
                {
                    var ready = node?["status"]?["conditions"]?.AsArray().FirstOrDefault(c => (string?)c?["type"] == "Ready");
                    await Console.Out.WriteLineAsync($"  node {(string?)node?["metadata"]?["name"]}: Ready={(string?)ready?["status"]}").ConfigureAwait(false);
                }

                return 0;
            }

            default:
                throw new UsageException($"unknown cluster subcommand '{a.Name}'", a.Verb);
        }
    }

    /// <summary>The API server's URL in the kubeconfig at <paramref name="kubeconfig"/> ("" when there is none).</summary>
    internal static string ServerUrl(string kubeconfig) =>
        File.Exists(kubeconfig) ? File.ReadLines(kubeconfig).Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("server: ", StringComparison.Ordinal))?["server: ".Length..] ?? "" : "";

    /// <summary>Stops the detached cluster of <paramref name="pidFile"/> (SIGTERM, then 30 s); false when none runs.</summary>
    private static async Task<bool> StopAsync(string pidFile)
    {
        if (Running(pidFile) is not { } pid)
        {
            return false;
        }

        using var process = Process.GetProcessById(pid);
        _ = Tmds.Linux.LibC.kill(pid, Tmds.Linux.LibC.SIGTERM); // SIGTERM: the cluster stops its nodes, proxy, controllers and API server
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new ContainerException($"the cluster (pid {pid}) did not stop within 30 s");
        }

        return true;
    }

    /// <summary>
    /// The pid of the cluster process of <paramref name="pidFile"/> while it runs: null when the file is missing, the
    /// process is gone or is a zombie (killed, not yet reaped by its parent), or the pid now belongs to another command.
    /// </summary>
    private static int? Running(string pidFile)
    {
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture, out int pid))
        {
            return null;
        }

        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault();
            bool cluster = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0').Contains("cluster");
            return state is 'Z' or 'X' || !cluster ? null : pid;
        }
        catch (IOException)
        {
            return null; // no such process
        }
    }

    /// <summary>
    /// <c>cluster server</c>: one control-plane machine of several on one etcd (kube-apiserver with the controller
    /// manager and scheduler behind leader election, and the virtual IP's holder when this machine leads it), in the
    /// foreground until SIGINT or SIGTERM.
    /// </summary>
    private static async Task<int> ServerAsync(EngineOptions options, Args a, string pidFile, System.Security.Cryptography.X509Certificates.X509Certificate2? expectedAuthority = null)
    {
        string etcd = a.Get("etcd") is { } ec ? string.Join(',', EtcdEndpoints(ec, "--etcd")) : throw new UsageException("--etcd is required: the etcd members' client URLs, comma-separated", a.Verb);
        var advertise = a.Get("advertise-address") is { } aa ? System.Net.IPAddress.TryParse(aa, out var ad) && ad.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? ad : throw new UsageException($"--advertise-address: '{aa}' is not an IPv4 address") : throw new UsageException("--advertise-address is required: this machine's address on the LAN", a.Verb);
        var bind = a.Get("bind-address") is { } ba ? System.Net.IPAddress.TryParse(ba, out var bd) ? bd : throw new UsageException($"--bind-address: '{ba}' is not an IP address") : System.Net.IPAddress.Any;
        int port = a.Get("port") is { } p ? int.TryParse(p, CultureInfo.InvariantCulture, out int pp) && pp is > 0 and < 65536 ? pp : throw new UsageException($"--port: '{p}' is not a port") : 6443;
        int nodes = a.Get("nodes") is { } n ? int.TryParse(n, CultureInfo.InvariantCulture, out int nn) && nn is >= 0 and <= 100 ? nn : throw new UsageException($"--nodes: '{n}' is not a number from 0 to 100") : 0;
        TimeSpan Flag(string name, TimeSpan fallback) => a.Get(name) is { } v ? Duration(v) ?? throw new UsageException($"--{name}: '{v}' is not a duration such as 15s") : fallback;
        var election = new Containers.Orchestration.Controllers.LeaderElectionOptions
        {
            Identity = $"{a.Get("name") ?? Environment.MachineName}_{Guid.NewGuid():N}",
            LeaseDuration = Flag("leader-elect-lease-duration", TimeSpan.FromSeconds(15)),
            RenewDeadline = Flag("leader-elect-renew-deadline", TimeSpan.FromSeconds(10)),
            RetryPeriod = Flag("leader-elect-retry-period", TimeSpan.FromSeconds(2)),
        };
        if (!(election.RetryPeriod < election.RenewDeadline && election.RenewDeadline < election.LeaseDuration))
        {
            throw new UsageException("leader election needs --leader-elect-retry-period < --leader-elect-renew-deadline < --leader-elect-lease-duration");
        }

        Containers.Orchestration.Nodes.VirtualIpOptions? vip = null;
        if (a.Get("vip") is { } v)
        {
            var (address, prefix) = v.Contains('/', StringComparison.Ordinal) && System.Net.IPNetwork.TryParse(v, out var net)
                ? (System.Net.IPAddress.Parse(v[..v.IndexOf('/', StringComparison.Ordinal)]), net.PrefixLength)
                : System.Net.IPAddress.TryParse(v, out var single) ? (single, 32) : throw new UsageException($"--vip: '{v}' is not an IPv4 address (with an optional /prefix)");
            string iface = a.Get("vip-interface") ?? throw new UsageException("--vip-interface is required with --vip: the LAN interface to hold it on", a.Verb);
            if (!Directory.Exists($"/sys/class/net/{iface}"))
            {
                throw new UsageException($"--vip-interface: no network interface {iface}");
            }

            vip = new(address, iface, prefix);
        }

        if (Running(pidFile) is { } running)
        {
            throw new UsageException($"a cluster already runs on {options.Root} (pid {running})");
        }

        var (lbPool, lbInterface) = LoadBalancerFlags(a);
        RunWithServerGc();
        using var stop = new StopSignal();
        await Console.Out.WriteLineAsync($"cluster server {election.Identity}: starting on etcd {etcd}").ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        // a control-plane machine logs what it does (leadership, addresses held, routes) to stderr, as kube's components do; CONTAINERS_CLUSTER_TRACE=1: every step
        using var loggers = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b
            .AddSimpleConsole(o => { o.TimestampFormat = "HH:mm:ss.fff "; o.SingleLine = true; })
            .SetMinimumLevel(Environment.GetEnvironmentVariable("CONTAINERS_CLUSTER_TRACE") is { Length: > 0 } ? Microsoft.Extensions.Logging.LogLevel.Debug : Microsoft.Extensions.Logging.LogLevel.Information));
        var clusterOptions = new ClusterOptions
        {
            Loggers = loggers,
            Root = options.Root, Engine = options, Nodes = nodes, Port = port, BindAddress = bind, AdvertiseAddress = advertise, LeaderElection = election, VirtualIp = vip,
            PodSubnet = a.Get("pod-subnet"), IngressHttpPort = null, IngressHttpsPort = null,
            LoadBalancer = lbPool is null ? null : new LoadBalancerOptions(Containers.Orchestration.Controllers.LoadBalancerPool.Parse(lbPool), lbInterface!),
            NodeName = a.Get("name") ?? Environment.MachineName,
            ClusterCidr = a.Get("cluster-cidr") ?? "10.244.0.0/16",
            ExpectedAuthority = expectedAuthority,
            BootstrapToken = a.Get("token") is { } token ? Containers.Orchestration.Api.BootstrapTokens.TryParse(token, out _, out _) ? token : throw new UsageException($"--token: '{token}' is not a bootstrap token ([a-z0-9]{{6}}.[a-z0-9]{{16}})") : null,
            PodRoutes = nodes > 0 && a.Get("node-interface") is { } nodeInterface ? new Containers.Orchestration.Nodes.PodRoutesOptions(nodeInterface, a.Get("cluster-cidr") ?? "10.244.0.0/16") : null,
            HeartbeatInterval = Flag("node-status-update-frequency", TimeSpan.FromSeconds(10)),
            MetricsResolution = Flag("metric-resolution", TimeSpan.FromSeconds(15)),
            NodeMonitorGracePeriod = Flag("node-monitor-grace-period", TimeSpan.FromSeconds(40)),
            DefaultTolerationSeconds = Seconds(a, "default-not-ready-toleration-seconds") ?? 300,
            DefaultUnreachableTolerationSeconds = Seconds(a, "default-unreachable-toleration-seconds") ?? 300,
        }.OnEtcd(etcd.Split(','), minimumThreadPoolThreads: ControlPlaneThreads);
        await using (var cluster = await Cluster.StartAsync(clusterOptions).ConfigureAwait(false))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(pidFile)!);
            await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(pidFile)!, "etcd"), etcd + "\n").ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(pidFile)!, "server"), election.Identity + "\n").ConfigureAwait(false);
            await File.WriteAllTextAsync(pidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"cluster server {election.Identity}: API on {bind}:{port} (advertised {advertise}), objects in etcd {etcd}{(vip is null ? "" : $", virtual IP {vip.Address} on {vip.Interface} while leading")}").ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"  export KUBECONFIG={cluster.KubeconfigPath}").ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);
            await stop.WaitAsync().ConfigureAwait(false);
            File.Delete(pidFile);
        }

        return 0;
    }

    /// <summary>
    /// <c>cluster join</c>: this machine becomes a worker of a running cluster (kubeadm join, k3s agent): it gets its
    /// node's client certificate with the bootstrap token (kept for restarts), then runs its node agent, service proxy,
    /// pod routes and node endpoint against the API server, in the foreground until SIGINT or SIGTERM.
    /// </summary>
    private static async Task<int> JoinAsync(EngineOptions options, Args a, string pidFile)
    {
        var server = a.Get("server") is { } sv ? Uri.TryCreate(sv, UriKind.Absolute, out var su) && su.Scheme == "https" ? su : throw new UsageException($"--server: '{sv}' is not an https:// URL such as https://10.0.0.10:6443") : throw new UsageException("--server is required: the cluster's API server (its virtual IP's URL)", a.Verb);
        foreach (var only in new[] { "etcd", "vip", "vip-interface", "lb-pool", "lb-interface", "nodes", "bind-address", "port", "leader-elect-lease-duration", "leader-elect-renew-deadline", "leader-elect-retry-period", "node-monitor-grace-period", "default-not-ready-toleration-seconds", "default-unreachable-toleration-seconds" })
        {
            if (a.Get(only) is not null)
            {
                throw new UsageException($"--{only} is for a control-plane machine: join with --control-plane, or leave it out", a.Verb);
            }
        }

        string name = a.Get("name") ?? Environment.MachineName.ToLowerInvariant();
        string iface = a.Get("node-interface") ?? throw new UsageException("--node-interface is required: the LAN interface other machines reach this one's pods through", a.Verb);
        if (!Directory.Exists($"/sys/class/net/{iface}"))
        {
            throw new UsageException($"--node-interface: no network interface {iface}");
        }

        var advertise = a.Get("advertise-address") is { } aa
            ? System.Net.IPAddress.TryParse(aa, out var ad) && ad.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? ad : throw new UsageException($"--advertise-address: '{aa}' is not an IPv4 address")
            : System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == iface)?.GetIPProperties().UnicastAddresses
                .Select(u => u.Address).FirstOrDefault(ip => ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
              ?? throw new UsageException($"--node-interface {iface} has no IPv4 address: give --advertise-address");
        var heartbeat = PositiveDuration(a, "node-status-update-frequency", TimeSpan.FromSeconds(10));
        var metricResolution = PositiveDuration(a, "metric-resolution", TimeSpan.FromSeconds(15));
        string? podSubnet = a.Get("pod-subnet") is { } ps ? System.Net.IPNetwork.TryParse(ps, out var pn) && pn.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? pn.ToString() : throw new UsageException($"--pod-subnet: '{ps}' is not an IPv4 network such as 10.244.4.0/24") : null;
        if (Running(pidFile) is { } running)
        {
            throw new UsageException($"a cluster process already runs on {options.Root} (pid {running})");
        }

        RunWithServerGc();
        using var stop = new StopSignal();
        using var loggers = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b
            .AddSimpleConsole(o => { o.TimestampFormat = "HH:mm:ss.fff "; o.SingleLine = true; })
            .SetMinimumLevel(Environment.GetEnvironmentVariable("CONTAINERS_CLUSTER_TRACE") is { Length: > 0 } ? Microsoft.Extensions.Logging.LogLevel.Debug : Microsoft.Extensions.Logging.LogLevel.Information));
        string dir = Path.Combine(options.Root, "cluster", "node");
        var credential = await Containers.Orchestration.Nodes.NodeBootstrap.JoinAsync(server, a.Get("token"), name, dir, TimeSpan.FromSeconds(60), stop.Token).ConfigureAwait(false);
        await Console.Out.WriteLineAsync($"node {name}: certificate of the cluster CA for system:node:{name} (in {dir}); joining {server}").ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        var settings = await Containers.Orchestration.Nodes.NodeBootstrap.ClusterSettingsAsync(credential, stop.Token).ConfigureAwait(false);
        if (podSubnet is not null)
        {
            await Containers.Orchestration.Nodes.NodeBootstrap.CheckPodSubnetAsync(credential, name, podSubnet, stop.Token).ConfigureAwait(false);
        }

        podSubnet ??= await Containers.Orchestration.Nodes.NodeBootstrap.PodCidrAsync(credential, name, TimeSpan.FromSeconds(30), stop.Token).ConfigureAwait(false);
        var clusterOptions = new ClusterOptions
        {
            Loggers = loggers, Root = options.Root, Engine = options, Join = credential, Nodes = 1, NodeName = name, AdvertiseAddress = advertise, PodSubnet = podSubnet,
            ServiceCidr = a.Get("service-cidr") ?? settings.GetValueOrDefault("service-cidr") ?? "10.96.0.0/16",
            PodRoutes = new Containers.Orchestration.Nodes.PodRoutesOptions(iface, a.Get("cluster-cidr") ?? settings.GetValueOrDefault("cluster-cidr") ?? "10.244.0.0/16"),
            HeartbeatInterval = heartbeat,
            MetricsResolution = metricResolution,
        };
        await using (var cluster = await Cluster.StartAsync(clusterOptions, stop.Token).ConfigureAwait(false))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(pidFile)!);
            await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(pidFile)!, "joined"), server + "\n").ConfigureAwait(false);
            await File.WriteAllTextAsync(pidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"node {name} joined {server}: pods in {podSubnet}, reached through {iface} ({advertise})").ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);
            await stop.WaitAsync().ConfigureAwait(false);
            File.Delete(pidFile);
        }

        return 0;
    }

    /// <summary>The thread pool's minimum for a control plane on etcd (see EtcdStoreOptions.MinimumThreadPoolThreads).</summary>
    private const int ControlPlaneThreads = 128;

    /// <summary>--lb-pool and --lb-interface, checked (both or neither).</summary>
    private static (string? Pool, string? Interface) LoadBalancerFlags(Args a)
    {
        if (a.Get("lb-pool") is not { } pool)
        {
            return a.Get("lb-interface") is null ? (null, null) : throw new UsageException("--lb-interface needs --lb-pool");
        }

        try
        {
            Containers.Orchestration.Controllers.LoadBalancerPool.Parse(pool);
        }
        catch (FormatException e)
        {
            throw new UsageException($"--lb-pool: {e.Message}");
        }

        string iface = a.Get("lb-interface") ?? throw new UsageException("--lb-interface is required with --lb-pool: the LAN interface the addresses are held on");
        return Directory.Exists($"/sys/class/net/{iface}") ? (pool, iface) : throw new UsageException($"--lb-interface: no network interface {iface}");
    }

    /// <summary>etcd client URLs, comma-separated, each checked.</summary>
    private static string[] EtcdEndpoints(string text, string option)
    {
        var urls = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var url in urls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/")
            {
                throw new UsageException($"{option}: '{url}' is not an etcd client URL such as http://10.0.0.1:2379");
            }
        }

        return urls.Length > 0 ? urls : throw new UsageException($"{option}: no URL given");
    }

    /// <summary>The etcd a cluster of this root keeps its objects in (written by <c>up --etcd</c> and <c>migrate</c>), or null for the embedded store.</summary>
    private static string? RememberedEtcd(string dir) =>
        File.Exists(Path.Combine(dir, "etcd")) ? File.ReadAllText(Path.Combine(dir, "etcd")).Trim() is { Length: > 0 } e ? e : null : null;

    /// <summary>What <c>cluster up</c> was asked for (the optional ones null when not given).</summary>
    private sealed record Up(int Nodes, int Port, string? PodSubnet, string? ServiceCidr, string? EventTtl, string? TokenAuthFile, string? AuditLogPath, string IngressHttpPort, string IngressHttpsPort, string? Etcd, string? LbPool, string? LbInterface)
    {
        /// <summary>The same options as command-line arguments (what a detached cluster is started with).</summary>
        public IEnumerable<string> Args()
        {
            yield return "--nodes";
            yield return Nodes.ToString(CultureInfo.InvariantCulture);
            yield return "--port";
            yield return Port.ToString(CultureInfo.InvariantCulture);
            foreach (var (name, value) in new[] { ("--pod-subnet", PodSubnet), ("--service-cidr", ServiceCidr), ("--event-ttl", EventTtl), ("--token-auth-file", TokenAuthFile), ("--audit-log-path", AuditLogPath), ("--ingress-http-port", IngressHttpPort), ("--ingress-https-port", IngressHttpsPort), ("--etcd", Etcd), ("--lb-pool", LbPool), ("--lb-interface", LbInterface) })
            {
                if (value is not null)
                {
                    yield return name;
                    yield return value;
                }
            }
        }
    }

    /// <summary>An Ingress port option: a port, or "off".</summary>
    private static string IngressPort(Args a, string name, string fallback) => a.Get(name) switch
    {
        null => fallback,
        "off" => "off",
        { } v when int.TryParse(v, CultureInfo.InvariantCulture, out int n) && n is > 0 and < 65536 => v,
        { } v => throw new UsageException($"--{name}: '{v}' is not a port (1 to 65535) or \"off\""),
    };

    /// <summary>A whole number of seconds (0 or more) from flag <paramref name="name"/>, or null when it is not given.</summary>
    private static long? Seconds(Args a, string name) =>
        a.Get(name) is { } v ? long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out long s) ? s : throw new UsageException($"--{name}: '{v}' is not a whole number of seconds") : null;

    /// <summary>A duration above zero from flag <paramref name="name"/>, or <paramref name="fallback"/> when it is not given.</summary>
    private static TimeSpan PositiveDuration(Args a, string name, TimeSpan fallback) =>
        a.Get(name) is { } v ? Duration(v) is { } d && d > TimeSpan.Zero ? d : throw new UsageException($"--{name}: '{v}' is not a duration such as 15s") : fallback;

    /// <summary>A duration as Kubernetes' flags write it (Go's form: 1h, 30m, 90s, 1h30m0s); null when it is not one or not positive.</summary>
    internal static TimeSpan? Duration(string text)
    {
        var m = System.Text.RegularExpressions.Regex.Match(text, "^(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        if (!m.Success || text.Length == 0)
        {
            return null;
        }

        long Part(int group) => m.Groups[group].Success ? long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        var d = TimeSpan.FromHours(Part(1)) + TimeSpan.FromMinutes(Part(2)) + TimeSpan.FromSeconds(Part(3));
        return d > TimeSpan.Zero ? d : null;
    }

    private static async Task<int> ForegroundAsync(EngineOptions options, Up up, string pidFile)
    {
        RunWithServerGc();
        using var stop = new StopSignal();
        var clusterOptions = new ClusterOptions
        {
            Root = options.Root, Engine = options, Nodes = up.Nodes, Port = up.Port, PodSubnet = up.PodSubnet, TokenAuthFile = up.TokenAuthFile, AuditLogPath = up.AuditLogPath == "-" ? "" : up.AuditLogPath,
            IngressHttpPort = up.IngressHttpPort == "off" ? null : int.Parse(up.IngressHttpPort, CultureInfo.InvariantCulture),
            IngressHttpsPort = up.IngressHttpsPort == "off" ? null : int.Parse(up.IngressHttpsPort, CultureInfo.InvariantCulture),
        };
        if (up.ServiceCidr is not null)
        {
            clusterOptions = clusterOptions with { ServiceCidr = up.ServiceCidr };
        }

        if (up.EventTtl is not null)
        {
            clusterOptions = clusterOptions with { EventTtl = Duration(up.EventTtl) };
        }

        if (up.Etcd is not null)
        {
            clusterOptions = clusterOptions.OnEtcd(up.Etcd.Split(','), minimumThreadPoolThreads: ControlPlaneThreads);
        }

        if (up.LbPool is not null)
        {
            clusterOptions = clusterOptions with { LoadBalancer = new LoadBalancerOptions(Containers.Orchestration.Controllers.LoadBalancerPool.Parse(up.LbPool), up.LbInterface!) };
        }

        int nodes = up.Nodes;
        await using (var cluster = await Cluster.StartAsync(clusterOptions).ConfigureAwait(false))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(pidFile)!);
            if (up.Etcd is not null)
            {
                await File.WriteAllTextAsync(Path.Combine(Path.GetDirectoryName(pidFile)!, "etcd"), up.Etcd + "\n").ConfigureAwait(false);
            }

            await File.WriteAllTextAsync(pidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            string ingress = cluster.Ingress is { } i ? $", Ingress on HTTP {i.HttpPort?.ToString(CultureInfo.InvariantCulture) ?? "-"} and HTTPS {i.HttpsPort?.ToString(CultureInfo.InvariantCulture) ?? "-"}" : "";
            await Console.Out.WriteLineAsync($"cluster up: API {cluster.Url}, {nodes} node(s){ingress}, objects in {(up.Etcd is null ? "the embedded store" : "etcd " + up.Etcd)}").ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"  export KUBECONFIG={cluster.KubeconfigPath}").ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);
            await stop.WaitAsync().ConfigureAwait(false);

            File.Delete(pidFile);
        }

        return 0;
    }

    /// <summary>
    /// The control plane is a server: it keeps every object's parsed form in its informers, and with workstation GC its
    /// collections (one thread) paused it for a third of a 10,000-pod reconcile; server GC (a heap and a GC thread per
    /// core, as ASP.NET Core apps run) halves those pauses. The CLI links the server GC but starts with workstation GC
    /// (short commands start faster), so <c>cluster up</c> re-executes itself with <c>DOTNET_gcServer=1</c>, before it
    /// has made anything. <c>DOTNET_gcServer=0</c> keeps workstation GC. It also turns off the server GC's dynamic
    /// adaptation (DATAS, <c>DOTNET_GCDynamicAdaptationMode=0</c>, unless set): DATAS starts with one heap and grows
    /// it slowly, and during a burst of reconciles it paused the control plane almost twice as long (10,000 pods: 0.75
    /// against 0.41 s of pauses, 3.3 against 2.7 s in all).
    /// </summary>
    private static void RunWithServerGc()
    {
        if (System.Runtime.GCSettings.IsServerGC || Environment.GetEnvironmentVariable("DOTNET_gcServer") is not null || Environment.ProcessPath is not { } self)
        {
            return;
        }

        string[] args = Environment.GetCommandLineArgs();
        // an apphost or NativeAOT binary: argv[0] is itself; `dotnet cli.dll ...`: the host, then the dll
        string[] argv = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [self, .. args] : [self, .. args[1..]];
        // .NET keeps its own copy of the environment: the child's is passed explicitly
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}").Append("DOTNET_gcServer=1");
        if (Environment.GetEnvironmentVariable("DOTNET_GCDynamicAdaptationMode") is null)
        {
            env = env.Append("DOTNET_GCDynamicAdaptationMode=0");
        }

        nint[] nativeArgv = [.. argv.Select(System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8), 0];
        nint[] nativeEnv = [.. env.Select(System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8), 0];
        unsafe
        {
            fixed (nint* pArgv = nativeArgv, pEnv = nativeEnv)
            {
                _ = Tmds.Linux.LibC.execve((byte*)nativeArgv[0], (byte**)pArgv, (byte**)pEnv);
            }
        }

        foreach (nint p in nativeArgv.Concat(nativeEnv)) // exec failed: go on with workstation GC
        {
            System.Runtime.InteropServices.Marshal.FreeCoTaskMem(p);
        }
    }

    private static async Task<int> DetachAsync(EngineOptions options, Up up, string dir)
    {
        Directory.CreateDirectory(dir);
        string log = Path.Combine(dir, "cluster.log");
        long from = File.Exists(log) ? new FileInfo(log).Length : 0;
        static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        string[] args = [.. SelfCommand.Prefix, "--root", options.Root, "cluster", "up", .. up.Args()];
        string command = string.Join(' ', args.Select(Quote));
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec setsid {command} </dev/null >>{Quote(log)} 2>&1");
        using var child = Process.Start(psi) ?? throw new ContainerException("cannot start the cluster process");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(100).ConfigureAwait(false);
            string text = ReadFrom(log, from);
            if (text.Contains("export KUBECONFIG=", StringComparison.Ordinal))
            {
                await Console.Out.WriteAsync(text).ConfigureAwait(false);
                return 0;
            }

            if (child.HasExited)
            {
                string said = text.Trim();
                throw new ContainerException("the cluster did not start: " + (said.StartsWith("containers: ", StringComparison.Ordinal) ? said["containers: ".Length..] : said));
            }
        }

        throw new ContainerException($"the cluster did not start within 60 s (see {log})");
    }

    private static string ReadFrom(string path, long offset)
    {
        if (!File.Exists(path))
        {
            return "";
        }

        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        f.Seek(offset, SeekOrigin.Begin);
        using var r = new StreamReader(f);
        return r.ReadToEnd();
    }
}
