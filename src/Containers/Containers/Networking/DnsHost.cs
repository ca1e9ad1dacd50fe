namespace Containers.Networking;

/// <summary>
/// The embedded DNS servers of one process: one <see cref="DnsResponder"/> per user-defined network that a container
/// supervised here is on. Recomputed when a run starts or ends, and every second (a container connected to a
/// network by another process gets its server then).
/// </summary>
internal sealed class DnsHost : IDisposable
{
    private readonly ContainerStore store;
    private readonly NetworkStore networks;
    private readonly IReadOnlyList<IPEndPoint> upstreams;
    private readonly ILogger logger;
    private readonly HashSet<string> tracked = [];
    private readonly Dictionary<string, NetworkEndpoint[]> starting = []; // tracked before the store says Running
    private readonly Dictionary<string, DnsResponder> responders = [];
    private readonly Lock gate = new();
    private Timer? timer;

    public DnsHost(ContainerStore store, NetworkStore networks, IReadOnlyList<IPEndPoint> upstreams, ILogger logger)
    {
        this.store = store;
        this.networks = networks;
        this.upstreams = upstreams;
        this.logger = logger;
    }

    /// <summary>The port the servers listen on (53; tests of the responder itself may pick another).</summary>
    public int Port { get; init; } = 53;

    /// <summary>
    /// Serves the networks of container <paramref name="id"/> while it runs here. Called with its
    /// <paramref name="endpoints"/> before its process runs, so its first query finds the server bound; the store is the
    /// source once it records the container running.
    /// </summary>
    public void Track(string id, IReadOnlyList<NetworkEndpoint> endpoints)
    {
        lock (gate)
        {
            tracked.Add(id);
            starting[id] = [.. endpoints];
            timer ??= new Timer(_ => Refresh(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }

        Refresh();
    }

    public void Untrack(string id)
    {
        lock (gate)
        {
            tracked.Remove(id);
        }

        Refresh();
    }

    /// <summary>Binds the servers now needed and closes the others.</summary>
    public void Refresh()
    {
        lock (gate)
        {
            var wanted = new Dictionary<string, NetworkEndpoint>();
            foreach (var id in tracked)
            {
                IEnumerable<NetworkEndpoint> endpoints = [];
                if (store.Read(id) is { Status: ContainerStatus.Running } s)
                {
                    starting.Remove(id);
                    endpoints = s.Networks;
                }
                else if (starting.TryGetValue(id, out var pending))
                {
                    endpoints = pending;
                }

                foreach (var e in endpoints.Where(e => e.Network != NetworkInfo.DefaultName))
                {
                    wanted.TryAdd(e.NetworkId, e);
                }
            }

            foreach (var gone in responders.Keys.Except(wanted.Keys).ToArray())
            {
                responders.Remove(gone, out var r);
                r!.Dispose();
            }

            foreach (var (networkId, e) in wanted)
            {
                if (responders.ContainsKey(networkId) || networks.Get(e.Network) is not { } network || network.Id != networkId)
                {
                    continue;
                }

                try
                {
                    var bridge = networks.Bridge(network);
                    var name = network.Name;
                    var suffix = "." + name.ToLowerInvariant();
                    responders[networkId] = new DnsResponder(
                        new IPEndPoint(IPAddress.Parse(network.Gateway), Port),
                        bridge.Ipam.Contains,
                        q => NetworkRecords.Lookup(store.List(), name, q.EndsWith(suffix, StringComparison.Ordinal) ? q[..^suffix.Length] : q),
                        network.Internal ? [] : upstreams,
                        logger);
                }
                catch (System.Net.Sockets.SocketException ex)
                {
                    logger.LogWarning(ex, "cannot serve DNS for network {Network} on {Gateway}:{Port}", network.Name, network.Gateway, Port);
                }
            }

            if (tracked.Count == 0 && timer is not null)
            {
                timer.Dispose();
                timer = null;
            }
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            timer?.Dispose();
            timer = null;
            tracked.Clear();
            foreach (var r in responders.Values)
            {
                r.Dispose();
            }

            responders.Clear();
        }
    }
}

/// <summary>Name lookups on a network from the store: what the DNS responder and the host-side connect API answer.</summary>
internal static class NetworkRecords
{
    /// <summary>
    /// The addresses of the running containers on <paramref name="network"/> whose name, alias, short or full id is
    /// <paramref name="name"/> (case-insensitive); null when none.
    /// </summary>
    public static IReadOnlyList<IPAddress>? Lookup(IEnumerable<ContainerState> states, string network, string name)
    {
        name = name.TrimEnd('.');
        List<IPAddress>? found = null;
        foreach (var s in states)
        {
            if (s.Status != ContainerStatus.Running)
            {
                continue;
            }

            foreach (var e in s.Networks)
            {
                if (e.Network == network && Matches(s, e, name))
                {
                    (found ??= []).Add(IPAddress.Parse(e.IPAddress));
                }
            }
        }

        return found;
    }

    private static bool Matches(ContainerState s, NetworkEndpoint e, string name) =>
        string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)
        || (name.Length >= 12 && s.Id.StartsWith(name, StringComparison.OrdinalIgnoreCase) && name.Length is 12 or 64)
        || e.Aliases.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase));
}
