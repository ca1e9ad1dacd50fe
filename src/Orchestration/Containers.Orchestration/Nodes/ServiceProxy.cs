using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Containers.Linux;
using Containers.Networking;
using Containers.Orchestration.Api;
using Containers.Orchestration.Controllers;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// kube-proxy in userspace mode, plus the cluster DNS: every ClusterIP Service gets its virtual IP on the pod network's
/// bridge and a listener per TCP port there; NodePort Services also listen on the host's port (all addresses); each
/// connection goes round-robin to a ready endpoint (sessionAffinity ClientIP keeps a client on one), trying the next
/// when one refuses. The DNS server (on the service range's .10 address) answers
/// <c>SVC.NS.svc.cluster.local</c> (and the short names through the pods' search path) with the cluster IP, or the
/// ready endpoints' IPs for a headless Service; other names get no answer from upstream (none is configured).
/// </summary>
public sealed class ServiceProxy : IAsyncDisposable
{
    private readonly ObjectApi api;
    private readonly Informer services;
    private readonly Informer endpoints;
    private readonly string bridge;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<(string Ip, int Port), Listener> listeners = new();
    private readonly ConcurrentDictionary<string, byte> vips = new(StringComparer.Ordinal);
    private readonly Lock gate = new();
    private readonly CancellationTokenSource stop = new();
    private readonly string clusterDomain;
    private DnsResponder? dns;

    private ServiceProxy(ObjectApi api, InformerSet informers, string bridge, string clusterDomain, ILogger logger)
    {
        this.api = api;
        this.bridge = bridge;
        this.clusterDomain = clusterDomain;
        this.logger = logger;
        services = informers.For(ResourceType.Services);
        endpoints = informers.For(ResourceType.Endpoints);
        services.OnChange((_, _) => Sync());
    }

    /// <summary>The cluster DNS address.</summary>
    public IPAddress DnsAddress => api.DnsAddress;

    /// <summary>Starts proxying the Services of <paramref name="api"/> on the bridge <paramref name="bridgeName"/> (the pod network's).</summary>
    public static async Task<ServiceProxy> StartAsync(ObjectApi api, InformerSet informers, string bridgeName, ILogger logger, string clusterDomain = "cluster.local", CancellationToken cancellationToken = default)
    {
        var proxy = new ServiceProxy(api, informers, bridgeName, clusterDomain, logger);
        await proxy.services.Synced.WaitAsync(cancellationToken).ConfigureAwait(false);
        await proxy.endpoints.Synced.WaitAsync(cancellationToken).ConfigureAwait(false);
        proxy.AddVip(api.DnsAddress.ToString());
        proxy.dns = new DnsResponder(new IPEndPoint(api.DnsAddress, 53), _ => true, proxy.Lookup, [], logger);
        proxy.Sync();
        return proxy;
    }

    /// <summary>Closes every listener and takes the virtual IPs off the bridge.</summary>
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        dns?.Dispose();
        foreach (var l in listeners.Values)
        {
            l.Socket.Dispose();
        }

        listeners.Clear();
        foreach (string vip in vips.Keys)
        {
            RemoveVip(vip);
        }

        stop.Dispose();
    }

    private IReadOnlyList<IPAddress>? Lookup(string name)
    {
        string suffix = ".svc." + clusterDomain;
        if (!name.EndsWith(suffix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = name[..^suffix.Length].Split('.');
        if (parts.Length != 2)
        {
            return null;
        }

        var svc = services.Get(parts[1], parts[0]);
        if (svc is null)
        {
            return [];
        }

        if (Json.Str(svc, "spec", "clusterIP") is { } ip && ip != "None")
        {
            return [IPAddress.Parse(ip)];
        }

        return [.. Ready(parts[1], parts[0]).Select(a => IPAddress.Parse(a)).Distinct()];
    }

    private IEnumerable<string> Ready(string ns, string name) =>
        Json.Items(endpoints.Get(ns, name), "subsets").SelectMany(s => Json.Items(s, "addresses")).Select(a => Json.Str(a, "ip")).OfType<string>();

    private void Sync()
    {
        lock (gate)
        {
            var wanted = new Dictionary<(string, int), (string Ns, string Name, JsonObject Port, bool NodePort)>();
            foreach (var svc in services.List())
            {
                string? ip = Json.Str(svc, "spec", "clusterIP");
                if (ip is null or "None" || Json.Str(svc, "spec", "type") == "ExternalName")
                {
                    continue;
                }

                foreach (var port in Json.Items(svc, "spec", "ports").Where(p => (Json.Str(p, "protocol") ?? "TCP") == "TCP"))
                {
                    wanted[(ip, (int)(Json.Int(port, "port") ?? 0))] = (Json.Namespace(svc)!, Json.Name(svc), port, false);
                    if (Json.Int(port, "nodePort") is { } nodePort)
                    {
                        wanted[("0.0.0.0", (int)nodePort)] = (Json.Namespace(svc)!, Json.Name(svc), port, true);
                    }
                }
            }

            foreach (var key in listeners.Keys.Where(k => !wanted.ContainsKey(k)).ToList())
            {
                if (listeners.TryRemove(key, out var l))
                {
                    l.Socket.Dispose();
                }
            }

            foreach (var (key, target) in wanted)
            {
                if (listeners.TryGetValue(key, out var existing))
                {
                    existing.Target = target;
                    continue;
                }

                try
                {
                    if (key.Item1 != "0.0.0.0")
                    {
                        AddVip(key.Item1);
                    }

                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                    socket.Bind(new IPEndPoint(IPAddress.Parse(key.Item1), key.Item2));
                    socket.Listen(512);
                    var listener = new Listener(socket) { Target = target };
                    listeners[key] = listener;
                    _ = Task.Run(() => AcceptAsync(listener, stop.Token));
                }
                catch (Exception e) when (e is SocketException or ContainerException)
                {
                    logger.LogWarning(e, "service {Ns}/{Name}: cannot listen on {Ip}:{Port}", target.Ns, target.Name, key.Item1, key.Item2);
                    if (services.Get(target.Ns, target.Name) is { } svc)
                    {
                        api.RecordEvent(svc, "Warning", "FailedToListen", $"cannot listen on {key.Item1}:{key.Item2}: {e.Message}", "kube-proxy");
                    }
                }
            }

            foreach (string vip in vips.Keys.Where(v => v != api.DnsAddress.ToString() && !wanted.Keys.Any(k => k.Item1 == v)).ToList())
            {
                RemoveVip(vip);
            }
        }
    }

    private async Task AcceptAsync(Listener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.Socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ForwardAsync(client, listener, cancellationToken), CancellationToken.None);
        }
    }

    private async Task ForwardAsync(Socket client, Listener listener, CancellationToken cancellationToken)
    {
        var (ns, name, port, _) = listener.Target;
        var svc = services.Get(ns, name);
        string clientIp = (client.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "";
        var backends = Json.Items(endpoints.Get(ns, name), "subsets")
            .SelectMany(s => Json.Items(s, "addresses").Select(a => (Ip: Json.Str(a, "ip"), Port: Json.Items(s, "ports").FirstOrDefault(p => Json.Str(p, "name") == Json.Str(port, "name") || Json.Items(s, "ports").Count() == 1))))
            .Where(b => b.Ip is not null && b.Port is not null)
            .Select(b => new IPEndPoint(IPAddress.Parse(b.Ip!), (int)(Json.Int(b.Port, "port") ?? 0)))
            .ToList();
        if (backends.Count == 0)
        {
            client.Dispose(); // no ready endpoint: refused, as kube-proxy rejects
            return;
        }

        int start;
        if (Json.Str(svc, "spec", "sessionAffinity") == "ClientIP")
        {
            start = listener.Affinity.GetOrAdd(clientIp, _ => Interlocked.Increment(ref listener.Next)) % backends.Count;
        }
        else
        {
            start = (int)((uint)Interlocked.Increment(ref listener.Next) % (uint)backends.Count);
        }

        Socket? upstream = null;
        for (int i = 0; i < backends.Count && upstream is null; i++)
        {
            var to = backends[(start + i) % backends.Count];
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                await s.ConnectAsync(to, timeout.Token).ConfigureAwait(false);
                upstream = s;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                s.Dispose();
            }
        }

        if (upstream is null)
        {
            client.Dispose();
            return;
        }

        client.NoDelay = true;
        Splice.MakeBlocking(client);
        Splice.MakeBlocking(upstream);
        var up = new Thread(() => Splice.Pump(client, upstream)) { IsBackground = true, Name = "svc-proxy" };
        var down = new Thread(() => Splice.Pump(upstream, client)) { IsBackground = true, Name = "svc-proxy" };
        up.Start();
        down.Start();
        await Task.Run(() =>
        {
            up.Join();
            down.Join();
        }, CancellationToken.None).ConfigureAwait(false);
        client.Dispose();
        upstream.Dispose();
    }

    private void AddVip(string ip)
    {
        if (!vips.TryAdd(ip, 0))
        {
            return;
        }

        using var nl = new Netlink(LinuxSyscalls.Instance);
        nl.AddAddress(IfIndex(), IPAddress.Parse(ip), 32, ignoreExisting: true);
    }

    private void RemoveVip(string ip)
    {
        if (!vips.TryRemove(ip, out _))
        {
            return;
        }

        try
        {
            using var nl = new Netlink(LinuxSyscalls.Instance);
            nl.DeleteAddress(IfIndex(), IPAddress.Parse(ip), 32);
        }
        catch (ContainerException e)
        {
            logger.LogDebug(e, "removing {Vip}", ip);
        }
    }

    private int IfIndex() => int.Parse(File.ReadAllText($"/sys/class/net/{bridge}/ifindex").Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private sealed class Listener(Socket socket)
    {
        public int Next;

        public Socket Socket { get; } = socket;

        public (string Ns, string Name, JsonObject Port, bool NodePort) Target { get; set; }

        public ConcurrentDictionary<string, int> Affinity { get; } = new(StringComparer.Ordinal);
    }
}
