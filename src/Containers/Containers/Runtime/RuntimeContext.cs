using Containers.Runtime.Cgroups;

namespace Containers.Runtime;

/// <summary>Everything the runtime needs, created once per engine and passed down (never global).</summary>
internal sealed record RuntimeContext(
    ISyscalls Sys,
    ContainerStore Store,
    ICgroupManager Cgroups,
    BridgeNetwork Bridge,
    ShimSpawner Spawner,
    ShimPool? Pool,
    TimeProvider Time,
    ILogger Logger)
{
    private readonly Lock dnsGate = new();
    private DnsHost? dns;

    /// <summary>The root's named volumes.</summary>
    public VolumeStore Volumes { get; } = new(Store.Root, Sys);

    /// <summary>Kernel forwarding of published ports for local clients.</summary>
    public LocalPortForwarding PortForwarding { get; } = new(Logger);

    /// <summary>The root's networks (and the default bridge).</summary>
    public NetworkStore Networks { get; } = new(Store.Root, Sys, Bridge);

    private readonly Lazy<bool> idMappedMounts = new(true);
    private readonly Lazy<IReadOnlyList<System.Net.IPEndPoint>> dnsUpstreams = new(() => []);

    /// <summary>Whether a user namespace's layers and volumes are idmapped mounts (else shifted copies, <see cref="ShiftedLayers"/>).</summary>
    public bool IdMappedMounts { get => idMappedMounts.Value; init => idMappedMounts = new(value); }

    /// <summary>Works <see cref="IdMappedMounts"/> out on first use (a probe of the root's file system, which most starts never need).</summary>
    public Func<bool> IdMappedMountsProbe { init => idMappedMounts = new(value); }

    /// <summary>Where names that are not containers' go: the host's resolvers unless configured.</summary>
    public IReadOnlyList<System.Net.IPEndPoint> DnsUpstreams { get => dnsUpstreams.Value; init => dnsUpstreams = new(value); }

    /// <summary>Works <see cref="DnsUpstreams"/> out on first use (only a container on a network with DNS needs them).</summary>
    public Func<IReadOnlyList<System.Net.IPEndPoint>> DnsUpstreamsSource { init => dnsUpstreams = new(value); }

    /// <summary>This process's embedded DNS servers.</summary>
    public DnsHost Dns
    {
        get
        {
            lock (dnsGate)
            {
                return dns ??= new DnsHost(Store, Networks, DnsUpstreams, Logger);
            }
        }
    }

    /// <summary>Releases a container's place on a network (its veth and address); idempotent, and fine when the network is gone.</summary>
    public void Release(string containerId, NetworkEndpoint e)
    {
        if (Networks.Get(e.Network) is { } n && n.Id == e.NetworkId)
        {
            Networks.Bridge(n).Detach(containerId, e.HostInterface);
        }
        else
        {
            Bridge.DeleteLink(e.HostInterface);
        }
    }
}
