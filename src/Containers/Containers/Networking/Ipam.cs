using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using Containers.Linux;
using Containers.Runtime;

namespace Containers.Networking;

/// <summary>
/// Address management for one network, persisted as JSON (<c>NAME.json</c>) in a machine-wide state directory,
/// because the bridge is shared by every root on the machine. Each address records the container id and the
/// process that owns it, so any process can release what a crashed one held.
/// </summary>
internal sealed class Ipam(string file, IPAddress subnet, int prefixLength, ISyscalls sys)
{
    public IPAddress Gateway => Offset(1);

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
        for (long i = 2; i < size - 1; i++)
        {
            var ip = Offset(i);
            if (!map.ContainsKey(ip.ToString()))
            {
                map[ip.ToString()] = owner;
                Save(map);
                return ip;
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
        var dead = map.Where(kv => kv.Value.Split(' ') is var f && (f.Length < 3 || !new ProcessIdentity(int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), long.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)).IsAlive)).Select(kv => kv.Key).ToArray();
        if (dead.Length > 0)
        {
            foreach (var k in dead)
            {
                map.Remove(k);
            }

            Save(map);
        }

        return 0;
    });

    private T Locked<T>(Func<T> action)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        return FileLock.Run(sys, file + ".lock", action);
    }

    private IPAddress Offset(long i)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, (uint)(BinaryPrimitives.ReadUInt32BigEndian(subnet.GetAddressBytes()) + i));
        return new IPAddress(b);
    }

    private Dictionary<string, string> Load()
    {
        return RawFile.Read(sys, file) is { } bytes ? JsonSerializer.Deserialize(bytes, ContainerStoreJsonContext.Default.DictionaryStringString) ?? [] : [];
    }

    private void Save(Dictionary<string, string> map)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        RawFile.Replace(sys, file, JsonSerializer.SerializeToUtf8Bytes(map, ContainerStoreJsonContext.Default.DictionaryStringString));
    }
}
