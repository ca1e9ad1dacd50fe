namespace Containers.Networking;

/// <summary>A network (docker network inspect): a Linux bridge with its own subnet, address management and DNS.</summary>
/// <param name="Name">Its name (<c>bridge</c> is the default bridge).</param>
/// <param name="Id">64 hex digits.</param>
/// <param name="Subnet">CIDR, e.g. <c>10.220.3.0/24</c>.</param>
/// <param name="Gateway">The bridge's address: the containers' default route and their DNS server.</param>
/// <param name="Internal">No route out of the network (<c>--internal</c>); names outside it are not forwarded.</param>
/// <param name="Created">When it was made.</param>
/// <param name="Labels">Its labels.</param>
/// <param name="BridgeName">The Linux bridge interface.</param>
public sealed record NetworkInfo(string Name, string Id, string Subnet, string Gateway, bool Internal, DateTimeOffset Created, ImmutableDictionary<string, string> Labels, string BridgeName)
{
    /// <summary>Always <c>bridge</c>.</summary>
    public string Driver => "bridge";

    /// <summary>True for the default bridge, which (as docker's) has no embedded DNS.</summary>
    public bool IsDefault => Name == DefaultName;

    /// <summary>The name of the default bridge network.</summary>
    public const string DefaultName = "bridge";
}

/// <summary>Options of <see cref="NetworkService.Create"/> (docker network create).</summary>
public sealed record NetworkCreateOptions
{
    /// <summary>CIDR; a free /24 from 10.220.0.0/14 is chosen when null. Must overlap no other network and no route on the machine.</summary>
    public string? Subnet { get; init; }

    /// <summary>The gateway address (inside the subnet); its first address when null.</summary>
    public string? Gateway { get; init; }

    /// <summary>No route out of the network.</summary>
    public bool Internal { get; init; }

    /// <summary>Labels.</summary>
    public ImmutableDictionary<string, string> Labels { get; init; } = ImmutableDictionary<string, string>.Empty;
}

/// <summary>One network a container joins (<c>--network NAME --network-alias A --ip X</c>).</summary>
/// <param name="Network">The network's name.</param>
public sealed record NetworkAttachment(string Network)
{
    /// <summary>Further names the container answers to on this network (several containers may share one: round-robin).</summary>
    public ImmutableArray<string> Aliases { get; init; } = [];

    /// <summary>A fixed address in the network's subnet; the lowest free one when null.</summary>
    public string? IPv4Address { get; init; }
}

/// <summary>A running container's place on a network (docker inspect's NetworkSettings.Networks entry).</summary>
/// <param name="Network">The network's name.</param>
/// <param name="NetworkId">The network's id.</param>
/// <param name="IPAddress">The container's address.</param>
/// <param name="PrefixLength">The subnet's prefix length.</param>
/// <param name="Gateway">The network's gateway.</param>
/// <param name="Interface">The interface inside the container (eth0, eth1, ...).</param>
/// <param name="HostInterface">The host-side veth.</param>
/// <param name="Aliases">The names it answers to besides its name and short id.</param>
public sealed record NetworkEndpoint(string Network, string NetworkId, string IPAddress, int PrefixLength, string Gateway, string Interface, string HostInterface, ImmutableArray<string> Aliases);
