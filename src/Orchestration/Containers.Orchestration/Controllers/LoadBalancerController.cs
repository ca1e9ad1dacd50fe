using System.Net;
using System.Net.Sockets;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// Addresses for LoadBalancer Services from a pool on the machines' LAN, as MetalLB's controller (layer 2) and a
/// cloud's service controller give them: a Service of type LoadBalancer (without a loadBalancerClass) gets the address
/// its spec.loadBalancerIP asks for when that is in the pool and free, else the pool's first free one, in
/// status.loadBalancer.ingress (<c>kubectl get svc</c>'s EXTERNAL-IP); a Service that stops being one gives its address
/// back. When the pool is used up the Service stays pending with a Warning event saying so. The addresses are then
/// held and announced (gratuitous ARP) by the machine that holds the virtual IP, and its service proxy answers on them.
/// One worker: allocations are decided one at a time, from the Services' own statuses.
/// </summary>
internal sealed class LoadBalancerController : IReconciler<string>
{
    private readonly ObjectApi api;
    private readonly Informer services;
    private readonly LoadBalancerPool pool;

    public LoadBalancerController(ControllerBuilder b, LoadBalancerPool pool)
    {
        api = b.Api;
        Queue = b.SingleWorker().Queue;
        this.pool = pool;
        services = b.For(ResourceType.Services);

        // an address given back (a Service deleted, or no longer a LoadBalancer): the pending ones try again
        b.Watches(ResourceType.Services, (old, now) =>
            Addresses(old).Except(Addresses(now)).Any()
                ? services.List().Where(s => Json.Str(s, "spec", "type") == "LoadBalancer" && !Addresses(s).Any()).Select(ControllerBuilder.Key)
                : []);
    }

    private static IEnumerable<string> Addresses(JsonObject? svc) =>
        Json.Items(svc, "status", "loadBalancer", "ingress").Select(i => Json.Str(i, "ip")).OfType<string>();

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        if (services.Get(ns, name) is not { } svc)
        {
            return Task.FromResult(default(ReconcileResult));
        }

        var held = Json.Items(svc, "status", "loadBalancer", "ingress").Select(i => Json.Str(i, "ip")).OfType<string>().ToList();
        bool wanted = Json.Str(svc, "spec", "type") == "LoadBalancer" && Json.Str(svc, "spec", "loadBalancerClass") is null && !Json.Has(svc, "metadata", "deletionTimestamp");
        if (!wanted)
        {
            if (held.Any(ip => pool.Contains(IPAddress.Parse(ip))))
            {
                WriteStatus(ns, name, null);
            }

            return Task.FromResult(default(ReconcileResult));
        }

        var taken = services.List().Where(s => !(Json.Namespace(s) == ns && Json.Name(s) == name))
            .SelectMany(s => Json.Items(s, "status", "loadBalancer", "ingress")).Select(i => Json.Str(i, "ip")).OfType<string>().ToHashSet(StringComparer.Ordinal);
        string? asked = Json.Str(svc, "spec", "loadBalancerIP") is { Length: > 0 } lb ? lb : null;
        if (held.Count == 1 && !taken.Contains(held[0]) && (asked is null || asked == held[0]) && pool.Contains(IPAddress.Parse(held[0])))
        {
            return Task.FromResult(default(ReconcileResult)); // has its address
        }

        IPAddress? address;
        if (asked is not null)
        {
            if (!IPAddress.TryParse(asked, out address) || !pool.Contains(address))
            {
                api.RecordEvent(svc, "Warning", "AllocationFailed", $"Failed to allocate IP for \"{ns}/{name}\": spec.loadBalancerIP {asked} is not in the pool {pool}", "service-controller");
                return Task.FromResult(default(ReconcileResult));
            }

            if (taken.Contains(asked))
            {
                api.RecordEvent(svc, "Warning", "AllocationFailed", $"Failed to allocate IP for \"{ns}/{name}\": {asked} is already in use by another Service", "service-controller");
                return Task.FromResult(default(ReconcileResult));
            }
        }
        else
        {
            address = pool.Addresses().FirstOrDefault(a => !taken.Contains(a.ToString()));
            if (address is null)
            {
                api.RecordEvent(svc, "Warning", "AllocationFailed", $"Failed to allocate IP for \"{ns}/{name}\": no available IPs in the pool {pool} ({pool.Count} addresses, all in use)", "service-controller");
                return Task.FromResult(default(ReconcileResult));
            }
        }

        if (WriteStatus(ns, name, address.ToString()))
        {
            api.RecordEvent(svc, "Normal", "IPAllocated", $"Assigned IP [\"{address}\"]", "service-controller");
        }

        return Task.FromResult(default(ReconcileResult));
    }

    private bool WriteStatus(string ns, string name, string? ip)
    {
        try
        {
            return api.Mutate(ResourceType.Services, ns, name, o =>
            {
                var lb = new JsonObject();
                if (ip is not null)
                {
                    lb["ingress"] = new JsonArray(new JsonObject { ["ip"] = ip, ["ipMode"] = "VIP" });
                }

                if (JsonNode.DeepEquals(Json.At(o, "status", "loadBalancer"), lb))
                {
                    return false;
                }

                Json.Obj(o, "status")["loadBalancer"] = lb;
                return true;
            }, subresource: "status") is not null;
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            return false; // gone, or changed meanwhile: its change brings it back to the queue
        }
    }
}

/// <summary>A pool of IPv4 addresses for LoadBalancer Services: ranges (<c>10.0.0.200-10.0.0.220</c>) and networks (<c>10.0.0.240/28</c>), comma-separated.</summary>
public sealed class LoadBalancerPool
{
    private readonly List<(uint First, uint Last)> ranges;
    private readonly string text;

    private LoadBalancerPool(List<(uint, uint)> ranges, string text)
    {
        this.ranges = ranges;
        this.text = text;
    }

    /// <summary>How many addresses it holds.</summary>
    public long Count => ranges.Sum(r => (long)r.Last - r.First + 1);

    /// <summary>Parses a pool; throws <see cref="FormatException"/> naming the part that is not a range or network of IPv4 addresses.</summary>
    public static LoadBalancerPool Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ranges = new List<(uint, uint)>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Split('-') is [var a, var b] && IPAddress.TryParse(a, out var first) && IPAddress.TryParse(b, out var last)
                && first.AddressFamily == AddressFamily.InterNetwork && last.AddressFamily == AddressFamily.InterNetwork && Number(first) <= Number(last))
            {
                ranges.Add((Number(first), Number(last)));
            }
            else if (IPNetwork.TryParse(part, out var net) && net.BaseAddress.AddressFamily == AddressFamily.InterNetwork)
            {
                uint start = Number(net.BaseAddress);
                uint end = start + (uint)((1L << (32 - net.PrefixLength)) - 1);
                if (net.PrefixLength < 31)
                {
                    start++; // not the network's own address, nor its broadcast
                    end--;
                }

                ranges.Add((start, end));
            }
            else
            {
                throw new FormatException($"'{part}' is not a range (10.0.0.200-10.0.0.220) or a network (10.0.0.240/28) of IPv4 addresses");
            }
        }

        return ranges.Count > 0 ? new LoadBalancerPool(ranges, text) : throw new FormatException("the pool is empty");
    }

    /// <summary>Whether <paramref name="address"/> is in the pool.</summary>
    public bool Contains(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork && ranges.Any(r => Number(address) >= r.First && Number(address) <= r.Last);

    /// <summary>The pool's addresses, in order.</summary>
    public IEnumerable<IPAddress> Addresses()
    {
        foreach (var (first, last) in ranges)
        {
            for (ulong n = first; n <= last; n++)
            {
                var bytes = new byte[4];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)n);
                yield return new IPAddress(bytes);
            }
        }
    }

    /// <inheritdoc/>
    public override string ToString() => text;

    private static uint Number(IPAddress address) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());
}
