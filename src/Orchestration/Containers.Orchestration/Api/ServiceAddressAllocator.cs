using System.Net;
using System.Security.Cryptography;

namespace Containers.Orchestration.Api;

/// <summary>
/// Cluster IPs from the service range and node ports from 30000-32767, as kube-apiserver's allocators: taken on a
/// Service's create, kept on its updates, refused (422 naming the field) when already taken or out of range.
/// Callers hold the store's allocation lock around the allocation and the write.
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

    /// <summary>Gives <paramref name="service"/> its cluster IP and node ports (those of <paramref name="current"/>, its stored form, when it has them).</summary>
    public void Allocate(JsonObject service, JsonObject? current)
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
