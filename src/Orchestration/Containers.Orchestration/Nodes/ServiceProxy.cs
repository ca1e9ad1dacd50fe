using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Containers.Linux;
using Containers.Networking;
using Containers.Orchestration.Controllers;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// kube-proxy in userspace mode, plus the cluster DNS: every ClusterIP Service gets its virtual IP on the pod network's
/// bridge and a listener per TCP or UDP port there; NodePort Services also listen on the host's port (all addresses),
/// and LoadBalancer Services on their status.loadBalancer.ingress addresses (held on the LAN by <see cref="AddressHolder"/>);
/// each TCP connection goes round-robin to a ready endpoint (sessionAffinity ClientIP keeps a client on one), trying
/// the next when one refuses; each UDP client gets a session relayed to one endpoint. The DNS server (on the service range's .10 address) answers
/// <c>SVC.NS.svc.cluster.local</c> (and the short names through the pods' search path) with the cluster IP, or the
/// ready endpoints' IPs for a headless Service, and <c>HOSTNAME.SVC.NS.svc.cluster.local</c> with the IP of the ready
/// endpoint of that hostname (a StatefulSet's pod, as <c>web-0.web.default.svc.cluster.local</c>); other names get no answer from upstream (none is configured).
/// </summary>
public sealed class ServiceProxy : IAsyncDisposable
{
    private readonly ObjectApi api;
    private readonly Informer services;
    private readonly Informer endpoints;
    private readonly string bridge;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<(string Ip, int Port, string Protocol), Listener> listeners = new();
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
            l.Dispose();
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
        if (parts.Length == 3)
        {
            // HOSTNAME.SVC.NS: a pod with that hostname among the Service's endpoints (a StatefulSet's pod)
            return [.. Json.Items(endpoints.Get(parts[2], parts[1]), "subsets").SelectMany(s => Json.Items(s, "addresses"))
                .Where(a => Json.Str(a, "hostname") == parts[0]).Select(a => Json.Str(a, "ip")).OfType<string>().Select(IPAddress.Parse).Distinct()];
        }

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
            var wanted = new Dictionary<(string, int, string), (string Ns, string Name, JsonObject Port, bool NodePort)>();
            var external = new HashSet<string>(StringComparer.Ordinal);
            foreach (var svc in services.List())
            {
                string? ip = Json.Str(svc, "spec", "clusterIP");
                if (ip is null or "None" || Json.Str(svc, "spec", "type") == "ExternalName")
                {
                    continue;
                }

                foreach (var port in Json.Items(svc, "spec", "ports"))
                {
                    string protocol = Json.Str(port, "protocol") ?? "TCP";
                    if (protocol is not ("TCP" or "UDP"))
                    {
                        continue; // SCTP is not proxied
                    }

                    wanted[(ip, (int)(Json.Int(port, "port") ?? 0), protocol)] = (Json.Namespace(svc)!, Json.Name(svc), port, false);
                    foreach (var lb in Json.Items(svc, "status", "loadBalancer", "ingress").Select(i => Json.Str(i, "ip")).OfType<string>())
                    {
                        wanted[(lb, (int)(Json.Int(port, "port") ?? 0), protocol)] = (Json.Namespace(svc)!, Json.Name(svc), port, false);
                        external.Add(lb); // held on the LAN by the address holder, not put on the bridge
                    }

                    if (Json.Int(port, "nodePort") is { } nodePort)
                    {
                        wanted[("0.0.0.0", (int)nodePort, protocol)] = (Json.Namespace(svc)!, Json.Name(svc), port, true);
                    }
                }
            }

            foreach (var key in listeners.Keys.Where(k => !wanted.ContainsKey(k)).ToList())
            {
                if (listeners.TryRemove(key, out var l))
                {
                    l.Dispose();
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
                    if (key.Item1 != "0.0.0.0" && !external.Contains(key.Item1))
                    {
                        AddVip(key.Item1);
                    }

                    bool udp = key.Item3 == "UDP";
                    var socket = udp ? new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                    if (external.Contains(key.Item1))
                    {
                        socket.SetRawSocketOption(0, 15, BitConverter.GetBytes(1)); // IP_FREEBIND: a load balancer's address may reach this machine's interface after the listener
                    }

                    try
                    {
                        socket.Bind(new IPEndPoint(IPAddress.Parse(key.Item1), key.Item2));
                        if (!udp)
                        {
                            socket.Listen(512);
                        }
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }

                    var listener = new Listener(socket) { Target = target };
                    listeners[key] = listener;
                    _ = Task.Run(() => udp ? RelayDatagramsAsync(listener, stop.Token) : AcceptAsync(listener, stop.Token));
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

    /// <summary>The ready endpoints of a listener's Service port, and where in them this client starts (round robin, or its own with ClientIP affinity).</summary>
    private (List<IPEndPoint> Backends, int Start) Backends(Listener listener, string clientIp)
    {
        var (ns, name, port, _) = listener.Target;
        var svc = services.Get(ns, name);
        var backends = Json.Items(endpoints.Get(ns, name), "subsets")
            .SelectMany(s => Json.Items(s, "addresses").Select(a => (Ip: Json.Str(a, "ip"), Port: Json.Items(s, "ports").FirstOrDefault(p => Json.Str(p, "name") == Json.Str(port, "name") || Json.Items(s, "ports").Count() == 1))))
            .Where(b => b.Ip is not null && b.Port is not null)
            .Select(b => new IPEndPoint(IPAddress.Parse(b.Ip!), (int)(Json.Int(b.Port, "port") ?? 0)))
            .ToList();
        if (backends.Count == 0)
        {
            return (backends, 0);
        }

        int start = Json.Str(svc, "spec", "sessionAffinity") == "ClientIP"
            ? listener.Affinity.GetOrAdd(clientIp, _ => Interlocked.Increment(ref listener.Next)) % backends.Count
            : (int)((uint)Interlocked.Increment(ref listener.Next) % (uint)backends.Count);
        return (backends, start);
    }

    /// <summary>
    /// A UDP Service port, as kube-proxy's userspace mode relays it: each client address gets a session, a socket
    /// connected to one ready endpoint (round robin, or by ClientIP affinity); replies go back to the client from the
    /// Service's address and port; a session idle for <see cref="UdpIdle"/> ends.
    /// </summary>
    private async Task RelayDatagramsAsync(Listener listener, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await listener.Socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // an ICMP error from an earlier send: the listener goes on
            }

            var client = (IPEndPoint)r.RemoteEndPoint;
            if (!listener.Sessions.TryGetValue(client, out var session))
            {
                var (backends, start) = Backends(listener, client.Address.ToString());
                if (backends.Count == 0)
                {
                    continue; // no ready endpoint: dropped
                }

                var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                upstream.Connect(backends[start]);
                session = new UdpSession(upstream);
                listener.Sessions[client] = session;
                _ = Task.Run(() => RepliesAsync(listener, client, session, cancellationToken), CancellationToken.None);
            }

            session.Touch();
            try
            {
                await session.Socket.SendAsync(buffer.AsMemory(0, r.ReceivedBytes), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException)
            {
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private static readonly TimeSpan UdpIdle = TimeSpan.FromSeconds(30);

    private static async Task RepliesAsync(Listener listener, IPEndPoint client, UdpSession session, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                idle.CancelAfter(UdpIdle);
                int n;
                try
                {
                    n = await session.Socket.ReceiveAsync(buffer, SocketFlags.None, idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !session.ActiveWithin(UdpIdle))
                {
                    return;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    continue; // the client sent within the idle time: the session stays
                }
                catch (SocketException)
                {
                    continue; // the endpoint refused one datagram (ICMP): later ones may be answered
                }

                session.Touch();
                await listener.Socket.SendToAsync(buffer.AsMemory(0, n), SocketFlags.None, client, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            listener.Sessions.TryRemove(client, out _);
            session.Socket.Dispose();
        }
    }

    private async Task ForwardAsync(Socket client, Listener listener, CancellationToken cancellationToken)
    {
        string clientIp = (client.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "";
        var (backends, start) = Backends(listener, clientIp);
        if (backends.Count == 0)
        {
            client.Dispose(); // no ready endpoint: refused, as kube-proxy rejects
            return;
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

        HostInterfaces.AddAddress(bridge, IPAddress.Parse(ip), 32);
    }

    private void RemoveVip(string ip)
    {
        if (!vips.TryRemove(ip, out _))
        {
            return;
        }

        try
        {
            HostInterfaces.DeleteAddress(bridge, IPAddress.Parse(ip), 32);
        }
        catch (ContainerException e)
        {
            logger.LogDebug(e, "removing {Vip}", ip);
        }
    }

    private sealed class Listener(Socket socket) : IDisposable
    {
        public int Next;

        public Socket Socket { get; } = socket;

        public (string Ns, string Name, JsonObject Port, bool NodePort) Target { get; set; }

        public ConcurrentDictionary<string, int> Affinity { get; } = new(StringComparer.Ordinal);

        /// <summary>A UDP port's client sessions.</summary>
        public ConcurrentDictionary<IPEndPoint, UdpSession> Sessions { get; } = new();

        public void Dispose()
        {
            Socket.Dispose();
            foreach (var session in Sessions.Values)
            {
                session.Socket.Dispose();
            }
        }
    }

    private sealed class UdpSession(Socket socket)
    {
        private long lastTicks = Environment.TickCount64;

        public Socket Socket { get; } = socket;

        public void Touch() => Volatile.Write(ref lastTicks, Environment.TickCount64);

        public bool ActiveWithin(TimeSpan span) => Environment.TickCount64 - Volatile.Read(ref lastTicks) < span.TotalMilliseconds;
    }
}
