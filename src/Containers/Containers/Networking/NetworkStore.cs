using System.Security.Cryptography;
using System.Text.Json.Serialization;

namespace Containers.Networking;

/// <summary>
/// The user-defined networks of a root: <c>networks/&lt;name&gt;/network.json</c> and its address allocations
/// (<c>ipam.json</c>). Bridge interfaces are machine-wide, so subnets are chosen under a machine-wide lock and
/// checked against every route of the host (which includes the bridges of other roots).
/// </summary>
internal sealed class NetworkStore(string root, ISyscalls sys, BridgeNetwork defaultBridge)
{
    /// <summary>Where networks created without a subnet get theirs, a /24 each (docker info's DefaultAddressPools).</summary>
    public const string DefaultPool = "10.220.0.0/14";

    private static readonly IPAddress Pool = IPAddress.Parse(DefaultPool[..DefaultPool.IndexOf('/', StringComparison.Ordinal)]);
    private readonly string dir = Path.Combine(root, "networks");

    public BridgeNetwork DefaultBridge => defaultBridge;

    /// <summary>
    /// The default bridge's network id for the default bridge name, cdnet0: the SHA-256 of "bridge/cdnet0", written out
    /// because a process's first hash loads OpenSSL (2-3 ms of a CLI command that starts a container on it).
    /// </summary>
    internal const string DefaultBridgeId = "21e24d844b82a123c37cbb0c35cf482afb47dd667deda184a667c5f07af5f5d2";

    /// <summary>The default bridge as a network: its id is the SHA-256 of "bridge/" and the bridge's name.</summary>
    public NetworkInfo Default => new(
        NetworkInfo.DefaultName,
        defaultBridge.BridgeName == "cdnet0" ? DefaultBridgeId : Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("bridge/" + defaultBridge.BridgeName))),
        defaultBridge.Ipam.Subnet,
        defaultBridge.Ipam.Gateway.ToString(),
        false,
        DateTimeOffset.UnixEpoch,
        ImmutableDictionary<string, string>.Empty,
        defaultBridge.BridgeName);

    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 128 && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    /// <summary>A network by name (the default bridge as <c>bridge</c>), or null.</summary>
    public NetworkInfo? Get(string name)
    {
        if (name == NetworkInfo.DefaultName)
        {
            return Default;
        }

        var bytes = IsValidName(name) ? RawFile.Read(sys, Path.Combine(dir, name, "network.json")) : null;
        return bytes is null ? null : JsonSerializer.Deserialize(bytes, NetworkJsonContext.Default.NetworkInfo);
    }

    /// <summary>
    /// The network named <paramref name="nameOrId"/>, as dockerd finds one: by name, by full ID, or by a unique prefix
    /// of its ID (3 characters at least); null when none or more than one matches.
    /// </summary>
    public NetworkInfo? Find(string nameOrId)
    {
        if (Get(nameOrId) is { } byName)
        {
            return byName;
        }

        if (nameOrId.Length < 3 || !nameOrId.All(char.IsAsciiHexDigitLower))
        {
            return null;
        }

        var matches = List().Where(n => n.Id.StartsWith(nameOrId, StringComparison.Ordinal)).Take(2).ToArray();
        return matches.Length == 1 ? matches[0] : null;
    }

    /// <summary>The default bridge and every user-defined network, by name.</summary>
    public IReadOnlyList<NetworkInfo> List() =>
        [Default, .. (Directory.Exists(dir) ? Directory.EnumerateDirectories(dir).Select(d => Get(Path.GetFileName(d))).OfType<NetworkInfo>() : []).OrderBy(n => n.Name, StringComparer.Ordinal)];

    /// <summary>
    /// The bridges of every network, the default's first, without their <see cref="NetworkInfo"/>: the default's id is a
    /// SHA-256, and the first hash of a process loads OpenSSL (2-3 ms), which the sweep of every engine start paid.
    /// </summary>
    public IEnumerable<BridgeNetwork> Bridges() =>
        [defaultBridge, .. (Directory.Exists(dir) ? Directory.EnumerateDirectories(dir).Select(d => Get(Path.GetFileName(d))).OfType<NetworkInfo>() : []).Select(Bridge)];

    /// <summary>The bridge (with its address management) of a network.</summary>
    public BridgeNetwork Bridge(NetworkInfo network)
    {
        if (network.IsDefault)
        {
            return defaultBridge;
        }

        var (subnet, prefix) = ParseCidr(network.Subnet);
        var ipam = new Ipam(Path.Combine(dir, network.Name, "ipam.json"), subnet, prefix, sys, IPAddress.Parse(network.Gateway));
        return new BridgeNetwork(sys, network.BridgeName, ipam, defaultBridge.Firewall, network.Internal);
    }

    /// <summary>Creates the network and its bridge. Throws <see cref="ContainerConflictException"/> for a taken name or an overlapping subnet.</summary>
    public NetworkInfo Create(string name, NetworkCreateOptions options, DateTimeOffset now)
    {
        if (!IsValidName(name) || name is "host" or "none")
        {
            throw new InvalidContainerSpecException($"invalid network name '{name}': use [a-zA-Z0-9][a-zA-Z0-9_.-]*, not host or none");
        }

        IPAddress? requestedGateway = null;
        (IPAddress Net, int Prefix)? requested = null;
        if (options.Subnet is { } s)
        {
            var (ip, prefix) = ParseCidr(s);
            var network = Ipam.Mask(ip, prefix);
            if (!network.Equals(ip))
            {
                throw new InvalidContainerSpecException($"invalid subnet '{s}': the address has bits set beyond /{prefix} (did you mean {network}/{prefix}?)");
            }

            requested = (network, prefix);
        }

        if (options.Gateway is { } g)
        {
            if (!IPAddress.TryParse(g, out requestedGateway) || requestedGateway.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                throw new InvalidContainerSpecException($"invalid gateway '{g}': expected an IPv4 address");
            }

            if (requested is null)
            {
                throw new InvalidContainerSpecException("--gateway needs --subnet");
            }
        }

        // one lock for the whole machine whatever the roots and state directories: two engines choosing a subnet at
        // the same moment would otherwise both see it free (the route appears when the bridge gets its address)
        var machineLock = Directory.Exists("/run/lock") ? "/run/lock/containers-dotnet-networks.lock" : Path.Combine(Path.GetTempPath(), "containers-dotnet-networks.lock");
        return FileLock.Run(sys, Path.Combine(root, "lock"), () => FileLock.Run(sys, machineLock, () =>
        {
            if (Get(name) is not null)
            {
                throw new ContainerConflictException($"network with name {name} already exists");
            }

            var taken = TakenSubnets();
            (IPAddress Net, int Prefix) chosen;
            if (requested is { } r)
            {
                if (taken.FirstOrDefault(t => Overlaps(t.Net, t.Prefix, r.Net, r.Prefix)) is { What: not null } clash)
                {
                    throw new ContainerConflictException($"invalid pool request: subnet {r.Net}/{r.Prefix} overlaps with {clash.What} ({clash.Net}/{clash.Prefix})");
                }

                chosen = r;
            }
            else
            {
                chosen = FreeSubnet(taken) ?? throw new ContainerConflictException($"no free /24 subnet left in {DefaultPool}; give --subnet");
            }

            var gateway = requestedGateway ?? Ipam.Offset(chosen.Net, 1);
            var id = Linux.RandomIds.NewHex();
            var info = new NetworkInfo(name, id, $"{chosen.Net}/{chosen.Prefix}", gateway.ToString(), options.Internal, now, options.Labels, "cd-" + id[..12]);
            var bridge = Bridge(info);
            if (!bridge.Ipam.Contains(gateway))
            {
                throw new InvalidContainerSpecException($"invalid gateway {gateway}: not a host address of {info.Subnet}");
            }

            var staging = Path.Combine(dir, ".creating-" + name + "-" + id[..8]);
            try
            {
                bridge.EnsureBridge();
                Directory.CreateDirectory(staging);
                RawFile.Replace(sys, Path.Combine(staging, "network.json"), JsonSerializer.SerializeToUtf8Bytes(info, NetworkJsonContext.Default.NetworkInfo));
                Directory.Move(staging, Path.Combine(dir, name));
            }
            catch
            {
                bridge.DeleteBridge();
                if (Directory.Exists(staging))
                {
                    Directory.Delete(staging, recursive: true);
                }

                throw;
            }

            return info;
        }));
    }

    /// <summary>Deletes the network's bridge and its record (the caller checked that no container uses it).</summary>
    public void Delete(NetworkInfo network)
    {
        Bridge(network).DeleteBridge();
        var path = Path.Combine(dir, network.Name);
        if (Directory.Exists(path))
        {
            var doomed = Path.Combine(dir, ".deleting-" + network.Name + "-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.Move(path, doomed);
            Directory.Delete(doomed, recursive: true);
        }
    }

    internal static (IPAddress Subnet, int Prefix) ParseCidr(string cidr)
    {
        var parts = cidr.Split('/');
        return parts.Length == 2 && IPAddress.TryParse(parts[0], out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) && prefix is >= 8 and <= 30
            ? (ip, prefix)
            : throw new InvalidContainerSpecException($"invalid subnet '{cidr}': expected a.b.c.d/N with N between 8 and 30");
    }

    /// <summary>Subnets in use: this root's networks, the default bridge, and every route of the host except the default.</summary>
    private List<(IPAddress Net, int Prefix, string What)> TakenSubnets()
    {
        var taken = new List<(IPAddress, int, string)>();
        foreach (var n in List())
        {
            var (net, prefix) = ParseCidr(n.Subnet);
            taken.Add((Ipam.Mask(net, prefix), prefix, "network " + n.Name));
        }

        foreach (var line in File.Exists("/proc/net/route") ? File.ReadLines("/proc/net/route").Skip(1) : [])
        {
            var f = line.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (f.Length < 8 || !uint.TryParse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var dest) || !uint.TryParse(f[7], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask) || mask == 0)
            {
                continue;
            }

            // /proc/net/route prints addresses in host (little-endian) order
            var prefix = System.Numerics.BitOperations.PopCount(mask);
            taken.Add((new IPAddress(BitConverter.GetBytes(dest)), prefix, "the route via " + f[0]));
        }

        return taken;
    }

    private static (IPAddress, int)? FreeSubnet(List<(IPAddress Net, int Prefix, string What)> taken)
    {
        for (var i = 0; i < 1024; i++)
        {
            var candidate = Ipam.Offset(Pool, (long)i << 8);
            if (!taken.Any(t => Overlaps(t.Net, t.Prefix, candidate, 24)))
            {
                return (candidate, 24);
            }
        }

        return null;
    }

    private static bool Overlaps(IPAddress a, int pa, IPAddress b, int pb)
    {
        var p = Math.Min(pa, pb);
        return Ipam.Mask(a, p).Equals(Ipam.Mask(b, p));
    }
}

[JsonSerializable(typeof(NetworkInfo))]
internal sealed partial class NetworkJsonContext : JsonSerializerContext;
