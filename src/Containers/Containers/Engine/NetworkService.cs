using System.Net.Sockets;

namespace Containers;

/// <summary>
/// The networks of an engine's root (docker network): create, list, inspect, remove, prune, connect and disconnect
/// containers; and, beyond docker, reach a container by name from this process with no published port
/// (<see cref="CreateHttpHandler"/>, <see cref="ConnectAsync"/>). Reached as <see cref="ContainerEngine.Networks"/>.
/// </summary>
public sealed class NetworkService
{
    private readonly ContainerEngine engine;

    internal NetworkService(ContainerEngine engine) => this.engine = engine;

    private RuntimeContext Ctx => engine.Context;

    /// <summary>
    /// Makes sure the network's bridge exists and is up (with its gateway address, NAT and isolation rules), as the
    /// first container start on the network would; for hosts that route to the network before any container runs on
    /// it (a cluster's pod network). Throws <see cref="ContainerNotFoundException"/> when there is no such network.
    /// </summary>
    public void EnsureBridge(string nameOrId) => Ctx.Networks.Bridge(Get(nameOrId)).EnsureBridge();

    /// <summary>
    /// Creates a network: its bridge, subnet (given, or a free /24 of 10.220.0.0/14) and DNS. Throws
    /// <see cref="ContainerConflictException"/> for a taken name or an overlapping subnet, <see cref="InvalidContainerSpecException"/> for bad options.
    /// </summary>
    public NetworkInfo Create(string name, NetworkCreateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Rootless.IsActive)
        {
            throw new ContainerException($"rootless: network {name} would need a bridge, veths and firewall rules on the host, which an ordinary user cannot make; containers use slirp4netns (the default), host or none");
        }

        return Ctx.Networks.Create(name, options ?? new NetworkCreateOptions(), Ctx.Time.GetUtcNow());
    }

    /// <summary>The default bridge and every user-defined network.</summary>
    public IReadOnlyList<NetworkInfo> List() => Ctx.Networks.List();

    /// <summary>A network by name, full id or unique id prefix. Throws <see cref="ContainerNotFoundException"/>.</summary>
    public NetworkInfo Get(string nameOrId)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        return Ctx.Networks.Find(nameOrId) ?? throw new ContainerNotFoundException($"network {nameOrId} not found");
    }

    /// <summary>The running containers on a network with their addresses.</summary>
    public IReadOnlyList<(ContainerState Container, NetworkEndpoint Endpoint)> Containers(string nameOrId)
    {
        var network = Get(nameOrId);
        return [.. Ctx.Store.List().SelectMany(s => s.Networks.Where(e => e.NetworkId == network.Id).Select(e => (s, e)))];
    }

    /// <summary>
    /// Removes a network and its bridge. Throws <see cref="ContainerConflictException"/> when a running container is on
    /// it (naming them), <see cref="ContainerConflictException"/> of kind Forbidden for the default bridge, <see cref="ContainerNotFoundException"/> when it does not exist.
    /// </summary>
    public void Remove(string nameOrId)
    {
        var network = Get(nameOrId);
        if (network.IsDefault)
        {
            throw new ContainerConflictException("bridge is a pre-defined network and cannot be removed", ErrorKind.Forbidden);
        }

        Ctx.Store.Locked(() =>
        {
            var users = Ctx.Store.List().Where(s => s.IsActive && UsesNetwork(s, network)).ToArray();
            if (users.Length > 0)
            {
                throw new ContainerConflictException($"error while removing network: network {network.Name} id {network.Id} has active endpoints ({string.Join(", ", users.Select(u => u.Name))})");
            }

            Ctx.Networks.Delete(network);
            Ctx.PortForwarding.RemoveBridge(network.BridgeName);
            return 0;
        });
    }

    /// <summary>
    /// Deletes the default bridge interface with its NAT and forwarding rules, when no container is attached to it (the
    /// engine makes it again when a container needs it). For a test run or a script that leaves the machine as it found
    /// it. Returns false, and changes nothing, when a container is still on it; when the interface is already gone, its
    /// rules still go.
    /// </summary>
    public bool RemoveDefaultBridge()
    {
        var name = Ctx.Bridge.BridgeName;
        var ports = $"/sys/class/net/{name}/brif";
        return Ctx.Store.Locked(() =>
        {
            if (Directory.Exists(ports) && Directory.EnumerateFileSystemEntries(ports).Any())
            {
                return false;
            }

            Ctx.Bridge.DeleteBridge();
            Ctx.PortForwarding.RemoveBridge(name);
            return true;
        });
    }

    /// <summary>Removes the user-defined networks no container (running or not) is on. Returns their names.</summary>
    public IReadOnlyList<string> Prune()
    {
        var removed = new List<string>();
        Ctx.Store.Locked(() =>
        {
            var states = Ctx.Store.List();
            foreach (var n in List().Where(n => !n.IsDefault && !states.Any(s => UsesNetwork(s, n))))
            {
                Ctx.Networks.Delete(n);
                Ctx.PortForwarding.RemoveBridge(n.BridgeName);
                removed.Add(n.Name);
            }

            return 0;
        });
        return removed;
    }

    /// <summary>
    /// Connects a container to a network (docker network connect): recorded in its spec, and when it runs, a new
    /// interface (eth1, ...) with an address appears in it at once and its names resolve on the network.
    /// Throws <see cref="ContainerConflictException"/> when it is already connected.
    /// </summary>
    public void Connect(string network, string container, IEnumerable<string>? aliases = null, string? ipv4Address = null)
    {
        var net = Get(network);
        var attachment = new NetworkAttachment(net.Name) { Aliases = [.. aliases ?? []], IPv4Address = ipv4Address };
        if (net.IsDefault && !attachment.Aliases.IsEmpty)
        {
            throw new InvalidContainerSpecException("network-scoped aliases are only supported for user-defined networks");
        }

        var state = Ctx.Store.Find(container);
        var detached = state.Spec.Labels.ContainsKey(DetachedLabel) && state.Status != ContainerStatus.Running;
        if (state.Spec.NetworkMode is "host" or "none" && !detached)
        {
            throw new ContainerConflictException($"container {state.Name} is in network mode {state.Spec.NetworkMode} and cannot join {net.Name}");
        }

        if (state.Spec.EffectiveNetworks().Any(n => n.Network == net.Name))
        {
            throw new ContainerConflictException($"endpoint with name {state.Name} already exists in network {net.Name}");
        }

        NetworkEndpoint? endpoint = null;
        if (state.Status == ContainerStatus.Running)
        {
            var bridge = Ctx.Networks.Bridge(net);
            var ip = ipv4Address is null ? bridge.Ipam.Allocate(state.Id) : bridge.Ipam.Allocate(state.Id, IPAddress.Parse(ipv4Address));
            var used = state.Networks.Select(e => e.Interface).ToHashSet();
            var ifName = Enumerable.Range(0, 64).Select(i => "eth" + i).First(n => !used.Contains(n));
            endpoint = new NetworkEndpoint(net.Name, net.Id, ip.ToString(), bridge.Ipam.PrefixLength, net.Gateway, ifName, net.IsDefault ? BridgeNetwork.HostVeth(state.Id) : BridgeNetwork.HostVeth(state.Id, net.Id), attachment.Aliases);
            try
            {
                bridge.Attach(state.Pid, endpoint.HostInterface, ifName, ip);
            }
            catch
            {
                bridge.Detach(state.Id, endpoint.HostInterface);
                throw;
            }
        }

        Ctx.Store.Update(state.Id, s => s with
        {
            Spec = detached
                ? s.Spec with { NetworkMode = net.Name, Networks = [attachment], Labels = s.Spec.Labels.Remove(DetachedLabel) }
                : s.Spec with { Networks = [.. s.Spec.EffectiveNetworks(), attachment] },
            Networks = endpoint is null ? s.Networks : [.. s.Networks, endpoint],
        });
        Ctx.Dns.Refresh();
    }

    /// <summary>On a container that is not running and was disconnected from its last network: that network's name.
    /// dockerd keeps such a container's network mode, so it can be connected again (docker-compose 1.29 disconnects a
    /// new container and connects it back with its aliases); here its mode is none until it is.</summary>
    internal const string DetachedLabel = "io.containers-dotnet.detached-network";

    /// <summary>
    /// Disconnects a container from a network: its interface there goes at once and its names stop resolving.
    /// Throws <see cref="ContainerNotFoundException"/> when it is not connected (unless <paramref name="force"/>).
    /// </summary>
    public void Disconnect(string network, string container, bool force = false)
    {
        var net = Get(network);
        var state = Ctx.Store.Find(container);
        if (!state.Spec.EffectiveNetworks().Any(n => n.Network == net.Name))
        {
            if (force)
            {
                return;
            }

            throw new ContainerNotFoundException($"container {state.Name} is not connected to network {net.Name}");
        }

        Ctx.Store.Update(state.Id, s => s with
        {
            Spec = Without(s.Spec, net.Name, s.Status != ContainerStatus.Running),
            Networks = [.. s.Networks.Where(e => e.NetworkId != net.Id)],
        });
        foreach (var e in state.Networks.Where(e => e.NetworkId == net.Id))
        {
            Ctx.Release(state.Id, e);
        }

        Ctx.Dns.Refresh();
    }

    /// <summary>The addresses of the running containers called <paramref name="name"/> (name, alias or id) on <paramref name="network"/>; empty when none.</summary>
    public IReadOnlyList<IPAddress> Resolve(string network, string name)
    {
        var net = Get(network);
        return NetworkRecords.Lookup(Ctx.Store.List(), net.Name, name.ToLowerInvariant()) ?? [];
    }

    /// <summary>
    /// Opens a TCP connection from this process to <paramref name="host"/> (a container name or alias on
    /// <paramref name="network"/>, or an address) and <paramref name="port"/>: no published port needed, and identical
    /// stacks on different networks never clash. Throws <see cref="SocketException"/> (HostNotFound) for an unknown name.
    /// </summary>
    public async Task<Socket> ConnectAsync(string network, string host, int port, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        IReadOnlyList<IPAddress> addresses = IPAddress.TryParse(host, out var literal) ? [literal] : Resolve(network, host);
        if (addresses.Count == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound, $"no running container is called '{host}' on network {network}");
        }

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses[Random.Shared.Next(addresses.Count)], port, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An HTTP handler whose connections go to containers on <paramref name="network"/> by name:
    /// <c>new HttpClient(engine.Networks.CreateHttpHandler("shop")).GetAsync("http://api:8080/")</c>.
    /// </summary>
    public SocketsHttpHandler CreateHttpHandler(string network)
    {
        _ = Get(network);
        return new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) => new NetworkStream(await ConnectAsync(network, context.DnsEndPoint.Host, context.DnsEndPoint.Port, ct).ConfigureAwait(false), ownsSocket: true),
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        };
    }

    private static ContainerSpec Without(ContainerSpec spec, string network, bool stopped)
    {
        var rest = spec.EffectiveNetworks().Where(n => n.Network != network).ToArray();
        return rest.Length > 0 ? spec with { Networks = [.. rest], NetworkMode = rest[0].Network }
            : spec with { Networks = [], NetworkMode = "none", Labels = stopped ? spec.Labels.SetItem(DetachedLabel, network) : spec.Labels };
    }

    private static bool UsesNetwork(ContainerState s, NetworkInfo n) =>
        s.Networks.Any(e => e.NetworkId == n.Id) || s.Spec.EffectiveNetworks().Any(a => a.Network == n.Name);
}
