using System.Buffers.Binary;

namespace Containers.Networking;

/// <summary>
/// Address management for one network, persisted as JSON (<c>NAME.json</c>) in a machine-wide state directory,
/// because the bridge is shared by every root on the machine. Each address records the container id and the
/// process that owns it, so any process can release what a crashed one held.
/// </summary>
internal sealed class Ipam(string file, IPAddress subnet, int prefixLength, ISyscalls sys, IPAddress? gateway = null)
{
    public IPAddress Gateway => gateway ?? Offset(1);

    public string File => file;

    public string Subnet => $"{subnet}/{prefixLength}";

    /// <summary>True when <paramref name="ip"/> is a host address of the subnet (not its network or broadcast address).</summary>
    public bool Contains(IPAddress ip)
    {
        var size = 1L << (32 - prefixLength);
        var offset = (long)ToUInt(ip) - ToUInt(subnet);
        return ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && offset > 0 && offset < size - 1;
    }

    /// <summary>Reserves <paramref name="requested"/> for container <paramref name="id"/>; throws when it is outside the subnet or taken.</summary>
    public IPAddress Allocate(string id, IPAddress requested) => Locked(() =>
    {
        if (!Contains(requested) || requested.Equals(Gateway))
        {
            throw new InvalidContainerSpecException($"address {requested} is not a free host address of {Subnet}");
        }

        var map = Load();
        if (map.TryGetValue(requested.ToString(), out var owner) && owner.Split(' ')[0] != id && !IsDead(owner))
        {
            throw new ContainerConflictException($"address {requested} is already in use on {Path.GetFileName(Path.GetDirectoryName(file))}");
        }

        var self = ProcessIdentity.Self;
        map[requested.ToString()] = $"{id} {self.Pid} {self.StartTime}";
        Save(map);
        return requested;
    });

    public int PrefixLength => prefixLength;

    /// <summary>The lowest free address for container <paramref name="id"/> (the same one if it already has one).</summary>
    public IPAddress Allocate(string id) => Locked(() =>
    {
        var self = ProcessIdentity.Self;
        var owner = $"{id} {self.Pid} {self.StartTime}";
        var map = Load();
        var existing = map.FirstOrDefault(kv => kv.Value.Split(' ')[0] == id);
        if (existing.Key is not null)
        {
            return IPAddress.Parse(existing.Key);
        }

        var size = 1L << (32 - prefixLength);
        for (int pass = 0; pass < 2; pass++)
        {
            for (long i = 2; i < size - 1; i++)
            {
                var ip = Offset(i);
                if (!map.ContainsKey(ip.ToString()) && !ip.Equals(Gateway))
                {
                    map[ip.ToString()] = owner;
                    Save(map);
                    return ip;
                }
            }

            // full: what processes that died without releasing hold is free again (engines sweep at start, a
            // container's monitor does not), then look once more
            if (RemoveDead(map) == 0)
            {
                break;
            }
        }

        throw new ContainerException($"network {Path.GetFileNameWithoutExtension(file)}: no free address left in {subnet}/{prefixLength}");
    });

    public void Release(string id) => Locked(() =>
    {
        var map = Load();
        if (map.Where(kv => kv.Value.Split(' ')[0] == id).Select(kv => kv.Key).ToArray() is { Length: > 0 } keys)
        {
            foreach (var k in keys)
            {
                map.Remove(k);
            }

            Save(map);
        }

        return 0;
    });

    /// <summary>Releases every address whose owning process has died (the start-up sweep).</summary>
    public void ReleaseDead() => Locked(() =>
    {
        var map = Load();
        if (RemoveDead(map) > 0)
        {
            Save(map);
        }

        return 0;
    });

    /// <summary>Removes from <paramref name="map"/> the addresses whose owning process is gone; returns how many.</summary>
    private static int RemoveDead(Dictionary<string, string> map)
    {
        var dead = map.Where(kv => IsDead(kv.Value)).Select(kv => kv.Key).ToArray();
        foreach (var k in dead)
        {
            map.Remove(k);
        }

        return dead.Length;
    }

    /// <summary>Whether an allocation's owner ("ID PID STARTTIME") is a process that no longer runs.</summary>
    private static bool IsDead(string owner) =>
        owner.Split(' ') is var f && (f.Length < 3 || !new ProcessIdentity(int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), long.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)).IsAlive);

    private T Locked<T>(Func<T> action)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        return FileLock.Run(sys, file + ".lock", action);
    }

    private IPAddress Offset(long i) => Offset(subnet, i);

    /// <summary>The address <paramref name="i"/> places after <paramref name="ip"/> (IPv4).</summary>
    internal static IPAddress Offset(IPAddress ip, long i)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, (uint)(ToUInt(ip) + i));
        return new IPAddress(b);
    }

    /// <summary><paramref name="ip"/> with the bits beyond /<paramref name="prefix"/> cleared (its network address).</summary>
    internal static IPAddress Mask(IPAddress ip, int prefix)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, ToUInt(ip) & (prefix == 0 ? 0u : uint.MaxValue << (32 - prefix)));
        return new IPAddress(b);
    }

    private static uint ToUInt(IPAddress ip) => BinaryPrimitives.ReadUInt32BigEndian(ip.MapToIPv4().GetAddressBytes());

    private Dictionary<string, string> Load()
    {
        return RawFile.Read(sys, file) is { } bytes ? ContainerStateJson.ReadMap(bytes) : [];
    }

    private void Save(Dictionary<string, string> map)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        RawFile.Replace(sys, file, ContainerStateJson.WriteMap(map));
    }
}
