using System.Diagnostics;
using System.Net;
using Containers.Networking;
using Containers.Orchestration.Controllers;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>How the pod networks of several machines are joined (see <see cref="PodRoutes"/>).</summary>
/// <param name="Interface">This machine's interface on the LAN the machines share (eth0).</param>
/// <param name="ClusterCidr">The network every node's pod subnet is part of (10.244.0.0/16): traffic between pods stays un-NATed inside it.</param>
public sealed record PodRoutesOptions(string Interface, string ClusterCidr = "10.244.0.0/16");

/// <summary>
/// The pod network across machines, as flannel's host-gw backend makes it: every node has its own pod subnet
/// (spec.podCIDR), and each machine routes every other node's subnet via that node's InternalIP on the shared LAN, so a
/// pod reaches a pod on another machine by its IP, with no encapsulation. Host routes rather than a VXLAN overlay
/// because the machines share one layer-2 network: no per-packet header, no smaller MTU, and the routes are plain
/// kernel routes (<c>ip route</c> shows them); VXLAN would be the choice across routed networks. Traffic between pod
/// subnets keeps its pod addresses (no masquerade inside the cluster network), and the LAN may open connections to
/// this machine's pods (the firewall otherwise drops new connections into a bridge). Routes follow the Node objects:
/// a node that joins gets one, a node that goes loses it; all of them and the firewall rules go at dispose.
/// </summary>
public sealed class PodRoutes : IAsyncDisposable
{
    private const string Comment = "containers-dotnet-pod-routes";
    private readonly Informer nodes;
    private readonly string podCidr;
    private readonly string bridge;
    private readonly PodRoutesOptions options;
    private readonly ILogger logger;
    private readonly Dictionary<string, (IPNetwork Subnet, IPAddress Via)> routes = new(StringComparer.Ordinal);
    private readonly Lock gate = new();
    private bool disposed;

    private PodRoutes(InformerSet informers, string podCidr, string bridge, PodRoutesOptions options, ILogger logger)
    {
        nodes = informers.For(ResourceType.Nodes);
        this.podCidr = podCidr;
        this.bridge = bridge;
        this.options = options;
        this.logger = logger;
    }

    /// <summary>Starts routing to the other nodes' pod subnets from this machine, whose nodes have their pods on <paramref name="podCidr"/> behind <paramref name="bridge"/>.</summary>
    public static async Task<PodRoutes> StartAsync(InformerSet informers, string podCidr, string bridge, PodRoutesOptions options, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(options);
        var routes = new PodRoutes(informers, podCidr, bridge, options, logger);
        await routes.nodes.Synced.WaitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var rule in routes.Rules())
        {
            Iptables("-C", rule, out bool present);
            if (!present)
            {
                Iptables("-I", rule, out _);
            }
        }

        routes.nodes.OnChange((_, _) => routes.Sync());
        routes.Sync();
        return routes;
    }

    /// <summary>The routes made, by node.</summary>
    public IReadOnlyDictionary<string, (IPNetwork Subnet, IPAddress Via)> Routes
    {
        get
        {
            lock (gate)
            {
                return new Dictionary<string, (IPNetwork, IPAddress)>(routes, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Removes the routes and the firewall rules.</summary>
    public ValueTask DisposeAsync()
    {
        lock (gate)
        {
            disposed = true;
            foreach (var (_, (subnet, _)) in routes)
            {
                Delete(subnet);
            }

            routes.Clear();
        }

        foreach (var rule in Rules())
        {
            Iptables("-D", rule, out _);
        }

        return ValueTask.CompletedTask;
    }

    private IEnumerable<(string Table, string[] Rule)> Rules()
    {
        // the engine's chains (its bridge's rules drop new connections into the bridge, and masquerade what leaves it)
        yield return ("filter", ["CONTAINERS-DOTNET-FORWARD", "-i", options.Interface, "-o", bridge, "-d", podCidr, "-m", "comment", "--comment", Comment, "-j", "ACCEPT"]);
        yield return ("nat", ["CONTAINERS-DOTNET-POST", "-s", podCidr, "-d", options.ClusterCidr, "-m", "comment", "--comment", Comment, "-j", "RETURN"]);
    }

    private void Sync()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            var wanted = new Dictionary<string, (IPNetwork, IPAddress)>(StringComparer.Ordinal);
            foreach (var node in nodes.List())
            {
                string name = Json.Name(node);
                if (Json.Str(node, "spec", "podCIDR") is not { } cidr || cidr == podCidr || !IPNetwork.TryParse(cidr, out var subnet)
                    || Json.Items(node, "status", "addresses").FirstOrDefault(a => Json.Str(a, "type") == "InternalIP") is not { } address
                    || !IPAddress.TryParse(Json.Str(address, "address"), out var via) || IPAddress.IsLoopback(via))
                {
                    continue;
                }

                wanted[name] = (subnet, via);
            }

            foreach (var (name, (subnet, _)) in routes.Where(r => !wanted.ContainsKey(r.Key)).ToList())
            {
                Delete(subnet);
                routes.Remove(name);
                logger.LogInformation("route to node {Node}'s pods ({Subnet}) removed", name, subnet);
            }

            foreach (var (name, route) in wanted)
            {
                if (routes.TryGetValue(name, out var had) && had.Equals(route)) // IPAddress compares by value only through Equals
                {
                    continue;
                }

                try
                {
                    HostInterfaces.ReplaceRoute(route.Item1.BaseAddress, route.Item1.PrefixLength, route.Item2);
                    routes[name] = route;
                    logger.LogInformation("node {Node}'s pods ({Subnet}) routed via {Via}", name, route.Item1, route.Item2);
                }
                catch (ContainerException e)
                {
                    logger.LogWarning("cannot route node {Node}'s pods ({Subnet}) via {Via}: {Message}", name, route.Item1, route.Item2, e.Message);
                }
            }
        }
    }

    private void Delete(IPNetwork subnet)
    {
        try
        {
            HostInterfaces.DeleteRoute(subnet.BaseAddress, subnet.PrefixLength);
        }
        catch (ContainerException)
        {
            // gone already
        }
    }

    private static void Iptables(string op, (string Table, string[] Rule) rule, out bool succeeded)
    {
        var psi = new ProcessStartInfo("iptables") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-w", "-t", rule.Table, op }.Concat(rule.Rule))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new ContainerException("cannot run iptables");
        p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        succeeded = p.ExitCode == 0;
        if (!succeeded && op == "-I")
        {
            throw new ContainerException($"iptables -t {rule.Table} -I {string.Join(' ', rule.Rule)}: {error.Trim()}");
        }
    }
}
