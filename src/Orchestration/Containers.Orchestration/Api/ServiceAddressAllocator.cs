using System.Net;
using System.Security.Cryptography;

namespace Containers.Orchestration.Api;

/// <summary>
/// Cluster IPs from the service range and node ports from 30000-32767, as kube-apiserver's allocators: taken on a
/// Service's create, kept on its updates, refused (422 naming the field) when already taken or out of range.
/// Callers hold this API server's allocation lock around the allocation and the write. Several API servers on one
/// store (etcd) are kept apart as kube-apiserver's range allocators are: what each newly gives out is first reserved by
/// a compare-and-swap on a shared object of the store (<c>/registry/ranges/services</c>: addresses and node
/// ports in one, so a Service's are reserved together), so two servers never hand out the same address or port even before
/// either Service is written; a reservation lapses after a minute, by which time its Service is visible to every
/// server (or was never written: the address is free again, where kube-apiserver's repair loop frees leaked bits).
/// </summary>
internal sealed class ServiceAddressAllocator
{
    private readonly ObjectApi api;

    /// <summary>Creates the allocator of <paramref name="api"/>'s Services over <paramref name="serviceCidr"/>.</summary>
    public ServiceAddressAllocator(ObjectApi api, string serviceCidr)
    {
        this.api = api;
        var parts = serviceCidr.Split('/');
        Network = (IPAddress.Parse(parts[0]), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The range cluster IPs come from.</summary>
    public (IPAddress Network, int PrefixLength) Network { get; }

    [ThreadStatic]
    private static bool simulating;

    /// <summary>While the returned scope lasts, allocations on this thread are those of a dry run: nothing is reserved in the store.</summary>
    public static Scope Simulating(bool dryRun)
    {
        bool before = simulating;
        simulating |= dryRun;
        return new Scope(before);
    }

    /// <summary>Restores the dry-run flag of the thread.</summary>
    public readonly struct Scope(bool before) : IDisposable
    {
        /// <inheritdoc/>
        public void Dispose() => simulating = before;
    }

    /// <summary>How long a reservation keeps what it gave out from other API servers.</summary>
    private static readonly TimeSpan ReservationLife = TimeSpan.FromMinutes(1);

    private static readonly Storage.ObjectKey Range = new("ranges", null, "services");

    /// <summary>Gives <paramref name="service"/> its cluster IP and node ports (those of <paramref name="current"/>, its stored form, when it has them).</summary>
    public void Allocate(JsonObject service, JsonObject? current)
    {
        var asked = Json.At(service, "spec")?.DeepClone();
        for (int attempt = 0; ; attempt++)
        {
            var reservations = Reservations.Read(api.Store, Range, api.Time.GetUtcNow());
            string owner = $"{Json.Namespace(service)}/{Json.Name(service)}";
            var held = reservations.HeldBut(owner); // the same Service made at once on another server: its create fails as AlreadyExists, not as taken
            AllocateOnce(service, current, held.Where(h => h.StartsWith("ip:", StringComparison.Ordinal)).Select(h => h[3..]).ToHashSet(StringComparer.Ordinal),
                held.Where(h => h.StartsWith("port:", StringComparison.Ordinal)).Select(h => h[5..]).ToHashSet(StringComparer.Ordinal));
            var fresh = new List<string>();
            if (Json.Str(service, "spec", "clusterIP") is { } ip && ip != "None" && ip != Json.Str(current, "spec", "clusterIP"))
            {
                fresh.Add("ip:" + ip);
            }

            var oldPorts = Json.Items(current, "spec", "ports").Select(p => Json.Int(p, "nodePort")).OfType<long>().ToHashSet();
            fresh.AddRange(Json.Items(service, "spec", "ports").Select(p => Json.Int(p, "nodePort")).OfType<long>().Where(p => !oldPorts.Contains(p)).Select(p => "port:" + p.ToString(CultureInfo.InvariantCulture)));
            if (fresh.Count == 0 || simulating || reservations.TryReserve(api.Store, fresh, owner, api.Time.GetUtcNow()))
            {
                return;
            }

            if (attempt == 20)
            {
                throw new ApiException(500, "InternalError", "the service address ranges kept changing under this allocation (20 tries): try again");
            }

            // another API server reserved meanwhile: allocated again from what it holds now
            service["spec"] = asked?.DeepClone();
        }
    }

    /// <summary>
    /// The shared reservations of one range: what API servers gave out in the last minute, by value, with when (the
    /// object's revision is the compare-and-swap's).
    /// </summary>
    private sealed record Reservations(Storage.ObjectKey Key, Storage.StoredObject? Stored, Dictionary<string, (DateTimeOffset At, string Owner)> Recent)
    {
        /// <summary>What is reserved for Services other than <paramref name="owner"/> (namespace/name).</summary>
        public IReadOnlySet<string> HeldBut(string owner) => Recent.Where(r => r.Value.Owner != owner).Select(r => r.Key).ToHashSet(StringComparer.Ordinal);

        public static Reservations Read(Storage.IObjectStore store, Storage.ObjectKey key, DateTimeOffset now)
        {
            var stored = store.Get(key);
            var recent = new Dictionary<string, (DateTimeOffset, string)>(StringComparer.Ordinal);
            if (stored is not null && JsonNode.Parse(stored.Json.Span) is JsonObject o && o["reserved"] is JsonObject reserved)
            {
                foreach (var (value, entry) in reserved)
                {
                    if (Json.ParseTime(Json.Str(entry, "at")) is { } t && now - t < ReservationLife)
                    {
                        recent[value] = (t, Json.Str(entry, "service") ?? "");
                    }
                }
            }

            return new Reservations(key, stored, recent);
        }

        /// <summary>Adds <paramref name="values"/> for <paramref name="owner"/>; false when the object changed since it was read (another server reserved).</summary>
        public bool TryReserve(Storage.IObjectStore store, IEnumerable<string> values, string owner, DateTimeOffset now)
        {
            var reserved = new JsonObject();
            foreach (var (value, (at, by)) in Recent)
            {
                reserved[value] = new JsonObject { ["at"] = Json.Time(at), ["service"] = by };
            }

            foreach (var value in values)
            {
                reserved[value] = new JsonObject { ["at"] = Json.Time(now), ["service"] = owner };
            }

            var obj = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "RangeAllocation", ["metadata"] = new JsonObject { ["name"] = Key.Name }, ["reserved"] = reserved };
            var bytes = System.Text.Encoding.UTF8.GetBytes(obj.ToJsonString());
            try
            {
                _ = Stored is null ? store.Create(Key, bytes) : store.Update(Key, bytes, Stored.Revision);
                return true;
            }
            catch (Exception e) when (e is Storage.StoreConflictException or Storage.StoreNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>One allocation over the Services the store shows and what other servers reserved (<paramref name="reservedIps"/>, <paramref name="reservedPorts"/>).</summary>
    private void AllocateOnce(JsonObject service, JsonObject? current, IReadOnlySet<string> reservedIps, IReadOnlySet<string> reservedPorts)
    {
        var spec = Json.Obj(service, "spec");
        string type = Json.Str(spec, "type") ?? "ClusterIP";
        var others = api.List(ResourceType.Services).Items.Where(s => current is null || Json.Uid(s) != Json.Uid(current)).ToList();
        if (type == "ExternalName")
        {
            spec.Remove("clusterIP");
            spec.Remove("clusterIPs");
        }
        else
        {
            string? ip = Json.Str(spec, "clusterIP") is { Length: > 0 } given ? given : current is null ? null : Json.Str(current, "spec", "clusterIP");
            if (current is not null && Json.Str(current, "spec", "clusterIP") is { } old && ip != old)
            {
                throw ApiException.Invalid(ResourceType.Services, Json.Name(service), [("spec.clusterIPs[0]", $"Invalid value: \"{ip}\": field is immutable")]);
            }

            var used = others.Select(s => Json.Str(s, "spec", "clusterIP")).Where(s => s is not null).ToHashSet(StringComparer.Ordinal);
            if (ip is null || ip != Json.Str(current, "spec", "clusterIP"))
            {
                used.UnionWith(reservedIps); // an address another API server gave out a moment ago (its Service may not be visible here yet)
            }

            if (ip is null)
            {
                uint size = 1u << (32 - Network.PrefixLength);
                for (uint i = 11; i < size - 1 && ip is null; i++)
                {
                    string candidate = Offset(Network.Network, i).ToString();
                    if (!used.Contains(candidate))
                    {
                        ip = candidate;
                    }
                }

                if (ip is null)
                {
                    throw new ApiException(500, "InternalError", "the service IP range is full");
                }
            }
            else if (ip != "None")
            {
                if (!IPAddress.TryParse(ip, out var parsed) || !InRange(parsed))
                {
                    throw ApiException.Invalid(ResourceType.Services, Json.Name(service), [("spec.clusterIPs", $"Invalid value: \"{ip}\": failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {Network.Network}/{Network.PrefixLength}")]);
                }

                if (used.Contains(ip))
                {
                    throw ApiException.Invalid(ResourceType.Services, Json.Name(service), [("spec.clusterIPs", $"Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is already allocated")]);
                }
            }

            spec["clusterIP"] = ip;
            spec["clusterIPs"] = new JsonArray(ip);
        }

        var usedPorts = others.SelectMany(s => Json.Items(s, "spec", "ports")).Select(p => Json.Int(p, "nodePort")).Where(p => p is not null).ToHashSet();
        var ownPorts = Json.Items(current, "spec", "ports").Select(p => Json.Int(p, "nodePort")).Where(p => p is not null).ToHashSet();
        usedPorts.UnionWith(reservedPorts.Select(p => (long?)long.Parse(p, CultureInfo.InvariantCulture)).Where(p => !ownPorts.Contains(p)));
        int index = 0;
        foreach (var port in Json.Items(spec, "ports"))
        {
            if (type is "NodePort" or "LoadBalancer")
            {
                long? nodePort = Json.Int(port, "nodePort");
                if (nodePort is null && current is not null)
                {
                    nodePort = Json.Items(current, "spec", "ports").FirstOrDefault(p => Json.Int(p, "port") == Json.Int(port, "port")) is { } prev ? Json.Int(prev, "nodePort") : null;
                }

                if (nodePort is null)
                {
                    for (int candidate = 30000 + RandomNumberGenerator.GetInt32(2768), n = 0; n < 2768; n++, candidate = candidate == 32767 ? 30000 : candidate + 1)
                    {
                        if (!usedPorts.Contains(candidate))
                        {
                            nodePort = candidate;
                            break;
                        }
                    }
                }
                else if (usedPorts.Contains(nodePort))
                {
                    throw ApiException.Invalid(ResourceType.Services, Json.Name(service), [($"spec.ports[{index}].nodePort", $"Invalid value: {nodePort}: provided port is already allocated")]);
                }

                port["nodePort"] = nodePort;
                usedPorts.Add(nodePort);
            }
            else
            {
                port.Remove("nodePort");
            }

            index++;
        }
    }

    private bool InRange(IPAddress ip)
    {
        uint mask = Network.PrefixLength == 0 ? 0 : uint.MaxValue << (32 - Network.PrefixLength);
        return (ToUInt(ip) & mask) == (ToUInt(Network.Network) & mask);
    }

    private static uint ToUInt(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    internal static IPAddress Offset(IPAddress network, uint offset)
    {
        uint v = ToUInt(network) + offset;
        return new IPAddress(new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v });
    }
}
